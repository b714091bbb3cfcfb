/**
 * The datagram codec: pure functions, no sockets. Layout (all integers big-endian, "network
 * order", written through DataView so the byte order never depends on the host):
 *
 *   off size field
 *   0   1    version       WIRE_VERSION (4; a sealed datagram starts with 3: seal.ts)
 *   1   1    flags         DATA 0x01, SYN 0x02, ACK 0x04, FIRST 0x08, LAST 0x10,
 *                          CHALLENGE 0x20, ECHO 0x40, TRACE 0x80
 *   2   2    window        datagrams the sender can still buffer from the receiver
 *   4   4    srcInc        sender's incarnation id toward this receiver (non-zero)
 *   8   4    dstInc        receiver's incarnation id as the sender knows it (0 = not known yet)
 *   12  4    stream        sender's send-stream id (non-zero exactly when DATA)
 *   16  4    ackStream     receiver's send-stream id that ack/sacks refer to (non-zero exactly when ACK)
 *   20  4    seq           sequence number of this data datagram (0 unless DATA)
 *   24  4    ack           next sequence number the sender expects on ackStream (0 unless ACK)
 *   28  1    sackCount     number of selective-ack blocks, 0..4
 *   29  1    accept        bits 0-6: KiB the sender accepts per datagram (0..64), 0: no more
 *                          than it sends; bit 7: BUNDLE (F_BUNDLE, bit 8 of the flags as the code
 *                          holds them): the payload is two or more whole messages, each a u16
 *                          length and its bytes, filling it exactly (only with DATA, FIRST, LAST)
 *   30  4    isn           only when SYN: first sequence number of `stream`
 *   ..  8    challenge     only when CHALLENGE: a cookie the receiver should echo
 *   ..  8    echo          only when ECHO: a cookie the receiver sent to this address earlier
 *   ..  10   trace stamp   only when TRACE (the sender traces, trace/README.md): its trace
 *                          incarnation (u32, non-zero) and Lamport clock at this send (u48)
 *   ..  8*n  sack blocks   n x (start u32, end u32), half-open [start, end) ranges above ack
 *   ..  ..   payload       fragment bytes (only when DATA; may be empty)
 *   end-4 4  crc32c        CRC32C over every byte before it
 *
 * See transport/README.md for what each field means to the protocol. The codec is a pure
 * function of its input: no state, no clock, so it can sit under an authenticating layer later.
 */
import { crc32c, crc32cTrailerValid } from './crc32c.js';
import { seqDiff } from './seq.js';

export const WIRE_VERSION = 4;

export const F_DATA = 0x01;
export const F_SYN = 0x02;
export const F_ACK = 0x04;
export const F_FIRST = 0x08;
export const F_LAST = 0x10;
export const F_CHALLENGE = 0x20;
export const F_ECHO = 0x40;
/** A trace stamp follows the echo: only while the sender traces. */
export const F_TRACE = 0x80;
/** The payload is a bundle of whole messages (byte 29, bit 7). */
export const F_BUNDLE = 0x100;
/** Each message of a bundle is preceded by its length, a u16. */
export const BUNDLE_ENTRY_BYTES = 2;
/** Where F_BUNDLE travels: the top bit of byte 29 (its other bits carry `accept`). */
const BYTE29_BUNDLE = 0x80;
export const MAX_BUNDLE_ENTRY_BYTES = 0xffff;

export const FIXED_HEADER_BYTES = 30;
export const CRC_BYTES = 4;
export const COOKIE_BYTES = 8;
export const TRACE_STAMP_BYTES = 10;
export const MAX_SACK_BLOCKS = 4;
/**
 * Header bytes a data datagram may need at most: fixed + isn + challenge + echo + trace stamp + all
 * sack blocks + crc. Fragments always leave room for the stamp, so a datagram segmented while
 * nobody traced still fits when it is retransmitted with one.
 */
export const MAX_OVERHEAD_BYTES = FIXED_HEADER_BYTES + 4 + 2 * COOKIE_BYTES + TRACE_STAMP_BYTES + 8 * MAX_SACK_BLOCKS + CRC_BYTES;
export const MIN_DATAGRAM_BYTES = FIXED_HEADER_BYTES + CRC_BYTES;
/** The largest `accept` a datagram may carry (64 KiB: no UDP datagram is larger). */
export const MAX_ACCEPT_KIB = 64;
/** A SACK block may not start further than this above the cumulative ack. */
export const MAX_SACK_SPAN = 1 << 16;

export interface Datagram {
  flags: number;
  window: number;
  srcInc: number;
  dstInc: number;
  stream: number;
  ackStream: number;
  seq: number;
  ack: number;
  /** Meaningful only with F_SYN. */
  isn: number;
  /** Meaningful only with F_CHALLENGE (64-bit cookie). */
  challenge: bigint;
  /** Meaningful only with F_ECHO (64-bit cookie). */
  echo: bigint;
  /**
   * The largest datagram the sender accepts, in KiB (1..64), when it is more than the datagrams it
   * sends (loopback peers: options.ts, loopbackDatagramBytes); 0 or absent: nothing said.
   */
  accept?: number;
  /** Flat list of [start, end) pairs: sacks[2i] .. sacks[2i+1]. */
  sacks: number[];
  payload: Uint8Array;
  /** With F_TRACE: the sender's trace incarnation and Lamport clock at this send. */
  trace?: { readonly inc: number; readonly lc: number } | undefined;
}

export type DecodeFailure = 'truncated' | 'badVersion' | 'badChecksum' | 'malformed' | 'oversized';

export function encodedLength(d: Datagram): number {
  const f = d.flags;
  return FIXED_HEADER_BYTES + (f & F_SYN ? 4 : 0) + (f & F_CHALLENGE ? COOKIE_BYTES : 0) + (f & F_ECHO ? COOKIE_BYTES : 0) +
    (f & F_TRACE ? TRACE_STAMP_BYTES : 0) + 4 * d.sacks.length + d.payload.length + CRC_BYTES;
}

/** Encode into a fresh Buffer (which dgram can send without another copy). */
export function encodeDatagram(d: Datagram): Buffer {
  const buf = Buffer.allocUnsafe(encodedLength(d));
  writeDatagram(d, buf, 0, true);
  return buf;
}

/**
 * Overwrite every field of `d` (the encode and decode paths reuse one object each, so nothing is
 * allocated per datagram; a positional setter, because a literal would be the allocation). The
 * trace stamp is cleared: stampSend() adds one.
 */
export function setDatagram(
  d: Datagram, flags: number, window: number, srcInc: number, dstInc: number, stream: number, ackStream: number, seq: number,
  ack: number, isn: number, challenge: bigint, echo: bigint, accept: number, sacks: number[], payload: Uint8Array,
): Datagram {
  d.flags = flags;
  d.window = window;
  d.srcInc = srcInc;
  d.dstInc = dstInc;
  d.stream = stream;
  d.ackStream = ackStream;
  d.seq = seq;
  d.ack = ack;
  d.isn = isn;
  d.challenge = challenge;
  d.echo = echo;
  d.accept = accept;
  d.sacks = sacks;
  d.payload = payload;
  d.trace = undefined;
  return d;
}

/** A fresh Datagram with every field zero (decodeInto() overwrites them all). */
export function newDatagram(): Datagram {
  return {
    flags: 0, window: 0, srcInc: 0, dstInc: 0, stream: 0, ackStream: 0, seq: 0, ack: 0, isn: 0,
    challenge: 0n, echo: 0n, accept: 0, sacks: NO_SACKS, payload: EMPTY, trace: undefined,
  };
}

/** The payload of datagrams without one (shared: it has no bytes to change). */
/** Shared, never written: every empty payload points here. */
export const EMPTY = Buffer.alloc(0);
/** Shared, never mutated: datagrams without SACK blocks all point here (decodeInto tells it apart by identity). */
export const NO_SACKS: number[] = Object.freeze([]) as unknown as number[];

function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

function get32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function put64(buf: Uint8Array, off: number, v: bigint): void {
  put32(buf, off, Number((v >> 32n) & 0xffff_ffffn));
  put32(buf, off + 4, Number(v & 0xffff_ffffn));
}

function get64(buf: Uint8Array, off: number): bigint {
  return (BigInt(get32(buf, off)) << 32n) | BigInt(get32(buf, off + 4));
}

/**
 * Write `d` into `buf` at `start`: encodedLength(d) bytes with the CRC, CRC_BYTES fewer without
 * it (the inner datagram of a sealed one, where the AEAD tag does the CRC's job). Returns the end.
 * Byte by byte, big-endian, no DataView (nothing allocated).
 */
export function writeDatagram(d: Datagram, buf: Uint8Array, start: number, crc: boolean): number {
  const f = d.flags;
  buf[start] = WIRE_VERSION;
  buf[start + 1] = f;
  buf[start + 2] = d.window >>> 8;
  buf[start + 3] = d.window;
  put32(buf, start + 4, d.srcInc);
  put32(buf, start + 8, d.dstInc);
  put32(buf, start + 12, d.stream);
  put32(buf, start + 16, d.ackStream);
  put32(buf, start + 20, d.seq);
  put32(buf, start + 24, d.ack);
  const sacks = d.sacks;
  buf[start + 28] = sacks.length >>> 1;
  buf[start + 29] = (d.accept ?? 0) | (f & F_BUNDLE ? BYTE29_BUNDLE : 0);
  let off = start + FIXED_HEADER_BYTES;
  if (f & F_SYN) {
    put32(buf, off, d.isn);
    off += 4;
  }
  if (f & F_CHALLENGE) {
    put64(buf, off, d.challenge);
    off += COOKIE_BYTES;
  }
  if (f & F_ECHO) {
    put64(buf, off, d.echo);
    off += COOKIE_BYTES;
  }
  if (f & F_TRACE) {
    const lc = Math.min(Math.max(0, Math.floor(d.trace?.lc ?? 0)), 2 ** 48 - 1);
    put32(buf, off, d.trace?.inc ?? 0);
    const hi = Math.floor(lc / 0x1_0000_0000);
    buf[off + 4] = hi >>> 8;
    buf[off + 5] = hi;
    put32(buf, off + 6, lc >>> 0);
    off += TRACE_STAMP_BYTES;
  }
  for (let i = 0; i < sacks.length; i++, off += 4) put32(buf, off, sacks[i]!);
  const payload = d.payload;
  if (payload.length > 0) buf.set(payload, off);
  off += payload.length;
  if (!crc) return off;
  put32(buf, off, crc32c(buf, start, off));
  return off + CRC_BYTES;
}

/** Lengths of datagram buffers a Framer keeps for reuse, at most. */
const FRAME_CACHE_LENGTHS = 64;

/**
 * Encodes clear-text datagrams into buffers it reuses: one per length (a bulk transfer's full
 * fragments all have one length, its acks another), so the hot path allocates nothing. The
 * consumer of a framed buffer (the socket) says when it keeps it beyond the call (a send that
 * the OS queued, a fault injector holding it): kept() then retires it from reuse.
 */
export class Framer {
  /** By length: the buffer, and a view of it without the CRC (what the CRC covers). */
  private readonly cache = new Map<number, { buf: Buffer; body: Buffer }>();

  /** `d` encoded with its CRC, in a buffer that is valid until the next frame() of the same length. */
  frame(d: Datagram): Buffer {
    const len = encodedLength(d);
    let e = this.cache.get(len);
    if (e === undefined) {
      if (this.cache.size >= FRAME_CACHE_LENGTHS) this.cache.clear();
      const buf = Buffer.allocUnsafeSlow(len);
      e = { buf, body: buf.subarray(0, len - CRC_BYTES) };
      this.cache.set(len, e);
    }
    const end = writeDatagram(d, e.buf, 0, false);
    put32(e.buf, end, crc32c(e.body));
    return e.buf;
  }

  /** `buf` (from frame()) is kept by its consumer: never write into it again. */
  kept(buf: Uint8Array): void {
    if (this.cache.get(buf.length)?.buf === buf) this.cache.delete(buf.length);
  }
}

/**
 * Decode and validate one datagram. Never throws: anything a peer could send that is not a
 * well-formed datagram of this version comes back as a DecodeFailure for the caller to count.
 * The payload is a view into `buf`, not a copy. `crc` false: the inner datagram of a sealed one
 * (no CRC; its integrity was checked by the AEAD tag).
 */
export function decodeDatagram(buf: Uint8Array, maxDatagramBytes: number, crc = true): Datagram | DecodeFailure {
  return decodeInto(buf, maxDatagramBytes, crc, newDatagram());
}

/**
 * decodeDatagram() into `out`, every field overwritten (the receive path reuses one object, so
 * decoding allocates nothing but the payload view; its SACK blocks go into an array `out` keeps).
 * Returns `out`, or why the datagram is not valid (then `out` holds garbage).
 */
export function decodeInto(buf: Uint8Array, maxDatagramBytes: number, crc: boolean, out: Datagram): Datagram | DecodeFailure {
  const len = buf.length;
  const tail = crc ? CRC_BYTES : 0;
  if (len < FIXED_HEADER_BYTES + tail) return 'truncated';
  if (len > maxDatagramBytes) return 'oversized';
  if (buf[0] !== WIRE_VERSION) return 'badVersion';
  if (crc && !crc32cTrailerValid(buf)) return 'badChecksum';

  const b29 = buf[29]!;
  const flags = buf[1]! | (b29 & BYTE29_BUNDLE ? F_BUNDLE : 0);
  if (flags & F_BUNDLE && (flags & (F_DATA | F_FIRST | F_LAST)) !== (F_DATA | F_FIRST | F_LAST)) return 'malformed';
  const hasData = (flags & F_DATA) !== 0;
  const hasAck = (flags & F_ACK) !== 0;
  if (!hasData && flags & (F_FIRST | F_LAST | F_SYN)) return 'malformed';
  const srcInc = get32(buf, 4);
  const dstInc = get32(buf, 8);
  const stream = get32(buf, 12);
  const ackStream = get32(buf, 16);
  if (srcInc === 0) return 'malformed';
  if ((stream !== 0) !== hasData) return 'malformed';
  if ((ackStream !== 0) !== hasAck) return 'malformed';
  if (hasAck && dstInc === 0) return 'malformed';
  const seq = get32(buf, 20);
  const ack = get32(buf, 24);
  if (!hasData && seq !== 0) return 'malformed';
  if (!hasAck && ack !== 0) return 'malformed';
  const nSack = buf[28]!;
  const accept = b29 & ~BYTE29_BUNDLE;
  if (nSack > MAX_SACK_BLOCKS || accept > MAX_ACCEPT_KIB) return 'malformed';
  if (nSack > 0 && !hasAck) return 'malformed';

  let off = FIXED_HEADER_BYTES;
  const end = len - tail;
  let isn = 0;
  if (flags & F_SYN) {
    if (off + 4 > end) return 'truncated';
    isn = get32(buf, off);
    off += 4;
  }
  let challenge = 0n;
  if (flags & F_CHALLENGE) {
    if (off + COOKIE_BYTES > end) return 'truncated';
    challenge = get64(buf, off);
    off += COOKIE_BYTES;
  }
  let echo = 0n;
  if (flags & F_ECHO) {
    if (off + COOKIE_BYTES > end) return 'truncated';
    echo = get64(buf, off);
    off += COOKIE_BYTES;
  }
  let trace: { inc: number; lc: number } | undefined;
  if (flags & F_TRACE) {
    if (off + TRACE_STAMP_BYTES > end) return 'truncated';
    const inc = get32(buf, off);
    if (inc === 0) return 'malformed';
    trace = { inc, lc: ((buf[off + 4]! << 8) | buf[off + 5]!) * 0x1_0000_0000 + get32(buf, off + 6) };
    off += TRACE_STAMP_BYTES;
  }
  if (off + 8 * nSack > end) return 'truncated';
  let sacks = out.sacks;
  if (nSack === 0) {
    if (sacks !== NO_SACKS) sacks.length = 0;
  } else {
    if (sacks === NO_SACKS) sacks = [];
    sacks.length = 0;
    for (let i = 0; i < nSack; i++, off += 8) {
      const start = get32(buf, off);
      const stop = get32(buf, off + 4);
      const below = seqDiff(start, ack);
      const size = seqDiff(stop, start);
      if (below <= 0 || below > MAX_SACK_SPAN || size <= 0 || size > MAX_SACK_SPAN) return 'malformed';
      sacks.push(start, stop);
    }
  }
  const payloadLen = end - off;
  if (!hasData && payloadLen !== 0) return 'malformed';
  if (flags & F_BUNDLE && bundleCount(buf, off, end) < 2) return 'malformed';
  setDatagram(out, flags, (buf[2]! << 8) | buf[3]!, srcInc, dstInc, stream, ackStream, seq, ack, isn, challenge, echo, accept, sacks,
    payloadLen === 0 ? EMPTY : buf.subarray(off, off + payloadLen));
  out.trace = trace;
  return out;
}




/**
 * Calls `each` with a view of every message of a bundle decodeInto accepted (it checked the
 * framing: two or more entries of a non-zero u16 length and that many bytes, filling the payload
 * exactly), in order; stops early when `each` returns false.
 */
export function forEachBundled(payload: Uint8Array, each: (message: Uint8Array) => boolean | void): void {
  for (let off = 0; off < payload.length;) {
    const n = (payload[off]! << 8) | payload[off + 1]!;
    if (each(payload.subarray(off + BUNDLE_ENTRY_BYTES, off + BUNDLE_ENTRY_BYTES + n)) === false) return;
    off += BUNDLE_ENTRY_BYTES + n;
  }
}

/** Entries of a well-formed bundle in buf[start, end), or -1. */
function bundleCount(buf: Uint8Array, start: number, end: number): number {
  let k = 0;
  let off = start;
  while (off < end) {
    if (off + BUNDLE_ENTRY_BYTES > end) return -1;
    const n = (buf[off]! << 8) | buf[off + 1]!;
    if (n === 0) return -1; // an empty message always travels alone: 32,000 of them in one datagram would be a cheap flood
    off += BUNDLE_ENTRY_BYTES + n;
    k++;
  }
  return off === end ? k : -1;
}
