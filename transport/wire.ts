/**
 * The datagram codec: pure functions, no sockets. Layout (all integers big-endian, "network
 * order", written through DataView so the byte order never depends on the host):
 *
 *   off size field
 *   0   1    version       WIRE_VERSION (1)
 *   1   1    flags         DATA 0x01, SYN 0x02, ACK 0x04, FIRST 0x08, LAST 0x10 (others must be 0)
 *   2   2    window        datagrams the sender can still buffer from the receiver
 *   4   4    srcSession    sender's stream id toward this receiver (non-zero)
 *   8   4    dstSession    receiver's stream id as the sender knows it (0 = not known yet)
 *   12  4    seq           sequence number of this data datagram (0 unless DATA)
 *   16  4    ack           next sequence number the sender expects (0 unless ACK)
 *   20  1    sackCount     number of selective-ack blocks, 0..4
 *   21  1    reserved      must be 0
 *   22  4    isn           only when SYN: first sequence number of the sender's stream
 *   ..  8*n  sack blocks   n x (start u32, end u32), half-open [start, end) ranges above ack
 *   ..  ..   payload       fragment bytes (only when DATA; may be empty)
 *   end-4 4  crc32c        CRC32C over every byte before it
 *
 * See transport/README.md for what each field means to the protocol.
 */
import { crc32c } from './crc32c.js';
import { seqDiff } from './seq.js';

export const WIRE_VERSION = 1;

export const F_DATA = 0x01;
export const F_SYN = 0x02;
export const F_ACK = 0x04;
export const F_FIRST = 0x08;
export const F_LAST = 0x10;
const KNOWN_FLAGS = F_DATA | F_SYN | F_ACK | F_FIRST | F_LAST;

export const FIXED_HEADER_BYTES = 22;
export const CRC_BYTES = 4;
export const MAX_SACK_BLOCKS = 4;
/** Header bytes a data datagram may need at most: fixed + isn + all sack blocks + crc. */
export const MAX_OVERHEAD_BYTES = FIXED_HEADER_BYTES + 4 + 8 * MAX_SACK_BLOCKS + CRC_BYTES;
export const MIN_DATAGRAM_BYTES = FIXED_HEADER_BYTES + CRC_BYTES;
/** A SACK block may not start further than this above the cumulative ack. */
export const MAX_SACK_SPAN = 1 << 16;

export interface Datagram {
  flags: number;
  window: number;
  srcSession: number;
  dstSession: number;
  seq: number;
  ack: number;
  /** Meaningful only with F_SYN. */
  isn: number;
  /** Flat list of [start, end) pairs: sacks[2i] .. sacks[2i+1]. */
  sacks: number[];
  payload: Uint8Array;
}

export type DecodeFailure = 'truncated' | 'badVersion' | 'badChecksum' | 'malformed' | 'oversized';

export function encodedLength(d: Datagram): number {
  return FIXED_HEADER_BYTES + (d.flags & F_SYN ? 4 : 0) + 4 * d.sacks.length + d.payload.length + CRC_BYTES;
}

/** Encode into a fresh Buffer (which dgram can send without another copy). */
export function encodeDatagram(d: Datagram): Buffer {
  const buf = Buffer.allocUnsafe(encodedLength(d));
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  v.setUint8(0, WIRE_VERSION);
  v.setUint8(1, d.flags);
  v.setUint16(2, d.window);
  v.setUint32(4, d.srcSession);
  v.setUint32(8, d.dstSession);
  v.setUint32(12, d.seq);
  v.setUint32(16, d.ack);
  v.setUint8(20, d.sacks.length >>> 1);
  v.setUint8(21, 0);
  let off = FIXED_HEADER_BYTES;
  if (d.flags & F_SYN) {
    v.setUint32(off, d.isn);
    off += 4;
  }
  for (let i = 0; i < d.sacks.length; i++, off += 4) v.setUint32(off, d.sacks[i]!);
  buf.set(d.payload, off);
  off += d.payload.length;
  v.setUint32(off, crc32c(buf, 0, off));
  return buf;
}

/**
 * Decode and validate one datagram. Never throws: anything a peer could send that is not a
 * well-formed datagram of this version comes back as a DecodeFailure for the caller to count.
 * The payload is a view into `buf`, not a copy.
 */
export function decodeDatagram(buf: Uint8Array, maxDatagramBytes: number): Datagram | DecodeFailure {
  const len = buf.length;
  if (len < MIN_DATAGRAM_BYTES) return 'truncated';
  if (len > maxDatagramBytes) return 'oversized';
  if (buf[0] !== WIRE_VERSION) return 'badVersion';
  const v = new DataView(buf.buffer, buf.byteOffset, len);
  if (v.getUint32(len - CRC_BYTES) !== crc32c(buf, 0, len - CRC_BYTES)) return 'badChecksum';

  const flags = v.getUint8(1);
  if (flags & ~KNOWN_FLAGS) return 'malformed';
  const hasData = (flags & F_DATA) !== 0;
  if (!hasData && flags & (F_FIRST | F_LAST)) return 'malformed';
  const srcSession = v.getUint32(4);
  const dstSession = v.getUint32(8);
  if (srcSession === 0) return 'malformed';
  if (flags & F_ACK && dstSession === 0) return 'malformed';
  const seq = v.getUint32(12);
  const ack = v.getUint32(16);
  if (!hasData && seq !== 0) return 'malformed';
  if (!(flags & F_ACK) && ack !== 0) return 'malformed';
  const nSack = v.getUint8(20);
  if (nSack > MAX_SACK_BLOCKS || v.getUint8(21) !== 0) return 'malformed';
  if (nSack > 0 && !(flags & F_ACK)) return 'malformed';

  let off = FIXED_HEADER_BYTES;
  let isn = 0;
  if (flags & F_SYN) {
    if (off + 4 > len - CRC_BYTES) return 'truncated';
    isn = v.getUint32(off);
    off += 4;
  }
  if (off + 8 * nSack > len - CRC_BYTES) return 'truncated';
  const sacks: number[] = [];
  for (let i = 0; i < nSack; i++, off += 8) {
    const start = v.getUint32(off);
    const end = v.getUint32(off + 4);
    const below = seqDiff(start, ack);
    const size = seqDiff(end, start);
    if (below <= 0 || below > MAX_SACK_SPAN || size <= 0 || size > MAX_SACK_SPAN) return 'malformed';
    sacks.push(start, end);
  }
  const payloadLen = len - CRC_BYTES - off;
  if (!hasData && payloadLen !== 0) return 'malformed';
  return {
    flags, window: v.getUint16(2), srcSession, dstSession, seq, ack, isn, sacks,
    payload: buf.subarray(off, off + payloadLen),
  };
}

/** A one-line rendering for logs and failing tests ("DATA|FIRST seq=12 ack=7 win=64 ..."). */
export function describeDatagram(d: Datagram): string {
  const names: string[] = [];
  if (d.flags & F_SYN) names.push('SYN');
  if (d.flags & F_DATA) names.push('DATA');
  if (d.flags & F_ACK) names.push('ACK');
  if (d.flags & F_FIRST) names.push('FIRST');
  if (d.flags & F_LAST) names.push('LAST');
  let s = `${names.join('|') || 'NONE'} src=${d.srcSession.toString(16)} dst=${d.dstSession.toString(16)}`;
  if (d.flags & F_SYN) s += ` isn=${d.isn}`;
  if (d.flags & F_DATA) s += ` seq=${d.seq} len=${d.payload.length}`;
  if (d.flags & F_ACK) s += ` ack=${d.ack}`;
  for (let i = 0; i < d.sacks.length; i += 2) s += ` sack=[${d.sacks[i]},${d.sacks[i + 1]})`;
  return `${s} win=${d.window}`;
}
