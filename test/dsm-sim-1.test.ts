/** Seeded simulation of the DSM's failure model, part 1 of 3 (test/support/sim-suite.ts explains). */
import { expect, it } from 'vitest';
import { runSim } from './support/dsm-sim.js';
import type { Cluster } from './support/dsm-cluster.js';
import { simSuite } from './support/sim-suite.js';

simSuite(1, 100);

it('a seed replays exactly: the same schedule, the same accesses, the same report', async () => {
  for (const seed of [2, 117]) {
    const a = await runSim(seed);
    const b = await runSim(seed);
    expect(b).toEqual(a);
    expect(a.dead.length + a.killed.length + a.schedule.length).toBeGreaterThan(1);
  }
});

it('the checks catch a broken protocol: a node that acknowledges invalidations but keeps reading its old copy is reported, in both manager modes', async () => {
  // Node 0's page store "drops" a read copy without taking the rights away: every later write
  // elsewhere leaves it reading stale data (a reader and a writer at once, and non-linearizable reads).
  const keepCopies = (c: Cluster): void => {
    const fp = c.pages[0]!;
    fp.invalidate = (page: number) => {
      const e = fp.pages.get(page);
      return Promise.resolve(new Uint8Array(e?.bytes ?? new Uint8Array(fp.pageSize)));
    };
  };
  for (const [seed, manager] of [[3, 'fixed'], [4, 'dynamic']] as const) {
    const r = await runSim(seed, 10_000, undefined, manager, keepCopies);
    // Both checks see it: two nodes with rights at once, and reads no sequential order explains.
    expect(r.violations.some((v) => /^coherence at t=\d+: page \d+: .*\b0:(read|write)\b.*:write|^coherence at t=\d+: page \d+: .*:write.*\b0:(read|write)\b/.test(v)), `seed ${seed}, ${manager}: ${r.violations[0]}`).toBe(true);
    expect(r.violations.some((v) => /operations are not linearizable/.test(v)), `seed ${seed}, ${manager}`).toBe(true);
  }
});
