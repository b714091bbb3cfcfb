/**
 * How failures reach application threads: a fault handler's bug is DSM_ERR_INTERNAL, never a lost
 * page; the runtime's full reason travels to the application as the error's `cause`; timeouts
 * and missing quorums are retried on the next access; lock words record their holder, and a wait
 * for a lock whose holder was declared dead ends with DSM_ERR_LOCK_HOLDER_DEAD naming it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppMemory, createDsmBuffers, PageStore, startFaultThread, type FaultThread } from '../dsm/memory/index.js';
import { fakeHandlerModule } from './fixtures/dsm-memory/harness.js';

const PS = 4096;
let rt: FaultThread | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function setup() {
  const buffers = createDsmBuffers({ pageSize: PS, pageCount: 16, maxThreads: 4 });
  rt = await startFaultThread(buffers, { handlerModule: fakeHandlerModule, handlerOptions: { delayMs: 1 } });
  return { mem: new AppMemory(buffers, { faultTimeoutMs: 3_000 }), rt };
}

function thrown(f: () => unknown): Error & { code?: string; node?: number; page?: number; cause?: unknown } {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('failures seen by application threads', () => {
  it('a fault handler that throws is reported as DSM_ERR_INTERNAL (a bug), not as a lost page, with its message as the cause', async () => {
    const { mem, rt } = await setup();
    await rt.call({ op: 'throw', page: 3, message: 'TypeError: x is undefined' });
    const e = thrown(() => mem.u32[(3 * PS) >>> 2]);
    expect(e).toMatchObject({ code: 'DSM_ERR_INTERNAL', page: 3 });
    expect(e.message).toMatch(/a protocol error \(a bug, not a verdict on the data\)/);
    expect((e.cause as Error).message).toMatch(/the fault handler failed: TypeError: x is undefined/);
  });

  it("the runtime's full reason (with its RPC cause) arrives as the error's cause", async () => {
    const { mem, rt } = await setup();
    const why = 'page 5: its only valid copy was on node 2, which was declared dead (Ivy.serve: RPC_ERR_UNREACHABLE: peer 127.0.0.1:7002 did not acknowledge)';
    await rt.call({ op: 'fail', page: 5, code: 'DSM_ERR_PAGE_LOST', node: 2, message: why });
    const e = thrown(() => mem.u32[(5 * PS) >>> 2]);
    expect(e).toMatchObject({ code: 'DSM_ERR_PAGE_LOST', node: 2, page: 5 });
    expect((e.cause as Error).message).toBe(why);
  });

  it('DSM_ERR_NO_QUORUM is no verdict: once recorded, the next access asks again and can succeed', async () => {
    const { mem, rt } = await setup();
    await rt.call({ op: 'fail', page: 6, code: 'DSM_ERR_NO_QUORUM', node: 1, now: true });
    await rt.call({ op: 'clear', page: 6 });
    expect(mem.u32[(6 * PS) >>> 2]).toBe(0);
    // A verdict (a lost page) recorded earlier is not asked again.
    await rt.call({ op: 'fail', page: 7, code: 'DSM_ERR_PAGE_LOST', node: 1, now: true });
    await rt.call({ op: 'clear', page: 7 });
    expect(thrown(() => mem.u32[(7 * PS) >>> 2])).toMatchObject({ code: 'DSM_ERR_PAGE_LOST' });
  });

  it('a waiter on a lock whose holder is declared dead gets DSM_ERR_LOCK_HOLDER_DEAD naming it', async () => {
    const { mem, rt } = await setup();
    const lock = 8 * PS;
    mem.u32[lock >>> 2] = 0;
    mem.u32[lock >>> 2] = 5 + 1; // held by node 5
    expect(thrown(() => mem.lock(lock, 50))).toMatchObject({ code: 'DSM_ERR_FAULT_TIMEOUT', node: 5 });
    await rt.call({ op: 'dead', node: 5 });
    const t0 = performance.now();
    const e = thrown(() => mem.lock(lock, 5_000));
    expect(performance.now() - t0).toBeLessThan(100);
    expect(e).toMatchObject({ code: 'DSM_ERR_LOCK_HOLDER_DEAD', node: 5, address: lock, page: 8 });
    expect(e.message).toBe('lock at 0x00008000 is held by node 5, which was declared dead while holding it');
  });
});

describe('lock words record their holder', () => {
  it("lock() stores this node's id + 1; unlock() by a node that does not hold it throws and changes nothing", () => {
    const buffers = createDsmBuffers({ pageSize: PS, pageCount: 4, maxThreads: 2, nodeId: 7 });
    const store = new PageStore(buffers);
    store.install(1, null, 'write');
    const mem = new AppMemory(buffers);
    const lock = PS;
    mem.lock(lock);
    expect(mem.u32[lock >>> 2]).toBe(8);
    mem.unlock(lock);
    expect(mem.u32[lock >>> 2]).toBe(0);
    expect(thrown(() => mem.unlock(lock))).toMatchObject({ code: 'DSM_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/it was not locked/) });
    mem.u32[lock >>> 2] = 3; // node 2 holds it
    expect(thrown(() => mem.unlock(lock))).toMatchObject({ message: expect.stringMatching(/it is held by node 2, not this node \(7\)/) });
    expect(mem.u32[lock >>> 2]).toBe(3);
    expect(() => createDsmBuffers({ nodeId: 70_000 })).toThrow(/nodeId must be an integer from 0 to 65535/);
  });
});
