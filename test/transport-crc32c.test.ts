/** CRC32C: the native add-on and the pure table give one answer; the pure one takes over when the add-on cannot load. */
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crc32c, crc32cImplementation, crc32cPure, crc32cTrailerValid, loadNativeCrc32c, NATIVE_MIN_BYTES,
} from '../transport/crc32c.js';
import { ROOT } from './support/run.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7 + (i >> 3)) & 0xff);

function withTrailer(body: Uint8Array): Uint8Array {
  const b = new Uint8Array(body.length + 4);
  b.set(body);
  new DataView(b.buffer).setUint32(body.length, crc32cPure(body));
  return b;
}

describe('CRC32C', () => {
  it('matches the check value for "123456789" in both implementations (the test vectors: transport-codec.test.ts)', () => {
    const check = Buffer.from('123456789');
    expect(crc32cPure(check)).toBe(0xe3069283);
    const native = loadNativeCrc32c();
    if (native !== undefined) expect(native(check)).toBe(0xe3069283);
  });

  it('uses the native add-on on this machine (it ships a prebuilt binary for linux-x64)', () => {
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(crc32cImplementation).toBe('native');
      expect(loadNativeCrc32c()).toBeTypeOf('function');
    } else {
      expect(['native', 'pure']).toContain(crc32cImplementation);
    }
  });

  it('gives the pure answer for every range, length and running start (native from NATIVE_MIN_BYTES up)', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }),
      (b, x, y, running) => {
        const start = b.length === 0 ? 0 : x % b.length;
        const end = start + (b.length === 0 ? 0 : y % (b.length - start + 1));
        expect(crc32c(b, start, end, running)).toBe(crc32cPure(b, start, end, running));
      }), { numRuns: 500 });
    // Straddling the threshold, where the two implementations take over from each other.
    for (let n = NATIVE_MIN_BYTES - 9; n <= NATIVE_MIN_BYTES + 9; n++) expect(crc32c(bytes(n))).toBe(crc32cPure(bytes(n)));
  });

  it('checks a datagram trailer: valid as written, invalid after any one flipped bit, on both sides of the threshold', () => {
    for (const n of [0, 1, 30, NATIVE_MIN_BYTES - 1, NATIVE_MIN_BYTES, NATIVE_MIN_BYTES + 1, 1196, 4000]) {
      const d = withTrailer(bytes(n, n));
      expect(crc32cTrailerValid(d), `length ${n}`).toBe(true);
      for (let bit = 0; bit < d.length * 8; bit += n > 500 ? 97 : 1) {
        d[bit >>> 3]! ^= 1 << (bit & 7);
        expect(crc32cTrailerValid(d), `length ${n}, bit ${bit}`).toBe(false);
        d[bit >>> 3]! ^= 1 << (bit & 7);
      }
    }
    expect(crc32cTrailerValid(new Uint8Array(3))).toBe(false);
  });

  it('falls back to the pure one when the add-on cannot load, lacks the function, or answers wrongly', () => {
    expect(loadNativeCrc32c(() => {
      throw new Error('Cannot find module @node-rs/crc32-linux-x64-gnu');
    })).toBeUndefined();
    expect(loadNativeCrc32c(() => ({}))).toBeUndefined();
    expect(loadNativeCrc32c(() => ({ crc32c: () => 0 }))).toBeUndefined();
    expect(loadNativeCrc32c(() => ({ crc32c: (b: Uint8Array) => crc32cPure(b) }))).toBeTypeOf('function');
  });

  it('with PAGEWIRE_CRC32C=pure a process runs the pure one, and two endpoints exchange multi-fragment messages intact', async () => {
    const script = `
      const { crc32cImplementation } = await import(${JSON.stringify(`${ROOT}dist/transport/crc32c.js`)});
      const { createEndpoint } = await import(${JSON.stringify(`${ROOT}dist/transport/index.js`)});
      const a = await createEndpoint({}), b = await createEndpoint({});
      const got = [];
      b.on('message', (m) => got.push(Buffer.from(m.data)));
      const msgs = Array.from({ length: 20 }, (_, i) => Buffer.alloc(3000 + i, i + 1));
      await Promise.all(msgs.map((m) => a.send(b.address, m)));
      const ok = got.length === 20 && got.every((g, i) => g.equals(msgs[i]));
      console.log(JSON.stringify({ impl: crc32cImplementation, ok, badChecksum: b.stats().bad.badChecksum }));
      await a.close(); await b.close();`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, PAGEWIRE_CRC32C: 'pure' }, stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      child.stdout.on('data', (d) => (s += d));
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (code) => {
        clearTimeout(t);
        if (code === 0) resolve(s);
        else reject(new Error(`child exited ${code}: ${s}`));
      });
    });
    expect(JSON.parse(out.trim())).toEqual({ impl: 'pure', ok: true, badChecksum: 0 });
  });
});
