/**
 * Smoke tests of bench:dsm-app and bench:dsm-faults (run compiled from dist/): a small run exits 0
 * and ends with one JSON object of the documented shape. No timing assertions: a quick run's
 * numbers on a shared machine mean nothing.
 */
import { expect, it } from 'vitest';
import { runNode } from './support/run.js';

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as Record<string, unknown>;
}

it('bench:dsm-app --quick --nodes 1,2 --json: both layouts on 1 and 2 nodes; remote nodes fault, send messages and bytes; 1 node sends none', async () => {
  const r = await runNode('bench/dsm-app-bench.js', ['--quick', '--nodes', '1,2', '--json'], 90_000);
  expect(r.code, r.stderr).toBe(0);
  const j = lastJson(r.stdout) as { runs: { layout: string; nodes: number; ms: number; read_faults_per_node: number; messages_per_node: number; bytes_per_node: number }[] };
  expect(j.runs.map((x) => `${x.layout}/${x.nodes}`).sort()).toEqual(['aligned/1', 'aligned/2', 'straddling/1', 'straddling/2']);
  for (const x of j.runs) {
    expect(x.ms).toBeGreaterThan(0);
    if (x.nodes === 1) expect([x.read_faults_per_node, x.messages_per_node, x.bytes_per_node]).toEqual([0, 0, 0]);
    else expect(Math.min(x.read_faults_per_node, x.messages_per_node, x.bytes_per_node)).toBeGreaterThan(0);
  }
});

it('bench:dsm-faults --seeds 3 --json: three schedules checked, no violation, hang or orphan', async () => {
  const r = await runNode('bench/dsm-faults.js', ['--seeds', '3', '--json'], 60_000);
  expect(r.code, r.stderr).toBe(0);
  const j = lastJson(r.stdout);
  expect(j).toMatchObject({ schedules: 3, violations: 0, accessesPastBound: 0, orphanedPages: 0 });
  expect(j.accessesChecked as number).toBeGreaterThan(100);
});
