/**
 * PageStore: the fault-thread side of the local page store (implements the contract's LocalPages). It
 * lives on the fault thread, takes fault requests out of the app threads' mailboxes and hands
 * them to the injected PageFaultHandler, and changes page rights for the protocol.
 *
 * The concurrency protocol it takes part in is described at the top of app.ts. Its half:
 *
 * - Taking rights away (downgrade, invalidate): set DRAIN, store the lower STATE, then wait
 *   until no app thread is between its write-rights check and its store (IN_WRITE is 0), and only
 *   then copy the frame. Readers are not waited for: they announce nothing (app.ts).
 *   The wait is asynchronous (Atomics.waitAsync on the counter, woken by the last leaving app
 *   thread because DRAIN is set, and re-polled at least every millisecond) so the fault thread
 *   keeps serving the network meanwhile; it is bounded by drainTimeoutMs, after which the old
 *   rights are restored and the call rejects.
 * - install(): if the rights go down or the contents are replaced, the same revoke-then-drain
 *   happens first, synchronously (app threads hold the mark for nanoseconds; bounded spin). Then
 *   FAIL is cleared, the data copied, STATE stored, GEN bumped and every waiter notified, in that
 *   order, so a woken app thread always sees the new state.
 * - fail(): record code+node (and the full message in a failure-text slot), bump GEN, notify.
 *   Rights are left alone: a read copy stays readable when the upgrade to write fails; faults on
 *   the page throw until the next install().
 * - noteDead(): set the node's bit in the dead-node bitmap (lock() reads it to name a dead holder).
 * - Faults: one doorbell word (app threads add+notify) and one mailbox word per app thread. The
 *   loop reads the doorbell value, sweeps the mailboxes (Atomics.exchange to 0), then waits
 *   asynchronously for the doorbell to move from the value it read, so a request posted during the
 *   sweep is never missed. Requests for a page that already has the rights, or whose fault is
 *   already in flight, are dropped: the waiters re-post after every wake-up if still unsatisfied.
 *
 * Operations that take rights away are serialised per page (a promise chain), so two downgrades
 * never interleave their drains.
 */
import { PerKeySerializer } from '../serial.js';
import { performance } from 'node:perf_hooks';
import type { Access, LocalPages, PageFailure, PageFaultHandler } from '../contract.js';
import { DsmError, isDsmError } from '../errors.js';
import {
  attachLayout,
  decodeRequest,
  FAIL_TEXT_BYTES,
  FAIL_TEXT_SLOTS,
  FAILURE_CODES,
  H_CLOSED,
  H_DOORBELL,
  H_FAIL_TEXT_NEXT,
  M_OWNER,
  M_REQUEST,
  P_FAIL_CODE,
  P_FAIL_NODE,
  P_FAIL_TEXT,
  P_GEN,
  P_IN_WRITE,
  IN_WRITE_COUNT,
  IN_WRITE_DRAIN,
  P_STATE,
  RIGHTS_NONE,
  RIGHTS_READ,
  RIGHTS_WRITE,
  type DsmBuffers,
  type Layout,
} from './layout.js';

export interface PageStoreOptions {
  /** Resolves faults; may also be set later with setHandler() (faults fail with DSM_ERR_CLOSED until then). */
  handler?: PageFaultHandler;
  /** Longest downgrade()/invalidate() waits for app threads to leave the page. @default 2_000 */
  drainTimeoutMs?: number;
  /** Longest install() spins synchronously for app threads to leave a page whose rights drop. @default 200 */
  installSpinMs?: number;
}

export interface PageStoreStats {
  faultRequests: number;
  faultsStarted: number;
  faultsDeduplicated: number;
  installs: number;
  downgrades: number;
  invalidations: number;
  failures: number;
  /** Drains that had to wait for an app thread (the no-lost-write protocol doing its job). */
  drainWaits: number;
  /** Mailbox requests naming a page outside the address space (a bug in an app thread). */
  badRequests: number;
}

const DEFAULT_DRAIN_TIMEOUT_MS = 2_000;
const DEFAULT_INSTALL_SPIN_MS = 200;

const RIGHTS_NAMES = ['none', 'read', 'write'] as const;

export class PageStore implements LocalPages {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly stats: PageStoreStats = {
    faultRequests: 0,
    faultsStarted: 0,
    faultsDeduplicated: 0,
    installs: 0,
    downgrades: 0,
    invalidations: 0,
    failures: 0,
    drainWaits: 0,
    badRequests: 0,
  };

  private readonly layout: Layout;
  private readonly ctl: Int32Array;
  private readonly frames: Uint8Array;
  private handler: PageFaultHandler | undefined;
  private readonly drainTimeoutMs: number;
  private readonly installSpinMs: number;
  private readonly inflight = new Set<number>();
  private readonly perPage = new PerKeySerializer<number>();
  private serving = false;
  private closed = false;

  constructor(buffers: DsmBuffers, opts: PageStoreOptions = {}) {
    const { layout, ctl } = attachLayout(buffers);
    this.layout = layout;
    this.ctl = ctl;
    this.frames = new Uint8Array(buffers.frames);
    this.pageSize = layout.pageSize;
    this.pageCount = layout.pageCount;
    this.handler = opts.handler;
    this.drainTimeoutMs = ms('drainTimeoutMs', opts.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS);
    this.installSpinMs = ms('installSpinMs', opts.installSpinMs, DEFAULT_INSTALL_SPIN_MS);
  }

  setHandler(handler: PageFaultHandler): void {
    this.handler = handler;
  }

  /**
   * Start taking fault requests from the app threads' mailboxes. The pending Atomics.waitAsync is
   * not a libuv handle: the thread must keep something else alive (a MessagePort listener, a
   * socket) or it exits while app threads wait.
   */
  serve(): void {
    if (this.serving || this.closed) return;
    this.serving = true;
    void this.serveLoop();
  }

  private async serveLoop(): Promise<void> {
    const ctl = this.ctl;
    while (!this.closed) {
      const bell = Atomics.load(ctl, H_DOORBELL);
      this.sweepMailboxes();
      const w = Atomics.waitAsync(ctl, H_DOORBELL, bell);
      if (w.async) await w.value;
    }
  }

  private sweepMailboxes(): void {
    const ctl = this.ctl;
    for (let s = 0; s < this.layout.maxThreads; s++) {
      const w = this.layout.slotWord(s);
      if (Atomics.load(ctl, w + M_OWNER) === 0) continue;
      const req = Atomics.exchange(ctl, w + M_REQUEST, 0);
      if (req === 0) continue;
      const { page, need } = decodeRequest(req);
      this.onFaultRequest(page, need === RIGHTS_WRITE ? 'write' : 'read');
    }
  }

  private onFaultRequest(page: number, access: Access): void {
    this.stats.faultRequests++;
    if (page < 1 || page >= this.pageCount) {
      this.stats.badRequests++;
      return;
    }
    const base = this.layout.pageWord(page);
    if (Atomics.load(this.ctl, base + P_STATE) >= (access === 'write' ? RIGHTS_WRITE : RIGHTS_READ)) return;
    if (this.inflight.has(page)) {
      this.stats.faultsDeduplicated++;
      return;
    }
    const handler = this.handler;
    if (handler === undefined) {
      this.fail(page, { code: 'DSM_ERR_CLOSED', message: 'no fault handler is installed' });
      return;
    }
    this.inflight.add(page);
    this.stats.faultsStarted++;
    const gen0 = Atomics.load(this.ctl, base + P_GEN);
    let run: Promise<void>;
    try {
      run = Promise.resolve(handler.fault(page, access));
    } catch (e) {
      run = Promise.reject(e);
    }
    run.then(
      () => {
        this.inflight.delete(page);
        // Contract: the handler installs or fails before resolving. If it did neither, that is a
        // bug: fail the page rather than leave the waiters to their timeout.
        if (!this.closed && Atomics.load(this.ctl, base + P_GEN) === gen0) {
          this.fail(page, { code: 'DSM_ERR_INTERNAL', message: 'the fault handler resolved without installing or failing the page' });
        }
      },
      (e: unknown) => {
        this.inflight.delete(page);
        if (!this.closed) this.fail(page, failureFrom(e));
      },
    );
  }

  // ---------------------------------------------------------------- LocalPages

  rights(page: number): Access | 'none' {
    this.checkPage(page);
    return RIGHTS_NAMES[Atomics.load(this.ctl, this.layout.pageWord(page) + P_STATE)] ?? 'none';
  }

  install(page: number, data: Uint8Array | null, rights: Access): void {
    this.checkPage(page);
    if (rights !== 'read' && rights !== 'write') throw invalid(`rights must be 'read' or 'write', got ${String(rights)}`);
    if (data !== null && (!(data instanceof Uint8Array) || data.length !== this.pageSize)) {
      throw invalid(`install(page ${page}): data must be a Uint8Array of exactly ${this.pageSize} bytes`);
    }
    const ctl = this.ctl;
    const base = this.layout.pageWord(page);
    const cur = Atomics.load(ctl, base + P_STATE);
    const next = rights === 'write' ? RIGHTS_WRITE : RIGHTS_READ;
    if (data !== null && cur === RIGHTS_WRITE) {
      throw invalid(`install(page ${page}) with data over a page held for write would drop local writes; downgrade() or invalidate() it first`);
    }
    if (data !== null && cur !== RIGHTS_NONE) this.revokeSync(page, RIGHTS_NONE);
    else if (next < cur) this.revokeSync(page, next);
    Atomics.store(ctl, base + P_FAIL_CODE, 0);
    Atomics.store(ctl, base + P_FAIL_NODE, 0);
    Atomics.store(ctl, base + P_FAIL_TEXT, 0);
    // V8 copies into shared memory with relaxed word copies only when source and frame are equally
    // aligned, byte by byte otherwise (base::Relaxed_Memcpy): a reader racing this copy must never see
    // an f64 half old, half new (app.ts, "Reads"), so an unaligned source is copied first. (The
    // no-torn-read test installs from unaligned buffers too; it has not seen a tear without this
    // copy on this machine, so the reason is V8's code, not a measured failure.)
    if (data !== null) this.frames.set(data.byteOffset % 8 === 0 ? data : data.slice(), page * this.pageSize);
    Atomics.store(ctl, base + P_STATE, next);
    Atomics.add(ctl, base + P_GEN, 1);
    Atomics.notify(ctl, base + P_GEN);
    this.stats.installs++;
  }

  downgrade(page: number): Promise<Uint8Array> {
    this.checkPage(page);
    return this.serialised(page, async () => {
      const cur = Atomics.load(this.ctl, this.layout.pageWord(page) + P_STATE);
      if (cur === RIGHTS_NONE) throw invalid(`downgrade(page ${page}): the page is not held on this node`);
      if (cur === RIGHTS_WRITE) await this.revoke(page, RIGHTS_READ);
      this.stats.downgrades++;
      return this.snapshot(page);
    });
  }

  invalidate(page: number): Promise<Uint8Array> {
    this.checkPage(page);
    return this.serialised(page, async () => {
      const cur = Atomics.load(this.ctl, this.layout.pageWord(page) + P_STATE);
      if (cur !== RIGHTS_NONE) await this.revoke(page, RIGHTS_NONE);
      this.stats.invalidations++;
      return this.snapshot(page);
    });
  }

  discard(page: number): boolean {
    this.checkPage(page);
    const base = this.layout.pageWord(page) + P_STATE;
    // Only the fault thread changes STATE, so the page is still read-only when it is stored.
    if (Atomics.load(this.ctl, base) !== RIGHTS_READ) return false;
    Atomics.store(this.ctl, base, RIGHTS_NONE);
    this.stats.invalidations++;
    return true;
  }

  fail(page: number, failure: PageFailure): void {
    this.checkPage(page);
    const code = FAILURE_CODES.indexOf(failure.code) + 1;
    if (code === 0) throw invalid(`fail(page ${page}): unknown failure code ${String(failure.code)}`);
    const node = failure.node;
    const ctl = this.ctl;
    const base = this.layout.pageWord(page);
    Atomics.store(ctl, base + P_FAIL_NODE, node === undefined || !Number.isInteger(node) || node < 0 ? 0 : node + 1);
    Atomics.store(ctl, base + P_FAIL_CODE, code);
    const gen = Atomics.load(ctl, base + P_GEN) + 1;
    Atomics.store(ctl, base + P_FAIL_TEXT, this.writeFailText(page, gen, String(failure.message ?? '')) + 1);
    Atomics.store(ctl, base + P_GEN, gen);
    Atomics.notify(ctl, base + P_GEN);
    this.stats.failures++;
  }

  noteDead(node: number): void {
    if (!Number.isInteger(node) || node < 0 || node > 0xffff) return;
    Atomics.or(this.ctl, this.layout.deadWord(node), 1 << (node & 31));
  }

  /** Write `text` into the next failure-text slot for (page, gen); returns the slot. */
  private writeFailText(page: number, gen: number, text: string): number {
    const ctl = this.ctl;
    const slot = (Atomics.add(ctl, H_FAIL_TEXT_NEXT, 1) >>> 0) % FAIL_TEXT_SLOTS;
    const w = this.layout.failTextWord(slot);
    const bytes = new TextEncoder().encode(text);
    const n = Math.min(bytes.length, FAIL_TEXT_BYTES);
    Atomics.store(ctl, w, 0); // invalid while being written
    new Uint8Array(ctl.buffer, (w + 3) * 4, FAIL_TEXT_BYTES).set(bytes.subarray(0, n));
    Atomics.store(ctl, w + 2, n);
    Atomics.store(ctl, w + 1, gen);
    Atomics.store(ctl, w, page + 1);
    return slot;
  }

  // ---------------------------------------------------------------- extras (not in the contract)

  /** A copy of the page's current contents, whatever its rights (no drain: may race app stores). */
  snapshot(page: number): Uint8Array {
    this.checkPage(page);
    const off = page * this.pageSize;
    return this.frames.slice(off, off + this.pageSize);
  }

  /** The failure recorded for `page`, if any. */
  failure(page: number): { code: PageFailure['code']; node?: number } | undefined {
    this.checkPage(page);
    const base = this.layout.pageWord(page);
    const c = Atomics.load(this.ctl, base + P_FAIL_CODE);
    if (c === 0) return undefined;
    const n = Atomics.load(this.ctl, base + P_FAIL_NODE);
    return n === 0 ? { code: FAILURE_CODES[c - 1]! } : { code: FAILURE_CODES[c - 1]!, node: n - 1 };
  }

  /** Pages whose fault is being resolved by the handler right now. */
  get faultsInFlight(): number {
    return this.inflight.size;
  }

  /**
   * Stop serving: app threads blocked in (or entering) a fault throw DSM_ERR_CLOSED; accesses to
   * pages already held keep working. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ctl = this.ctl;
    Atomics.store(ctl, H_CLOSED, 1);
    Atomics.add(ctl, H_DOORBELL, 1);
    Atomics.notify(ctl, H_DOORBELL); // ends serveLoop's waitAsync
    for (let s = 0; s < this.layout.maxThreads; s++) Atomics.store(ctl, this.layout.slotWord(s) + M_REQUEST, 0);
    for (let p = 1; p < this.pageCount; p++) {
      const g = this.layout.pageWord(p) + P_GEN;
      Atomics.add(ctl, g, 1);
      Atomics.notify(ctl, g);
    }
  }

  // ---------------------------------------------------------------- internals

  private serialised<T>(page: number, op: () => Promise<T>): Promise<T> {
    return this.perPage.run(page, op);
  }

  /** Lower STATE to `to`, then wait (asynchronously, bounded) until no app thread is between its write check and its store. */
  private async revoke(page: number, to: number): Promise<void> {
    const ctl = this.ctl;
    const base = this.layout.pageWord(page);
    const prev = Atomics.load(ctl, base + P_STATE);
    Atomics.or(ctl, base + P_IN_WRITE, IN_WRITE_DRAIN);
    Atomics.store(ctl, base + P_STATE, to);
    try {
      const deadline = performance.now() + this.drainTimeoutMs;
      let waited = false;
      for (let spins = 0; ; spins++) {
        const w = Atomics.load(ctl, base + P_IN_WRITE);
        if ((w & IN_WRITE_COUNT) === 0) break;
        if (!waited) {
          waited = true;
          this.stats.drainWaits++;
        }
        if (spins < 64) continue; // the common case: the app thread leaves within nanoseconds
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          Atomics.store(ctl, base + P_STATE, prev);
          throw new DsmError('DSM_ERR_FAULT_TIMEOUT', `page ${page}: an app thread stayed inside an access for more than ${this.drainTimeoutMs} ms; rights left unchanged`, { page });
        }
        const res = Atomics.waitAsync(ctl, base + P_IN_WRITE, w, Math.min(1, remaining));
        if (res.async) await res.value;
      }
    } finally {
      Atomics.and(ctl, base + P_IN_WRITE, ~IN_WRITE_DRAIN);
    }
  }

  /** revoke(), but spinning synchronously (for install, which the contract makes synchronous). */
  private revokeSync(page: number, to: number): void {
    const ctl = this.ctl;
    const base = this.layout.pageWord(page);
    const prev = Atomics.load(ctl, base + P_STATE);
    Atomics.store(ctl, base + P_STATE, to);
    const deadline = performance.now() + this.installSpinMs;
    for (let spins = 0; ; spins++) {
      if ((Atomics.load(ctl, base + P_IN_WRITE) & IN_WRITE_COUNT) === 0) return;
      if ((spins & 255) === 255 && performance.now() > deadline) {
        Atomics.store(ctl, base + P_STATE, prev);
        throw new DsmError('DSM_ERR_FAULT_TIMEOUT', `install(page ${page}): app threads stayed inside an access for more than ${this.installSpinMs} ms`, { page });
      }
    }
  }

  private checkPage(page: number): void {
    if (!Number.isInteger(page) || page < 1 || page >= this.pageCount) {
      throw new DsmError('DSM_ERR_BAD_ADDRESS', `page ${String(page)} is outside [1, ${this.pageCount})`, { page: Number.isInteger(page) ? page : undefined });
    }
  }
}

/** What a fault handler's exception becomes: its own code if it is a page failure, else a bug (never a lost page). */
function failureFrom(e: unknown): PageFailure {
  if (isDsmError(e) && (FAILURE_CODES as readonly string[]).includes(e.code)) {
    const f = { code: e.code as PageFailure['code'], message: e.message };
    return e.node === undefined ? f : { ...f, node: e.node };
  }
  const code = isDsmError(e) ? ` (${e.code})` : '';
  return { code: 'DSM_ERR_INTERNAL', message: `the fault handler failed${code}: ${e instanceof Error ? e.message : String(e)}` };
}

function invalid(msg: string): DsmError {
  return new DsmError('DSM_ERR_INVALID_ARGUMENT', msg);
}

function ms(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(`${name} must be a finite number of milliseconds > 0, got ${String(v)}`);
  return v;
}
