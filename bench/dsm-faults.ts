/**
 * npm run bench:dsm-faults — the failure model's figures, from the seeded simulation that
 * test/dsm-sim-*.test.ts runs (test/support/dsm-sim.ts): how many fault schedules were checked and
 * what they found (violations of linearizability, MP or SB, accesses past their bound, orphaned
 * pages), and in logical milliseconds the time from a kill to the death decision and to the typed
 * error of an access that was blocked on the dead node, and from the start of a pause to the
 * fence. Every figure is deterministic per seed.
 *
 *   npm run bench:dsm-faults -- --seeds 1000          # seeds 1..1000
 *   npm run bench:dsm-faults -- --seed 117 --trace 2  # one schedule, and every message about page 2
 */
import { runSim, type SimReport } from '../test/support/dsm-sim.js';
import { parseBenchArgs } from './stats.js';
import { helpCommand, usageFailure } from '../demos/args.js';

const USAGE = `usage: npm run bench:dsm-faults [-- options]

Runs seeded fault schedules on the simulated DSM cluster and prints what they found.

  --seeds N     schedules to run (1..100000, default 300)
  --from N      first seed (default 1)
  --seed N      run this one seed and print its schedule
  --trace PAGE  with --seed: print every message and page operation about PAGE
  --json        print the summary as one JSON line
  --help        this text
`;

function int(v: string | undefined, name: string, lo: number, hi: number, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!Number.isInteger(x) || x < lo || x > hi) {
    process.stderr.write(usageFailure('dsm-faults', `--${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`, helpCommand('bench:dsm-faults')));
    process.exit(2);
  }
  return x;
}

function quantiles(xs: number[]): string {
  if (xs.length === 0) return 'none';
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `min ${s[0]} / p50 ${q(0.5)} / p90 ${q(0.9)} / max ${s.at(-1)} ms (${s.length} samples)`;
}

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2), { seeds: 'value', from: 'value', seed: 'value', trace: 'value', json: 'flag' }, USAGE);
  const values = {
    seeds: args.seeds as string | undefined, from: args.from as string | undefined, seed: args.seed as string | undefined,
    trace: args.trace as string | undefined, json: args.json === true,
  };
  if (values.seed !== undefined) {
    const seed = int(values.seed, 'seed', 1, 2 ** 31, 1);
    const page = values.trace === undefined ? undefined : int(values.trace, 'trace', 1, 8, 1);
    const r = await runSim(seed, undefined, page === undefined ? undefined : { page, out: (l) => process.stdout.write(`  ${l}\n`) });
    process.stdout.write(`seed ${seed}: ${r.schedule.join('; ')}\n`);
    process.stdout.write(`  ${r.ops} accesses (${r.checkedOps} checked for linearizability), ${r.messages} messages; declared dead ${JSON.stringify(r.dead)}, killed [${r.killed}], evicted [${r.evicted}]\n`);
    for (const p of [...r.violations, ...r.hangs, ...r.orphans]) process.stdout.write(`  PROBLEM: ${p}\n`);
    return r.violations.length + r.hangs.length + r.orphans.length === 0 ? 0 : 1;
  }
  const count = int(values.seeds, 'seeds', 1, 100_000, 300);
  const from = int(values.from, 'from', 1, 2 ** 31, 1);
  const reports: SimReport[] = [];
  const t0 = performance.now();
  for (let s = from; s < from + count; s++) reports.push(await runSim(s));
  const secs = (performance.now() - t0) / 1000;
  const bad = reports.filter((r) => r.violations.length + r.hangs.length + r.orphans.length > 0);
  const sum = (f: (r: SimReport) => number) => reports.reduce((a, r) => a + f(r), 0);
  const summary = {
    schedules: count,
    accessesChecked: sum((r) => r.checkedOps),
    violations: sum((r) => r.violations.length),
    accessesPastBound: sum((r) => r.hangs.length),
    orphanedPages: sum((r) => r.orphans.length),
    deathsDecided: sum((r) => r.dead.length),
    nodesKilled: sum((r) => r.killed.length),
    nodesEvicted: sum((r) => r.evicted.length),
    killToDeathMs: reports.flatMap((r) => r.killToDeathMs),
    killToTypedErrorMs: reports.flatMap((r) => r.killToErrorMs),
    pauseToFenceMs: reports.flatMap((r) => r.pauseToFenceMs),
    seconds: Math.round(secs * 10) / 10,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(summary) + '\n');
  } else {
    process.stdout.write(`${count} seeded fault schedules (seeds ${from}..${from + count - 1}) in ${summary.seconds} s\n`);
    process.stdout.write(`  accesses checked for linearizability: ${summary.accessesChecked}\n`);
    process.stdout.write(`  violations (linearizability, MP, SB, coherence): ${summary.violations}; accesses past their bound: ${summary.accessesPastBound}; orphaned pages: ${summary.orphanedPages}\n`);
    process.stdout.write(`  deaths decided by a majority: ${summary.deathsDecided} (nodes killed ${summary.nodesKilled}, nodes that learned they were fenced ${summary.nodesEvicted})\n`);
    process.stdout.write(`  kill -> death decided by a majority: ${quantiles(summary.killToDeathMs)}\n`);
    process.stdout.write(`  kill -> typed error of an access blocked on the dead node's page: ${quantiles(summary.killToTypedErrorMs)}\n`);
    process.stdout.write(`  pause start -> fence (pauses longer than deadAfterMs): ${quantiles(summary.pauseToFenceMs)}\n`);
    for (const r of bad) process.stdout.write(`  seed ${r.seed} FAILED (${r.schedule.join('; ')}): ${[...r.violations, ...r.hangs, ...r.orphans].slice(0, 3).join(' | ')}\n`);
  }
  return bad.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e: unknown) => {
  process.stderr.write(`bench:dsm-faults: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
