/**
 * The client's ACK of received replies when the server never answered: no timer stays armed, the
 * list of completed calls to acknowledge stays bounded, and a process holding such a client exits.
 */
import { afterEach, expect, it } from 'vitest';
import { RpcClient } from '../rpc/runtime/index.js';
import { realTimers, type Timers } from '../rpc/runtime/timers.js';
import { MAX_EXPLICIT_ACKS } from '../rpc/runtime/wire.js';
import { Calc, byName } from './fixtures/rpc-runtime/calc.js';
import { MemoryNetwork } from './support/memory-endpoint.js';
import { runNode } from './support/run.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** The real timers, counting the ones armed and not yet fired or cleared. */
function countingTimers(): Timers & { live: Set<unknown> } {
  const live = new Set<unknown>();
  return {
    live,
    now: realTimers.now,
    setTimeout: (fn, ms) => {
      const h: unknown = realTimers.setTimeout(() => {
        live.delete(h);
        fn();
      }, ms);
      live.add(h);
      return h;
    },
    clearTimeout: (h) => {
      live.delete(h);
      realTimers.clearTimeout(h);
    },
  };
}

it('a client whose server never answered arms no timer forever and keeps a bounded list of calls to acknowledge', async () => {
  const net = new MemoryNetwork({ giveUpMs: 100 });
  const serverEp = net.endpoint('127.0.0.1:4000', 'silent'); // delivered to, never answers
  const clientEp = net.endpoint('127.0.0.1:5000', 'cli');
  const timers = countingTimers();
  const client = new RpcClient(clientEp, { server: serverEp.address, ackDelayMs: 5, timers });
  closers.push(async () => {
    await client.close();
    await clientEp.close();
    await serverEp.close();
  });
  const calls = MAX_EXPLICIT_ACKS + 500;
  const outcomes = await Promise.all(Array.from({ length: calls }, () =>
    client.call(Calc, byName(Calc, 'add'), [1, 2], { timeoutMs: 30 }).then(() => 'answered', (e: { code?: string }) => e.code)));
  expect(new Set(outcomes)).toEqual(new Set(['RPC_ERR_DEADLINE']));
  await new Promise((r) => setTimeout(r, 50)); // ten ACK delays
  expect(timers.live.size).toBe(0); // before the fix: the ACK timer re-armed itself every 5 ms, for ever
  const pending = (client as unknown as { unackedDone: number[] }).unackedDone;
  expect(pending.length).toBeLessThanOrEqual(MAX_EXPLICIT_ACKS);
  expect(client.stats().acksSent).toBe(0); // nothing to acknowledge to a server never heard from
});

it('a process with such a client exits by itself once its endpoints are closed', async () => {
  const r = await runNode('test/fixtures/rpc-runtime/unanswered-exit.js', [], 10_000);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('DONE RPC_ERR_DEADLINE\n');
  expect(r.code).toBe(0);
});
