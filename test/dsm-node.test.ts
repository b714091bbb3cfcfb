/**
 * The DSM across separate processes: every test starts real node processes
 * (`pagewire node --control`, from dist/) on loopback UDP and drives them over their control
 * channel, so faults, invalidations and page transfers cross process boundaries for real.
 *
 * Page placement with the default 1024 pages (dsm/node/options.ts): with 2 nodes node 1 owns
 * pages 1..511 and node 2 pages 512..1023; with 3 nodes 1..341, 342..682, 683..1023. Each node's
 * allocator hands out memory from its own pages, so `alloc` on node k returns an address in a
 * page node k owns. Page p is managed by sorted(ids)[p mod N].
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DsmNodeStats } from '../dsm/node/index.js';
import type { AppMemoryStats } from '../dsm/memory/index.js';
import { killAllNodes, startNodes, type DsmProc } from './support/dsm-procs.js';

afterEach(killAllNodes);

interface NodeStats {
  readonly node: DsmNodeStats;
  readonly app: AppMemoryStats;
}

const stats = (p: DsmProc): Promise<NodeStats> => p.call<NodeStats>({ cmd: 'stats' });
const read32 = (p: DsmProc, addr: number): Promise<number> => p.call<number>({ cmd: 'read32', addr });
const write32 = (p: DsmProc, addr: number, value: number): Promise<null> => p.call<null>({ cmd: 'write32', addr, value });
const alloc = (p: DsmProc, bytes: number): Promise<number> => p.call<number>({ cmd: 'alloc', bytes });
const pageOf = (p: DsmProc, addr: number): number => Math.floor(addr / p.pageSize);

describe('DSM nodes in separate processes: read and write faults', () => {
  it('two nodes: a value written on one is read on the other, and a write invalidates the other copy', async () => {
    const [a, b] = await startNodes(2);
    const pa = await alloc(a!, 16);
    const pb = await alloc(b!, 16);
    expect(pageOf(a!, pa)).toBeLessThan(512); // in node 1's pages
    expect(pageOf(b!, pb)).toBeGreaterThanOrEqual(512); // in node 2's pages
    await write32(a!, pa, 0xdead_beef);
    await write32(b!, pb, 12345);
    // Read faults in both directions.
    expect(await read32(b!, pa)).toBe(0xdead_beef);
    expect(await read32(a!, pb)).toBe(12345);
    // A write on the reader takes the page (and ownership) away; the old owner reads the new value.
    await write32(b!, pa, 7);
    expect(await read32(a!, pa)).toBe(7);
    await write32(a!, pb, 8);
    expect(await read32(b!, pb)).toBe(8);
    // Both copies now say the same thing, from both sides.
    for (const n of [a!, b!]) expect([await read32(n, pa), await read32(n, pb)]).toEqual([7, 8]);
    const [sa, sb] = await Promise.all([stats(a!), stats(b!)]);
    for (const s of [sa, sb]) {
      expect(s.node.ivy.readFaults).toBeGreaterThanOrEqual(2);
      expect(s.node.ivy.writeFaults).toBeGreaterThanOrEqual(1);
      expect(s.node.ivy.failedFaults).toBe(0);
      expect(s.node.deadNodes).toEqual([]);
    }
    // Each node pins the other in its transport, so strangers can never evict it (issue 8).
    expect(sa.node.transport.peers.filter((p) => p.pinned).map((p) => p.peer)).toEqual([b!.address]);
    expect(sb.node.transport.peers.filter((p) => p.pinned).map((p) => p.peer)).toEqual([a!.address]);
  });

  it('three nodes: every node reads what each wrote; a write invalidates the copies on both others', async () => {
    const nodes = await startNodes(3);
    const addrs: number[] = [];
    for (const n of nodes) {
      const p = await alloc(n, 16);
      await write32(n, p, n.id * 100);
      addrs.push(p);
    }
    for (const reader of nodes) {
      for (let k = 0; k < 3; k++) expect(await read32(reader, addrs[k]!)).toBe(nodes[k]!.id * 100);
    }
    // Node 1's word now has read copies on nodes 2 and 3. Node 3 writes it: node 1 (the owner)
    // invalidates node 2's copy and hands its own over; both then read-fault the new value.
    const before = await Promise.all(nodes.map(stats));
    await write32(nodes[2]!, addrs[0]!, 31337);
    const mid = await Promise.all(nodes.map(stats));
    expect(mid[0]!.node.ivy.invalidationsSent - before[0]!.node.ivy.invalidationsSent).toBe(1);
    expect(mid[1]!.node.ivy.invalidationsReceived - before[1]!.node.ivy.invalidationsReceived).toBe(1);
    expect(mid[0]!.node.ivy.pagesSent - before[0]!.node.ivy.pagesSent).toBe(1);
    for (const reader of nodes) expect(await read32(reader, addrs[0]!)).toBe(31337);
    const after = await Promise.all(nodes.map(stats));
    expect(after[0]!.node.ivy.readFaults - mid[0]!.node.ivy.readFaults).toBe(1);
    expect(after[1]!.node.ivy.readFaults - mid[1]!.node.ivy.readFaults).toBe(1);
    expect(after[2]!.node.ivy.readFaults - mid[2]!.node.ivy.readFaults).toBe(0); // the writer kept a read copy
    // The other words were not disturbed.
    for (const reader of nodes) expect(await read32(reader, addrs[1]!)).toBe(200);
    for (const reader of nodes) expect(await read32(reader, addrs[2]!)).toBe(300);
  });
});

describe('DSM nodes in separate processes: concurrency', () => {
  it('mutual faults do not deadlock: two nodes write each other\'s pages at the same moment, 200 times', async () => {
    const [a, b] = await startNodes(2);
    const pa = await alloc(a!, 16); // page owned by node 1
    const pb = await alloc(b!, 16); // page owned by node 2
    const ROUNDS = 200;
    const t0 = performance.now();
    for (let i = 1; i <= ROUNDS; i++) {
      // Each page is owned by the node that wrote it last, so alternating the targets makes both
      // writes of every round a write fault on a page the other node owns. Both commands are sent
      // before either answer is awaited.
      const [toA, toB] = i % 2 === 1 ? [pb, pa] : [pa, pb];
      const r = await Promise.all([write32(a!, toA, i), write32(b!, toB, i + 1_000_000)]);
      expect(r).toEqual([null, null]);
    }
    const ms = performance.now() - t0;
    // The last round (even) wrote pa from node 1 and pb from node 2.
    for (const n of [a!, b!]) {
      expect(await read32(n, pa)).toBe(ROUNDS);
      expect(await read32(n, pb)).toBe(ROUNDS + 1_000_000);
    }
    const [sa, sb] = await Promise.all([stats(a!), stats(b!)]);
    expect(sa.node.ivy.writeFaults).toBeGreaterThanOrEqual(ROUNDS);
    expect(sb.node.ivy.writeFaults).toBeGreaterThanOrEqual(ROUNDS);
    expect(sa.node.ivy.failedFaults + sb.node.ivy.failedFaults).toBe(0);
    expect(ms).toBeLessThan(20_000);
  });

  it('several application threads of one node fault on the same remote page and lose no write', async () => {
    const [a, b] = await startNodes(2);
    const THREADS = 4;
    const WORDS = 8;
    const WRITES = 2_000;
    const base = await alloc(b!, THREADS * WORDS * 4); // one page, owned by node 2
    expect(pageOf(b!, base)).toBe(pageOf(b!, base + THREADS * WORDS * 4 - 4));
    // The page is node 2's: every thread's first store faults, at about the same moment; the
    // runtime resolves the page once and wakes all of them. Node 2 then reads what they wrote.
    const r = await a!.call<{ ms: number }>({ cmd: 'false-share', base, words: WORDS, threads: THREADS, writes: WRITES });
    expect(r.ms).toBeGreaterThan(0);
    for (const reader of [a!, b!]) {
      for (let k = 0; k < THREADS; k++) {
        let sum = 0;
        for (let w = 0; w < WORDS; w++) sum += await read32(reader, base + (k * WORDS + w) * 4);
        expect(sum, `thread ${k} read on node ${reader.id}`).toBe(WRITES);
      }
    }
    const sa = await stats(a!);
    expect(sa.node.ivy.writeFaults).toBeGreaterThanOrEqual(1);
    expect(sa.node.store.faultRequests).toBeGreaterThanOrEqual(1);
    expect(sa.node.ivy.failedFaults).toBe(0);
  });

  it('no lost writes under false sharing: 3 nodes x 2 threads x 10,000 increments on one page', async () => {
    const nodes = await startNodes(3);
    const THREADS = 2;
    const WORDS = 16; // per thread: 3 nodes x 2 threads x 16 words x 4 bytes = 384 bytes, one page
    const WRITES = 10_000;
    const base = await alloc(nodes[0]!, nodes.length * THREADS * WORDS * 4);
    expect(pageOf(nodes[0]!, base)).toBe(pageOf(nodes[0]!, base + nodes.length * THREADS * WORDS * 4 - 4));
    const results = await Promise.all(nodes.map((n, i) =>
      n.call<{ ms: number }>({ cmd: 'false-share', base: base + i * THREADS * WORDS * 4, words: WORDS, threads: THREADS, writes: WRITES }, 60_000)));
    expect(results).toHaveLength(3);
    for (const reader of nodes) {
      for (let t = 0; t < nodes.length * THREADS; t++) {
        let sum = 0;
        for (let w = 0; w < WORDS; w++) {
          const v = await read32(reader, base + (t * WORDS + w) * 4);
          expect(v, `word ${w} of thread ${t} read on node ${reader.id}`).toBe(WRITES / WORDS);
          sum += v;
        }
        expect(sum, `thread ${t} read on node ${reader.id}`).toBe(WRITES);
      }
    }
    const all = await Promise.all(nodes.map(stats));
    expect(all.reduce((s, x) => s + x.node.ivy.failedFaults, 0)).toBe(0);
    // The page really did move between the nodes.
    expect(all.reduce((s, x) => s + x.node.ivy.writeFaults, 0)).toBeGreaterThanOrEqual(2);
  });

  it('a DSM lock: 3 nodes each doing 1,000 locked increments of one counter end at exactly 3,000', async () => {
    const nodes = await startNodes(3);
    const lock = await alloc(nodes[1]!, 8);
    const counter = lock + 4; // same page: the holder of the lock has the counter too
    const TIMES = 1_000;
    const results = await Promise.all(nodes.map((n) => n.call<{ ms: number }>({ cmd: 'locked-increment', lock, counter, times: TIMES }, 60_000)));
    expect(results).toHaveLength(3);
    for (const reader of nodes) {
      expect(await read32(reader, counter), `counter read on node ${reader.id}`).toBe(3 * TIMES);
      expect(await read32(reader, lock), `lock word read on node ${reader.id}`).toBe(0);
    }
  });
});

describe('DSM nodes in separate processes: a lossy network', () => {
  it('with 5% of datagrams dropped, false sharing loses no write and the locked counter ends exact', async () => {
    const nodes = await startNodes(3, { args: ['--loss', '0.05'] });
    const WORDS = 8;
    const WRITES = 4_000;
    const base = await alloc(nodes[0]!, nodes.length * 2 * WORDS * 4 + 8);
    const lock = base + nodes.length * 2 * WORDS * 4;
    await Promise.all(nodes.map((n, i) =>
      n.call({ cmd: 'false-share', base: base + i * 2 * WORDS * 4, words: WORDS, threads: 2, writes: WRITES }, 60_000)));
    await Promise.all(nodes.map((n) => n.call({ cmd: 'locked-increment', lock, counter: lock + 4, times: 500 }, 60_000)));
    for (const reader of nodes) {
      for (let w = 0; w < nodes.length * 2 * WORDS; w++) expect(await read32(reader, base + w * 4)).toBe(WRITES / WORDS);
      expect(await read32(reader, lock + 4)).toBe(1_500);
    }
    const all = await Promise.all(nodes.map(stats));
    expect(all.reduce((s, x) => s + x.node.transport.bad.injectedDrops, 0)).toBeGreaterThan(0);
    for (const s of all) {
      expect(s.node.deadNodes).toEqual([]);
      expect(s.node.ivy.failedFaults).toBe(0);
    }
  });
});

describe('DSM nodes in separate processes: counters', () => {
  it('stats count read faults, write faults, invalidations sent/received, pages sent and fault latency as they happened', async () => {
    const [a, b] = await startNodes(2);
    const p = await alloc(a!, 4);
    await write32(a!, p, 1);
    expect(await read32(b!, p)).toBe(1); // node 2 now holds a read copy; node 1 stays owner
    const [a0, b0] = await Promise.all([stats(a!), stats(b!)]);
    const N = 20;
    for (let i = 0; i < N; i++) {
      // Node 1 (owner, read rights) upgrades: one write fault, one invalidation of node 2's copy.
      await write32(a!, p, 100 + i);
      // Node 2 read-faults the page back: node 1 sends one page.
      expect(await read32(b!, p)).toBe(100 + i);
    }
    const [a1, b1] = await Promise.all([stats(a!), stats(b!)]);
    const d = (x: NodeStats, y: NodeStats, k: 'readFaults' | 'writeFaults' | 'invalidationsSent' | 'invalidationsReceived' | 'pagesSent' | 'failedFaults'): number =>
      y.node.ivy[k] - x.node.ivy[k];
    expect(d(a0, a1, 'writeFaults')).toBe(N);
    expect(d(a0, a1, 'readFaults')).toBe(0);
    expect(d(a0, a1, 'invalidationsSent')).toBe(N);
    expect(d(a0, a1, 'pagesSent')).toBe(N);
    expect(d(b0, b1, 'readFaults')).toBe(N);
    expect(d(b0, b1, 'writeFaults')).toBe(0);
    expect(d(b0, b1, 'invalidationsReceived')).toBe(N);
    expect(d(b0, b1, 'pagesSent')).toBe(0);
    expect(d(a0, a1, 'failedFaults') + d(b0, b1, 'failedFaults')).toBe(0);
    // The application thread's own counters agree with the protocol's.
    expect(a1.app.writeFaults - a0.app.writeFaults).toBe(N);
    expect(b1.app.readFaults - b0.app.readFaults).toBe(N);
    // The latency histogram holds one sample per resolved fault, in some bucket above zero.
    const hist = (s: NodeStats): number => s.node.ivy.faultLatency.counts.reduce((x, y) => x + y, 0);
    expect(hist(a1) - hist(a0)).toBe(N);
    expect(hist(b1) - hist(b0)).toBe(N);
    expect(a1.node.ivy.faultLatency.counts).toHaveLength(a1.node.ivy.faultLatency.bucketsMs.length + 1);
    // Each fault that crossed the network took at least a round trip: nothing in the 0.1 ms bucket.
    expect(b1.node.ivy.faultLatency.counts[0]).toBe(0);
    // Message counts: node 2 manages page p (p mod 2 = 1), so node 1's upgrades are acquire calls
    // to node 2, answered without data; node 2's read faults are local acquires plus a serve call.
    expect(a1.node.ivy.callsSent.acquire - a0.node.ivy.callsSent.acquire).toBe(N);
    expect(a1.node.ivy.callsSent.invalidate - a0.node.ivy.callsSent.invalidate).toBe(N);
    expect(b1.node.ivy.callsSent.serve - b0.node.ivy.callsSent.serve).toBe(N);
  });
});
