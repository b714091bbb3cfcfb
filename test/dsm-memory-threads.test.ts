/**
 * Several app worker threads sharing one node's page buffers, with a fault thread resolving
 * their faults (fake page source): concurrent faults on the same and different pages, no lost writes
 * while the runtime keeps taking the page away, and atomics/locks across threads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppMemory, createDsmBuffers, startFaultThread, type FaultThread } from '../dsm/memory/index.js';
import { fakeHandlerModule, runApp } from './fixtures/dsm-memory/harness.js';
import { APP_FAULTS, CHURN_ROUNDS, type FakeHandlerOptions } from './support/fake-page-source.js';

const PS = 4096;
let rt: FaultThread | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function setup(delayMs = 2, more: Omit<FakeHandlerOptions, 'delayMs'> = {}) {
  const buffers = createDsmBuffers({ pageSize: PS, pageCount: 64, maxThreads: 8 });
  rt = await startFaultThread(buffers, { handlerModule: fakeHandlerModule, handlerOptions: { delayMs, ...more } satisfies FakeHandlerOptions });
  return { buffers, rt };
}

/**
 * Two reader threads race the version churn on one page (versionsStart) until it replaced the page
 * `versions` times and each read `reads` times (maxReads: a backstop); what their checker found.
 */
async function raceVersions(versionsFault: FakeHandlerOptions['versionsFault'], versions: number, reads: number, maxReads: number) {
  const progress = new SharedArrayBuffer(16);
  const { buffers, rt } = await setup(0, { progress, ...(versionsFault === undefined ? {} : { versionsFault }) });
  const page = 21;
  await rt.call({ op: 'versionsStart', page });
  const task = { kind: 'versions' as const, base: page * PS, pageSize: PS, progress, reads, churnRounds: versions, maxReads };
  const results = await Promise.all([1, 2].map((seed) => runApp(buffers, { ...task, seed }, { timeoutMs: 50_000 })));
  const done = (await rt.call({ op: 'versionsStop', page })) as number;
  for (const r of results) expect(r.ok, JSON.stringify(r.error)).toBe(true);
  const found = results.map((r) => r.value as { torn: number; stale: number; reads: number; firstBad: string });
  return { done, found, faults: results.reduce((n, r) => n + r.stats.readFaults, 0), progress };
}

describe('dsm/memory with several app threads', () => {
  it('threads faulting at once on the same and on different pages all complete with the right data', async () => {
    const { buffers, rt } = await setup(10);
    for (let p = 1; p <= 6; p++) {
      const b = new Uint8Array(PS);
      new DataView(b.buffer).setUint32(0, 1000 + p, true);
      await rt.call({ op: 'set', page: p, bytes: b });
    }
    const shared = [1, 2, 3].map((p) => p * PS);
    const results = await Promise.all([
      runApp(buffers, { kind: 'read', addrs: shared }),
      runApp(buffers, { kind: 'read', addrs: shared }),
      runApp(buffers, { kind: 'read', addrs: [...shared].reverse() }),
      runApp(buffers, { kind: 'read', addrs: [4 * PS, 5 * PS, 6 * PS] }),
    ]);
    for (const r of results) expect(r.ok, JSON.stringify(r.error)).toBe(true);
    expect(results[0]!.value).toEqual([1001, 1002, 1003]);
    expect(results[1]!.value).toEqual([1001, 1002, 1003]);
    expect(results[2]!.value).toEqual([1003, 1002, 1001]);
    expect(results[3]!.value).toEqual([1004, 1005, 1006]);
    const stats = (await rt.call({ op: 'stats' })) as { store: { faultsStarted: number }; faults: { read: number } };
    // Same-page faults were merged: at most one handler fault per page (6 pages).
    expect(stats.faults.read).toBeLessThanOrEqual(6);
  });

  it('concurrent writers on one page: a read fault and write faults race, every write lands', async () => {
    const { buffers } = await setup(5);
    const rs = await Promise.all(
      [0, 1, 2].map((t) => runApp(buffers, { kind: 'write', writes: [[7 * PS + t * 4, 10 + t]] })),
    );
    for (const r of rs) expect(r.ok, JSON.stringify(r.error)).toBe(true);
    const mem = new AppMemory(buffers);
    expect([0, 1, 2].map((t) => mem.u32[(7 * PS + t * 4) >>> 2])).toEqual([10, 11, 12]);
    mem.close();
  });

  it('no lost writes: 3 threads store into distinct words of one page while the fault thread keeps downgrading/invalidating it', async () => {
    // Bounded by events, not by time: the writers go on until the fault thread has taken the page
    // away and given it back CHURN times and they have taken FAULTS faults between them (counted in
    // shared memory), however fast or slow this machine runs; MAX_ROUNDS is only a backstop.
    const CHURN = 60;
    const FAULTS = 20;
    const MAX_ROUNDS = 20_000;
    const progress = new SharedArrayBuffer(8);
    const { buffers, rt } = await setup(1, { progress });
    const page = 20;
    const base = page * PS;
    const words = PS / 4;
    const threads = 3;
    await rt.call({ op: 'install', page, rights: 'write' });
    await rt.call({ op: 'churnStart', page });
    const until = { progress, churnRounds: CHURN, faults: FAULTS, maxRounds: MAX_ROUNDS };
    const results = await Promise.all(
      Array.from({ length: threads }, (_, t) => runApp(buffers, { kind: 'hammer', base, words, t, threads, rounds: 10, until }, { timeoutMs: 50_000 })),
    );
    const churnRounds = (await rt.call({ op: 'churnStop', page })) as number;
    const rounds: number[] = [];
    for (const r of results) {
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
      const v = r.value as { mismatches: number; firstBad: string; rounds: number };
      expect({ mismatches: v.mismatches, firstBad: v.firstBad }).toEqual({ mismatches: 0, firstBad: '' });
      rounds.push(v.rounds);
    }
    // The page really moved while they wrote (the loop ended on the events, not on the backstop).
    const faults = Atomics.load(new Int32Array(progress), APP_FAULTS);
    expect(rounds.every((n) => n < MAX_ROUNDS), `rounds ${rounds.join('/')}`).toBe(true);
    expect(churnRounds).toBeGreaterThanOrEqual(CHURN);
    expect(faults).toBeGreaterThanOrEqual(FAULTS);
    // Every word holds the last value its thread wrote, as seen through the fault thread's copy too.
    const copy = (await rt.call({ op: 'invalidate', page })) as Uint8Array;
    const dv = new DataView(copy.buffer, copy.byteOffset);
    for (let k = 0; k < words; k++) expect(dv.getUint32(k * 4, true)).toBe(((rounds[k % threads]! << 16) | k) >>> 0);
    const stats = (await rt.call({ op: 'stats' })) as { store: { drainWaits: number } };
    console.log(`no-lost-writes: ${churnRounds} churn rounds, ${faults} faults, rounds ${rounds.join('/')}, drain waits ${stats.store.drainWaits}`);
  });

  it('no torn read: reads racing invalidations and installs of new contents on another thread return whole versions, never one superseded before they began', async () => {
    // Bounded by events: the readers go on until the fault thread has replaced the page VERSIONS
    // times and each has read READS times; MAX_READS is only a backstop.
    const VERSIONS = 200;
    const READS = 20_000;
    const MAX_READS = 20_000_000;
    const { done: versions, found, faults, progress } = await raceVersions(undefined, VERSIONS, READS, MAX_READS);
    for (const v of found) {
      expect({ torn: v.torn, stale: v.stale, firstBad: v.firstBad }).toEqual({ torn: 0, stale: 0, firstBad: '' });
      expect(v.reads).toBeGreaterThanOrEqual(READS);
      expect(v.reads).toBeLessThan(MAX_READS);
    }
    expect(versions).toBeGreaterThanOrEqual(VERSIONS);
    expect(Atomics.load(new Int32Array(progress), CHURN_ROUNDS)).toBe(versions);
    // The reads really raced the invalidations: some found the page gone and faulted it back in.
    expect(faults).toBeGreaterThan(0);
    console.log(`no-torn-read: ${versions} versions, reads ${found.map((v) => v.reads).join('/')}, read faults ${faults}`);
  });

  it('the no-torn-read checker catches what it looks for: versions that mix two in a word (torn), and a version made current while the old one stays installed (stale)', async () => {
    const torn = await raceVersions('torn', 50, 5_000, 2_000_000);
    expect(torn.found.reduce((n, v) => n + v.torn, 0)).toBeGreaterThan(0);
    expect(torn.found.map((v) => v.firstBad).join(' ')).toMatch(/mixes versions|come from two versions/);
    await rt?.close();
    const stale = await raceVersions('stale', 50, 5_000, 2_000_000);
    expect(stale.found.reduce((n, v) => n + v.stale, 0)).toBeGreaterThan(0);
    expect(stale.found.map((v) => v.firstBad).join(' ')).toMatch(/read between versions/);
  });

  it('add32 and cas32 are atomic across threads: N increments each end at exactly 2N (plus churn)', async () => {
    const { buffers, rt } = await setup(1);
    const counter = 30 * PS + 8;
    const casCounter = 30 * PS + 12;
    const N = 20_000;
    await rt.call({ op: 'install', page: 30, rights: 'write' });
    await rt.call({ op: 'churnStart', page: 30 });
    const rs = await Promise.all([
      runApp(buffers, { kind: 'add', addr: counter, n: N }),
      runApp(buffers, { kind: 'add', addr: counter, n: N }),
      runApp(buffers, { kind: 'casIncr', addr: casCounter, n: N }),
      runApp(buffers, { kind: 'casIncr', addr: casCounter, n: N }),
    ]);
    await rt.call({ op: 'churnStop', page: 30 });
    for (const r of rs) expect(r.ok, JSON.stringify(r.error)).toBe(true);
    const mem = new AppMemory(buffers);
    expect(mem.i32[counter >>> 2]).toBe(2 * N);
    expect(mem.i32[casCounter >>> 2]).toBe(2 * N);
    mem.close();
  });

  it('lock() protects a non-atomic read-modify-write across threads', async () => {
    const { buffers, rt } = await setup(1);
    const lock = 31 * PS;
    const counter = 32 * PS + 4; // on another page than the lock
    const N = 5_000;
    await rt.call({ op: 'install', page: 31, rights: 'write' });
    await rt.call({ op: 'install', page: 32, rights: 'write' });
    const rs = await Promise.all([0, 1, 2].map(() => runApp(buffers, { kind: 'locked', lock, counter, n: N })));
    for (const r of rs) expect(r.ok, JSON.stringify(r.error)).toBe(true);
    const mem = new AppMemory(buffers);
    expect(mem.u32[counter >>> 2]).toBe(3 * N);
    expect(mem.u32[lock >>> 2]).toBe(0);
    mem.close();
  });
});
