/**
 * Smoke test of the DSM benchmark (bench/dsm-bench.ts, run compiled from dist/): `--quick --json`
 * exits 0 and ends with one JSON object carrying every reported number as a positive number;
 * `--help` and an unknown flag behave. No timing assertions: the numbers of a quick run on a
 * shared machine mean nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { within } from './support/wait.js';

const BENCH_JS = resolve(process.cwd(), 'dist/bench/dsm-bench.js');
const children = new Set<ReturnType<typeof spawn>>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(BENCH_JS)) throw new Error(`${BENCH_JS} is missing: run \`npx tsc -p .\` first`);
  const child = spawn(process.execPath, [BENCH_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((r) => child.once('close', (code) => {
    children.delete(child);
    r({ code, stdout, stderr });
  }));
}

/** Every number the issue asks for, plus the p99s, the struct cost and the ratio. */
const KEYS = [
  'proxy_ns', 'struct_ns', 'raw_ns', 'proxy_over_raw',
  'rpc_null_p50_us', 'rpc_null_p99_us',
  'read_fault_p50_us', 'read_fault_p99_us', 'write_fault_p50_us', 'write_fault_p99_us', 'read_fault_over_rpc_null',
  'write_fault_0_readers_p50_us', 'write_fault_1_reader_p50_us', 'write_fault_2_readers_p50_us',
  'write_fault_4_readers_p50_us', 'write_fault_4_readers_p99_us', 'read_fault_3_nodes_p50_us',
] as const;

it('runs `dsm-bench --quick --json` to exit code 0 with a last line of JSON holding every key as a positive number', async () => {
  const r = await within(run(['--quick', '--json']), 50_000, 'dsm-bench --quick --json');
  expect(r.code, r.stderr).toBe(0);
  const last = r.stdout.trim().split('\n').at(-1)!;
  const out = JSON.parse(last) as Record<string, unknown>;
  for (const k of KEYS) {
    expect(typeof out[k], `${k} in ${last}`).toBe('number');
    expect(Number.isFinite(out[k]) && (out[k] as number) > 0, `${k} in ${last}`).toBe(true);
  }
  expect(out['quick']).toBe(true);
  // The human-readable table went to stderr, so stdout is the JSON alone.
  expect(r.stdout.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toContain('write fault, 4 readers');
}, 60_000);

it('prints usage for --help and rejects an unknown flag with exit code 2', async () => {
  const help = await within(run(['--help']), 10_000, 'dsm-bench --help');
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^usage: node dist\/bench\/dsm-bench\.js \[--quick\] \[--json\]/);
  const bad = await within(run(['--fast']), 10_000, 'dsm-bench --fast');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe('dsm-bench: unknown option --fast\nRun `node dist/bench/dsm-bench.js --help` for the options.\n');
});
