/**
 * Synchronous page faults through a real fault thread (startFaultThread + the fake page source): this
 * thread blocks in Atomics.wait until the fault thread installs or fails the page. Needs the
 * compiled dist/ (npx tsc -p .).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppMemory, createDsmBuffers, startFaultThread, type FaultThread } from '../dsm/memory/index.js';
import { isDsmError } from '../dsm/errors.js';
import { fakeHandlerModule, runApp } from './fixtures/dsm-memory/harness.js';

const PS = 4096;
let rt: FaultThread | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

async function setup(delayMs = 5) {
  const buffers = createDsmBuffers({ pageSize: PS, pageCount: 64, maxThreads: 8 });
  rt = await startFaultThread(buffers, { handlerModule: fakeHandlerModule, handlerOptions: { delayMs } });
  const mem = new AppMemory(buffers, { faultTimeoutMs: 3_000 });
  return { buffers, mem, rt };
}

function pageWith(words: Record<number, number>): Uint8Array {
  const b = new Uint8Array(PS);
  const dv = new DataView(b.buffer);
  for (const [off, v] of Object.entries(words)) dv.setUint32(Number(off), v, true);
  return b;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('dsm/memory page faults', () => {
  it('a read fault blocks until the handler installs the page, then returns the installed value', async () => {
    const { mem, rt } = await setup(20);
    await rt.call({ op: 'set', page: 3, bytes: pageWith({ 8: 0xdeadbeef }) });
    const t0 = performance.now();
    expect(mem.u32[(3 * PS + 8) >>> 2]).toBe(0xdeadbeef);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(15); // it really waited for the 20 ms handler delay
    expect(mem.stats.readFaults).toBe(1);
    expect(await rt.call({ op: 'rights', page: 3 })).toBe('read');
    expect(mem.u32[(3 * PS + 12) >>> 2]).toBe(0); // no second fault
    expect(mem.stats.readFaults).toBe(1);
  });

  it('a write on a read copy faults again and upgrades it to write', async () => {
    const { mem, rt } = await setup(1);
    expect(mem.u32[(4 * PS) >>> 2]).toBe(0);
    mem.u32[(4 * PS) >>> 2] = 42;
    expect(mem.stats).toMatchObject({ readFaults: 1, writeFaults: 1 });
    expect(await rt.call({ op: 'rights', page: 4 })).toBe('write');
    const copy = (await rt.call({ op: 'invalidate', page: 4 })) as Uint8Array;
    expect(new DataView(copy.buffer, copy.byteOffset).getUint32(0, true)).toBe(42);
    // Faulting it back brings the kept contents.
    expect(mem.u32[(4 * PS) >>> 2]).toBe(42);
    mem.add32(4 * PS, 1);
    expect(mem.u32[(4 * PS) >>> 2]).toBe(43);
  });

  it('a failed fault throws DSM_ERR_PAGE_LOST naming address, page and node, and keeps failing', async () => {
    const { mem, rt } = await setup(1);
    await rt.call({ op: 'fail', page: 9, code: 'DSM_ERR_PAGE_LOST', node: 2 });
    const e = thrown(() => mem.u32[(9 * PS + 20) >>> 2]) as Record<string, unknown>;
    expect(e).toMatchObject({ name: 'DsmError', code: 'DSM_ERR_PAGE_LOST', address: 9 * PS + 20, page: 9, node: 2 });
    expect(String(e.message)).toMatch(/0x00009014.*page 9.*node 2/);
    expect(thrown(() => (mem.u8[9 * PS] = 1))).toMatchObject({ code: 'DSM_ERR_PAGE_LOST', page: 9 });
    // Other pages are unaffected.
    expect(mem.u32[(10 * PS) >>> 2]).toBe(0);
  });

  it('a page failed by a timeout is asked for again on the next access, unlike a lost page', async () => {
    const { mem, rt } = await setup(1);
    // Both pages get a failure recorded now; then the source could serve them again.
    await rt.call({ op: 'fail', page: 13, code: 'DSM_ERR_FAULT_TIMEOUT', now: true });
    await rt.call({ op: 'fail', page: 14, code: 'DSM_ERR_PAGE_LOST', node: 3, now: true });
    await rt.call({ op: 'clear', page: 13 });
    await rt.call({ op: 'clear', page: 14 });
    // The timeout was recorded before this access: not a verdict on the page, so it is asked again.
    expect(mem.u32[(13 * PS) >>> 2]).toBe(0);
    expect(mem.stats.readFaults).toBe(1);
    expect(await rt.call({ op: 'rights', page: 13 })).toBe('read');
    // A lost page stays lost (only a new install clears it).
    expect(thrown(() => mem.u32[(14 * PS) >>> 2])).toMatchObject({ code: 'DSM_ERR_PAGE_LOST', page: 14, node: 3 });
  });

  it('a fault the runtime never answers ends in DSM_ERR_FAULT_TIMEOUT, bounded', async () => {
    const { buffers, rt } = await setup(1);
    await rt.call({ op: 'stall', page: 11 });
    const mem = new AppMemory(buffers, { faultTimeoutMs: 150 });
    const t0 = performance.now();
    expect(thrown(() => mem.u32[(11 * PS) >>> 2])).toMatchObject({ code: 'DSM_ERR_FAULT_TIMEOUT', page: 11, address: 11 * PS });
    expect(performance.now() - t0).toBeLessThan(1_500);
    mem.close();
  });

  it('closing the runtime wakes a blocked app thread with DSM_ERR_CLOSED', async () => {
    const { buffers, rt } = await setup(1);
    await rt.call({ op: 'stall', page: 12 });
    const pending = runApp(buffers, { kind: 'read', addrs: [12 * PS] }, { faultTimeoutMs: 10_000 });
    // The app thread is blocked once the runtime has the fault in hand.
    for (let i = 0; i < 500; i++) {
      const s = (await rt.call({ op: 'stats' })) as { faults: { read: number } };
      if (s.faults.read > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    await rt.close();
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 'DSM_ERR_CLOSED', page: 12 });
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  it('startFaultThread rejects a handler module that does not exist', async () => {
    const buffers = createDsmBuffers({ pageCount: 4 });
    const e = await startFaultThread(buffers, { handlerModule: '/nonexistent/handler.js' }).catch((x: unknown) => x);
    expect(isDsmError(e, 'DSM_ERR_INVALID_ARGUMENT')).toBe(true);
  });
});
