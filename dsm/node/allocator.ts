/**
 * The allocator: each node hands out memory from the pages it owns initially (dsm/node/options.ts,
 * ownedRange), so a list element lives on the node that created it, which is what makes the
 * chapter's failure visible: kill a node and exactly its elements become unreachable.
 *
 * A bump allocator over a shared Int32 word (so every application thread of the node can allocate),
 * advanced with compare-and-swap. Blocks never straddle a page boundary unless they are larger than
 * a page (then they start on a page boundary and span whole pages). free() is not implemented yet:
 * memory is reclaimed when the cluster restarts.
 */
import { DsmError } from '../errors.js';

export interface AllocatorState {
  /** Int32Array over a SharedArrayBuffer: [0] = next free byte offset from `base`. */
  readonly word: SharedArrayBuffer;
  /** First byte address of the node's range. */
  readonly base: number;
  /** One past the last byte address of the range. */
  readonly end: number;
  readonly pageSize: number;
}

export function createAllocatorState(firstPage: number, endPage: number, pageSize: number): AllocatorState {
  return { word: new SharedArrayBuffer(4), base: firstPage * pageSize, end: endPage * pageSize, pageSize };
}

export class Allocator {
  private readonly next: Int32Array;

  constructor(private readonly s: AllocatorState) {
    this.next = new Int32Array(s.word);
  }

  /** Reserve `bytes` (rounded up to 8) and return the global address of the block. */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes <= 0) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `alloc(bytes): bytes must be a positive integer, got ${String(bytes)}`);
    }
    const { base, end, pageSize } = this.s;
    if (bytes > end - base) {
      // Also keeps the rounding below in 32-bit range (2^32 bytes would round to a block of 0).
      throw new DsmError('DSM_ERR_OUT_OF_MEMORY', `alloc(${bytes}): larger than this node's whole range (${end - base} bytes, pages ${base / pageSize}..${end / pageSize - 1})`);
    }
    const size = (bytes + 7) & ~7;
    for (;;) {
      const cur = Atomics.load(this.next, 0);
      let start = base + cur;
      const pageEnd = (Math.floor(start / pageSize) + 1) * pageSize;
      if (size > pageSize) start = start % pageSize === 0 ? start : pageEnd;
      else if (start + size > pageEnd) start = pageEnd;
      if (start + size > end) {
        throw new DsmError('DSM_ERR_OUT_OF_MEMORY',
          `alloc(${bytes}): ${end - base - cur} bytes left in this node's pages ${base / pageSize}..${end / pageSize - 1}`);
      }
      if (Atomics.compareExchange(this.next, 0, cur, start + size - base) === cur) return start;
    }
  }

  /** Bytes handed out so far. */
  get used(): number {
    return Atomics.load(this.next, 0);
  }
}
