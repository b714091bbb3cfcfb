/**
 * Sealed datagrams: the keyed wire format (version 3). Every datagram of a keyed endpoint is the
 * clear-text datagram of wire.ts without its CRC (the "inner" datagram), encrypted and
 * authenticated with AES-256-GCM from node:crypto, behind a short header that says who sealed it
 * and under which key. Pure functions and small objects; no sockets, no clock. The layout, byte by
 * byte (integers big-endian):
 *
 *   off      size  field
 *   0        1     version   3
 *   1        1     kind      0 = sealed datagram, 1 = refusal notice (below)
 *   2        1     idLen     n, 1..64: bytes of the sender's node id
 *   3        n     nodeId    the sender's node id, UTF-8
 *   3+n      12    salt      the sender's key id: random, drawn when the sender started
 *   15+n     8     counter   this transmission's number under that key (< 2^53)
 *   23+n     ..    sealed    the inner datagram, encrypted
 *   end-16   16    tag       GCM tag over bytes [0, 23+n) (associated data) and the inner datagram
 *
 * Key schedule. With K the 256-bit cluster key, a sender's key is
 *   HKDF-SHA256(ikm = K, salt = salt, info = "pagewire/3 datagram key" 0x00 | n | nodeId, 32 bytes)
 * and the nonce of a datagram is 4 zero bytes followed by its 8-byte counter. A sender draws its
 * salt once per start (node:crypto) and numbers every datagram it sends to anyone from one
 * counter, first transmissions, retransmissions, acks and handshake answers alike, so under one
 * key no nonce is used twice; a restarted sender has a new salt, hence a new key. The node id is
 * in the key derivation and in the associated data: a datagram opens only under the key of the
 * node id it names, so the id the receiver reports (MessageEvent.peerId) is authenticated.
 *
 * Speed. node:crypto cannot reuse one cipher context for several nonces, and creating one (the
 * cipher lookup, the AES key schedule, GCM's hash key) costs about twice what sealing 100 bytes
 * does once it exists. Both sides know the next nonce and header in advance (the sender its own
 * next counter; the receiver the counter after the last one it took from a peer), so prepare()
 * creates that context and feeds it the associated data while the process is idle (the endpoint
 * calls it from setImmediate), and seal() / open() use it if the counter matches. A context is
 * used for at most one datagram, so this changes no nonce; a miss only costs the usual creation.
 *
 * A refusal notice (kind 1) is exactly 22 bytes: version, kind, then the salt and counter of a
 * datagram that did not open (its tag failed). It is not authenticated (the two ends share no
 * key), but it quotes a salt only the receiver of that datagram has seen, so an off-path party
 * cannot forge one; it only changes which error a send that gives up reports
 * (TRANSPORT_ERR_REFUSED instead of PEER_UNREACHABLE).
 */
import {
  createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type CipherGCM, type DecipherGCM, type KeyObject,
} from 'node:crypto';
import { CRC_BYTES, encodedLength, FIXED_HEADER_BYTES, writeDatagram, type Datagram } from './wire.js';

export const SEALED_VERSION = 3;
export const KIND_SEALED = 0;
export const KIND_REFUSAL = 1;
export const SALT_BYTES = 12;
export const COUNTER_BYTES = 8;
export const TAG_BYTES = 16;
export const MAX_NODE_ID_BYTES = 64;
/** The AEAD: AES-256-GCM (measured a little faster than ChaCha20-Poly1305 here; both are in node:crypto). */
export const AEAD = 'aes-256-gcm';
/** The last counter a key may use (2^53 - 1: 28 years at ten million datagrams a second). */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;
export const REFUSAL_BYTES = 2 + SALT_BYTES + COUNTER_BYTES;
const KEY_INFO = Buffer.from('pagewire/3 datagram key\0', 'latin1');

/** Header bytes of a sealed datagram whose sender's id is `idBytes` long. */
export function sealedHeaderBytes(idBytes: number): number {
  return 3 + idBytes + SALT_BYTES + COUNTER_BYTES;
}

/** What sealing adds to an inner datagram (which has no CRC): header and tag. */
export function sealOverhead(idBytes: number): number {
  return sealedHeaderBytes(idBytes) + TAG_BYTES;
}

/** The smallest sealed datagram: a one-byte id and an inner datagram with nothing but its fixed header. */
export const MIN_SEALED_BYTES = sealOverhead(1) + FIXED_HEADER_BYTES;

/** The key a node with id `idBytes` seals with under `salt` (the key schedule above). */
export function deriveKey(clusterKey: Uint8Array, salt: Uint8Array, idBytes: Uint8Array): KeyObject {
  const info = Buffer.allocUnsafe(KEY_INFO.length + 1 + idBytes.length);
  KEY_INFO.copy(info, 0);
  info[KEY_INFO.length] = idBytes.length;
  info.set(idBytes, KEY_INFO.length + 1);
  return createSecretKey(Buffer.from(hkdfSync('sha256', clusterKey, salt, info, 32)));
}

/**
 * The sending side: this endpoint's salt, key and counter, and the header prefix every datagram
 * starts with. One per endpoint start, shared by all peers (one counter, so no nonce repeats).
 */
export class Sealer {
  readonly salt: Buffer;
  readonly nodeId: string;
  /** version, kind, idLen, nodeId, salt: the first headerBytes - 8 bytes of every datagram. */
  private readonly prefix: Buffer;
  readonly headerBytes: number;
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(12);
  private counter = 0;
  /** A context created ahead of time for counter `readyFor` (prepare()). */
  private ready: CipherGCM | undefined;
  private readyFor = -1;

  constructor(clusterKey: Uint8Array, nodeId: string) {
    const id = Buffer.from(nodeId, 'utf8');
    this.nodeId = nodeId;
    this.salt = randomBytes(SALT_BYTES); // always node:crypto, whatever `random` the tests pass: nonces depend on it
    this.headerBytes = sealedHeaderBytes(id.length);
    this.prefix = Buffer.allocUnsafe(this.headerBytes - COUNTER_BYTES);
    this.prefix[0] = SEALED_VERSION;
    this.prefix[1] = KIND_SEALED;
    this.prefix[2] = id.length;
    id.copy(this.prefix, 3);
    this.salt.copy(this.prefix, 3 + id.length);
    this.key = deriveKey(clusterKey, this.salt, id);
  }

  /** Seal one datagram (its inner form: no CRC). Undefined once the key's counters are used up (never in practice). */
  seal(d: Datagram): Buffer | undefined {
    if (this.counter > MAX_COUNTER) return undefined;
    const c = this.counter++;
    const h = this.headerBytes;
    const innerBytes = encodedLength(d) - CRC_BYTES;
    const out = Buffer.allocUnsafe(h + innerBytes + TAG_BYTES);
    this.prefix.copy(out, 0);
    writeCounter(out, h - COUNTER_BYTES, c);
    writeDatagram(d, out, h, false);
    let cipher = this.ready;
    if (cipher !== undefined && this.readyFor === c) {
      this.ready = undefined;
    } else {
      writeCounter(this.nonce, 4, c);
      cipher = createCipheriv(AEAD, this.key, this.nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(out.subarray(0, h));
    }
    const sealed = cipher.update(out.subarray(h, h + innerBytes));
    cipher.final();
    sealed.copy(out, h);
    cipher.getAuthTag().copy(out, h + innerBytes);
    return out;
  }

  /** Create the context of the next datagram now (the process is idle), with its associated data. */
  prepare(): void {
    const c = this.counter;
    if (this.readyFor === c && this.ready !== undefined) return;
    if (c > MAX_COUNTER) return;
    const aad = Buffer.allocUnsafe(this.headerBytes);
    this.prefix.copy(aad, 0);
    writeCounter(aad, this.headerBytes - COUNTER_BYTES, c);
    writeCounter(this.nonce, 4, c);
    const cipher = createCipheriv(AEAD, this.key, this.nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    this.ready = cipher;
    this.readyFor = c;
  }

  /** Does a refusal notice quote a datagram this sealer sealed? */
  quotes(notice: Uint8Array): boolean {
    const salt = this.salt;
    for (let i = 0; i < SALT_BYTES; i++) if (notice[2 + i] !== salt[i]) return false;
    return readCounter(notice, 2 + SALT_BYTES) < this.counter;
  }
}

/**
 * A sealed datagram's clear header, as offsets into it (no views: this is on every datagram's
 * path). Bytes [2, 15+n) are the key id: idLen, nodeId, salt (who sealed it under which key).
 */
export interface SealedHeader {
  readonly buf: Uint8Array;
  /** n: bytes of the node id. */
  readonly idLen: number;
  readonly counter: number;
  /** Where the sealed inner datagram starts. */
  readonly headerBytes: number;
}

export type SealedFailure = 'truncated' | 'badVersion' | 'malformed' | 'refusal';

/**
 * Parse the clear header of a sealed datagram (the tag is not checked here). 'refusal' for a
 * well-formed refusal notice; 'badVersion' for anything but version 3 (e.g. a clear-text one).
 */
export function parseSealedHeader(buf: Uint8Array): SealedHeader | SealedFailure {
  const len = buf.length;
  if (len < 2) return 'truncated';
  if (buf[0] !== SEALED_VERSION) return 'badVersion';
  if (buf[1] === KIND_REFUSAL) return len === REFUSAL_BYTES ? 'refusal' : 'malformed';
  if (buf[1] !== KIND_SEALED) return 'malformed';
  if (len < MIN_SEALED_BYTES) return 'truncated';
  const n = buf[2]!;
  if (n < 1 || n > MAX_NODE_ID_BYTES) return 'malformed';
  const h = sealedHeaderBytes(n);
  if (len < h + FIXED_HEADER_BYTES + TAG_BYTES) return 'truncated';
  const counter = readCounter(buf, h - COUNTER_BYTES);
  if (counter > MAX_COUNTER) return 'malformed';
  return { buf, idLen: n, counter, headerBytes: h };
}

/**
 * The receiving side for one sender key: the key derived from the sender's id and salt, the id
 * as a string, and the replay window of its counters (kept by the owner, see session.ts).
 */
export class Opener {
  readonly keyId: Buffer;
  readonly nodeId: string;
  private readonly key: KeyObject;
  private readonly nonce = Buffer.alloc(12);
  private ready: DecipherGCM | undefined;
  private readyFor = -1;

  private constructor(keyId: Buffer, nodeId: string, key: KeyObject) {
    this.keyId = keyId;
    this.nodeId = nodeId;
    this.key = key;
  }

  /** The opener for a parsed header; undefined if the node id is not valid UTF-8. */
  static for(clusterKey: Uint8Array, h: SealedHeader): Opener | undefined {
    const n = h.idLen;
    const idBytes = h.buf.subarray(3, 3 + n);
    let nodeId: string;
    try {
      nodeId = UTF8.decode(idBytes);
    } catch {
      return undefined;
    }
    return new Opener(Buffer.from(h.buf.subarray(2, 3 + n + SALT_BYTES)), nodeId, deriveKey(clusterKey, h.buf.subarray(3 + n, 3 + n + SALT_BYTES), idBytes));
  }

  /** Is this the key `h` names (same node id, same salt)? */
  matches(h: SealedHeader): boolean {
    const a = this.keyId;
    if (a.length !== 1 + h.idLen + SALT_BYTES) return false;
    const b = h.buf;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[2 + i]) return false;
    return true;
  }

  /** Decrypt and authenticate; the inner datagram, or undefined if the tag does not verify. */
  open(buf: Uint8Array, h: SealedHeader): Buffer | undefined {
    const end = buf.length - TAG_BYTES;
    let d = this.ready;
    if (d !== undefined && this.readyFor === h.counter) {
      this.ready = undefined; // its associated data is this header: same key id (matches()), same counter
    } else {
      writeCounter(this.nonce, 4, h.counter);
      d = createDecipheriv(AEAD, this.key, this.nonce, { authTagLength: TAG_BYTES });
      d.setAAD(buf.subarray(0, h.headerBytes));
    }
    d.setAuthTag(buf.subarray(end));
    const inner = d.update(buf.subarray(h.headerBytes, end));
    try {
      d.final();
    } catch {
      return undefined;
    }
    return inner;
  }

  /** Create the context for the datagram with `counter` under this key now (see prepare() above). */
  prepare(counter: number): void {
    if (this.readyFor === counter && this.ready !== undefined) return;
    if (counter > MAX_COUNTER) return;
    const aad = Buffer.allocUnsafe(2 + this.keyId.length + COUNTER_BYTES);
    aad[0] = SEALED_VERSION;
    aad[1] = KIND_SEALED;
    this.keyId.copy(aad, 2);
    writeCounter(aad, 2 + this.keyId.length, counter);
    writeCounter(this.nonce, 4, counter);
    const d = createDecipheriv(AEAD, this.key, this.nonce, { authTagLength: TAG_BYTES });
    d.setAAD(aad);
    this.ready = d;
    this.readyFor = counter;
  }
}

/** A refusal notice quoting the datagram whose header is `h`. */
export function encodeRefusal(h: SealedHeader): Buffer {
  const out = Buffer.allocUnsafe(REFUSAL_BYTES);
  out[0] = SEALED_VERSION;
  out[1] = KIND_REFUSAL;
  out.set(h.buf.subarray(3 + h.idLen, 3 + h.idLen + SALT_BYTES), 2);
  writeCounter(out, 2 + SALT_BYTES, h.counter);
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function writeCounter(buf: Uint8Array, off: number, c: number): void {
  const hi = Math.floor(c / 0x1_0000_0000);
  const lo = c >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = hi >>> 16;
  buf[off + 2] = hi >>> 8;
  buf[off + 3] = hi;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = lo >>> 16;
  buf[off + 6] = lo >>> 8;
  buf[off + 7] = lo;
}

function readCounter(buf: Uint8Array, off: number): number {
  const hi = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const lo = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}
