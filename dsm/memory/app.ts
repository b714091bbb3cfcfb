/**
 * AppMemory: the application side of the local page store. Any thread (main or worker) handed the
 * DsmBuffers attaches one and reads/writes the global address space through it.
 *
 * ## Reads: no announcement (why a read costs one atomic load and is never torn)
 *
 * Per page the control buffer holds STATE (rights: none < read < write), GEN (a generation) and an
 * in-access counter IN_WRITE. A read runs
 *
 *     while Atomics.load(STATE) < read: fault
 *     return the element (a plain load)
 *
 * and takes effect at its STATE check. The frame is not touched when rights are taken away (an
 * invalidation only lowers STATE), only by the next install of new contents, so the element it then
 * loads is the value the page had when the check passed, or, if the thread was held up for a whole
 * invalidation and re-install in between, a value of a later version, current at some point during
 * the read: either way a value the page held while the read ran, so reads stay linearizable. The
 * load cannot be moved before the check (not by the compiler: the check is a call with memory
 * effects; not by the CPU: x86-64 keeps loads in order, and Arm's load-acquire orders what follows
 * it), and an element is never seen half written: an aligned element of up to 8 bytes (an f64
 * included) is one load on x86-64 and AArch64 in V8's compiled code and one word-sized relaxed load
 * in its runtime, and V8 copies into shared memory (PageStore.install's set) in aligned words; the
 * no-torn-read test races reads of u32s and f64s against installs of new versions on another
 * thread. So readers announce nothing, and the fault thread never waits for them: what a read
 * costs is one atomic load (a call into V8, about 5 ns) and the address checks (bench/dsm-local-bench).
 *
 * ## Writes: a Dekker handshake (why no write is ever lost)
 *
 *     add(IN_WRITE, 1)                      // announce: "I may store into this page now"
 *     if load(STATE) >= write: STORE        // check after announcing
 *     sub(IN_WRITE, 1)                      // and notify IN_WRITE if it was the last one out of a drain
 *     (no write rights: sub, fault, start over)
 *
 * and the fault thread, to take write rights away (PageStore.downgrade/invalidate), runs the mirror
 * image:
 *
 *     or(IN_WRITE, DRAIN); store(STATE, lower); wait until the count in IN_WRITE is 0; then copy the frame.
 *
 * All of these are Atomics operations, which are sequentially consistent, so of "app: add(IN) then
 * load(STATE)" and "fault thread: store(STATE) then load(IN)", at least one side sees the other's
 * write. Either the app sees the lowered STATE and backs off into a fault, or the fault thread sees
 * IN > 0 and waits until the store is done (the store happens before the app's Atomics.sub, which
 * the fault thread's Atomics.load then observes, so the copy includes it). A store can therefore
 * never land in a frame after the fault thread copied it or handed it away. (A seqlock cannot do
 * this for writes: a store that lands after the page moved on cannot be taken back.) Three atomic
 * operations per store.
 *
 * ## The fault protocol (why no wake-up is lost or stolen)
 *
 *     loop: g = load(GEN); if load(STATE) >= need: retry the access
 *           if a failure is recorded: throw it;  if CLOSED: throw DSM_ERR_CLOSED
 *           store(my mailbox, page|need); add(DOORBELL, 1); notify(DOORBELL)
 *           Atomics.wait(GEN, g, remaining)   // returns at once if GEN already moved past g
 *
 * Every install() and fail() changes STATE/FAIL first and then bumps GEN and notifies, so a change
 * that happens after we read g makes the wait return immediately ("not-equal"), and one that
 * happened before is seen by the re-check. GEN is a generation compared for equality, never a
 * counter of pending wake-ups, so it cannot go negative or be consumed by the wrong waiter; after
 * every wake-up the loop re-checks the real state (a read install does not satisfy a write fault:
 * that thread simply posts again). Each app thread owns one mailbox slot and has at most one
 * outstanding request, so the mailbox cannot overflow; the fault thread deduplicates per page. The whole
 * loop is bounded by faultTimeoutMs (DSM_ERR_FAULT_TIMEOUT).
 *
 * Atomic DSM operations (cas32/add32) run with the IN_WRITE mark held, so they are atomic both
 * against other threads of this node (Atomics on the frame) and against the page moving away.
 *
 * A failed fault throws a DsmError built from the page's failure code and node; its `cause` is an
 * Error with the runtime's full message (which node did not answer, the RPC error), read from a
 * failure-text slot when the runtime's slot is still the one it wrote for this failure.
 */
import { performance } from 'node:perf_hooks';
import { DsmError, isDsmError } from '../errors.js';
import type { PageFailureCode } from '../contract.js';
import {
  attachLayout,
  encodeRequest,
  FAILURE_CODES,
  hex,
  FAIL_TEXT_BYTES,
  H_CLOSED,
  H_DOORBELL,
  H_NODE_ID,
  M_OWNER,
  M_REQUEST,
  P_FAIL_CODE,
  P_FAIL_NODE,
  P_FAIL_TEXT,
  P_GEN,
  P_IN_WRITE,
  IN_WRITE_DRAIN,
  P_STATE,
  PAGE_STRIDE,
  RIGHTS_READ,
  RIGHTS_WRITE,
  type DsmBuffers,
  type Layout,
  type Need,
} from './layout.js';
import { makeView, type DsmView } from './views.js';

export interface AppMemoryOptions {
  /** Longest a single access may stay blocked in a page fault. @default 10_000 */
  faultTimeoutMs?: number;
  /** Longest lock() tries before throwing DSM_ERR_FAULT_TIMEOUT. @default 10_000 */
  lockTimeoutMs?: number;
}

export const DEFAULT_FAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** Counters of one AppMemory (this thread only). */
export interface AppMemoryStats {
  readFaults: number;
  writeFaults: number;
  /** Total time spent blocked in faults, µs. */
  faultWaitUs: number;
}

/** P_FAIL_CODE values of failures that are no verdict on the page: a later fault asks again. */
const RETRIABLE_FAIL_CODES = new Set((['DSM_ERR_FAULT_TIMEOUT', 'DSM_ERR_NO_QUORUM', 'DSM_ERR_UNAUTHENTICATED'] as const).map((c) => 1 + FAILURE_CODES.indexOf(c)));

export class AppMemory {
  readonly pageSize: number;
  readonly pageCount: number;
  /** Bytes in the address space; valid addresses are [pageSize, size). */
  readonly size: number;
  readonly stats: AppMemoryStats = { readFaults: 0, writeFaults: 0, faultWaitUs: 0 };

  /** Proxy views indexed like typed arrays over the whole address space: `u32[addr >>> 2]`. */
  readonly u8: DsmView;
  readonly u16: DsmView;
  readonly u32: DsmView;
  readonly i32: DsmView;
  readonly f64: DsmView;

  private readonly layout: Layout;
  private readonly ctl: Int32Array;
  private readonly shift: number;
  private readonly pagesBase: number;
  private readonly r8: Uint8Array;
  private readonly r16: Uint16Array;
  private readonly r32: Uint32Array;
  private readonly ri32: Int32Array;
  private readonly rf64: Float64Array;
  private readonly slotWord: number;
  private readonly faultTimeoutMs: number;
  private readonly lockTimeoutMs: number;
  /** What lock() stores in a lock word: this node's id + 1 (0 means free). */
  private readonly lockedValue: number;
  private closed = false;

  constructor(buffers: DsmBuffers, opts: AppMemoryOptions = {}) {
    const { layout, ctl } = attachLayout(buffers);
    this.layout = layout;
    this.ctl = ctl;
    this.pageSize = layout.pageSize;
    this.pageCount = layout.pageCount;
    this.size = layout.size;
    this.shift = layout.pageShift;
    this.pagesBase = layout.pagesBase;
    this.faultTimeoutMs = timeoutOption('faultTimeoutMs', opts.faultTimeoutMs, DEFAULT_FAULT_TIMEOUT_MS);
    this.lockTimeoutMs = timeoutOption('lockTimeoutMs', opts.lockTimeoutMs, DEFAULT_LOCK_TIMEOUT_MS);
    this.r8 = new Uint8Array(buffers.frames);
    this.r16 = new Uint16Array(buffers.frames);
    this.r32 = new Uint32Array(buffers.frames);
    this.ri32 = new Int32Array(buffers.frames);
    this.rf64 = new Float64Array(buffers.frames);
    this.lockedValue = (ctl[H_NODE_ID]! & 0xffff) + 1;
    this.slotWord = this.claimSlot();
    this.u8 = makeView(this.r8.length, (i) => this.loadU8(i), (i, v) => this.storeU8(i, v), 1);
    this.u16 = makeView(this.r16.length, (i) => this.loadU16(i << 1), (i, v) => this.storeU16(i << 1, v), 2);
    this.u32 = makeView(this.r32.length, (i) => this.loadU32(i << 2), (i, v) => this.storeU32(i << 2, v), 4);
    this.i32 = makeView(this.ri32.length, (i) => this.loadI32(i << 2), (i, v) => this.storeI32(i << 2, v), 4);
    this.f64 = makeView(this.rf64.length, (i) => this.loadF64(i * 8), (i, v) => this.storeF64(i * 8, v), 8);
  }

  /** Give the fault mailbox back (the thread may attach again later). Accesses afterwards throw DSM_ERR_CLOSED. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, this.slotWord + M_REQUEST, 0);
    Atomics.store(this.ctl, this.slotWord + M_OWNER, 0);
  }

  // ---------------------------------------------------------------- loads and stores (byte addresses)

  loadU8(addr: number): number {
    const base = this.pageBase(addr, 1);
    this.enterRead(base, addr);
    return this.r8[addr]!;
  }
  storeU8(addr: number, v: number): void {
    const c = this.enterWrite(this.pageBase(addr, 1), addr);
    this.r8[addr] = v;
    this.leave(c);
  }
  loadU16(addr: number): number {
    const base = this.pageBase(addr, 2);
    this.enterRead(base, addr);
    return this.r16[addr >>> 1]!;
  }
  storeU16(addr: number, v: number): void {
    const c = this.enterWrite(this.pageBase(addr, 2), addr);
    this.r16[addr >>> 1] = v;
    this.leave(c);
  }
  loadU32(addr: number): number {
    const base = this.pageBase(addr, 4);
    this.enterRead(base, addr);
    return this.r32[addr >>> 2]!;
  }
  storeU32(addr: number, v: number): void {
    const c = this.enterWrite(this.pageBase(addr, 4), addr);
    this.r32[addr >>> 2] = v;
    this.leave(c);
  }
  loadI32(addr: number): number {
    const base = this.pageBase(addr, 4);
    this.enterRead(base, addr);
    return this.ri32[addr >>> 2]!;
  }
  storeI32(addr: number, v: number): void {
    const c = this.enterWrite(this.pageBase(addr, 4), addr);
    this.ri32[addr >>> 2] = v;
    this.leave(c);
  }
  loadF64(addr: number): number {
    const base = this.pageBase(addr, 8);
    this.enterRead(base, addr);
    return this.rf64[addr >>> 3]!;
  }
  storeF64(addr: number, v: number): void {
    const c = this.enterWrite(this.pageBase(addr, 8), addr);
    this.rf64[addr >>> 3] = v;
    this.leave(c);
  }

  /** Bring the page holding `addr` in with at least `access` rights (a prefault); no data moves. */
  touch(addr: number, access: 'read' | 'write' = 'read'): void {
    const base = this.pageBase(addr, 1);
    if (access === 'write') {
      this.leave(this.enterWrite(base, addr));
      return;
    }
    this.enterRead(base, addr);
  }

  /**
   * What this node holds of the page containing `addr` at this instant: 'write' (it owns the only
   * copy), 'read' (a read copy) or 'none'. Never faults and sends nothing; the answer may change at
   * any moment as peers fault the page away (Ivy: a write elsewhere invalidates every copy here).
   */
  rights(addr: number): 'none' | 'read' | 'write' {
    const state = Atomics.load(this.ctl, this.pageBase(addr, 1) + P_STATE);
    return state >= RIGHTS_WRITE ? 'write' : state >= RIGHTS_READ ? 'read' : 'none';
  }

  // ---------------------------------------------------------------- atomics on DSM words (int32)

  /** Compare-and-swap the int32 at `addr` (4-aligned); returns the previous value. Needs write rights. */
  cas32(addr: number, expected: number, value: number): number {
    const c = this.enterWrite(this.pageBase(addr, 4), addr);
    const old = Atomics.compareExchange(this.ri32, addr >>> 2, expected | 0, value | 0);
    this.leave(c);
    return old;
  }
  /** Atomically add `delta` to the int32 at `addr` (4-aligned); returns the previous value. */
  add32(addr: number, delta: number): number {
    const c = this.enterWrite(this.pageBase(addr, 4), addr);
    const old = Atomics.add(this.ri32, addr >>> 2, delta | 0);
    this.leave(c);
    return old;
  }
  /** Atomically replace the int32 at `addr`; returns the previous value. */
  xchg32(addr: number, value: number): number {
    const c = this.enterWrite(this.pageBase(addr, 4), addr);
    const old = Atomics.exchange(this.ri32, addr >>> 2, value | 0);
    this.leave(c);
    return old;
  }

  /**
   * Acquire the spin lock in the int32 at `addr` (0 = free, else the holder's node id + 1): CAS
   * 0 -> this node's id + 1, spinning a little, then sleeping with exponential back-off. A local
   * unlock() wakes local sleepers at once; an unlock on another node is seen at the next back-off
   * tick (<= 1 ms). Throws DSM_ERR_LOCK_HOLDER_DEAD naming the holder once a majority declared it
   * dead (the runtime publishes deaths to app threads), also when the lock's page was lost with
   * it once this thread had read the holder's mark (before that, the page's loss is
   * DSM_ERR_PAGE_LOST); DSM_ERR_FAULT_TIMEOUT after lockTimeoutMs. Not re-entrant.
   */
  lock(addr: number, timeoutMs = this.lockTimeoutMs): void {
    const me = this.lockedValue;
    let holder = 0;
    try {
      holder = this.cas32(addr, 0, me);
      if (holder === 0) return;
      const deadline = performance.now() + timeoutMs;
      let sleepMs = 0.02;
      for (let spins = 0; ; spins++) {
        holder = this.cas32(addr, 0, me);
        if (holder === 0) return;
        if (holder > 0 && holder <= 0x10000 && this.isDeadNode(holder - 1)) throw this.holderDead(addr, holder - 1);
        if (spins < 32) continue;
        const now = performance.now();
        if (now >= deadline) {
          throw new DsmError('DSM_ERR_FAULT_TIMEOUT', `lock at ${hex(addr)} not acquired within ${timeoutMs} ms (held by node ${holder - 1})`, {
            address: addr,
            page: addr >>> this.shift,
            node: holder - 1,
          });
        }
        // A wake-up hint only (no in-access mark is held, so the page may move meanwhile): sleep while
        // the word still reads the same holder; unlock() notifies it.
        Atomics.wait(this.ri32, addr >>> 2, holder, Math.min(sleepMs, deadline - now));
        sleepMs = Math.min(sleepMs * 2, 1);
      }
    } catch (e) {
      // The lock's page was lost with the node that held it (it had the page when it died).
      if (holder > 0 && isDsmError(e, 'DSM_ERR_PAGE_LOST') && e.node === holder - 1) throw this.holderDead(addr, holder - 1, e);
      throw e;
    }
  }

  /** Release a lock taken with lock(). Throws DSM_ERR_INVALID_ARGUMENT (and changes nothing) if this node does not hold it. */
  unlock(addr: number): void {
    const old = this.cas32(addr, this.lockedValue, 0);
    if (old === this.lockedValue) {
      Atomics.notify(this.ri32, addr >>> 2, 1);
      return;
    }
    const held = old === 0 ? 'it was not locked' : `it is held by node ${old - 1}, not this node (${this.lockedValue - 1})`;
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `unlock of ${hex(addr)}, which this node does not hold: ${held}`, { address: addr });
  }

  /** True once the runtime learned that a majority declared `node` dead. */
  isDeadNode(node: number): boolean {
    return (Atomics.load(this.ctl, this.layout.deadWord(node)) & (1 << (node & 31))) !== 0;
  }

  private holderDead(addr: number, node: number, cause?: unknown): DsmError {
    return new DsmError('DSM_ERR_LOCK_HOLDER_DEAD', `lock at ${hex(addr)} is held by node ${node}, which was declared dead while holding it`, {
      address: addr, page: addr >>> this.shift, node, ...(cause === undefined ? {} : { cause }),
    });
  }

  // ---------------------------------------------------------------- the protocol

  /** Validate `addr` for an access of `align` bytes; return the index of its page's first control word. */
  private pageBase(addr: number, align: number): number {
    if ((addr >>> 0) !== addr || addr >= this.size || (addr & (align - 1)) !== 0) throw this.badAddress(addr, align);
    if (addr < this.pageSize) {
      throw new DsmError('DSM_ERR_NULL_POINTER', `null pointer dereference at ${hex(addr)} (page 0 is never mapped)`, {
        address: addr,
        page: 0,
      });
    }
    return this.pagesBase + (addr >>> this.shift) * PAGE_STRIDE;
  }

  /** A read takes effect at this check of the rights (faulting until at least read rights are held; "Reads" above). */
  private enterRead(base: number, addr: number): void {
    while (Atomics.load(this.ctl, base + P_STATE) < RIGHTS_READ) this.fault(base, RIGHTS_READ, addr);
  }

  /** Announce a store, then check the rights (faulting until write rights are held); returns the counter to leave. */
  private enterWrite(base: number, addr: number): number {
    const ctl = this.ctl;
    const counter = base + P_IN_WRITE;
    for (;;) {
      Atomics.add(ctl, counter, 1);
      if (Atomics.load(ctl, base + P_STATE) >= RIGHTS_WRITE) return counter;
      this.leave(counter);
      this.fault(base, RIGHTS_WRITE, addr);
    }
  }

  private leave(counter: number): void {
    // The last thread to leave while the fault thread drains the page wakes it.
    if (Atomics.sub(this.ctl, counter, 1) === (IN_WRITE_DRAIN | 1)) Atomics.notify(this.ctl, counter);
  }

  /** Block until the page (control words at `base`) has `need` rights, or throw (failure recorded, closed, timed out). */
  private fault(base: number, need: Need, addr: number): void {
    const page = addr >>> this.shift;
    if (this.closed) throw new DsmError('DSM_ERR_CLOSED', 'this AppMemory was closed', { address: addr, page });
    const ctl = this.ctl;
    const start = performance.now();
    const deadline = start + this.faultTimeoutMs;
    if (need === RIGHTS_WRITE) this.stats.writeFaults++;
    else this.stats.readFaults++;
    // A timeout is not a verdict on the page: one recorded before this fault began is retried
    // (asked again); lost pages and dead managers stay failed until a new install.
    const startGen = Atomics.load(ctl, base + P_GEN);
    try {
      for (;;) {
        const gen = Atomics.load(ctl, base + P_GEN);
        if (Atomics.load(ctl, base + P_STATE) >= need) return;
        const failCode = Atomics.load(ctl, base + P_FAIL_CODE);
        if (failCode !== 0 && (!RETRIABLE_FAIL_CODES.has(failCode) || gen !== startGen)) {
          throw this.failure(failCode, Atomics.load(ctl, base + P_FAIL_NODE), page, addr, need, gen);
        }
        if (Atomics.load(ctl, H_CLOSED) !== 0) throw closedError(page, addr);
        Atomics.store(ctl, this.slotWord + M_REQUEST, encodeRequest(page, need));
        Atomics.add(ctl, H_DOORBELL, 1);
        Atomics.notify(ctl, H_DOORBELL);
        // Re-check CLOSED after posting: the fault thread sets CLOSED before sweeping the mailboxes, so
        // either it sees our request or we see its flag.
        if (Atomics.load(ctl, H_CLOSED) !== 0) throw closedError(page, addr);
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          throw new DsmError(
            'DSM_ERR_FAULT_TIMEOUT',
            `${need === RIGHTS_WRITE ? 'write' : 'read'} fault at ${hex(addr)} (page ${page}) not resolved within ${this.faultTimeoutMs} ms`,
            { address: addr, page },
          );
        }
        Atomics.wait(ctl, base + P_GEN, gen, remaining);
      }
    } finally {
      this.stats.faultWaitUs += (performance.now() - start) * 1000;
    }
  }

  private failure(code: number, nodePlus1: number, page: number, addr: number, need: Need, gen: number): DsmError {
    const c: PageFailureCode = FAILURE_CODES[code - 1] ?? 'DSM_ERR_INTERNAL';
    const node = nodePlus1 === 0 ? undefined : nodePlus1 - 1;
    const on = node === undefined ? '' : ` node ${node}`;
    const what = need === RIGHTS_WRITE ? 'write' : 'read';
    const why: Record<PageFailureCode, string> = {
      DSM_ERR_PAGE_LOST: `its only valid copy was on dead${on || ' node (unknown)'}`,
      DSM_ERR_MANAGER_DEAD: `its manager${on} is dead`,
      DSM_ERR_FAULT_TIMEOUT: `the fault could not be resolved in time${on ? ` (waiting for${on})` : ''}`,
      DSM_ERR_CLOSED: 'the DSM node was closed',
      DSM_ERR_EVICTED: `this node was declared dead by a majority and is fenced${on ? ` (refused by${on})` : ''}`,
      DSM_ERR_NO_QUORUM: `${on ? on.trim() : 'a node it needs'} is suspected, and no majority could be reached to declare it dead`,
      DSM_ERR_CLUSTER_MISMATCH: `${on ? on.trim() : 'a peer'} runs another cluster configuration`,
      DSM_ERR_INTERNAL: 'a protocol error (a bug, not a verdict on the data)',
      DSM_ERR_UNAUTHENTICATED: `${on ? on.trim() : 'a peer'} refused this node: it cannot authenticate it (not the same cluster key?)`,
    };
    const text = this.failText(page, gen);
    return new DsmError(c, `${what} fault at ${hex(addr)} (page ${page}) failed: ${why[c]}`, {
      address: addr, page, node, ...(text === undefined ? {} : { cause: new Error(text) }),
    });
  }

  /** The runtime's full message for the failure recorded at generation `gen` of `page`, if still there. */
  private failText(page: number, gen: number): string | undefined {
    const ctl = this.ctl;
    const slot = Atomics.load(ctl, this.pagesBase + page * PAGE_STRIDE + P_FAIL_TEXT) - 1;
    if (slot < 0) return undefined;
    const w = this.layout.failTextWord(slot);
    if (Atomics.load(ctl, w) !== page + 1 || Atomics.load(ctl, w + 1) !== gen) return undefined;
    const n = Math.min(Atomics.load(ctl, w + 2), FAIL_TEXT_BYTES);
    const text = new TextDecoder().decode(new Uint8Array(ctl.buffer, (w + 3) * 4, n).slice());
    // Overwritten while we read it: better no cause than a wrong one.
    if (Atomics.load(ctl, w) !== page + 1 || Atomics.load(ctl, w + 1) !== gen) return undefined;
    return text;
  }

  private badAddress(addr: number, align: number): DsmError {
    const a = typeof addr === 'number' && Number.isFinite(addr) ? addr : NaN;
    const why =
      !Number.isInteger(a) || a < 0
        ? 'not a non-negative integer'
        : a >= this.size
          ? `outside the address space [0, ${hex(this.size)})`
          : `not aligned to ${align} bytes`;
    return new DsmError('DSM_ERR_BAD_ADDRESS', `bad address ${Number.isInteger(a) && a >= 0 ? hex(a) : String(addr)}: ${why}`, {
      address: Number.isInteger(a) ? a : undefined,
      page: Number.isInteger(a) && a >= 0 && a < this.size ? a >>> this.shift : undefined,
    });
  }

  private claimSlot(): number {
    for (let s = 0; s < this.layout.maxThreads; s++) {
      const w = this.layout.slotWord(s);
      if (Atomics.compareExchange(this.ctl, w + M_OWNER, 0, 1) === 0) {
        Atomics.store(this.ctl, w + M_REQUEST, 0);
        return w;
      }
    }
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `all ${this.layout.maxThreads} app-thread slots are in use (raise maxThreads, or close() unused AppMemory instances)`);
  }
}

function closedError(page: number, addr: number): DsmError {
  return new DsmError('DSM_ERR_CLOSED', `fault at ${hex(addr)} (page ${page}): the page store was closed`, { address: addr, page });
}

function timeoutOption(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `${name} must be a finite number of milliseconds > 0, got ${String(v)}`);
  }
  return v;
}
