/**
 * Errors of the DSM layer. Match on `code`. Failures an application sees on a load or store are
 * thrown synchronously from the access, like a fault the OS could not resolve.
 */
export type DsmErrorCode =
  /** The page's only valid copy was on a node a majority of the cluster declared dead. */
  | 'DSM_ERR_PAGE_LOST'
  /** The page's manager node was declared dead, so nobody can say who holds it. */
  | 'DSM_ERR_MANAGER_DEAD'
  /** Address 0 (null) or an address inside page 0 was dereferenced. */
  | 'DSM_ERR_NULL_POINTER'
  /** The address is outside the configured address space, or the access is misaligned. */
  | 'DSM_ERR_BAD_ADDRESS'
  /**
   * The fault could not be resolved within its bound: a node it needs is not up yet, is slow, or
   * is suspected but not (yet) declared dead. Nothing was lost; a later access asks again.
   */
  | 'DSM_ERR_FAULT_TIMEOUT'
  /**
   * A node the fault needs is suspected (silent), but this node could not get a majority of the
   * configured nodes to declare it dead, so it may not skip it (a minority side of a partition,
   * or a two-node cluster after a death). Nothing was lost; a later access asks again.
   */
  | 'DSM_ERR_NO_QUORUM'
  /**
   * This node was declared dead by a majority (it was partitioned away, paused or too slow) and
   * fenced: every live node refuses it. It stays fail-stop: every later access fails too. `node`
   * names the node that refused it.
   */
  | 'DSM_ERR_EVICTED'
  /** lock() waited for a lock whose holder (`node`) was declared dead while holding it. */
  | 'DSM_ERR_LOCK_HOLDER_DEAD'
  /** A peer runs with another node list, page size or page count: the two refuse each other. */
  | 'DSM_ERR_CLUSTER_MISMATCH'
  /**
   * A peer (`node`) refused this node's identity: its transport cannot authenticate this node's
   * datagrams (another cluster key, or one of the two keyed and the other not), or this node's
   * key proves another node id than the one its address stands for. Nothing was run there.
   */
  | 'DSM_ERR_UNAUTHENTICATED'
  /** A bug or a protocol violation (never a verdict on the data); the message says what. */
  | 'DSM_ERR_INTERNAL'
  /** The allocator has no room left in pages this node owns. */
  | 'DSM_ERR_OUT_OF_MEMORY'
  /** The node could not start: its UDP address could not be bound (in use, not local) or its fault thread failed. */
  | 'DSM_ERR_NODE_START'
  /** The DSM node was closed. */
  | 'DSM_ERR_CLOSED'
  /** A constructor option or argument is not valid. */
  | 'DSM_ERR_INVALID_ARGUMENT';

export class DsmError extends Error {
  readonly code: DsmErrorCode;
  /** The global address that was being accessed, when there is one. */
  readonly address: number | undefined;
  readonly page: number | undefined;
  /** The node the failure is about (the dead holder or manager, the fencing node), when there is one. */
  readonly node: number | undefined;

  constructor(code: DsmErrorCode, message: string, opts: { address?: number; page?: number; node?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DsmError';
    this.code = code;
    this.address = opts.address;
    this.page = opts.page;
    this.node = opts.node;
  }
}

export function isDsmError(e: unknown, code?: DsmErrorCode): e is DsmError {
  return (
    typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'DsmError' &&
    (code === undefined || (e as { code?: unknown }).code === code)
  );
}
