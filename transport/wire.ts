/**
 * The datagram codec: pure functions, no sockets. Layout (all integers big-endian, "network
 * order", written through DataView so the byte order never depends on the host):
 *
 *   off size field
 *   0   1    version       WIRE_VERSION (2)
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
 *   29  1    reserved      must be 0
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
import { crc32c } from './crc32c.js';
import { seqDiff } from './seq.js';

export const WIRE_VERSION = 2;

export const F_DATA = 0x01;
export const F_SYN = 0x02;
export const F_ACK = 0x04;
export const F_FIRST = 0x08;
export const F_LAST = 0x10;
export const F_CHALLENGE = 0x20;
export const F_ECHO = 0x40;
/** A trace stamp follows the echo: only while the sender traces. */
export const F_TRACE = 0x80;
const KNOWN_FLAGS = F_DATA | F_SYN | F_ACK | F_FIRST | F_LAST | F_CHALLENGE | F_ECHO | F_TRACE;

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
  /** Flat list of [start, end) pairs: sacks[2i] .. sacks[2i+1]. */
  sacks: number[];
  payload: Uint8Array;
  /** With F_TRACE: the sender's trace incarnation and Lamport clock at this send. */
  trace?: { readonly inc: number; readonly lc: number };
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
 * Write `d` into `buf` at `start`: encodedLength(d) bytes with the CRC, CRC_BYTES fewer without
 * it (the inner datagram of a sealed one, where the AEAD tag does the CRC's job). Returns the end.
 */
export function writeDatagram(d: Datagram, buf: Uint8Array, start: number, crc: boolean): number {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const f = d.flags;
  v.setUint8(start, WIRE_VERSION);
  v.setUint8(start + 1, f);
  v.setUint16(start + 2, d.window);
  v.setUint32(start + 4, d.srcInc);
  v.setUint32(start + 8, d.dstInc);
  v.setUint32(start + 12, d.stream);
  v.setUint32(start + 16, d.ackStream);
  v.setUint32(start + 20, d.seq);
  v.setUint32(start + 24, d.ack);
  v.setUint8(start + 28, d.sacks.length >>> 1);
  v.setUint8(start + 29, 0);
  let off = start + FIXED_HEADER_BYTES;
  if (f & F_SYN) {
    v.setUint32(off, d.isn);
    off += 4;
  }
  if (f & F_CHALLENGE) {
    v.setBigUint64(off, d.challenge);
    off += COOKIE_BYTES;
  }
  if (f & F_ECHO) {
    v.setBigUint64(off, d.echo);
    off += COOKIE_BYTES;
  }
  if (f & F_TRACE) {
    const lc = Math.min(Math.max(0, Math.floor(d.trace?.lc ?? 0)), 2 ** 48 - 1);
    v.setUint32(off, d.trace?.inc ?? 0);
    v.setUint16(off + 4, Math.floor(lc / 0x1_0000_0000));
    v.setUint32(off + 6, lc >>> 0);
    off += TRACE_STAMP_BYTES;
  }
  for (let i = 0; i < d.sacks.length; i++, off += 4) v.setUint32(off, d.sacks[i]!);
  buf.set(d.payload, off);
  off += d.payload.length;
  if (!crc) return off;
  v.setUint32(off, crc32c(buf, start, off));
  return off + CRC_BYTES;
}

/**
 * Decode and validate one datagram. Never throws: anything a peer could send that is not a
 * well-formed datagram of this version comes back as a DecodeFailure for the caller to count.
 * The payload is a view into `buf`, not a copy. `crc` false: the inner datagram of a sealed one
 * (no CRC; its integrity was checked by the AEAD tag).
 */
export function decodeDatagram(buf: Uint8Array, maxDatagramBytes: number, crc = true): Datagram | DecodeFailure {
  const len = buf.length;
  const tail = crc ? CRC_BYTES : 0;
  if (len < FIXED_HEADER_BYTES + tail) return 'truncated';
  if (len > maxDatagramBytes) return 'oversized';
  if (buf[0] !== WIRE_VERSION) return 'badVersion';
  const v = new DataView(buf.buffer, buf.byteOffset, len);
  if (crc && v.getUint32(len - CRC_BYTES) !== crc32c(buf, 0, len - CRC_BYTES)) return 'badChecksum';

  const flags = v.getUint8(1);
  if (flags & ~KNOWN_FLAGS) return 'malformed';
  const hasData = (flags & F_DATA) !== 0;
  const hasAck = (flags & F_ACK) !== 0;
  if (!hasData && flags & (F_FIRST | F_LAST | F_SYN)) return 'malformed';
  const srcInc = v.getUint32(4);
  const dstInc = v.getUint32(8);
  const stream = v.getUint32(12);
  const ackStream = v.getUint32(16);
  if (srcInc === 0) return 'malformed';
  if ((stream !== 0) !== hasData) return 'malformed';
  if ((ackStream !== 0) !== hasAck) return 'malformed';
  if (hasAck && dstInc === 0) return 'malformed';
  const seq = v.getUint32(20);
  const ack = v.getUint32(24);
  if (!hasData && seq !== 0) return 'malformed';
  if (!hasAck && ack !== 0) return 'malformed';
  const nSack = v.getUint8(28);
  if (nSack > MAX_SACK_BLOCKS || v.getUint8(29) !== 0) return 'malformed';
  if (nSack > 0 && !hasAck) return 'malformed';

  let off = FIXED_HEADER_BYTES;
  const end = len - tail;
  let isn = 0;
  if (flags & F_SYN) {
    if (off + 4 > end) return 'truncated';
    isn = v.getUint32(off);
    off += 4;
  }
  let challenge = 0n;
  if (flags & F_CHALLENGE) {
    if (off + COOKIE_BYTES > end) return 'truncated';
    challenge = v.getBigUint64(off);
    off += COOKIE_BYTES;
  }
  let echo = 0n;
  if (flags & F_ECHO) {
    if (off + COOKIE_BYTES > end) return 'truncated';
    echo = v.getBigUint64(off);
    off += COOKIE_BYTES;
  }
  let trace: { inc: number; lc: number } | undefined;
  if (flags & F_TRACE) {
    if (off + TRACE_STAMP_BYTES > end) return 'truncated';
    const inc = v.getUint32(off);
    if (inc === 0) return 'malformed';
    trace = { inc, lc: v.getUint16(off + 4) * 0x1_0000_0000 + v.getUint32(off + 6) };
    off += TRACE_STAMP_BYTES;
  }
  if (off + 8 * nSack > end) return 'truncated';
  const sacks: number[] = nSack === 0 ? NO_SACKS : [];
  for (let i = 0; i < nSack; i++, off += 8) {
    const start = v.getUint32(off);
    const stop = v.getUint32(off + 4);
    const below = seqDiff(start, ack);
    const size = seqDiff(stop, start);
    if (below <= 0 || below > MAX_SACK_SPAN || size <= 0 || size > MAX_SACK_SPAN) return 'malformed';
    sacks.push(start, stop);
  }
  const payloadLen = end - off;
  if (!hasData && payloadLen !== 0) return 'malformed';
  const d: Datagram = {
    flags, window: v.getUint16(2), srcInc, dstInc, stream, ackStream, seq, ack, isn, challenge, echo, sacks,
    payload: buf.subarray(off, off + payloadLen),
  };
  if (trace !== undefined) d.trace = trace;
  return d;
}

/** Shared, never mutated: decoded datagrams without SACK blocks all point here. */
const NO_SACKS: number[] = Object.freeze([]) as unknown as number[];

const hex = (n: number): string => n.toString(16);

/** A one-line rendering for logs and failing tests ("DATA|FIRST inc=1f>2e st=3 seq=12 ..."). */
export function describeDatagram(d: Datagram): string {
  const names: string[] = [];
  if (d.flags & F_SYN) names.push('SYN');
  if (d.flags & F_DATA) names.push('DATA');
  if (d.flags & F_ACK) names.push('ACK');
  if (d.flags & F_FIRST) names.push('FIRST');
  if (d.flags & F_LAST) names.push('LAST');
  if (d.flags & F_CHALLENGE) names.push('CHALLENGE');
  if (d.flags & F_ECHO) names.push('ECHO');
  let s = `${names.join('|') || 'NONE'} inc=${hex(d.srcInc)}>${hex(d.dstInc)}`;
  if (d.flags & F_DATA) s += ` stream=${hex(d.stream)} seq=${d.seq} len=${d.payload.length}`;
  if (d.flags & F_SYN) s += ` isn=${d.isn}`;
  if (d.flags & F_ACK) s += ` ackStream=${hex(d.ackStream)} ack=${d.ack}`;
  for (let i = 0; i < d.sacks.length; i += 2) s += ` sack=[${d.sacks[i]},${d.sacks[i + 1]})`;
  if (d.flags & F_CHALLENGE) s += ` challenge=${d.challenge.toString(16)}`;
  if (d.flags & F_ECHO) s += ` echo=${d.echo.toString(16)}`;
  if (d.trace !== undefined) s += ` trace=${d.trace.inc.toString(16)}:${d.trace.lc}`;
  return `${s} win=${d.window}`;
}
