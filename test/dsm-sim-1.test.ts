/** Seeded simulation of the DSM's failure model, part 1 of 3 (test/support/sim-suite.ts explains). */
import { expect, it } from 'vitest';
import { runSim } from './support/dsm-sim.js';
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
