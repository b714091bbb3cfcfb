/**
 * The RPC layer over an authenticating transport: handlers learn the caller the transport
 * authenticated (CallContext.peerId), an interface's `authorize` check refuses a call before its
 * handler runs (RPC_ERR_UNAUTHENTICATED, executed 'no', counted), and a client whose datagrams the
 * server's keyed transport cannot open fails RPC_ERR_UNAUTHENTICATED instead of hanging.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RpcClient, RpcServer, type AuthorizeCall } from '../rpc/runtime/index.js';
import type { CallContext } from '../rpc/contract.js';
import { generateClusterKey } from '../transport/index.js';
import { MemoryNetwork } from './support/memory-endpoint.js';
import { Endpoints } from './support/transport.js';
import { Calc, byName } from './fixtures/rpc-runtime/calc.js';
import { within } from './support/wait.js';
import { rpcFailure } from './support/rpc-failure.js';

const SERVER = '127.0.0.1:4000';
const CLIENT = '127.0.0.1:5000';
const closers: Array<() => Promise<void>> = [];
const eps = new Endpoints();
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await eps.closeAll();
});


/** Calc whose `echo` returns the CallContext it ran with, and counts its runs. */
function serveCalc(server: RpcServer, authorize?: (c: AuthorizeCall) => string | undefined): { runs: number } {
  const counts = { runs: 0 };
  server.serve(Calc, {
    add: (a: number, b: number) => a + b,
    sleep: (ms: number) => ms,
    block: (s: string) => s,
    fail: () => undefined,
    badResult: () => 0,
    echo: (_v: unknown, ctx: CallContext) => {
      counts.runs++;
      return { peer: ctx.peer, peerId: ctx.peerId ?? null };
    },
  }, { authorize });
  return counts;
}

function memoryPair(authenticated: boolean, authorize?: (c: AuthorizeCall) => string | undefined) {
  const net = new MemoryNetwork({ giveUpMs: 100, authenticated });
  const serverEp = net.endpoint(SERVER, 'node-s');
  const clientEp = net.endpoint(CLIENT, 'node-c');
  const server = new RpcServer(serverEp);
  const counts = serveCalc(server, authorize);
  const client = new RpcClient(clientEp, { server: SERVER });
  closers.push(async () => {
    await client.close();
    await server.close();
  });
  return { server, client, counts };
}

const echo = byName(Calc, 'echo');

describe('the caller the transport authenticated', () => {
  it('reaches every handler as ctx.peerId (and is undefined when the transport authenticates nothing)', async () => {
    const keyed = memoryPair(true);
    expect(await keyed.client.call(Calc, echo, [1])).toEqual({ peer: CLIENT, peerId: 'node-c' });
    const plain = memoryPair(false);
    expect(await plain.client.call(Calc, echo, [1])).toEqual({ peer: CLIENT, peerId: null });
  });

  it('authorize refusing a call answers RPC_ERR_UNAUTHENTICATED, executed \'no\', without running the handler, and counts it', async () => {
    const seen: AuthorizeCall[] = [];
    const { client, server, counts } = memoryPair(true, (c) => {
      seen.push(c);
      return c.args[0] === 'claims node-x' && c.ctx.peerId !== 'node-x' ? `${c.ctx.peerId} claims to be node-x` : undefined;
    });
    const e = await rpcFailure(client.call(Calc, echo, ['claims node-x']));
    expect({ code: e.code, executed: e.executed, message: e.message }).toEqual({
      code: 'RPC_ERR_UNAUTHENTICATED', executed: 'no', message: 'Calc.echo: node-c claims to be node-x',
    });
    expect(counts.runs).toBe(0);
    expect(await client.call(Calc, echo, ['honest'])).toEqual({ peer: CLIENT, peerId: 'node-c' });
    expect(counts.runs).toBe(1);
    expect(server.stats()).toMatchObject({ unauthenticated: 1, executed: 1, errors: { RPC_ERR_UNAUTHENTICATED: 1 } });
    expect(client.stats().errors).toEqual({ RPC_ERR_UNAUTHENTICATED: 1 });
    expect(seen.map((c) => [c.proc.name, c.args, c.ctx.peerId])).toEqual([['echo', ['claims node-x'], 'node-c'], ['echo', ['honest'], 'node-c']]);
  });

  it('an authorize check that throws refuses the call (it never lets a call through by accident)', async () => {
    const { client, counts } = memoryPair(true, () => {
      throw new Error('bug in the check');
    });
    const e = await rpcFailure(client.call(Calc, echo, [1]));
    expect([e.code, e.executed, e.message]).toEqual(['RPC_ERR_UNAUTHENTICATED', 'no', 'Calc.echo: authorize threw: bug in the check']);
    expect(counts.runs).toBe(0);
  });

  it('serve() refuses an authorize that is not a function', () => {
    const net = new MemoryNetwork();
    const server = new RpcServer(net.endpoint(SERVER));
    closers.push(() => server.close());
    expect(() => server.serve(Calc, {} as never, { authorize: 'yes' as never })).toThrow(expect.objectContaining({ code: 'RPC_ERR_INVALID_ARGUMENT' }));
  });
});

describe('over keyed UDP endpoints', () => {
  it('a handler sees the calling endpoint\'s node id; a client with another key fails RPC_ERR_UNAUTHENTICATED, executed \'no\', naming the refusal, and nothing ran', async () => {
    const key = generateClusterKey();
    const srvEp = await eps.make({ key, nodeId: 'node-s' });
    const cliEp = await eps.make({ key, nodeId: 'node-c' });
    const badEp = await eps.make({ key: generateClusterKey(), nodeId: 'node-c' });
    const server = new RpcServer(srvEp);
    const counts = serveCalc(server);
    const client = new RpcClient(cliEp, { server: srvEp.address });
    const intruder = new RpcClient(badEp, { server: srvEp.address });
    closers.push(async () => {
      await client.close();
      await intruder.close();
      await server.close();
    });
    expect(await client.call(Calc, echo, [1])).toEqual({ peer: cliEp.address, peerId: 'node-c' });
    const e = await within(rpcFailure(intruder.call(Calc, echo, [2])), 5_000, 'the intruder\'s call');
    expect(e.code).toBe('RPC_ERR_UNAUTHENTICATED');
    expect(e.executed).toBe('no');
    expect(e.message).toMatch(/^Calc\.echo: server 127\.0\.0\.1:\d+ refused this endpoint: .* did not authenticate under its cluster key/);
    expect((e.cause as { code?: string }).code).toBe('TRANSPORT_ERR_REFUSED');
    expect(counts.runs).toBe(1);
    expect(srvEp.stats().bad.auth).toBeGreaterThan(0);
  });
});
