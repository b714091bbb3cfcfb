/**
 * Thread-pool handlers. Worker threads run compiled JS (the build runs before the tests, see
 * test/support/compiled.ts): the handler module is the compiled pool-handlers fixture, and the
 * runtime finds its own worker, the compiled rpc/runtime/pool-worker.js, by itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { RpcClient, RpcServer } from '../rpc/runtime/index.js';
import { isRpcError } from '../rpc/errors.js';
import type { HandlerTable } from '../rpc/contract.js';
import { MemoryNetwork } from './support/memory-endpoint.js';
import { compiled } from './support/compiled.js';
import { Cpu, byName } from './fixtures/rpc-runtime/calc.js';

const poolModulePath = compiled('test/fixtures/rpc-runtime/pool-handlers.ts');
const workerPath = compiled('rpc/runtime/pool-worker.ts');

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

function setup(serveOpts: { pool?: boolean }, inline: HandlerTable = {}): { client: RpcClient; server: RpcServer } {
  if (!existsSync(poolModulePath) || !existsSync(workerPath)) {
    throw new Error(`compiled files missing (${poolModulePath}, ${workerPath}): run \`npm run build\` before these tests`);
  }
  const net = new MemoryNetwork({ giveUpMs: 500 });
  const serverEp = net.endpoint('127.0.0.1:4200', 'srv');
  const clientEp = net.endpoint('127.0.0.1:5200', 'cli');
  // Pool calls take a while to start (thread spin-up): generous probe timeout.
  const server = new RpcServer(serverEp, { workingAckAfterMs: 20 });
  server.serve(Cpu, inline, { ...serveOpts, poolModule: pathToFileURL(poolModulePath), poolThreads: 2 });
  const client = new RpcClient(clientEp, { server: serverEp.address, probeIntervalMs: 50, maxProbeIntervalMs: 200, probeTimeoutMs: 5_000 });
  closers.push(async () => {
    await client.close();
    await server.close();
    await clientEp.close();
    await serverEp.close();
  });
  return { client, server };
}

describe('RPC runtime: thread pool', () => {
  it('runs a pool-marked CPU-bound procedure on a worker thread with correct results', async () => {
    const { client, server } = setup({}, { whereAmI: () => threadId });
    const ns = [20, 22, 24, 25];
    const out = (await Promise.all(ns.map((n) => client.call(Cpu, byName(Cpu, 'fib'), [n])))) as Array<{ value: number; threadId: number }>;
    expect(out.map((o) => o.value)).toEqual(ns.map(fib));
    for (const o of out) expect(o.threadId).not.toBe(threadId);
    // The procedure not marked @pool runs inline, on this thread.
    await expect(client.call(Cpu, byName(Cpu, 'whereAmI'), [])).resolves.toBe(threadId);
    expect(server.stats()).toMatchObject({ executed: 5, poolRuns: 4 });
  });

  it('carries an exception thrown in a worker as RPC_ERR_REMOTE with its code', async () => {
    const { client } = setup({}, { whereAmI: () => threadId });
    const err = await client.call(Cpu, byName(Cpu, 'fail'), ['worker says no']).then(() => undefined, (e: unknown) => e);
    expect(isRpcError(err)).toBe(true);
    expect(err).toMatchObject({ code: 'RPC_ERR_REMOTE', executed: 'once', remoteCode: 'E_POOL_FAIL' });
    expect((err as Error).message).toContain('worker says no');
  });

  it('runs every procedure of an interface served with { pool: true } in the pool', async () => {
    const { client, server } = setup({ pool: true });
    const where = await client.call(Cpu, byName(Cpu, 'whereAmI'), []);
    expect(where).not.toBe(threadId);
    expect(server.stats().poolRuns).toBe(1);
  });
});
