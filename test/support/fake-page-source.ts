/**
 * A fake PageFaultHandler for tests and benches (not part of the package): "fetches" pages from an
 * in-process map (the pretend remote copies) after a short delay, and can fail or stall pages. Load
 * it into a fault thread with startFaultThread(buffers, { handlerModule: FAKE_PAGE_SOURCE }) and
 * drive it with FaultThread.call({ op: ... }) (see FakeOp).
 *
 * Faults and the rights changes it makes itself (invalidate, downgrade, churn) are serialised per
 * page, the way a real protocol must serialise them: an install with data over a page that another
 * operation just reinstalled would drop writes.
 */
import { compiled } from './compiled.js';
import { PerKeySerializer } from '../../dsm/serial.js';
import type { Access, PageFailure } from '../../dsm/contract.js';
import type { FaultThreadContext, FaultThreadHandler } from '../../dsm/memory/fault-thread.js';
import type { PageStore } from '../../dsm/memory/store.js';

export interface FakeHandlerOptions {
  /** Delay before each fault is answered, ms (0 = answer in the same turn). @default 1 */
  delayMs?: number;
  /**
   * Shared counters the app threads can see: word 0 is bumped after every churn round (so a test
   * can bound its work by events instead of by time; see CHURN_ROUNDS).
   */
  progress?: SharedArrayBuffer;
  /**
   * Known-bad input for the readers' checker in the version churn (versionsStart), to show it
   * catches what it looks for: 'torn' installs versions in which every eighth word of each half
   * mixes version k with k - 1; 'stale' makes each version current (VERSION_DONE) while the first
   * one stays installed. Default: whole versions, installed right.
   */
  versionsFault?: 'torn' | 'stale';
}

/** Words of FakeHandlerOptions.progress (an Int32Array): churn rounds done (bumped here), and faults
 * taken by app threads that count theirs there (the dsm-memory app worker's hammer task). */
export const CHURN_ROUNDS = 0;
export const APP_FAULTS = 1;
/** Version churn (versionsStart): the version being installed, and the newest one made current. */
export const VERSION_BEGIN = 2;
export const VERSION_DONE = 3;

/**
 * The contents of version `k` of a page for the version churn: the first half holds u32 words whose
 * four bytes are all k mod 256 (a word mixing two versions shows unequal bytes); the second half
 * holds f64s whose two 32-bit halves are both k (a torn f64 shows unequal halves).
 */
export function versionBytes(k: number, pageSize: number, torn = false): Uint8Array {
  const b = new Uint8Array(pageSize);
  const w = new Uint32Array(b.buffer);
  const half = w.length / 2;
  w.fill(((k & 0xff) * 0x01010101) >>> 0, 0, half);
  w.fill(k >>> 0, half);
  if (torn) {
    for (let i = 0; i < half; i += 8) b[4 * i] = (k - 1) & 0xff; // one byte of the word from version k - 1
    for (let i = half; i < w.length; i += 16) w[i] = (k - 1) >>> 0; // an f64's low half from version k - 1
  }
  return b;
}

/** The same bytes at an offset that is not a multiple of 8, as a page decoded from a message may be. */
function unaligned(bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(bytes.length + 4).subarray(4);
  b.set(bytes);
  return b;
}

export type FakeOp =
  /** Contents the next fault on `page` installs (the "remote copy"). */
  | { op: 'set'; page: number; bytes: Uint8Array }
  /** Make faults on `page` fail (with `message`, if given); with now, also fail the page immediately. */
  | { op: 'fail'; page: number; code: PageFailure['code']; node?: number; now?: boolean; message?: string }
  /** Make the handler throw `message` (a bug) on faults of `page`. */
  | { op: 'throw'; page: number; message: string }
  /** Tell the app threads that `node` was declared dead (PageStore.noteDead). */
  | { op: 'dead'; node: number }
  /** Never answer faults on `page` (to test the app-side fault timeout). */
  | { op: 'stall'; page: number }
  /** Forget set/fail/stall for `page`. */
  | { op: 'clear'; page: number }
  | { op: 'install'; page: number; rights: Access }
  /** Take the page away (keeping its contents as the remote copy); returns the contents. */
  | { op: 'invalidate'; page: number }
  | { op: 'downgrade'; page: number }
  /** Keep taking `page` away and giving it back (write) until churnStop; contents are kept. */
  | { op: 'churnStart'; page: number }
  /** Returns the number of churn rounds done. */
  | { op: 'churnStop'; page: number }
  /**
   * Keep replacing `page` with its next version (versionBytes): invalidate it, publish
   * VERSION_BEGIN, then either install the new version (read) or leave the page absent so the next
   * read faults it in; then publish VERSION_DONE. Needs `progress`. Until versionsStop.
   */
  | { op: 'versionsStart'; page: number }
  /** Returns the number of versions made current. */
  | { op: 'versionsStop'; page: number }
  | { op: 'snapshot'; page: number }
  | { op: 'rights'; page: number }
  | { op: 'stats' };

export class FakePageSource implements FaultThreadHandler {
  readonly faults = { read: 0, write: 0 };
  private readonly remote = new Map<number, Uint8Array>();
  private readonly failures = new Map<number, PageFailure>();
  private readonly stalled = new Set<number>();
  private readonly throwing = new Map<number, string>();
  private readonly churning = new Map<number, { stop: boolean; rounds: number; done: Promise<void> }>();
  private readonly perPage = new PerKeySerializer<number>();
  private readonly delayMs: number;
  private readonly progress: Int32Array | undefined;
  private readonly versionsFault: FakeHandlerOptions['versionsFault'];

  constructor(
    private readonly pages: PageStore,
    opts: FakeHandlerOptions = {},
  ) {
    this.delayMs = opts.delayMs ?? 1;
    this.progress = opts.progress === undefined ? undefined : new Int32Array(opts.progress);
    this.versionsFault = opts.versionsFault;
  }

  async fault(page: number, access: Access): Promise<void> {
    this.faults[access]++;
    if (this.stalled.has(page)) return new Promise<void>(() => undefined);
    const bug = this.throwing.get(page);
    if (bug !== undefined) throw new Error(bug);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    await this.serialised(page, async () => {
      const have = this.pages.rights(page);
      if (have === 'write' || have === access) return; // resolved meanwhile (e.g. by churn)
      const failure = this.failures.get(page);
      if (failure !== undefined) {
        this.pages.fail(page, failure);
        return;
      }
      if (have === 'read') this.pages.install(page, null, 'write'); // upgrade in place
      else this.pages.install(page, this.remote.get(page) ?? new Uint8Array(this.pages.pageSize), access);
    });
  }

  async onMessage(raw: unknown): Promise<unknown> {
    const m = raw as FakeOp;
    const pages = this.pages;
    switch (m.op) {
      case 'set':
        this.remote.set(m.page, new Uint8Array(m.bytes));
        return undefined;
      case 'fail': {
        const f: PageFailure = { code: m.code, message: m.message ?? `fake failure ${m.code}`, ...(m.node === undefined ? {} : { node: m.node }) };
        this.failures.set(m.page, f);
        if (m.now) pages.fail(m.page, f);
        return undefined;
      }
      case 'stall':
        this.stalled.add(m.page);
        return undefined;
      case 'throw':
        this.throwing.set(m.page, m.message);
        return undefined;
      case 'dead':
        pages.noteDead(m.node);
        return undefined;
      case 'clear':
        this.stalled.delete(m.page);
        this.throwing.delete(m.page);
        this.failures.delete(m.page);
        this.remote.delete(m.page);
        return undefined;
      case 'install':
        return this.serialised(m.page, async () => pages.install(m.page, pages.rights(m.page) === 'none' ? this.remote.get(m.page) ?? new Uint8Array(pages.pageSize) : null, m.rights));
      case 'invalidate':
        return this.serialised(m.page, async () => this.keep(m.page, await pages.invalidate(m.page)));
      case 'downgrade':
        return this.serialised(m.page, async () => this.keep(m.page, await pages.downgrade(m.page)));
      case 'churnStart':
        this.churnStart(m.page);
        return undefined;
      case 'versionsStart':
        this.versionsStart(m.page);
        return undefined;
      case 'versionsStop':
      case 'churnStop': {
        const c = this.churning.get(m.page);
        if (c === undefined) return 0;
        c.stop = true;
        await c.done;
        this.churning.delete(m.page);
        return c.rounds;
      }
      case 'snapshot':
        return pages.snapshot(m.page);
      case 'rights':
        return pages.rights(m.page);
      case 'stats':
        return { store: { ...pages.stats }, faults: { ...this.faults } };
      default:
        throw new Error(`unknown fake op ${JSON.stringify((m as { op?: unknown }).op)}`);
    }
  }

  close(): void {
    for (const c of this.churning.values()) c.stop = true;
  }

  private keep(page: number, bytes: Uint8Array): Uint8Array {
    this.remote.set(page, bytes);
    return bytes;
  }

  /**
   * Rounds cycle through: downgrade then upgrade in place; invalidate then reinstall the copy;
   * invalidate and leave the page absent (the next app fault brings it back through fault()).
   */
  private churnStart(page: number): void {
    if (this.churning.has(page)) return;
    const state = { stop: false, rounds: 0, done: Promise.resolve() };
    state.done = (async () => {
      while (!state.stop) {
        const kind = state.rounds % 3;
        await this.serialised(page, async () => {
          const have = this.pages.rights(page);
          if (have === 'none') {
            this.pages.install(page, this.remote.get(page) ?? new Uint8Array(this.pages.pageSize), 'write');
            return;
          }
          if (kind === 0) {
            this.keep(page, await this.pages.downgrade(page));
            this.pages.install(page, null, 'write');
          } else {
            const copy = this.keep(page, await this.pages.invalidate(page));
            if (kind === 1) this.pages.install(page, copy, 'write');
          }
        });
        state.rounds++;
        if (this.progress !== undefined) Atomics.add(this.progress, CHURN_ROUNDS, 1);
        await new Promise((r) => setImmediate(r));
      }
    })();
    this.churning.set(page, state);
  }

  private versionsStart(page: number): void {
    const progress = this.progress;
    if (progress === undefined) throw new Error('versionsStart needs the progress counters');
    if (this.churning.has(page)) return;
    const state = { stop: false, rounds: 0, done: Promise.resolve() };
    state.done = (async () => {
      while (!state.stop) {
        await this.serialised(page, async () => {
          const k = state.rounds + 1;
          const stale = this.versionsFault === 'stale';
          if (this.pages.rights(page) !== 'none' && !stale) await this.pages.invalidate(page);
          Atomics.store(progress, VERSION_BEGIN, k);
          const bytes = versionBytes(k, this.pages.pageSize, this.versionsFault === 'torn');
          if (!stale) this.remote.set(page, bytes);
          else if (k === 1) this.remote.set(page, bytes); // version 1 is faulted in once and never replaced
          // Every other install from a buffer at an unaligned offset, as a page decoded from a message
          // may be (PageStore.install realigns it: a reader must still see whole f64s).
          if (k % 2 === 0 && !stale) this.pages.install(page, k % 4 === 0 ? unaligned(bytes) : bytes, 'read');
          Atomics.store(progress, VERSION_DONE, k);
        });
        state.rounds++;
        Atomics.add(progress, CHURN_ROUNDS, 1);
        await new Promise((r) => setImmediate(r));
      }
    })();
    this.churning.set(page, state);
  }

  private serialised<T>(page: number, op: () => Promise<T>): Promise<T> {
    return this.perPage.run(page, op);
  }
}

/** The handler-module entry point startFaultThread() calls. */
export function createFaultHandler(ctx: FaultThreadContext): FakePageSource {
  return new FakePageSource(ctx.pages, (ctx.options ?? {}) as FakeHandlerOptions);
}

/** This module compiled: what to give startFaultThread() as handlerModule (the same file in tests and benches). */
export const FAKE_PAGE_SOURCE = compiled('test/support/fake-page-source.ts');
