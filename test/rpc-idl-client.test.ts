import { describe, expect, expectTypeOf, it } from 'vitest';
import { decode, encode } from '../rpc/codec.js';
import type { CallContext, Caller, HandlerTable, InterfaceDescriptor, ProcedureDescriptor } from '../rpc/contract.js';
import { RpcError, ValidationError } from '../rpc/errors.js';
import { ChapterClient, ChapterDescriptor, type ChapterHandlers } from '../rpc/examples/chapter.stubs.js';
import { KitchenClient, type KitchenHandlers } from '../rpc/examples/kitchen.stubs.js';

/**
 * A Caller that plays both ends in-process: marshals the arguments, dispatches to the
 * handler through the descriptor (validating on the "server" side, as the runtime will),
 * and marshals the result back.
 */
class LoopbackCaller implements Caller {
  readonly calls: string[] = [];
  constructor(private readonly handlers: HandlerTable, private readonly validateServerSide = true) {}

  async call(iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[]): Promise<unknown> {
    this.calls.push(`${iface.name}.${proc.id}`);
    const served = iface.procedures.find((p) => p.id === proc.id)!;
    const decoded = decode(encode(args));
    const checked = this.validateServerSide ? served.checkArgs(decoded) : (decoded as unknown[]);
    const ctx: CallContext = { peer: '127.0.0.1:9', callId: 'c/1/1' };
    const result = await this.handlers[served.name]!(...checked, ctx);
    return decode(encode(this.validateServerSide ? served.checkResult(result) : result));
  }
}

describe('generated client over an in-process caller', () => {
  const chapter: ChapterHandlers = {
    func1: (arg1) => arg1 + 1,
    func2: async (arg1, arg2, ctx) => {
      expect(ctx.peer).toBe('127.0.0.1:9');
      return arg1 * arg2;
    },
  };

  it("calls the chapter's func1 and func2 end to end with typed results", async () => {
    const caller = new LoopbackCaller(chapter);
    const client = new ChapterClient(caller);
    const one = client.func1(41);
    expectTypeOf(one).toEqualTypeOf<Promise<number>>();
    expect(await one).toBe(42);
    expect(await client.func2(6, 7, { timeoutMs: 100 })).toBe(42);
    expect(caller.calls).toEqual(['Chapter.1', 'Chapter.2']);
  });

  it('handler tables satisfy the runtime contract', () => {
    expectTypeOf<ChapterHandlers>().toMatchTypeOf<HandlerTable>();
    expectTypeOf<KitchenHandlers>().toMatchTypeOf<HandlerTable>();
    expect(ChapterDescriptor.procedures.map((p) => p.name)).toEqual(Object.keys(chapter));
  });

  it('rejects a bad local call with RPC_ERR_INVALID_ARGS before anything is sent', async () => {
    const caller = new LoopbackCaller(chapter);
    const err = await new ChapterClient(caller).func1(1.5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: 'RPC_ERR_INVALID_ARGS', executed: 'no', message: 'Chapter.func1: args[0]: expected int32, got number 1.5' });
    expect((err as RpcError).cause).toBeInstanceOf(ValidationError);
    expect(caller.calls).toEqual([]);
  });

  it('refuses an extra positional argument instead of taking it as call options', async () => {
    const caller = new LoopbackCaller(chapter);
    const client = new ChapterClient(caller) as unknown as { func1(...a: unknown[]): Promise<number>; func2(...a: unknown[]): Promise<number> };
    const cases: [() => Promise<number>, string][] = [
      [() => client.func1(1, 2), 'Chapter.func1 takes 1 argument, then optional call options { timeoutMs, signal }; got 2 after them, and it is not an object'],
      [() => client.func2(1, 2, 3), 'Chapter.func2 takes 2 arguments, then optional call options { timeoutMs, signal }; got 3 after them, and it is not an object'],
      [() => client.func1(1, 'x'), 'Chapter.func1 takes 1 argument, then optional call options { timeoutMs, signal }; got "x" after them, and it is not an object'],
      [() => client.func1(1, [5]), 'Chapter.func1 takes 1 argument, then optional call options { timeoutMs, signal }; got an array(1) after them, and it is not an object'],
      [() => client.func1(1, { timeout: 5 }), "Chapter.func1 takes 1 argument, then optional call options { timeoutMs, signal }; got an object after them, and it has no option 'timeout'"],
      [() => client.func1(1, null), 'Chapter.func1 takes 1 argument, then optional call options { timeoutMs, signal }; got null after them, and it is not an object'],
    ];
    for (const [call, message] of cases) {
      await expect(call()).rejects.toMatchObject({ code: 'RPC_ERR_INVALID_ARGS', executed: 'no', message });
    }
    expect(caller.calls).toEqual([]); // nothing was sent
    // Real options, and none at all, still work.
    expect(await client.func1(1, { timeoutMs: 1000, signal: new AbortController().signal })).toBe(2);
    expect(await client.func1(1, undefined)).toBe(2);
  });

  it('rejects a bad result with RPC_ERR_INVALID_RESULT, noting the call ran', async () => {
    const caller = new LoopbackCaller({ func1: () => 2 ** 31, func2: () => 0 }, false);
    const err = await new ChapterClient(caller).func1(1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RPC_ERR_INVALID_RESULT', executed: 'once', message: 'Chapter.func1: result: expected int32, got number 2147483648' });
  });

  it('lets errors from the caller through unchanged', async () => {
    const failing: Caller = { call: () => Promise.reject(new RpcError('RPC_ERR_UNREACHABLE', 'gone', { executed: 'maybe' })) };
    await expect(new ChapterClient(failing).func2(1, 2)).rejects.toMatchObject({ code: 'RPC_ERR_UNREACHABLE' });
  });

  it('carries structs, optionals, bytes, 64-bit ints and void through a richer interface', async () => {
    const handlers: KitchenHandlers = {
      submit: (job) => job.inputs.length,
      find: (id) => (id === 1 ? { id, name: 'one', priority: 0, inputs: [], weights: [], children: [], urgent: true } : undefined),
      compress: (blob, codec) => ({ ...blob, codec, data: blob.data.subarray(0, 1) }),
      ping: () => {},
      stats: () => ({ i8: 0, i16: 0, i32: 0, i64: 0n, u8: 0, u16: 0, u32: 0, u64: 0n, f32: 0, f64: 0, matrix: [] }),
      echo: (jobs, raw, big, huge) => jobs.map((j) => ({ ...j, name: `${j.name}:${raw.length}:${big + huge}` })),
    };
    const client = new KitchenClient(new LoopbackCaller(handlers));
    expect(await client.find(1)).toMatchObject({ id: 1, name: 'one' });
    expect(await client.find(2)).toBeUndefined();
    expect(await client.ping()).toBeUndefined();
    expect(await client.compress({ key: 2n ** 64n - 1n, data: new Uint8Array([9, 8]), codec: 0 }, 2))
      .toEqual({ key: 2n ** 64n - 1n, data: new Uint8Array([9]), codec: 2 });
    const [echoed] = await client.echo([{ id: 1, name: 'j', priority: 10, inputs: [], weights: [], children: [], urgent: false }], new Uint8Array(3), -1n, 2n);
    expect(echoed?.name).toBe('j:3:1');
  });
});
