/**
 * The chapter's example made real: "imagine a linked list where a next pointer points into a
 * portion of the address space that is gone".
 *
 * Layout. A header in a page of its own: { lock, head, count }. Elements { value, node, next, seen }
 * are allocated by the node that adds them, in pages that node owns. Elements are PREPENDED: the
 * new element's `next` is written on the adder's own page and only the header changes hands, so
 * under Ivy (where a write moves a page's ownership to the writer) every element page stays owned
 * by its creator — and dies with it.
 */
import type { DsmThread } from '../dsm/node/index.js';
import { defineStruct } from '../dsm/memory/index.js';
import { isDsmError } from '../dsm/errors.js';

const HEADER = { lock: 'u32', head: 'ptr', count: 'u32' } as const;
const ELEMENT = { value: 'u32', node: 'u32', next: 'ptr', seen: 'u32' } as const;

export interface ListElement {
  readonly address: number;
  readonly page: number;
  readonly value: number;
  /** The node that created the element (and owns its page). */
  readonly node: number;
}

export interface TraversalError {
  readonly code: string;
  readonly message: string;
  readonly address?: number;
  readonly page?: number;
  readonly node?: number;
}

export interface Traversal {
  readonly elements: ListElement[];
  /** Set when the walk stopped at an address it could not read. */
  readonly error?: TraversalError;
  readonly ms: number;
}

/** How a list operation gets memory: by default the node's allocator (pages this node owns). */
export type Alloc = (bytes: number) => number;

/** Make an empty list; returns the header's address (in a page of its own on this node). */
export function createList(t: DsmThread, alloc: Alloc = (b) => t.alloc(b)): number {
  const addr = alloc(t.mem.pageSize);
  const H = defineStruct(t.mem, HEADER);
  H.set.lock(addr, 0);
  H.set.head(addr, 0);
  H.set.count(addr, 0);
  return addr;
}

/** Prepend one element holding `value`, created on this node, under the list's DSM lock. */
export function prepend(t: DsmThread, header: number, value: number, node: number, alloc: Alloc = (b) => t.alloc(b)): number {
  const H = defineStruct(t.mem, HEADER);
  const E = defineStruct(t.mem, ELEMENT);
  const e = alloc(E.size);
  E.set.value(e, value);
  E.set.node(e, node);
  E.set.seen(e, 0);
  t.mem.lock(header + H.offsets.lock!);
  try {
    E.set.next(e, H.get.head(header));
    H.set.head(header, e);
    H.set.count(header, H.get.count(header) + 1);
  } finally {
    t.mem.unlock(header + H.offsets.lock!);
  }
  return e;
}

/** Walk from the head until the end or the first address that cannot be read. Never throws a DsmError. */
export function traverse(t: DsmThread, header: number): Traversal {
  const H = defineStruct(t.mem, HEADER);
  const E = defineStruct(t.mem, ELEMENT);
  const elements: ListElement[] = [];
  const t0 = performance.now();
  let at = header;
  try {
    let e = H.get.head(header);
    while (e !== 0) {
      at = e;
      const value = E.get.value(e);
      elements.push({ address: e, page: Math.floor(e / t.mem.pageSize), value, node: E.get.node(e) });
      e = E.get.next(e);
    }
    return { elements, ms: performance.now() - t0 };
  } catch (err) {
    if (!isDsmError(err)) throw err;
    return {
      elements, ms: performance.now() - t0,
      error: { code: err.code, message: err.message, address: err.address ?? at, page: err.page, node: err.node },
    };
  }
}

/**
 * Mark every element this node created as seen once more. A write by the owner invalidates the
 * read copies other nodes took while traversing, so afterwards each element lives only on its
 * creator: that is the state in which a node's death takes its elements with it.
 */
export function stampOwn(t: DsmThread, header: number, node: number): number {
  const H = defineStruct(t.mem, HEADER);
  const E = defineStruct(t.mem, ELEMENT);
  let n = 0;
  for (let e = H.get.head(header); e !== 0; e = E.get.next(e)) {
    if (E.get.node(e) === node) {
      E.set.seen(e, E.get.seen(e) + 1);
      n++;
    }
  }
  return n;
}
