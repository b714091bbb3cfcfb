/**
 * The RPC runtime and generated stubs over the real UDP transport, client and server in
 * separate processes: the chapter's example interface, hostile and mismatched input, and
 * @pool procedures on worker threads. The server is test/fixtures/rpc-udp/server.ts, run
 * compiled from dist/ (npm test builds first).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isRpcError, type RpcError } from '../rpc/errors.js';
import { decodeMessage, RpcClient, HEADER_BYTES } from '../rpc/runtime/index.js';
import { encodeRequestBody, frame, MsgType, type RpcMessage } from '../rpc/runtime/wire.js';
import { ChapterClient, ChapterDescriptor } from '../rpc/examples/chapter.stubs.js';
import type { InterfaceDescriptor } from '../rpc/contract.js';
import { createEndpoint, type MessageEvent } from '../transport/index.js';
import { killAll, startServer } from './fixtures/rpc-udp/spawn.js';
import { closeClients, connect, report } from './fixtures/rpc-udp/client.js';
import { waitFor, within } from './support/wait.js';

afterEach(async () => {
  await closeClients();
  await killAll();
});

async function failure(p: Promise<unknown>): Promise<RpcError> {
  const e = await within(p.then(() => undefined, (x: unknown) => x), 10_000, 'call to settle');
  if (!isRpcError(e)) throw new Error(`expected an RpcError, got ${String(e)}`);
  return e;
}

describe('RPC over UDP, client and server in separate processes', () => {
  it('calls the chapter example func1 and func2 through the generated ChapterClient and gets their results', async () => {
    const srv = await startServer();
    const c = await connect(srv.address);
    await expect(c.chapter.func1(21)).resolves.toBe(42);
    await expect(c.chapter.func2(40, 2)).resolves.toBe(42);
    await expect(c.chapter.func2(-2_000_000_000, -147_483_648)).resolves.toBe(-2_147_483_648);
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => c.chapter.func2(i, 1000)));
    expect(many).toEqual(Array.from({ length: 200 }, (_, i) => i + 1000));
    const r = await report(c);
    expect(r.counts).toMatchObject({ func1: 1, func2: 202 });
    expect(c.rpc.stats()).toMatchObject({ replies: 204, errors: {}, outstanding: 0 });
    // A stub rejects an argument the interface does not allow before anything is sent.
    const bad = await failure(c.chapter.func1(2 ** 31));
    expect(bad).toMatchObject({ code: 'RPC_ERR_INVALID_ARGS', executed: 'no' });
    expect(bad.message).toMatch(/^Chapter\.func1: args\[0\]: expected int32, got number 2147483648$/);
  });

  it('answers malformed messages, wrong argument types and unknown interface/version/procedure with typed errors, and keeps serving', async () => {
    const srv = await startServer();
    const c = await connect(srv.address);
    await expect(c.chapter.func1(1)).resolves.toBe(2);

    // Raw bytes through a transport endpoint of its own (no RPC client behind it).
    const raw = await createEndpoint({ nodeId: 'raw' });
    const got: MessageEvent[] = [];
    raw.on('message', (m) => got.push(m));
    try {
      const garbage = [
        new Uint8Array(0),
        Uint8Array.from([1, 2, 3]),
        new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'),
        Uint8Array.from({ length: 200 }, (_, i) => (i * 37 + 11) & 0xff),
      ];
      for (const g of garbage) await raw.send(srv.address, g);
      // A sound REQUEST header whose body is not msgpack: answered MALFORMED, executed 'no'.
      const h = { clientId: 0x1234n, clientInc: 7, seq: 1, serverInc: 0, ackBelow: 1 };
      const junkBody = frame(MsgType.REQUEST, h, Uint8Array.from([0xc1, 0xc1, 0xc1]));
      await raw.send(srv.address, junkBody);
      // The same header with a well-formed body that names Chapter.func1 with a string argument.
      const wrongType = frame(MsgType.REQUEST, { ...h, seq: 2 }, encodeRequestBody('Chapter', 1, 1, 'func1', ['twenty-one']));
      await raw.send(srv.address, wrongType);
      // Flags must be 0: dropped without an answer.
      const flagged = frame(MsgType.REQUEST, { ...h, seq: 3 }, encodeRequestBody('Chapter', 1, 1, 'func1', [1]));
      flagged[3] = 0x80;
      await raw.send(srv.address, flagged);
      await waitFor(() => got.length >= 2, 'the server to answer the two requests with readable call ids');
      const answers = got.map((m) => decodeMessage(m.data)).map((r) => (r.ok ? r.msg : undefined));
      const bySeq = new Map(answers.filter((a): a is Extract<RpcMessage, { kind: 'error' }> => a?.kind === 'error').map((a) => [a.h.seq, a]));
      expect(bySeq.get(1)).toMatchObject({ code: 'RPC_ERR_MALFORMED', executed: 'no', h: { clientId: 0x1234n, clientInc: 7 } });
      expect(bySeq.get(1)!.message).toMatch(/^request could not be decoded: /);
      expect(bySeq.get(2)).toMatchObject({ code: 'RPC_ERR_INVALID_ARGS', executed: 'no', message: 'Chapter.func1: args[0]: expected int32, got "twenty-one"' });
      expect(got.every((m) => m.data.length >= HEADER_BYTES)).toBe(true);
    } finally {
      await raw.close();
    }

    // Mismatched descriptors through a real RpcClient: each gets its typed error, executed 'no'.
    const lax = (d: InterfaceDescriptor): InterfaceDescriptor => ({
      ...d, procedures: d.procedures.map((p) => ({ ...p, checkArgs: (a: unknown) => a as unknown[] })),
    });
    const func1 = ChapterDescriptor.procedures[0]!;
    const func2 = ChapterDescriptor.procedures[1]!;
    const cases: Array<{ iface: InterfaceDescriptor; proc: typeof func1; args: unknown[]; code: string; message: string }> = [
      { iface: lax(ChapterDescriptor), proc: lax(ChapterDescriptor).procedures[1]!, args: [1, 'two'], code: 'RPC_ERR_INVALID_ARGS', message: 'Chapter.func2: args[1]: expected int32, got "two"' },
      { iface: lax(ChapterDescriptor), proc: lax(ChapterDescriptor).procedures[0]!, args: [1, 2, 3], code: 'RPC_ERR_INVALID_ARGS', message: 'Chapter.func1: args: expected 1 argument, got array(3)' },
      { iface: { ...ChapterDescriptor, name: 'Nope' }, proc: func1, args: [1], code: 'RPC_ERR_UNKNOWN_INTERFACE', message: 'Nope.func1: interface Nope is not served here' },
      { iface: { ...ChapterDescriptor, version: 2 }, proc: func1, args: [1], code: 'RPC_ERR_VERSION_MISMATCH', message: 'Chapter.func1: interface Chapter is served at version 1, not 2' },
      { iface: ChapterDescriptor, proc: { ...func1, id: 3, name: 'func3' }, args: [1], code: 'RPC_ERR_UNKNOWN_PROCEDURE', message: 'Chapter.func3: interface Chapter version 1 has no procedure func3 (#3)' },
      { iface: ChapterDescriptor, proc: { ...func2, id: 1 }, args: [1, 2], code: 'RPC_ERR_UNKNOWN_PROCEDURE', message: 'Chapter.func2: interface Chapter version 1 has no procedure func2 (#1)' },
    ];
    for (const k of cases) {
      const e = await failure(c.rpc.call(k.iface, k.proc, k.args));
      expect({ code: e.code, executed: e.executed, message: e.message }).toEqual({ code: k.code, executed: 'no', message: k.message });
    }

    // Still serving, and nothing above ran a handler.
    const again = new ChapterClient(c.rpc);
    await expect(again.func2(20, 22)).resolves.toBe(42);
    const r = await report(c);
    expect(r.counts).toEqual({ func1: 1, func2: 1 });
    expect(r.server.malformedDropped).toBeGreaterThanOrEqual(6); // 4 garbage + junk body + flagged
    expect(r.server.errors).toMatchObject({
      RPC_ERR_MALFORMED: 1, RPC_ERR_INVALID_ARGS: 3, RPC_ERR_UNKNOWN_INTERFACE: 1, RPC_ERR_VERSION_MISMATCH: 1, RPC_ERR_UNKNOWN_PROCEDURE: 2,
    });
    expect(srv.child.exitCode).toBeNull();
  });

  it('runs a CPU-bound @pool procedure on worker threads of the server process with correct results', async () => {
    const srv = await startServer({ poolThreads: 2 });
    const c = await connect(srv.address, {}, { probeTimeoutMs: 10_000 });
    const { chainHash } = await import('../rpc/examples/lab-handlers.js');
    const seeds = ['a', 'b', 'c', 'd', 'e', 'f'];
    const out = await within(Promise.all(seeds.map((s, i) => c.lab.hash(2_000 + i, s))), 20_000, 'pool calls');
    for (let i = 0; i < seeds.length; i++) {
      expect(out[i]!.hex).toBe(chainHash(2_000 + i, seeds[i]!).hex);
      expect(out[i]!.threadId).toBeGreaterThan(0); // a worker thread, not the main one (0)
    }
    // The procedure not marked @pool runs on the server's main thread.
    const inline = await c.lab.hashInline(10, 'x');
    expect(inline).toEqual({ hex: chainHash(10, 'x').hex, threadId: 0 });
    const r = await report(c);
    expect(r.server.poolRuns).toBe(seeds.length);
    expect(r.counts).toEqual({ hashInline: 1 }); // pool handlers run in workers: not counted in the main thread
  });

});
