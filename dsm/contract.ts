/**
 * The contract between the two halves of the DSM, so each can be built and tested alone:
 *
 * - dsm/memory/: the local page store. Pages live in SharedArrayBuffers shared by the
 *   application thread(s) and the runtime thread; the application reaches them through Proxy
 *   views; a miss blocks the application thread (Atomics.wait) and asks the runtime thread's
 *   PageFaultHandler for the page.
 * - dsm/protocol/: Ivy coherence (Li & Hudak's fixed distributed manager) between nodes, over
 *   RPC stubs compiled from dsm/protocol/*.rpc. It runs on the runtime thread, implements
 *   PageFaultHandler, and drives LocalPages when peers ask for pages or invalidate them.
 *
 * Page numbers are global: address = page * pageSize + offset; page 0 is never mapped (null).
 * Node ids are small integers (uint16).
 */
export type Access = 'read' | 'write';

/**
 * The codes a page failure can carry, in the order the page store numbers them in shared memory
 * (dsm/memory/layout.ts: 1 + index): append, never reorder.
 */
export const PAGE_FAILURE_CODES = [
  'DSM_ERR_PAGE_LOST', 'DSM_ERR_MANAGER_DEAD', 'DSM_ERR_FAULT_TIMEOUT', 'DSM_ERR_CLOSED',
  'DSM_ERR_EVICTED', 'DSM_ERR_NO_QUORUM', 'DSM_ERR_CLUSTER_MISMATCH', 'DSM_ERR_INTERNAL', 'DSM_ERR_UNAUTHENTICATED',
] as const;
export type PageFailureCode = (typeof PAGE_FAILURE_CODES)[number];

/** A failure to report to the application threads waiting on (or later touching) a page. */
export interface PageFailure {
  readonly code: PageFailureCode;
  /** What happened, with the lower-level cause (an RPC error's message) folded in. */
  readonly message: string;
  /** The node the failure is about (dead holder or manager, fencing node, silent node), when known. */
  readonly node?: number;
}

/** What the protocol needs from the local page store (called on the runtime thread). */
export interface LocalPages {
  readonly pageSize: number;
  readonly pageCount: number;
  /**
   * Install `data` (exactly pageSize bytes) for `page` with `rights`, or, when data is null, keep
   * the current contents and set the rights (e.g. a read copy upgraded to write in place).
   * Wakes every application thread waiting on the page.
   */
  install(page: number, data: Uint8Array | null, rights: Access): void;
  /**
   * Take write rights away (keep a read copy) once no application thread is between its rights
   * check and its store; resolves with a copy of the contents at that moment.
   */
  downgrade(page: number): Promise<Uint8Array>;
  /**
   * Drop the page (no rights) once no application thread is mid-access; resolves with a copy of
   * the contents it had (used when ownership moves with the data).
   */
  invalidate(page: number): Promise<Uint8Array>;
  /**
   * Drop a READ copy at once (no rights afterwards) and report true; report false, changing
   * nothing, when the page is held for write (invalidate() then). Nothing needs draining: no
   * application thread stores into a page it may only read. Nothing is copied.
   */
  discard(page: number): boolean;
  /** Current rights of the page on this node. */
  rights(page: number): Access | 'none';
  /** Wake the waiters on `page` with a failure; later accesses keep failing until install(). */
  fail(page: number, failure: PageFailure): void;
  /**
   * Tell the application threads that a majority declared `node` dead (lock() uses it to fail a
   * wait for a lock that node holds with DSM_ERR_LOCK_HOLDER_DEAD). Idempotent.
   */
  noteDead(node: number): void;
}

/** What the local page store needs from the protocol: resolve one fault. */
export interface PageFaultHandler {
  /**
   * Obtain `page` with at least `access` rights and install it via LocalPages.install before
   * resolving; or call LocalPages.fail and resolve. Must never leave a fault pending forever.
   */
  fault(page: number, access: Access): Promise<void>;
}
