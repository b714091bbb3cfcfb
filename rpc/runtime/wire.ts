/**
 * Wire format of RPC messages: a fixed 36-byte binary header (network byte order, DataView)
 * followed by a type-specific msgpack body (rpc/codec.ts). Layout and rules: rpc/runtime/README.md.
 *
 * Pure functions, no I/O. Every field of every incoming message is validated here; a message
 * that fails is reported as `{ ok: false, reason }` (with the header when the header itself
 * was sound), never thrown.
 */
import type { Executed, RpcErrorCode } from '../errors.js';
import { decodeValue, encodeValue } from './body-codec.js';

/** First byte of every RPC message ('R'): tells RPC traffic from anything else on the endpoint. */
export const WIRE_MAGIC = 0x52;
/** Second byte: wire format version. A receiver drops messages of any other version. */
export const WIRE_VERSION = 1;
export const HEADER_BYTES = 36;
/**
 * Flag bit 0 (byte 3): a trace stamp follows the header, only while the sender traces
 * (trace/README.md): the sender's trace incarnation (u32) and its Lamport clock at the send (u48),
 * 10 bytes. Every other flag bit must be 0.
 */
export const F_TRACE = 0x01;
export const TRACE_STAMP_BYTES = 10;

/** Message types (byte 2). Client → server types are < 0x10, server → client types ≥ 0x10. */
export const MsgType = {
  REQUEST: 0x01,
  PROBE: 0x02,
  ACK: 0x03,
  REPLY: 0x10,
  ERROR: 0x11,
  WORKING: 0x12,
  UNKNOWN_CALL: 0x13,
} as const;
export type MsgTypeCode = (typeof MsgType)[keyof typeof MsgType];

const TYPE_NAMES: Record<number, string> = {
  0x01: 'request', 0x02: 'probe', 0x03: 'ack', 0x10: 'reply', 0x11: 'error', 0x12: 'working', 0x13: 'unknown-call',
};

export function isClientToServer(type: number): boolean {
  return type === MsgType.REQUEST || type === MsgType.PROBE || type === MsgType.ACK;
}
export function isServerToClient(type: number): boolean {
  return type === MsgType.REPLY || type === MsgType.ERROR || type === MsgType.WORKING || type === MsgType.UNKNOWN_CALL;
}

/** Largest sequence number / ack watermark: 2^53 - 1, so it stays an exact JS number. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Limits on body fields; a peer exceeding them sends a malformed message. */
export const MAX_NAME_CHARS = 256;
export const MAX_ERROR_MESSAGE_CHARS = 4096;
export const MAX_EXPLICIT_ACKS = 1024;

export interface Header {
  readonly type: MsgTypeCode;
  /** Random 64-bit id of the client process. */
  readonly clientId: bigint;
  /** Random non-zero 32-bit incarnation of the RpcClient. */
  readonly clientInc: number;
  /** Call sequence number (1 … 2^53-1); 0 in ACK messages. */
  readonly seq: number;
  /**
   * Client → server: the server incarnation the client expects (0 = not known yet).
   * Server → client: the sender's own incarnation (never 0).
   */
  readonly serverInc: number;
  /** Client → server: the client has seen the replies of all its calls with seq < ackBelow. 0 in replies. */
  readonly ackBelow: number;
  /** The sender's trace stamp (F_TRACE), when it was tracing: its incarnation and Lamport clock at the send. */
  readonly trace?: TraceStamp;
}

export interface TraceStamp {
  /** Non-zero. */
  readonly inc: number;
  /** 0 … 2^48 − 1. */
  readonly lc: number;
}

export type RpcMessage =
  | { readonly kind: 'request'; readonly h: Header; readonly iface: string; readonly version: number; readonly procId: number; readonly procName: string; readonly args: unknown[] }
  | { readonly kind: 'probe'; readonly h: Header }
  | { readonly kind: 'ack'; readonly h: Header; readonly acks: number[] }
  | { readonly kind: 'reply'; readonly h: Header; readonly result: unknown }
  | { readonly kind: 'error'; readonly h: Header; readonly code: RpcErrorCode; readonly message: string; readonly executed: Executed; readonly remoteCode: string | undefined }
  | { readonly kind: 'working'; readonly h: Header }
  | { readonly kind: 'unknown-call'; readonly h: Header };

export type DecodeResult =
  | { readonly ok: true; readonly msg: RpcMessage }
  | { readonly ok: false; readonly reason: string; readonly header?: Header };

const RPC_ERROR_CODES: ReadonlySet<string> = new Set<RpcErrorCode>([
  'RPC_ERR_INVALID_ARGS', 'RPC_ERR_INVALID_RESULT', 'RPC_ERR_UNKNOWN_INTERFACE', 'RPC_ERR_UNKNOWN_PROCEDURE',
  'RPC_ERR_VERSION_MISMATCH', 'RPC_ERR_REMOTE', 'RPC_ERR_SERVER_RESTARTED', 'RPC_ERR_UNREACHABLE',
  'RPC_ERR_DEADLINE', 'RPC_ERR_ABORTED', 'RPC_ERR_MALFORMED', 'RPC_ERR_OVERLOADED', 'RPC_ERR_CLOSED',
  'RPC_ERR_INVALID_ARGUMENT', 'RPC_ERR_UNAUTHENTICATED',
]);
const EXECUTED: ReadonlySet<string> = new Set<Executed>(['no', 'maybe', 'once']);

// ---------------------------------------------------------------- encoding

function writeU53(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, Math.floor(v / 0x1_0000_0000));
  dv.setUint32(off + 4, v >>> 0);
}

function readU53(dv: DataView, off: number): number | undefined {
  const hi = dv.getUint32(off);
  if (hi > 0x1f_ffff) return undefined;
  return hi * 0x1_0000_0000 + dv.getUint32(off + 4);
}

/** Header fields the sender fills in; `type` is given by the frame function used. */
export type HeaderFields = Omit<Header, 'type' | 'trace'>;

/** Frame one message: header + already-encoded body. */
export function frame(type: MsgTypeCode, h: HeaderFields, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + (body?.length ?? 0));
  const dv = new DataView(out.buffer);
  dv.setUint8(0, WIRE_MAGIC);
  dv.setUint8(1, WIRE_VERSION);
  dv.setUint8(2, type);
  dv.setUint8(3, 0);
  dv.setBigUint64(4, h.clientId);
  dv.setUint32(12, h.clientInc);
  writeU53(dv, 16, h.seq);
  dv.setUint32(24, h.serverInc);
  writeU53(dv, 28, h.ackBelow);
  if (body !== undefined) out.set(body, HEADER_BYTES);
  return out;
}

/**
 * A copy of `framed` (a frame without a stamp, as frame() makes) carrying `stamp`: the F_TRACE
 * flag set and the stamp inserted after the header. Frames are built and cached unstamped, and
 * stamped only as they are sent, so a reply sent again carries the stamp of that send.
 */
export function stampFrame(framed: Uint8Array, stamp: TraceStamp): Uint8Array {
  const out = new Uint8Array(framed.length + TRACE_STAMP_BYTES);
  out.set(framed.subarray(0, HEADER_BYTES), 0);
  out.set(framed.subarray(HEADER_BYTES), HEADER_BYTES + TRACE_STAMP_BYTES);
  out[3] = out[3]! | F_TRACE;
  const dv = new DataView(out.buffer);
  dv.setUint32(HEADER_BYTES, stamp.inc >>> 0);
  const lc = Math.min(Math.max(0, Math.floor(stamp.lc)), 2 ** 48 - 1);
  dv.setUint16(HEADER_BYTES + 4, Math.floor(lc / 0x1_0000_0000));
  dv.setUint32(HEADER_BYTES + 6, lc >>> 0);
  return out;
}

/** Body of a REQUEST. Throws if an argument cannot be encoded. */
export function encodeRequestBody(iface: string, version: number, procId: number, procName: string, args: unknown[]): Uint8Array {
  return encodeValue([iface, version, procId, procName, args]);
}

/** Body of a REPLY: the result wrapped in a one-element array (so `undefined`/void survives). Throws if not encodable. */
export function encodeReplyBody(result: unknown): Uint8Array {
  return encodeValue([result === undefined ? null : result]);
}

export function encodeErrorBody(code: RpcErrorCode, message: string, executed: Executed, remoteCode?: string): Uint8Array {
  return encodeValue([code, message.slice(0, MAX_ERROR_MESSAGE_CHARS), executed, remoteCode === undefined ? null : remoteCode.slice(0, MAX_NAME_CHARS)]);
}

export function encodeAckBody(acks: readonly number[]): Uint8Array | undefined {
  return acks.length === 0 ? undefined : encodeValue(acks.slice(0, MAX_EXPLICIT_ACKS));
}

// ---------------------------------------------------------------- decoding

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}
function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}
function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= MAX_NAME_CHARS;
}

/** Parse and validate the fixed header (and the trace stamp, when flagged) only; `body` is where the body starts. */
export function decodeHeader(bytes: Uint8Array): { ok: true; h: Header; body: number } | { ok: false; reason: string } {
  if (!(bytes instanceof Uint8Array)) return { ok: false, reason: 'not bytes' };
  if (bytes.length < HEADER_BYTES) return { ok: false, reason: `truncated: ${bytes.length} < ${HEADER_BYTES} header bytes` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint8(0) !== WIRE_MAGIC) return { ok: false, reason: `bad magic 0x${dv.getUint8(0).toString(16)}` };
  if (dv.getUint8(1) !== WIRE_VERSION) return { ok: false, reason: `unsupported version ${dv.getUint8(1)}` };
  const type = dv.getUint8(2);
  if (TYPE_NAMES[type] === undefined) return { ok: false, reason: `unknown type 0x${type.toString(16)}` };
  const flags = dv.getUint8(3);
  if ((flags & ~F_TRACE) !== 0) return { ok: false, reason: 'reserved flags set' };
  let trace: TraceStamp | undefined;
  if (flags & F_TRACE) {
    if (bytes.length < HEADER_BYTES + TRACE_STAMP_BYTES) return { ok: false, reason: 'truncated trace stamp' };
    const inc = dv.getUint32(HEADER_BYTES);
    if (inc === 0) return { ok: false, reason: 'trace stamp with incarnation 0' };
    trace = { inc, lc: dv.getUint16(HEADER_BYTES + 4) * 0x1_0000_0000 + dv.getUint32(HEADER_BYTES + 6) };
  }
  const clientId = dv.getBigUint64(4);
  const clientInc = dv.getUint32(12);
  if (clientInc === 0) return { ok: false, reason: 'client incarnation 0' };
  const seq = readU53(dv, 16);
  if (seq === undefined) return { ok: false, reason: 'seq beyond 2^53' };
  const serverInc = dv.getUint32(24);
  const ackBelow = readU53(dv, 28);
  if (ackBelow === undefined) return { ok: false, reason: 'ackBelow beyond 2^53' };
  if (type === MsgType.ACK) {
    if (seq !== 0) return { ok: false, reason: 'ack with non-zero seq' };
  } else if (seq === 0) {
    return { ok: false, reason: 'seq 0' };
  }
  if (isServerToClient(type)) {
    if (serverInc === 0) return { ok: false, reason: 'reply without server incarnation' };
    if (ackBelow !== 0) return { ok: false, reason: 'reply with ackBelow' };
  }
  const h: Header = trace === undefined
    ? { type: type as MsgTypeCode, clientId, clientInc, seq, serverInc, ackBelow }
    : { type: type as MsgTypeCode, clientId, clientInc, seq, serverInc, ackBelow, trace };
  return { ok: true, h, body: trace === undefined ? HEADER_BYTES : HEADER_BYTES + TRACE_STAMP_BYTES };
}

/** Parse and validate one whole message. Never throws. */
export function decodeMessage(bytes: Uint8Array): DecodeResult {
  const hr = decodeHeader(bytes);
  if (!hr.ok) return hr;
  const h = hr.h;
  const bodyBytes = bytes.subarray(hr.body);
  const bad = (reason: string): DecodeResult => ({ ok: false, reason, header: h });
  switch (h.type) {
    case MsgType.PROBE:
    case MsgType.WORKING:
    case MsgType.UNKNOWN_CALL:
      if (bodyBytes.length !== 0) return bad(`${TYPE_NAMES[h.type]} with a body`);
      return { ok: true, msg: { kind: TYPE_NAMES[h.type] as 'probe' | 'working' | 'unknown-call', h } };
    case MsgType.ACK: {
      if (bodyBytes.length === 0) return { ok: true, msg: { kind: 'ack', h, acks: [] } };
      const body = safeDecode(bodyBytes);
      if (body === BAD) return bad('ack body is not msgpack');
      if (!Array.isArray(body) || body.length > MAX_EXPLICIT_ACKS || !body.every(isSeq)) return bad('ack body is not an array of seqs');
      return { ok: true, msg: { kind: 'ack', h, acks: body as number[] } };
    }
    case MsgType.REQUEST: {
      const body = safeDecode(bodyBytes);
      if (body === BAD) return bad('request body is not msgpack');
      if (!Array.isArray(body) || body.length !== 5) return bad('request body is not a 5-element array');
      const [iface, version, procId, procName, args] = body as unknown[];
      if (!isName(iface)) return bad('request interface name is not a string of 1..256 chars');
      if (!isU32(version)) return bad('request version is not a uint32');
      if (!isU32(procId)) return bad('request procedure id is not a uint32');
      if (!isName(procName)) return bad('request procedure name is not a string of 1..256 chars');
      if (!Array.isArray(args)) return bad('request args is not an array');
      return { ok: true, msg: { kind: 'request', h, iface, version, procId, procName, args } };
    }
    case MsgType.REPLY: {
      const body = safeDecode(bodyBytes);
      if (body === BAD) return bad('reply body is not msgpack');
      if (!Array.isArray(body) || body.length !== 1) return bad('reply body is not a 1-element array');
      return { ok: true, msg: { kind: 'reply', h, result: body[0] } };
    }
    case MsgType.ERROR: {
      const body = safeDecode(bodyBytes);
      if (body === BAD) return bad('error body is not msgpack');
      if (!Array.isArray(body) || body.length !== 4) return bad('error body is not a 4-element array');
      const [code, message, executed, remoteCode] = body as unknown[];
      if (typeof code !== 'string' || !RPC_ERROR_CODES.has(code)) return bad('error code is not a known RpcErrorCode');
      if (typeof message !== 'string' || message.length > MAX_ERROR_MESSAGE_CHARS) return bad('error message is not a string');
      if (typeof executed !== 'string' || !EXECUTED.has(executed)) return bad('error executed is not no|maybe|once');
      if (remoteCode !== null && !(typeof remoteCode === 'string' && remoteCode.length <= MAX_NAME_CHARS)) return bad('error remoteCode is not a string or null');
      return {
        ok: true,
        msg: { kind: 'error', h, code: code as RpcErrorCode, message, executed: executed as Executed, remoteCode: remoteCode ?? undefined },
      };
    }
    default:
      return bad('unknown type');
  }
}

const BAD = Symbol('bad');
function safeDecode(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return BAD;
  try {
    return decodeValue(bytes);
  } catch {
    return BAD;
  }
}

/** Printable call id "clientId/incarnation/seq" (hex/hex/decimal). */
export function callIdString(clientId: bigint, clientInc: number, seq: number): string {
  return `${clientId.toString(16).padStart(16, '0')}/${clientInc.toString(16).padStart(8, '0')}/${seq}`;
}

/** One-line description of a message for logs and test failures. */
export function describeMessage(m: RpcMessage): string {
  const id = callIdString(m.h.clientId, m.h.clientInc, m.h.seq);
  const inc = `inc=${m.h.serverInc.toString(16)}`;
  switch (m.kind) {
    case 'request': return `request ${id} ${m.iface}@${m.version}.${m.procName}(#${m.procId}) ${inc} ackBelow=${m.h.ackBelow}`;
    case 'ack': return `ack ${id} ackBelow=${m.h.ackBelow} acks=[${m.acks.join(',')}]`;
    case 'error': return `error ${id} ${m.code} executed=${m.executed} ${inc}: ${m.message}`;
    case 'probe': return `probe ${id} ${inc} ackBelow=${m.h.ackBelow}`;
    default: return `${m.kind} ${id} ${inc}`;
  }
}
