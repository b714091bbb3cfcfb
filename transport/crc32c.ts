/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, SCTP and ext4.
 *
 * Two implementations, one answer:
 * - native: @node-rs/crc32 (a prebuilt add-on using the CPU's CRC32 instruction, SSE4.2 on x86,
 *   the CRC extension on ARM), loaded when it can be (its per-platform package ships the binary, no
 *   install script); used from NATIVE_MIN_BYTES up, where it beats the table even with the cost of
 *   a call into native code;
 * - pure: slicing-by-8 in JavaScript (eight 256-entry tables consume 8 bytes per iteration), for
 *   short inputs and wherever the add-on cannot load (another platform, a bundler, a sandbox). Set
 *   PAGEWIRE_CRC32C=pure to use it everywhere.
 *
 * Why Castagnoli and not the zip CRC-32: its Hamming distance is 4 up to 2^31 bits, so every
 * corruption of 3 bits or fewer in a datagram of any size we send is caught (the fault
 * injector flips 1-3 bits, so corrupted datagrams are always detected, never delivered).
 */
import { createRequire } from 'node:module';

const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t0[i] = c >>> 0;
  }
  t.push(t0);
  for (let s = 1; s < 8; s++) {
    const prev = t[s - 1]!;
    const cur = new Uint32Array(256);
    for (let i = 0; i < 256; i++) cur[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    t.push(cur);
  }
  return t;
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
];

/** CRC32C of bytes[start, end) in JavaScript (slicing-by-8). Pass a previous result as `crc` to continue. */
export function crc32cPure(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  let i = start;
  const stop8 = end - ((end - start) & 7);
  while (i < stop8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    c =
      T7[lo & 0xff]! ^ T6[(lo >>> 8) & 0xff]! ^ T5[(lo >>> 16) & 0xff]! ^ T4[lo >>> 24]! ^
      T3[bytes[i + 4]!]! ^ T2[bytes[i + 5]!]! ^ T1[bytes[i + 6]!]! ^ T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = (c >>> 8) ^ T0[(c ^ bytes[i++]!) & 0xff]!;
  return ~c >>> 0;
}

/** The add-on's signature: CRC32C of all of `input`, continuing from `initial`. */
export type NativeCrc32c = (input: Uint8Array, initial?: number) => number;

/**
 * Load the native CRC32C, or undefined if it cannot load or gives a wrong answer (checked against
 * the pure one on the standard test vector and on a longer input). `load` is for tests.
 */
export function loadNativeCrc32c(load: () => unknown = () => createRequire(import.meta.url)('@node-rs/crc32')): NativeCrc32c | undefined {
  if (process.env.PAGEWIRE_CRC32C === 'pure') return undefined;
  try {
    const f = (load() as { crc32c?: unknown }).crc32c;
    if (typeof f !== 'function') return undefined;
    const native = f as NativeCrc32c;
    const check = Uint8Array.from({ length: 1500 }, (_, i) => (i * 131 + 7) & 0xff);
    if (native(Buffer.from('123456789')) !== 0xe3069283 || native(check) !== crc32cPure(check)) return undefined;
    return native;
  } catch {
    return undefined;
  }
}

const native = loadNativeCrc32c();

/** Which implementation serves inputs of NATIVE_MIN_BYTES and more: 'native' or 'pure'. */
export const crc32cImplementation: 'native' | 'pure' = native === undefined ? 'pure' : 'native';

/**
 * From this length up the add-on is faster than the table, the call into native code included
 * (measured on Node 20, x86-64: ≈ 0.17 µs a call; the table ≈ 1.6 ns a byte).
 */
export const NATIVE_MIN_BYTES = 192;

/** CRC32C of bytes[start, end). Pass a previous result as `crc` to continue a running checksum. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  if (native === undefined || end - start < NATIVE_MIN_BYTES) return crc32cPure(bytes, start, end, crc);
  return native(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), crc);
}

/**
 * Four bytes `w` (little-endian word) run through the CRC register `c` (slicing-by-4 step): what
 * the register holds after it has consumed them.
 */
function step4(c: number, w: number): number {
  const x = (c ^ w) >>> 0;
  return (T3[x & 0xff]! ^ T2[(x >>> 8) & 0xff]! ^ T1[(x >>> 16) & 0xff]! ^ T0[x >>> 24]!) >>> 0;
}

/**
 * Do the last 4 bytes of `buf` hold, big-endian, the CRC32C of all bytes before them? The native
 * path checksums the whole buffer (no view of its prefix to allocate) and compares with what a
 * valid trailer makes of it: if r = ~crc(prefix) is the register after the prefix, the whole
 * checksum is ~step4(r, trailer read little-endian).
 */
export function crc32cTrailerValid(buf: Uint8Array): boolean {
  const n = buf.length;
  if (n < 4) return false;
  const be = ((buf[n - 4]! << 24) | (buf[n - 3]! << 16) | (buf[n - 2]! << 8) | buf[n - 1]!) >>> 0;
  if (native === undefined || n - 4 < NATIVE_MIN_BYTES) return crc32cPure(buf, 0, n - 4) === be;
  const le = (buf[n - 4]! | (buf[n - 3]! << 8) | (buf[n - 2]! << 16) | (buf[n - 1]! << 24)) >>> 0;
  return native(buf) === (~step4(~be >>> 0, le) >>> 0);
}
