/**
 * Random schedules on the in-memory cluster: many concurrent read and write faults from every
 * node on a few pages, with deliveries reordered (seeded jitter) and page-store operations that
 * take random time. After every scheduler step: at most one node has write rights, and if one
 * does, nobody else has any. Every fault completes; every read sees the last value written
 * (Ivy is sequentially consistent, and with one writer XOR readers even linearizable); no write
 * is lost (false sharing: each node counts its writes in its own word of the page).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Cluster } from './support/dsm-cluster.js';

interface Op {
  readonly node: number;
  readonly page: number;
  readonly write: boolean;
}

async function runSchedule(seed: number, nodes: number, pages: number, threads: Op[][]) {
  const c = new Cluster({ nodes, seed, pageCount: pages + 1, jitterMs: 20, pageOpDelayMs: 4, randomPageOpDelay: true, initialOwner: (p) => p % nodes });
  c.checkInvariantEachStep();
  const last = new Map<number, number>(); // page -> last value stored in word 0
  const counts = new Map<string, number>(); // `${page}/${node}` -> writes
  let stamp = 0;
  let completed = 0;
  const run = async (ops: Op[]) => {
    for (const op of ops) {
      if (op.write) {
        // The store happens synchronously once rights are there: record it at that moment.
        await c.nodes[op.node]!.fault(op.page, 'write');
        for (let i = 0; c.pages[op.node]!.rights(op.page) !== 'write'; i++) {
          if (i > 50) throw new Error('write rights never arrived');
          await c.nodes[op.node]!.fault(op.page, 'write');
        }
        const v = ++stamp;
        const key = `${op.page}/${op.node}`;
        const n = (counts.get(key) ?? 0) + 1;
        c.pages[op.node]!.writeU32(op.page, 0, v);
        c.pages[op.node]!.writeU32(op.page, 4 * (op.node + 1), n);
        last.set(op.page, v);
        counts.set(key, n);
      } else {
        await c.nodes[op.node]!.fault(op.page, 'read');
        for (let i = 0; c.pages[op.node]!.rights(op.page) === 'none'; i++) {
          if (i > 50) throw new Error('read rights never arrived');
          await c.nodes[op.node]!.fault(op.page, 'read');
        }
        expect(c.pages[op.node]!.readU32(op.page, 0)).toBe(last.get(op.page) ?? 0);
      }
      completed++;
    }
  };
  const total = threads.reduce((s, t) => s + t.length, 0);
  await c.sched.settle(Promise.all(threads.map(run)), 60_000);
  expect(completed).toBe(total);
  for (const n of c.nodes) expect(n.stats.failedFaults).toBe(0);
  // No node was falsely declared dead, and every page reads back the same on every node.
  for (const n of c.nodes) expect(n.deadNodes).toEqual([]);
  for (let page = 1; page <= pages; page++) {
    for (let reader = 0; reader < nodes; reader++) {
      expect(await c.sched.settle(c.read(reader, page, 0))).toBe(last.get(page) ?? 0);
      for (let w = 0; w < nodes; w++) {
        expect(await c.sched.settle(c.read(reader, page, 4 * (w + 1)))).toBe(counts.get(`${page}/${w}`) ?? 0);
      }
    }
  }
  return c;
}

function seededThreads(seed: number, nodes: number, pages: number, threadsPerNode: number, opsPerThread: number): Op[][] {
  let a = seed * 2654435761 >>> 0;
  const rnd = () => ((a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 4294967296);
  const out: Op[][] = [];
  for (let node = 0; node < nodes; node++) {
    for (let t = 0; t < threadsPerNode; t++) {
      out.push(Array.from({ length: opsPerThread }, () => ({ node, page: 1 + Math.floor(rnd() * pages), write: rnd() < 0.4 })));
    }
  }
  return out;
}

describe('Ivy under random schedules', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: 4 nodes x 2 threads x 25 faults on 3 pages stay coherent and all complete`, async () => {
      const c = await runSchedule(seed, 4, 3, seededThreads(seed, 4, 3, 2, 25));
      const faults = c.nodes.reduce((s, n) => s + n.stats.readFaults + n.stats.writeFaults, 0);
      expect(faults).toBeGreaterThan(20);
    });
  }

  it('fast-check: arbitrary op lists on 3 nodes and 2 pages', async () => {
    const op = (nodes: number) => fc.record({ node: fc.integer({ min: 0, max: nodes - 1 }), page: fc.integer({ min: 1, max: 2 }), write: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.array(fc.array(op(3), { maxLength: 12 }), { minLength: 1, maxLength: 6 }), async (seed, threads) => {
        await runSchedule(seed, 3, 2, threads);
      }),
      { numRuns: 40, seed: 42 },
    );
  });
});
