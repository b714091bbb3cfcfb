/**
 * The shape of one node's address space and of the two SharedArrayBuffers that hold it:
 *
 * - `frames`: every page frame, pageCount × pageSize bytes; page p lives at [p·pageSize, (p+1)·pageSize).
 *   Page 0 is allocated but never mapped, so address 0 (and every address inside page 0) is null.
 * - `control`: an Int32Array of coordination words, laid out as
 *     [header (16 words)] [mailbox: 2 words per app-thread slot] [per page: PAGE_STRIDE words]
 *     [dead nodes: one bit per node id, 2048 words] [failure texts: FAIL_TEXT_SLOTS slots]
 *   The header records the layout itself, so any thread handed the two buffers can attach without
 *   being told the options again. The dead-node bits let lock() name a dead holder; the failure
 *   texts carry the runtime's full reason for a failed fault (with its RPC cause) to the app thread.
 *
 * Byte order: pages are accessed through native typed arrays, and pagewire pins the page format to
 * little-endian (the same as `DataView#getUint32(off, true)`); attaching on a big-endian host throws.
 */
import { DsmError } from '../errors.js';
import { PAGE_FAILURE_CODES } from '../contract.js';

/** Options that fix the layout. Resolved once, by createDsmBuffers(). */
export interface LayoutOptions {
  /** Bytes per page: a power of two from 64 to 65536. @default 4096 */
  pageSize?: number;
  /** Pages in the address space, including the null page 0: 2 to 2^24, and pageCount·pageSize ≤ 2^31. @default 1024 */
  pageCount?: number;
  /** Application threads that may be attached at once (one fault mailbox each): 1 to 1024. @default 64 */
  maxThreads?: number;
  /** The node these pages belong to (lock() records it as the holder). @default 0 */
  nodeId?: number;
}

export const DEFAULT_PAGE_SIZE = 4096;
export const DEFAULT_PAGE_COUNT = 1024;
export const DEFAULT_MAX_THREADS = 64;

/** The two buffers a node's threads share. Structured-cloneable: post it to a worker as is. */
export interface DsmBuffers {
  readonly frames: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

// ---- control header (word indices) ----
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_PAGE_SIZE = 2;
export const H_PAGE_COUNT = 3;
export const H_MAX_THREADS = 4;
/** Non-zero once the page store closed: app threads stop waiting and throw DSM_ERR_CLOSED. */
export const H_CLOSED = 5;
/** Fault doorbell: app threads add 1 and notify after posting a request; the fault thread waits on it. */
export const H_DOORBELL = 6;
/** The node id these pages belong to. */
export const H_NODE_ID = 7;
/** Next failure-text slot the runtime writes (round robin). */
export const H_FAIL_TEXT_NEXT = 8;
const HEADER_WORDS = 16;
const MAGIC = 0x70777231; // 'pwr1'
const VERSION = 4;

/** Words of the dead-node bitmap: one bit per uint16 node id. */
export const DEAD_WORDS = 65536 / 32;
/** Failure texts kept at once (the most recent failures; an overwritten one is simply not shown). */
export const FAIL_TEXT_SLOTS = 32;
/** Words per failure-text slot: [page + 1, generation, byte length, UTF-8 bytes...]. */
export const FAIL_TEXT_WORDS = 128;
export const FAIL_TEXT_BYTES = (FAIL_TEXT_WORDS - 3) * 4;

// ---- mailbox slot (offsets inside a slot of MAILBOX_STRIDE words) ----
/** 0 = free, 1 = claimed by an attached AppMemory. */
export const M_OWNER = 0;
/** 0 = empty, else encodeRequest(page, need): the slot owner's outstanding fault. */
export const M_REQUEST = 1;
export const MAILBOX_STRIDE = 2;

// ---- per-page words (offsets inside a page record of PAGE_STRIDE words) ----
/** Rights: RIGHTS_NONE / RIGHTS_READ / RIGHTS_WRITE, ordered so `state >= need` is the check. */
export const P_STATE = 0;
/** Generation: bumped (never decremented) on every install and fail; fault waiters wait on it. */
export const P_GEN = 1;
/**
 * App threads between their write announcement and their store (or atomic op), in the low bits,
 * and IN_WRITE_DRAIN while the fault thread waits for them to leave: the last one to leave then
 * notifies this word. (Words 2 and 4 of a page record are unused: readers announce nothing, and
 * the drain flag lives here so that leaving is one read-modify-write.)
 */
export const P_IN_WRITE = 3;
export const IN_WRITE_DRAIN = 1 << 30;
export const IN_WRITE_COUNT = IN_WRITE_DRAIN - 1;
/** 0, or 1 + index into FAILURE_CODES: the failure recorded by PageStore.fail(). */
export const P_FAIL_CODE = 5;
/** Node the failure names, plus 1 (0 = unknown). */
export const P_FAIL_NODE = 6;
/** 0, or 1 + the failure-text slot holding the failure's full message. */
export const P_FAIL_TEXT = 7;
/** Power of two, so a page record's base is `wordIndex & ~(PAGE_STRIDE - 1)`. */
export const PAGE_STRIDE = 8;

export const RIGHTS_NONE = 0;
export const RIGHTS_READ = 1;
export const RIGHTS_WRITE = 2;
export type Need = typeof RIGHTS_READ | typeof RIGHTS_WRITE;

/** Failure codes as numbered in the control words (1 + index): the contract's list. */
export const FAILURE_CODES = PAGE_FAILURE_CODES;

/** A fault request as stored in a mailbox word: never 0, fits in an int32 for pages < 2^24. */
export function encodeRequest(page: number, need: Need): number {
  return (page << 2) | need;
}
export function decodeRequest(word: number): { page: number; need: Need } {
  return { page: word >>> 2, need: (word & 3) as Need };
}

/** Everything derived from the header; computed once per attaching thread. */
export class Layout {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly maxThreads: number;
  /** log2(pageSize): page = address >>> pageShift. */
  readonly pageShift: number;
  /** Bytes in the address space (= frames.byteLength). */
  readonly size: number;
  readonly mailboxBase: number;
  readonly pagesBase: number;
  readonly deadBase: number;
  readonly failTextBase: number;

  constructor(pageSize: number, pageCount: number, maxThreads: number) {
    this.pageSize = pageSize;
    this.pageCount = pageCount;
    this.maxThreads = maxThreads;
    this.pageShift = Math.log2(pageSize);
    this.size = pageSize * pageCount;
    this.mailboxBase = HEADER_WORDS;
    this.pagesBase = alignUp(HEADER_WORDS + maxThreads * MAILBOX_STRIDE, PAGE_STRIDE);
    this.deadBase = this.pagesBase + pageCount * PAGE_STRIDE;
    this.failTextBase = this.deadBase + DEAD_WORDS;
  }

  get controlWords(): number {
    return this.failTextBase + FAIL_TEXT_SLOTS * FAIL_TEXT_WORDS;
  }
  /** Index of the word holding `node`'s dead bit (bit node & 31). */
  deadWord(node: number): number {
    return this.deadBase + (node >>> 5);
  }
  failTextWord(slot: number): number {
    return this.failTextBase + slot * FAIL_TEXT_WORDS;
  }
  /** Index of the first control word of `page`'s record. */
  pageWord(page: number): number {
    return this.pagesBase + page * PAGE_STRIDE;
  }
  slotWord(slot: number): number {
    return this.mailboxBase + slot * MAILBOX_STRIDE;
  }
}

function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

function invalid(msg: string): DsmError {
  return new DsmError('DSM_ERR_INVALID_ARGUMENT', msg);
}

export function resolveLayout(opts: LayoutOptions = {}): Layout {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 64 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw invalid(`pageSize must be a power of two from 64 to 65536, got ${String(pageSize)}`);
  }
  const pageCount = opts.pageCount ?? DEFAULT_PAGE_COUNT;
  if (!Number.isInteger(pageCount) || pageCount < 2 || pageCount > 2 ** 24) {
    throw invalid(`pageCount must be an integer from 2 to 2^24 (page 0 is the null page), got ${String(pageCount)}`);
  }
  if (pageCount * pageSize > 2 ** 31) {
    throw invalid(`pageCount × pageSize must be at most 2^31 bytes, got ${pageCount} × ${pageSize}`);
  }
  const maxThreads = opts.maxThreads ?? DEFAULT_MAX_THREADS;
  if (!Number.isInteger(maxThreads) || maxThreads < 1 || maxThreads > 1024) {
    throw invalid(`maxThreads must be an integer from 1 to 1024, got ${String(maxThreads)}`);
  }
  const nodeId = opts.nodeId ?? 0;
  if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 0xffff) throw invalid(`nodeId must be an integer from 0 to 65535, got ${String(nodeId)}`);
  return new Layout(pageSize, pageCount, maxThreads);
}

/** Allocate a node's frames and control buffers. Every page starts with no rights (absent). */
export function createDsmBuffers(opts: LayoutOptions = {}): DsmBuffers {
  const layout = resolveLayout(opts);
  const frames = new SharedArrayBuffer(layout.size);
  const control = new SharedArrayBuffer(layout.controlWords * 4);
  const ctl = new Int32Array(control);
  ctl[H_VERSION] = VERSION;
  ctl[H_PAGE_SIZE] = layout.pageSize;
  ctl[H_PAGE_COUNT] = layout.pageCount;
  ctl[H_MAX_THREADS] = layout.maxThreads;
  ctl[H_NODE_ID] = opts.nodeId ?? 0;
  Atomics.store(ctl, H_MAGIC, MAGIC); // last, with a barrier: the header is complete once MAGIC is visible
  return { frames, control };
}

let littleEndian: boolean | undefined;
function hostIsLittleEndian(): boolean {
  littleEndian ??= new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  return littleEndian;
}

/** Read and check the layout recorded in `buffers` (any thread). */
export function attachLayout(buffers: DsmBuffers): { layout: Layout; ctl: Int32Array } {
  if (!hostIsLittleEndian()) throw invalid('pagewire pages are little-endian; this host is big-endian');
  if (!(buffers?.frames instanceof SharedArrayBuffer) || !(buffers.control instanceof SharedArrayBuffer)) {
    throw invalid('buffers must be { frames: SharedArrayBuffer, control: SharedArrayBuffer } from createDsmBuffers()');
  }
  const ctl = new Int32Array(buffers.control);
  if (ctl.length < HEADER_WORDS || Atomics.load(ctl, H_MAGIC) !== MAGIC || ctl[H_VERSION] !== VERSION) {
    throw invalid('control buffer was not made by createDsmBuffers() (bad magic or version)');
  }
  const layout = new Layout(ctl[H_PAGE_SIZE]!, ctl[H_PAGE_COUNT]!, ctl[H_MAX_THREADS]!);
  if (buffers.frames.byteLength !== layout.size || ctl.length !== layout.controlWords) {
    throw invalid('frames/control buffer sizes do not match the recorded layout');
  }
  return { layout, ctl };
}

/** Hex address for messages: 0x00012a40. */
export function hex(addr: number): string {
  return '0x' + (addr >>> 0).toString(16).padStart(8, '0');
}
