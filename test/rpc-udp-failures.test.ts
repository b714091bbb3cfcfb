/**
 * Failures across processes over real UDP: a server SIGKILLed and restarted on the same port
 * between a call and its retry, a handler slower than any retry timeout, and a server that dies
 * in the middle of a call. The server is test/fixtures/rpc-udp/server.ts, run compiled from dist/.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isRpcError, type RpcError } from '../rpc/errors.js';
import type { ServerRestartedEvent } from '../rpc/runtime/index.js';
import { kill9, killAll, startServer } from './fixtures/rpc-udp/spawn.js';
import { closeClients, connect, report } from './fixtures/rpc-udp/client.js';
import { UdpProxy } from './support/udp-proxy.js';
import { waitFor, within } from './support/wait.js';

let proxy: UdpProxy | undefined;
afterEach(async () => {
  await closeClients();
  await killAll();
  await proxy?.close();
  proxy = undefined;
});

async function failure(p: Promise<unknown>, timeoutMs = 10_000): Promise<RpcError> {
  const e = await within(p.then(() => undefined, (x: unknown) => x), timeoutMs, 'call to settle');
  if (!isRpcError(e)) throw new Error(`expected an RpcError, got ${String(e)}`);
  return e;
}

describe('RPC over UDP: server failures', () => {
  it('fails a call with RPC_ERR_SERVER_RESTARTED when the server is SIGKILLed mid-call and restarted on the same port, and the new server never runs it', async () => {
    const a = await startServer();
    const c = await connect(a.address, {}, { probeIntervalMs: 50, maxProbeIntervalMs: 100, probeTimeoutMs: 5_000 });
    const restarts: ServerRestartedEvent[] = [];
    c.rpc.on('server-restarted', (e) => restarts.push(e));
    await expect(c.chapter.func1(1)).resolves.toBe(2); // the client now knows incarnation A
    const incA = c.rpc.serverIncarnation;

    const call = c.lab.sleep(60_000).then(() => 'returned', (e: unknown) => e);
    await waitFor(() => c.rpc.stats().stillWorking >= 1, 'server A to report the call running');
    await kill9(a);
    // Probes go unanswered while nothing listens on the port; B takes over the same port.
    const b = await startServer({ endpoint: { port: a.port } });
    expect(b.address).toBe(a.address);

    const err = await within(call, 10_000, 'the call to fail') as RpcError;
    expect(isRpcError(err, 'RPC_ERR_SERVER_RESTARTED')).toBe(true);
    expect(err.executed).toBe('maybe');
    // The transport notices the new session first (its probe is refused); the RPC incarnation
    // check would catch it otherwise. Either way: typed, 'maybe', and never run on B.
    expect(err.message).toMatch(/^Lab\.sleep: server 127\.0\.0\.1:\d+ restarted (before acknowledging the probe$|\(incarnation )/);

    // The client carries on with B; B never ran the sleep.
    await expect(c.chapter.func2(2, 3)).resolves.toBe(5);
    expect(c.rpc.serverIncarnation).not.toBe(incA);
    const r = await report(c);
    expect(r.counts).toEqual({ func2: 1 });
    expect(r.server.executed).toBe(2); // func2 and counts
    expect(c.rpc.stats().probesSent).toBeGreaterThan(0);
  });

  it('fails a call with RPC_ERR_SERVER_RESTARTED when the server restarts between the request and its re-send, and the new server never runs it', async () => {
    const a = await startServer();
    proxy = await UdpProxy.start(a.port, { record: false });
    // The transport gives up after 800 ms without an ack; the client then re-sends once.
    const c = await connect(proxy.frontAddress, { giveUpMs: 800 }, { maxResends: 1, probeTimeoutMs: 5_000 });
    await expect(c.chapter.func1(1)).resolves.toBe(2); // the call below is tied to incarnation A

    // Partition, A dies, B starts behind the partition (the client reaches it at the same address).
    proxy.open = false;
    await kill9(a);
    const b = await startServer();
    proxy.targetPort = b.port;
    const gaveUp = new Promise<void>((r) => c.ep.once('peer-unreachable', () => {
      proxy!.open = true; // heal before the re-send goes out
      r();
    }));
    const call = c.chapter.func2(2, 3).then(() => 'returned', (e: unknown) => e);
    await within(gaveUp, 5_000, 'the transport to give up on the first copy');

    const err = await within(call, 5_000, 'the call to fail') as RpcError;
    expect(isRpcError(err, 'RPC_ERR_SERVER_RESTARTED')).toBe(true);
    expect(err.executed).toBe('maybe');
    expect(err.message).toMatch(/^Chapter\.func2: server 127\.0\.0\.1:\d+ restarted (before acknowledging the request$|\(incarnation )/);
    expect(c.rpc.stats()).toMatchObject({ resends: 1, requestsSent: 3 });
    expect(proxy.dropped).toBeGreaterThan(0);

    // B never ran func2; the client carries on with B.
    await expect(c.chapter.func1(5)).resolves.toBe(10);
    const r = await report(c);
    expect(r.counts).toEqual({ func1: 1 });
  });

  it('runs a 3 s handler (longer than any probe interval or timeout) exactly once and returns its result, probing meanwhile', async () => {
    const srv = await startServer();
    const c = await connect(srv.address, {}, { probeIntervalMs: 100, maxProbeIntervalMs: 400, probeTimeoutMs: 1_000 });
    const t0 = performance.now();
    await expect(within(c.lab.sleep(3_000), 10_000, 'the long call')).resolves.toBe(3_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2_990);
    const s = c.rpc.stats();
    // 100 + 200 + 400 + 400 ... ms: at least 5 probes in 3 s, every one answered "still working".
    expect(s.probesSent).toBeGreaterThanOrEqual(5);
    expect(s.probesAnswered).toBe(s.probesSent);
    expect(s.stillWorking).toBeGreaterThanOrEqual(s.probesSent);
    expect(s).toMatchObject({ replies: 1, errors: {}, resends: 0, requestsSent: 1 });
    const r = await report(c);
    expect(r.counts).toEqual({ sleep: 1 });
    expect(r.server.probes).toBe(s.probesSent);
  });

  it('fails a call with RPC_ERR_UNREACHABLE within maxProbeIntervalMs + probeTimeoutMs when the server is SIGKILLed mid-call', async () => {
    const srv = await startServer();
    const opts = { probeIntervalMs: 100, maxProbeIntervalMs: 400, probeTimeoutMs: 1_000 };
    const c = await connect(srv.address, {}, opts);
    const call = c.lab.sleep(60_000).then(() => 'returned', (e: unknown) => e);
    await waitFor(() => c.rpc.stats().stillWorking >= 1, 'the server to report the call running');
    await kill9(srv);
    const killedAt = performance.now();
    const err = await within(call, 10_000, 'the call to fail') as RpcError;
    const took = performance.now() - killedAt;
    expect(isRpcError(err, 'RPC_ERR_UNREACHABLE')).toBe(true);
    expect(err.executed).toBe('maybe');
    expect(err.message).toBe(`Lab.sleep: server ${srv.address} did not answer a probe within 1000 ms`);
    // Bound: the next probe is due within one (capped) interval; it then waits probeTimeoutMs.
    expect(took).toBeLessThan(opts.maxProbeIntervalMs + opts.probeTimeoutMs + 500);
    expect(took).toBeGreaterThanOrEqual(opts.probeTimeoutMs - 5);
  });
});
