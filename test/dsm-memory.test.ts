/**
 * The local page store without threads: Proxy views, struct helpers, address errors, and the
 * PageStore's rights changes, with the PageStore driven directly on this thread (no faults block:
 * every page touched is installed first, except in the timeout test, where nobody answers).
 */
import { describe, expect, it } from 'vitest';
import { AppMemory, createDsmBuffers, defineStruct, PageStore } from '../dsm/memory/index.js';
import { isDsmError } from '../dsm/errors.js';
import { attachLayout, P_GEN, P_IN_WRITE } from '../dsm/memory/layout.js';

const PS = 4096;

function setup(pageCount = 8, installed: number[] = [1, 2, 3]) {
  const buffers = createDsmBuffers({ pageSize: PS, pageCount, maxThreads: 4 });
  const store = new PageStore(buffers);
  for (const p of installed) store.install(p, null, 'write');
  const mem = new AppMemory(buffers, { faultTimeoutMs: 100 });
  return { buffers, store, mem };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('dsm/memory views', () => {
  it('reads and writes like typed arrays over the global space, across several pages', () => {
    const { mem, buffers } = setup();
    const raw32 = new Uint32Array(buffers.frames);
    for (let a = PS; a < 4 * PS; a += 4) mem.u32[a >>> 2] = (a * 2654435761) >>> 0;
    for (let a = PS; a < 4 * PS; a += 4) {
      expect(mem.u32[a >>> 2]).toBe((a * 2654435761) >>> 0);
      expect(raw32[a >>> 2]).toBe((a * 2654435761) >>> 0);
    }
    expect(mem.u32.length).toBe((8 * PS) / 4);
    expect(mem.u8.length).toBe(8 * PS);
    mem.i32[(PS + 8) >>> 2] = -5;
    expect(mem.i32[(PS + 8) >>> 2]).toBe(-5);
    expect(mem.u32[(PS + 8) >>> 2]).toBe(0xfffffffb);
    mem.u8[PS + 3] = 300; // wraps like a Uint8Array
    expect(mem.u8[PS + 3]).toBe(44);
    mem.f64[(2 * PS + 16) >>> 3] = Math.PI;
    expect(mem.f64[(2 * PS + 16) >>> 3]).toBe(Math.PI);
    mem.u16[(PS + 2) >>> 1] = 0xbeef;
    expect(mem.u16[(PS + 2) >>> 1]).toBe(0xbeef);
  });

  it('is little-endian, like DataView(..., true), for u32 and f64', () => {
    const { mem, buffers } = setup();
    const dv = new DataView(buffers.frames);
    mem.u32[(PS + 4) >>> 2] = 0x11223344;
    expect(dv.getUint32(PS + 4, true)).toBe(0x11223344);
    expect([mem.u8[PS + 4], mem.u8[PS + 5], mem.u8[PS + 6], mem.u8[PS + 7]]).toEqual([0x44, 0x33, 0x22, 0x11]);
    mem.f64[(PS + 64) >>> 3] = -1234.5678;
    expect(dv.getFloat64(PS + 64, true)).toBe(-1234.5678);
    dv.setFloat64(PS + 72, 6.02e23, true);
    expect(mem.f64[(PS + 72) >>> 3]).toBe(6.02e23);
  });

  it('throws DSM_ERR_NULL_POINTER for address 0 and any address in page 0', () => {
    const { mem } = setup();
    for (const f of [() => mem.u32[0], () => mem.u8[100], () => (mem.u32[5] = 1), () => mem.loadU32(0), () => mem.f64[(PS - 8) >>> 3]]) {
      const e = thrown(f);
      expect(isDsmError(e, 'DSM_ERR_NULL_POINTER'), String(e)).toBe(true);
      expect((e as { page: number }).page).toBe(0);
    }
    const e = thrown(() => mem.u32[25]) as { address: number; message: string };
    expect(e.address).toBe(100);
    expect(e.message).toMatch(/null pointer .*0x00000064/);
  });

  it('throws DSM_ERR_BAD_ADDRESS for out-of-range, negative and misaligned addresses', () => {
    const { mem } = setup();
    const outIdx = thrown(() => mem.u32[(8 * PS) >>> 2]) as { code: string; address: number };
    expect(outIdx.code).toBe('DSM_ERR_BAD_ADDRESS');
    expect(outIdx.address).toBe(8 * PS);
    expect(isDsmError(thrown(() => mem.u8[-1]), 'DSM_ERR_BAD_ADDRESS')).toBe(true);
    expect(isDsmError(thrown(() => (mem.u32[1e12] = 1)), 'DSM_ERR_BAD_ADDRESS')).toBe(true);
    const mis = thrown(() => mem.loadU32(PS + 2)) as { code: string; address: number; message: string };
    expect(mis.code).toBe('DSM_ERR_BAD_ADDRESS');
    expect(mis.address).toBe(PS + 2);
    expect(mis.message).toMatch(/not aligned to 4/);
    expect(isDsmError(thrown(() => mem.add32(PS + 1, 1)), 'DSM_ERR_BAD_ADDRESS')).toBe(true);
    expect(isDsmError(thrown(() => mem.loadF64(8 * PS)), 'DSM_ERR_BAD_ADDRESS')).toBe(true);
    // Non-numeric keys read as undefined (so inspectors and `await` do not trip).
    expect((mem.u32 as unknown as Record<string, unknown>)['then']).toBeUndefined();
  });

  it('validates layout options with messages that say what is allowed', () => {
    expect(() => createDsmBuffers({ pageSize: 1000 })).toThrow(/power of two/);
    expect(() => createDsmBuffers({ pageCount: 1 })).toThrow(/pageCount/);
    const e = thrown(() => createDsmBuffers({ maxThreads: 0 }));
    expect(isDsmError(e, 'DSM_ERR_INVALID_ARGUMENT')).toBe(true);
  });
});

describe('dsm/memory struct helpers', () => {
  it('lays fields out C-style and reads/writes them through get/set and at()', () => {
    const { mem, buffers } = setup();
    const Node = defineStruct(mem, { tag: 'u8', value: 'u32', weight: 'f64', next: 'ptr' });
    expect(Node.offsets).toEqual({ tag: 0, value: 4, weight: 8, next: 16 });
    expect(Node.size).toBe(24);
    const a = PS + 96;
    const b = 2 * PS + 48;
    Node.set.value(a, 7);
    Node.set.next(a, b);
    Node.set.weight(a, 0.5);
    const n = Node.at(a);
    expect(n.value).toBe(7);
    expect(n.weight).toBe(0.5);
    n.value += 1;
    expect(Node.get.value(a)).toBe(8);
    expect(new DataView(buffers.frames).getUint32(a + 4, true)).toBe(8);
    Node.at(n.next).value = 99;
    expect(mem.u32[(b + 4) >>> 2]).toBe(99);
    expect(Node.at(b).next).toBe(0);
    expect(isDsmError(thrown(() => Node.get.value(Node.at(b).next)), 'DSM_ERR_NULL_POINTER')).toBe(true);
  });
});

describe('dsm/memory PageStore (same thread)', () => {
  it('tracks rights; downgrade keeps a readable copy; invalidate returns the contents', async () => {
    const { store, mem } = setup(8, []);
    expect(store.rights(4)).toBe('none');
    const data = new Uint8Array(PS);
    new DataView(data.buffer).setUint32(12, 0xcafe, true);
    store.install(4, data, 'write');
    expect(store.rights(4)).toBe('write');
    expect(mem.u32[(4 * PS + 12) >>> 2]).toBe(0xcafe);
    mem.u32[(4 * PS + 16) >>> 2] = 77;
    const copy = await store.downgrade(4);
    expect(store.rights(4)).toBe('read');
    expect(new DataView(copy.buffer).getUint32(16, true)).toBe(77);
    expect(mem.u32[(4 * PS + 16) >>> 2]).toBe(77); // still readable
    const gone = await store.invalidate(4);
    expect(store.rights(4)).toBe('none');
    expect(new DataView(gone.buffer).getUint32(12, true)).toBe(0xcafe);
    expect(() => store.install(4, new Uint8Array(10), 'read')).toThrow(/exactly 4096 bytes/);
    store.install(4, null, 'write');
    expect(() => store.install(4, data, 'read')).toThrow(/would drop local writes/);
    await expect(store.downgrade(5)).rejects.toThrow(/not held/);
    expect(() => store.rights(0)).toThrow(/outside/);
  });

  it('downgrade/invalidate lower the rights first, then wait for the app thread that is mid-store (no lost write); readers are not waited for', async () => {
    const { store, buffers, mem } = setup(8, [2]);
    const { layout, ctl } = attachLayout(buffers);
    const inWrite = layout.pageWord(2) + P_IN_WRITE;
    const raw = new Uint32Array(buffers.frames);
    // Pretend an app thread passed its write-rights check and has not stored yet.
    Atomics.add(ctl, inWrite, 1);
    let done = false;
    const d = store.downgrade(2).then((c) => ((done = true), c));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false); // still waiting for the store
    expect(store.rights(2)).toBe('read'); // but new writers already fault
    expect(isDsmError(thrown(() => mem.storeU32(2 * PS, 1)), 'DSM_ERR_FAULT_TIMEOUT')).toBe(true);
    raw[(2 * PS + 4) >>> 2] = 0xabcd; // the in-flight store lands ...
    Atomics.sub(ctl, inWrite, 1); // ... and the thread leaves (the real leave() notifies; here the 1 ms re-poll finds it)
    const copy = await d;
    expect(new DataView(copy.buffer).getUint32(4, true)).toBe(0xabcd);
    // Readers announce nothing: an invalidation does not wait for them, and leaves the frame alone.
    const gen = Atomics.load(ctl, layout.pageWord(2) + P_GEN);
    const gone = await store.invalidate(2);
    expect(store.rights(2)).toBe('none');
    expect(new DataView(gone.buffer).getUint32(4, true)).toBe(0xabcd);
    expect(raw[(2 * PS + 4) >>> 2]).toBe(0xabcd);
    // Installing new contents moves GEN (the fault waiters' word) once.
    store.install(2, new Uint8Array(PS), 'read');
    expect(Atomics.load(ctl, layout.pageWord(2) + P_GEN)).toBe(gen + 1);
    expect(mem.u32[(2 * PS + 4) >>> 2]).toBe(0);
  });

  it('a drain that never ends is bounded: the call rejects and the old rights come back', async () => {
    const buffers = createDsmBuffers({ pageSize: PS, pageCount: 4, maxThreads: 2 });
    const store = new PageStore(buffers, { drainTimeoutMs: 50 });
    store.install(1, null, 'write');
    const { layout, ctl } = attachLayout(buffers);
    Atomics.add(ctl, layout.pageWord(1) + P_IN_WRITE, 1); // a thread that died mid-store
    await expect(store.downgrade(1)).rejects.toMatchObject({ code: 'DSM_ERR_FAULT_TIMEOUT', page: 1 });
    expect(store.rights(1)).toBe('write');
  });

  it('a fault nobody answers ends in DSM_ERR_FAULT_TIMEOUT naming address and page', () => {
    const { mem } = setup(8, []);
    const t0 = performance.now();
    const e = thrown(() => mem.u32[(5 * PS + 8) >>> 2]) as { code: string; address: number; page: number };
    expect(e.code).toBe('DSM_ERR_FAULT_TIMEOUT');
    expect(e.address).toBe(5 * PS + 8);
    expect(e.page).toBe(5);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('a recorded failure is thrown by faults until the page is installed; a read copy stays readable', () => {
    const { store, mem } = setup(8, []);
    store.fail(6, { code: 'DSM_ERR_PAGE_LOST', message: 'x', node: 3 });
    const e = thrown(() => mem.u32[(6 * PS) >>> 2]) as { code: string; node: number; page: number; address: number; message: string };
    expect(e).toMatchObject({ code: 'DSM_ERR_PAGE_LOST', node: 3, page: 6, address: 6 * PS });
    expect(e.message).toMatch(/page 6.*node 3/);
    store.install(6, null, 'read');
    expect(mem.u32[(6 * PS) >>> 2]).toBe(0);
    store.fail(6, { code: 'DSM_ERR_MANAGER_DEAD', message: 'y', node: 1 });
    expect(mem.u32[(6 * PS) >>> 2]).toBe(0); // read rights still held
    expect(thrown(() => (mem.u32[(6 * PS) >>> 2] = 1))).toMatchObject({ code: 'DSM_ERR_MANAGER_DEAD', node: 1, page: 6 });
  });

  it('cas32, add32 and lock/unlock on one thread', () => {
    const { mem } = setup();
    const a = PS + 40;
    expect(mem.cas32(a, 0, 5)).toBe(0);
    expect(mem.cas32(a, 0, 6)).toBe(5);
    expect(mem.add32(a, 10)).toBe(5);
    expect(mem.i32[a >>> 2]).toBe(15);
    mem.lock(a + 4);
    expect(mem.u32[(a + 4) >>> 2]).toBe(1);
    expect(thrown(() => mem.lock(a + 4, 20))).toMatchObject({ code: 'DSM_ERR_FAULT_TIMEOUT', address: a + 4 });
    mem.unlock(a + 4);
    expect(() => mem.unlock(a + 4)).toThrow(/not locked/);
  });

  it('hands out at most maxThreads mailbox slots and takes them back on close()', () => {
    const { buffers, mem } = setup();
    const more = [1, 2, 3].map(() => new AppMemory(buffers));
    expect(isDsmError(thrown(() => new AppMemory(buffers)), 'DSM_ERR_INVALID_ARGUMENT')).toBe(true);
    more[0]!.close();
    new AppMemory(buffers).close();
    mem.close();
    expect(isDsmError(thrown(() => mem.u32[(7 * PS) >>> 2]), 'DSM_ERR_CLOSED')).toBe(true);
  });
});
