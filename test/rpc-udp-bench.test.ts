/**
 * Smoke test of the RPC benchmark (bench/rpc-bench.ts, run compiled from dist/): `--quick --json`
 * exits 0 and ends with one JSON object carrying every reported number. No timing assertions.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { within } from './support/wait.js';

const BENCH_JS = resolve(process.cwd(), 'dist/bench/rpc-bench.js');
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

const KEYS = [
  'p50_us', 'p99_us', 'raw_p50_us', 'grpc_p50_us', 'calls_per_s', 'grpc_calls_per_s', 'datagrams_per_call',
  'pool_ms', 'inline_ms', 'pool_speedup', 'keyed_rtt_p50_us', 'keyed_over_plain', 'keyed_calls_per_s',
] as const;

it('runs `rpc-bench --quick --json` to exit code 0 with a last line of JSON holding every key', async () => {
  const r = await within(run(['--quick', '--json']), 45_000, 'rpc-bench --quick --json');
  expect(r.code, r.stderr).toBe(0);
  const last = r.stdout.trim().split('\n').at(-1)!;
  const out = JSON.parse(last) as Record<string, unknown>;
  for (const k of KEYS) {
    expect(typeof out[k], `${k} in ${last}`).toBe('number');
    expect(Number.isFinite(out[k]) && (out[k] as number) > 0, `${k} in ${last}`).toBe(true);
  }
  expect(out['quick']).toBe(true);
  // The human-readable table went to stderr, so stdout is the JSON alone.
  expect(r.stderr).toContain('null-call latency');
});

it('prints usage for --help and rejects an unknown flag with exit code 2', async () => {
  const help = await within(run(['--help']), 10_000, 'rpc-bench --help');
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^usage: node dist\/bench\/rpc-bench\.js \[--quick\] \[--json\]/);
  const bad = await within(run(['--fast']), 10_000, 'rpc-bench --fast');
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe('rpc-bench: unknown option --fast\nRun `node dist/bench/rpc-bench.js --help` for the options.\n');
});
