import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { waitForReady } from '../../demos/child.js';
import { createEndpoint, type EndpointOptions, type EndpointStats, type MessageEvent, type UdpEndpoint } from '../../transport/index.js';
import { seededRandom } from '../../transport/random.js';
import { within } from './wait.js';

/** Endpoints created by a test, closed by closeAll() in afterEach. */
export class Endpoints {
  private readonly all: UdpEndpoint[] = [];

  async make(opts: EndpointOptions = {}): Promise<UdpEndpoint> {
    const ep = await createEndpoint(opts);
    this.all.push(ep);
    return ep;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((e) => e.close()));
  }
}

/** Record every message an endpoint delivers. */
export function collect(ep: UdpEndpoint): MessageEvent[] {
  const got: MessageEvent[] = [];
  ep.on('message', (m) => got.push({ ...m, data: Buffer.from(m.data) }));
  return got;
}

/**
 * Message i of a seeded workload: 4 bytes of index, then bytes from a PRNG seeded by (seed, i),
 * so the receiver can regenerate and compare it byte for byte.
 */
export function makeMessage(seed: number, i: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(Math.max(4, size));
  b.writeUInt32BE(i, 0);
  const r = seededRandom((seed * 100_003 + i) >>> 0);
  for (let k = 4; k < b.length; k++) b[k] = (r() * 256) | 0;
  return size < 4 ? b.subarray(0, size) : b;
}

/**
 * Sizes for a loss workload: log-uniform, 98% between 1 B and 4 KiB and 2% between 4 KiB and
 * 256 KiB, with message 0 at the full 256 KiB (so the extremes are always exercised) and message
 * 1 at 1 byte.
 */
export function workloadSizes(seed: number, n: number): number[] {
  const r = seededRandom(seed ^ 0x5bd1e995);
  const logUniform = (lo: number, hi: number) => Math.floor(Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo))));
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) sizes.push(r() < 0.98 ? logUniform(1, 4096) : logUniform(4096, 256 * 1024));
  sizes[0] = 256 * 1024;
  if (n > 1) sizes[1] = 1;
  return sizes;
}

/** An endpoint in a child process (test/fixtures/transport/echo-endpoint.ts, run from dist/). */
export interface EndpointProcess {
  readonly child: ChildProcess;
  readonly address: string;
  readonly exited: Promise<number | string>;
  /** peer-restarted events the child reported so far. */
  readonly restarts: unknown[];
  /** The child's ep.stats() and RSS in bytes, asked over stdin (after a GC when run with --expose-gc). */
  stats(): Promise<{ stats: EndpointStats; rss: number }>;
  stderr(): string;
}

const children = new Set<ChildProcess>();

export async function spawnEndpoint(options: Record<string, unknown> = {}, nodeArgs: string[] = []): Promise<EndpointProcess> {
  const js = resolve(process.cwd(), 'dist/test/fixtures/transport/echo-endpoint.js');
  if (!existsSync(js)) throw new Error(`${js} is missing: run \`npx tsc -p .\` (npm test builds first)`);
  const child = spawn(process.execPath, [...nodeArgs, js, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => void (err += b.toString()));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => {
    children.delete(child);
    r(code ?? signal ?? 'unknown');
  }));
  const address = await waitForReady(child, exited, 10_000, 'endpoint process', () => `; stderr: ${err}`);
  const restarts: unknown[] = [];
  const waiting: Array<(v: { stats: EndpointStats; rss: number }) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const j = JSON.parse(line) as { restarted?: unknown; stats?: EndpointStats; rss?: number };
    if (j.restarted !== undefined) restarts.push(j.restarted);
    if (j.stats !== undefined) waiting.shift()?.({ stats: j.stats, rss: j.rss! });
  });
  return {
    child, address, exited, restarts, stderr: () => err,
    stats: () => within(new Promise((r) => {
      waiting.push(r);
      child.stdin!.write('stats\n');
    }), 10_000, 'the endpoint process to report its stats'),
  };
}

/** SIGKILL every endpoint process still running (afterEach). */
export async function killEndpoints(): Promise<void> {
  await Promise.all([...children].map((c) => new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    c.once('exit', () => r());
    c.kill('SIGKILL');
  })));
}
