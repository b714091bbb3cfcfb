import { describe, expect, it, vi } from 'vitest';

// Each test file runs in its own process, so this decides how msgpackr loads here.
vi.stubEnv('MSGPACKR_NATIVE_ACCELERATION_DISABLED', 'true');

describe('rpc/codec without the msgpackr native add-on', () => {
  it('encodes and decodes every value kind the IDL uses', async () => {
    const { isNativeAccelerationEnabled } = await import('msgpackr');
    const { encode, decode } = await import('../rpc/codec.js');
    expect(isNativeAccelerationEnabled).toBe(false);
    const value = {
      s: 'pagewire é€ 😀'.repeat(20), n: -123456, f: 0.1, t: true, b: new Uint8Array([0, 1, 255]),
      big: -(2n ** 63n), ubig: 2n ** 64n - 1n, list: [{ a: [1, 2] }, null], nested: { deep: { x: 'y' } },
    };
    expect(decode(encode(value))).toEqual(value);
    expect(decode(Buffer.from(encode({ b: new Uint8Array(4) })))).toEqual({ b: new Uint8Array(4) });
  });
});
