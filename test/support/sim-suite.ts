/**
 * The simulation suite: `count` seeded schedules from `from` (test/support/dsm-sim.ts), one test
 * each, named by its seed, each asserting 0 consistency violations, 0 accesses hanging past their
 * bound and 0 orphaned pages; and a last test that the schedules really did break things (nodes
 * declared dead, nodes fenced and evicted, kills, pauses, partitions), so the suite cannot pass by
 * testing a healthy cluster only. Replay one seed: SIM_SEED=n npx vitest run test/dsm-sim-1.test.ts
 * (or `npm run sim -- --seed n` for its schedule and figures).
 */
import { describe, expect, it } from 'vitest';
import { runSim, type SimReport } from './dsm-sim.js';

export function simSuite(from: number, count: number): void {
  const only = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
  const seeds = only !== undefined ? [only] : Array.from({ length: count }, (_, i) => from + i);
  const reports: SimReport[] = [];
  describe(`the failure model under ${seeds.length} seeded fault schedules (seeds ${seeds[0]}..${seeds.at(-1)})`, () => {
    for (const seed of seeds) {
      it(`seed ${seed}: no violation, no access past its bound, no orphaned page`, async () => {
        const r = await runSim(seed);
        reports.push(r);
        const problems = [...r.violations, ...r.hangs, ...r.orphans];
        expect(problems, `seed ${seed} (${r.schedule.join('; ')}); replay: SIM_SEED=${seed} npx vitest run ${process.env.VITEST_TEST_FILE ?? ''}`).toEqual([]);
        expect(r.checkedOps).toBeGreaterThan(50);
      });
    }
    if (only === undefined) {
      it('the schedules broke things: deaths decided, nodes fenced and evicted, kills, pauses and partitions', () => {
        expect(reports).toHaveLength(seeds.length);
        const with_ = (f: (r: SimReport) => boolean) => reports.filter(f).length;
        expect(with_((r) => r.dead.length > 0)).toBeGreaterThan(count / 5);
        expect(with_((r) => r.evicted.length > 0)).toBeGreaterThan(count / 20);
        expect(with_((r) => r.killed.length > 0)).toBeGreaterThan(count / 10);
        expect(with_((r) => r.schedule.some((s) => s.includes('mid-transfer')) && r.killed.length > 0)).toBeGreaterThan(count / 20);
        expect(with_((r) => r.pauseToFenceMs.length > 0)).toBeGreaterThan(count / 50);
        expect(with_((r) => r.schedule.some((s) => s.startsWith('partition')))).toBeGreaterThan(count / 10);
        expect(with_((r) => r.schedule.some((s) => s.includes('starts at')))).toBeGreaterThan(count / 20);
      });
    }
  });
}
