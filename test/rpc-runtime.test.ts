/**
 * RPC runtime behaviour over the in-memory network (test/support/memory-endpoint.ts).
 * Every wait is bounded: waitFor() polls a condition with a deadline, nothing sleeps and hopes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient, RpcServer, decodeMessage, type RpcClientOptions, type RpcMessage, type RpcServerOptions } from '../rpc/runtime/index.js';
import { MemoryNetwork, type MemoryEndpoint, type MemoryNetworkOptions, type TapEvent } from './support/memory-endpoint.js';
import { calcPair } from './support/calc-pair.js';
import { Calc, CalcExtra, CalcLax, CalcV2, Gate, Nope, byName, calcHandlers } from './fixtures/rpc-runtime/calc.js';
import { rpcFailure } from './support/rpc-failure.js';

const SERVER = '127.0.0.1:4000';
const CLIENT = '127.0.0.1:5000';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}


interface Setup {
  net: MemoryNetwork;
  serverEp: MemoryEndpoint;
  clientEp: MemoryEndpoint;
  server: RpcServer;
  client: RpcClient;
  counts: ReturnType<typeof calcHandlers>['counts'];
  gate: Gate;
  /** Every delivered message, decoded. */
  log: Array<TapEvent & { msg: RpcMessage | undefined }>;
}

const FAST_CLIENT: Omit<RpcClientOptions, 'server'> = { probeIntervalMs: 20, maxProbeIntervalMs: 80, probeTimeoutMs: 300, ackDelayMs: 5 };
const FAST_SERVER: RpcServerOptions = { workingAckAfterMs: 10 };

function setup(o: { client?: Partial<RpcClientOptions>; server?: RpcServerOptions; net?: MemoryNetworkOptions } = {}): Setup {
  const net = new MemoryNetwork({ giveUpMs: 100, ...o.net });
  const pair = calcPair(net, {
    serverAddr: SERVER, clientAddr: CLIENT, serverId: 'srv', clientId: 'cli',
    server: { ...FAST_SERVER, ...o.server }, client: { ...FAST_CLIENT, ...o.client },
  });
  const { serverEp, clientEp, server, client, counts, gate } = pair;
  const log: Setup['log'] = [];
  net.tap = (ev) => {
    const r = decodeMessage(ev.data);
    log.push({ ...ev, msg: r.ok ? r.msg : undefined });
  };
  closers.push(() => pair.close());
  return { net, serverEp, clientEp, server, client, counts, gate, log };
}

const add = byName(Calc, 'add');
const block = byName(Calc, 'block');
const sleep = byName(Calc, 'sleep');

describe('RPC runtime: calls', () => {
  it('returns the result of a round trip and counts it', async () => {
    const s = setup();
    await expect(s.client.call(Calc, add, [2, 3])).resolves.toBe(5);
    expect(s.counts.add).toBe(1);
    expect(s.client.stats()).toMatchObject({ calls: 1, replies: 1, outstanding: 0 });
    expect(s.server.stats()).toMatchObject({ requests: 1, executed: 1, replies: 1 });
  });

  it('answers 1,000 concurrent calls, each with its own result', async () => {
    const s = setup();
    const calls = Array.from({ length: 1000 }, (_, i) => s.client.call(Calc, add, [i, 1000 * i]));
    const results = await Promise.all(calls);
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => 1001 * i));
    expect(s.counts.add).toBe(1000);
    expect(s.server.stats().executed).toBe(1000);
  });

  it('carries bigint and bytes values through the codec', async () => {
    const s = setup();
    const v = { big: 2n ** 62n, bytes: new Uint8Array([1, 2, 255]), list: [1, 'x', null] };
    const out = (await s.client.call(Calc, byName(Calc, 'echo'), [v])) as typeof v;
    expect(out.big).toBe(2n ** 62n);
    expect(Array.from(out.bytes)).toEqual([1, 2, 255]);
    expect(out.list).toEqual([1, 'x', null]);
  });
});

describe('RPC runtime: duplicate suppression', () => {
  it('runs a duplicated request once and answers the duplicate with the saved reply', async () => {
    // A long ack delay keeps the reply in the cache while the duplicate arrives.
    const s = setup({ client: { ackDelayMs: 10_000 } });
    await expect(s.client.call(Calc, add, [20, 22])).resolves.toBe(42);
    const req = s.log.find((e) => e.msg?.kind === 'request');
    const reply = s.log.find((e) => e.msg?.kind === 'reply');
    expect(req).toBeDefined();
    const before = s.log.length;
    s.net.inject(CLIENT, SERVER, req!.data);
    await waitFor(() => s.log.slice(before).some((e) => e.from === SERVER), 'the answer to the duplicate');
    const answer = s.log.slice(before).find((e) => e.from === SERVER)!;
    expect(answer.msg?.kind).toBe('reply');
    expect(Array.from(answer.data)).toEqual(Array.from(reply!.data));
    expect(s.counts.add).toBe(1);
    expect(s.server.stats()).toMatchObject({ executed: 1, duplicatesSuppressed: 1 });
    expect(s.client.stats().lateMessages).toBe(1);
  });

  it('answers a duplicate of a running call with WORKING and still runs it once', async () => {
    const s = setup({ client: { probeIntervalMs: 10_000, maxProbeIntervalMs: 10_000 }, server: { workingAckAfterMs: 10_000 } });
    const p = s.client.call(Calc, block, ['a']);
    await waitFor(() => s.counts.block === 1, 'the handler to start');
    const req = s.log.find((e) => e.msg?.kind === 'request')!;
    s.net.inject(CLIENT, SERVER, req.data);
    await waitFor(() => s.log.some((e) => e.from === SERVER && e.msg?.kind === 'working'), 'WORKING');
    expect(s.server.stats()).toMatchObject({ duplicatesSuppressed: 1, stillWorking: 1 });
    expect(s.client.stats().stillWorking).toBe(1);
    s.gate.release();
    await expect(p).resolves.toBe('done:a');
    expect(s.counts.block).toBe(1);
  });

  it('drops a duplicate that arrives after the client acknowledged the reply', async () => {
    const s = setup({ client: { ackDelayMs: 1 } });
    await s.client.call(Calc, add, [1, 1]);
    await waitFor(() => s.server.stats().acks >= 1, 'the ACK');
    const req = s.log.find((e) => e.msg?.kind === 'request')!;
    s.net.inject(CLIENT, SERVER, req.data);
    await waitFor(() => s.server.stats().duplicatesSuppressed === 1, 'the duplicate to be seen');
    expect(s.counts.add).toBe(1);
  });

  it('keeps the reply cache within maxEntries and empties it as replies are acknowledged', async () => {
    const s = setup({ client: { ackDelayMs: 1 }, server: { maxEntries: 8 } });
    let peak = 0;
    for (let batch = 0; batch < 20; batch++) {
      const calls = Array.from({ length: 20 }, (_, i) => s.client.call(Calc, add, [batch, i]));
      for (const c of calls) void c.then(() => (peak = Math.max(peak, s.server.stats().replyCache.entries)));
      await Promise.all(calls);
      peak = Math.max(peak, s.server.stats().replyCache.entries);
    }
    for (let i = 0; i < 50; i++) {
      await s.client.call(Calc, add, [i, i]);
      peak = Math.max(peak, s.server.stats().replyCache.entries);
    }
    expect(peak).toBeLessThanOrEqual(8);
    expect(peak).toBeGreaterThan(0);
    await waitFor(() => s.server.stats().replyCache.entries === 0, 'acks to empty the cache');
    expect(s.server.stats().replyCache.bytes).toBe(0);
    expect(s.counts.add).toBe(450);
  });

  it('never runs a call again after its saved reply was evicted', async () => {
    const s = setup({ client: { ackDelayMs: 10_000 }, server: { maxEntries: 2 } });
    // Concurrent calls: every request says "nothing acknowledged yet", so all six replies are saved.
    await Promise.all(Array.from({ length: 6 }, (_, i) => s.client.call(Calc, add, [i, i])));
    const first = s.log.find((e) => e.msg?.kind === 'request')!;
    expect(s.server.stats().replyCache.evictions).toBeGreaterThan(0);
    const before = s.log.length;
    s.net.inject(CLIENT, SERVER, first.data);
    await waitFor(() => s.log.slice(before).some((e) => e.from === SERVER), 'the answer');
    const answer = s.log.slice(before).find((e) => e.from === SERVER)!.msg;
    expect(answer).toMatchObject({ kind: 'error', code: 'RPC_ERR_OVERLOADED', executed: 'maybe' });
    expect(s.counts.add).toBe(6);
  });
});

describe('RPC runtime: server restarts', () => {
  function restartServer(s: Setup): { server: RpcServer; counts: ReturnType<typeof calcHandlers>['counts'] } {
    const ep = s.net.restart(SERVER, 'srv2');
    const server = new RpcServer(ep, FAST_SERVER);
    const { handlers, counts, gate } = calcHandlers();
    server.serve(Calc, handlers);
    closers.push(async () => {
      gate.release();
      await server.close();
      await ep.close();
    });
    return { server, counts };
  }

  it('fails a call probed across a restart with SERVER_RESTARTED and never runs it on the new server', async () => {
    const s = setup();
    const p = s.client.call(Calc, block, ['x']);
    await waitFor(() => s.client.stats().stillWorking > 0, 'WORKING from the first incarnation');
    const oldInc = s.server.incarnation;
    const b = restartServer(s);
    const err = await rpcFailure(p);
    expect(err).toMatchObject({ code: 'RPC_ERR_SERVER_RESTARTED', executed: 'maybe' });
    expect(err.message).toContain(oldInc.toString(16));
    expect(b.counts.block).toBe(0);
    expect(b.server.stats().restartRejected).toBeGreaterThan(0);
    expect(b.server.stats().executed).toBe(0);
  });

  it('fails a request re-sent across a restart with SERVER_RESTARTED, executed maybe, not run on the new server', async () => {
    const s = setup({ client: { maxResends: 1 } });
    await s.client.call(Calc, add, [1, 1]); // learn incarnation A
    s.net.crash(SERVER);
    const p = s.client.call(Calc, add, [2, 2]); // goes to the dead address; transport gives up after 100 ms
    await new Promise((r) => setImmediate(r)); // the first copy meets the dead address
    const b = restartServer(s); // the transport gives up on it; the re-send reaches incarnation B
    const err = await rpcFailure(p);
    expect(err).toMatchObject({ code: 'RPC_ERR_SERVER_RESTARTED', executed: 'maybe' });
    expect(s.client.stats().resends).toBe(1);
    expect(b.counts.add).toBe(0);
    // The client now knows B: the next call works.
    await expect(s.client.call(Calc, add, [3, 3])).resolves.toBe(6);
    expect(b.counts.add).toBe(1);
  });

  it('re-sends a new call whose only copy a restarted server refused, and reports the restart', async () => {
    const s = setup();
    await s.client.call(Calc, add, [1, 1]);
    const restarts: unknown[] = [];
    s.client.on('server-restarted', (ev) => restarts.push(ev));
    const b = restartServer(s);
    await expect(s.client.call(Calc, add, [5, 5])).resolves.toBe(10);
    expect(b.counts.add).toBe(1);
    expect(restarts).toEqual([{ server: SERVER, oldIncarnation: s.server.incarnation, newIncarnation: b.server.incarnation }]);
    expect(s.client.stats().serverRestarts).toBe(1);
    expect(b.server.stats().restartRejected).toBeGreaterThanOrEqual(1);
  });
});

describe('RPC runtime: long calls', () => {
  it('keeps a long call alive with probes and runs it once', async () => {
    const s = setup();
    await expect(s.client.call(Calc, sleep, [300])).resolves.toBe(300);
    const st = s.client.stats();
    expect(s.counts.sleep).toBe(1);
    expect(st.probesSent).toBeGreaterThanOrEqual(3);
    expect(st.probesAnswered).toBeGreaterThan(0);
    expect(st.stillWorking).toBeGreaterThan(0);
    // A probe may cross the reply in flight; every probe sent still reaches the server.
    await waitFor(() => s.server.stats().probes === st.probesSent, 'the server to see every probe');
    // Intervals grow: 20, 40, 80, 80 ... ms, so far fewer probes than 300 / 20.
    expect(st.probesSent).toBeLessThan(12);
  });

  it('fails with UNREACHABLE within a bound when the server crashes mid-call', async () => {
    const s = setup();
    const p = s.client.call(Calc, block, ['y']);
    await waitFor(() => s.client.stats().stillWorking > 0, 'WORKING');
    const t0 = Date.now();
    s.net.crash(SERVER);
    const err = await rpcFailure(p);
    const took = Date.now() - t0;
    expect(err).toMatchObject({ code: 'RPC_ERR_UNREACHABLE', executed: 'maybe' });
    // maxProbeIntervalMs (80) + min(giveUpMs 100, probeTimeoutMs 300), with slack for a busy machine.
    expect(took).toBeLessThan(1_500);
  });

  it('fails with UNREACHABLE when probes are swallowed without a transport error', async () => {
    const s = setup({ client: { probeTimeoutMs: 100 }, net: { giveUpMs: 60_000 } });
    const p = s.client.call(Calc, block, ['z']);
    await waitFor(() => s.client.stats().stillWorking > 0, 'WORKING');
    s.net.blackhole = (ev) => ev.to === SERVER;
    const err = await rpcFailure(p);
    expect(err).toMatchObject({ code: 'RPC_ERR_UNREACHABLE', executed: 'maybe' });
    expect(err.message).toContain('probe');
  });
});

describe('RPC runtime: deadlines, cancellation, limits', () => {
  it('fails with DEADLINE, executed maybe, once a sent call runs out of time', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(Calc, block, ['d'], { timeoutMs: 50 }));
    expect(err).toMatchObject({ code: 'RPC_ERR_DEADLINE', executed: 'maybe' });
    expect(s.client.stats().outstanding).toBe(0);
  });

  it('fails with DEADLINE, executed no, when the deadline is 0 and nothing was sent', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(Calc, add, [1, 2], { timeoutMs: 0 }));
    expect(err).toMatchObject({ code: 'RPC_ERR_DEADLINE', executed: 'no' });
    expect(s.client.stats().requestsSent).toBe(0);
  });

  it('fails with ABORTED when the signal fires, and does not send an already-aborted call', async () => {
    const s = setup();
    const ac = new AbortController();
    const p = s.client.call(Calc, block, ['e'], { signal: ac.signal });
    await waitFor(() => s.counts.block === 1, 'the handler to start');
    ac.abort();
    expect(await rpcFailure(p)).toMatchObject({ code: 'RPC_ERR_ABORTED', executed: 'maybe' });
    const err = await rpcFailure(s.client.call(Calc, add, [1, 2], { signal: ac.signal }));
    expect(err).toMatchObject({ code: 'RPC_ERR_ABORTED', executed: 'no' });
    expect(s.client.stats().requestsSent).toBe(1);
  });

  it('refuses a call beyond maxOutstanding with OVERLOADED, executed no', async () => {
    const s = setup({ client: { maxOutstanding: 2 } });
    const a = s.client.call(Calc, block, ['1']);
    const b = s.client.call(Calc, block, ['2']);
    const err = await rpcFailure(s.client.call(Calc, add, [1, 2]));
    expect(err).toMatchObject({ code: 'RPC_ERR_OVERLOADED', executed: 'no' });
    s.gate.release();
    await expect(Promise.all([a, b])).resolves.toEqual(['done:1', 'done:2']);
    expect(s.counts.add).toBe(0);
  });

  it('refuses a call beyond the server\'s maxRunning with OVERLOADED, executed no', async () => {
    const s = setup({ server: { maxRunning: 1 } });
    const a = s.client.call(Calc, block, ['1']);
    await waitFor(() => s.counts.block === 1, 'the first call to run');
    const err = await rpcFailure(s.client.call(Calc, block, ['2']));
    expect(err).toMatchObject({ code: 'RPC_ERR_OVERLOADED', executed: 'no' });
    s.gate.release();
    await expect(a).resolves.toBe('done:1');
    expect(s.counts.block).toBe(1);
  });

  it('fails outstanding calls with CLOSED when the client closes', async () => {
    const s = setup();
    const p = s.client.call(Calc, block, ['c']);
    await s.client.close();
    expect(await rpcFailure(p)).toMatchObject({ code: 'RPC_ERR_CLOSED', executed: 'maybe' });
    expect(await rpcFailure(s.client.call(Calc, add, [1, 1]))).toMatchObject({ code: 'RPC_ERR_CLOSED', executed: 'no' });
  });
});

describe('RPC runtime: typed errors', () => {
  it('carries a handler exception\'s message and code as RPC_ERR_REMOTE, executed once', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(Calc, byName(Calc, 'fail'), ['disk on fire', 'E_FIRE']));
    expect(err).toMatchObject({ code: 'RPC_ERR_REMOTE', executed: 'once', remoteCode: 'E_FIRE' });
    expect(err.message).toContain('disk on fire');
    expect(s.counts.fail).toBe(1);
  });

  it('answers an unknown interface with UNKNOWN_INTERFACE, executed no', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(Nope, Nope.procedures[0]!, []));
    expect(err).toMatchObject({ code: 'RPC_ERR_UNKNOWN_INTERFACE', executed: 'no' });
    expect(err.message).toContain('Nope');
  });

  it('answers another version with VERSION_MISMATCH, executed no', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(CalcV2, byName(CalcV2, 'add'), [1, 2]));
    expect(err).toMatchObject({ code: 'RPC_ERR_VERSION_MISMATCH', executed: 'no' });
    expect(s.counts.add).toBe(0);
  });

  it('answers an unknown procedure with UNKNOWN_PROCEDURE, executed no', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(CalcExtra, byName(CalcExtra, 'missing'), []));
    expect(err).toMatchObject({ code: 'RPC_ERR_UNKNOWN_PROCEDURE', executed: 'no' });
  });

  it('rejects bad arguments on the server with INVALID_ARGS and never calls the handler', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(CalcLax, byName(CalcLax, 'add'), [1, 'two']));
    expect(err).toMatchObject({ code: 'RPC_ERR_INVALID_ARGS', executed: 'no' });
    expect(err.message).toContain('args[1]');
    expect(s.counts.add).toBe(0);
    expect(s.server.stats().executed).toBe(0);
  });

  it('rejects bad arguments on the client with INVALID_ARGS before sending', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(Calc, add, [1]));
    expect(err).toMatchObject({ code: 'RPC_ERR_INVALID_ARGS', executed: 'no' });
    expect(s.client.stats().requestsSent).toBe(0);
  });

  it('answers a result that fails checkResult with INVALID_RESULT, executed once', async () => {
    const s = setup();
    const err = await rpcFailure(s.client.call(Calc, byName(Calc, 'badResult'), []));
    expect(err).toMatchObject({ code: 'RPC_ERR_INVALID_RESULT', executed: 'once' });
    expect(err.message).toContain('expected number');
    expect(s.counts.badResult).toBe(1);
  });
});
