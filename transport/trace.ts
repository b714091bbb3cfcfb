/**
 * The transport's trace events (trace/README.md): what a datagram says in a trace, and the stamp
 * that carries the sender's Lamport clock while it traces (the F_TRACE field of wire.ts). Every
 * function here is called only when the node traces (`tn.active`), so nothing is built otherwise.
 */
import { TraceNode } from '../trace/node.js';
import { encodedLength, F_ACK, F_CHALLENGE, F_DATA, F_ECHO, F_SYN, F_TRACE, TRACE_STAMP_BYTES, type Datagram } from './wire.js';

/** "DATA|SYN|ACK|CHALLENGE": the datagram's flags (without FIRST/LAST/TRACE). */
export function flagNames(flags: number): string {
  const n: string[] = [];
  if (flags & F_SYN) n.push('SYN');
  if (flags & F_DATA) n.push('DATA');
  if (flags & F_ACK) n.push('ACK');
  if (flags & F_CHALLENGE) n.push('CHALLENGE');
  if (flags & F_ECHO) n.push('ECHO');
  return n.join('|') || 'NONE';
}

/** What an arrow for the datagram says: "DATA seq=12, ack 7", "ack 13", "challenge". */
export function datagramLabel(d: Pick<Datagram, 'flags' | 'seq' | 'ack'>, tx?: number): string {
  const parts: string[] = [];
  if (d.flags & F_DATA) parts.push(`DATA seq=${d.seq}${tx !== undefined && tx > 1 ? ` (again, #${tx})` : ''}`);
  if (d.flags & F_ACK) parts.push(`ack ${d.ack}`);
  if (d.flags & F_CHALLENGE) parts.push('challenge');
  if (d.flags & F_ECHO) parts.push('echo');
  return parts.join(', ') || 'datagram';
}

/**
 * Publish the send of `d` to `address` (when the transport layer is subscribed) and return `d`
 * stamped with that event's clock (F_TRACE), so the receiver names this send as its cause.
 */
export function stampSend(tn: TraceNode, d: Datagram, address: string, tx?: number): Datagram {
  let lc = tn.lc;
  const bytes = encodedLength(d) + TRACE_STAMP_BYTES;
  if (tn.transport.on) {
    lc = tn.transport.emit({
      type: 'datagram-sent', dir: 'send', peer: tn.peerName(address), flags: flagNames(d.flags), bytes,
      ...(d.flags & F_DATA ? { seq: d.seq } : {}), ...(d.flags & F_ACK ? { ack: d.ack } : {}), ...(tx !== undefined ? { tx } : {}),
      label: datagramLabel(d, tx),
    });
  }
  d.flags |= F_TRACE;
  d.trace = { inc: tn.inc, lc };
  return d;
}

/** A decoded datagram from `address` arrived: move the clock past its stamp and publish the receive. */
export function traceReceive(tn: TraceNode, d: Datagram, address: string, bytes: number): void {
  if (d.trace !== undefined) tn.observe(d.trace.lc);
  if (!tn.transport.on) return;
  tn.transport.emit({
    type: 'datagram-received', dir: 'recv', peer: tn.peerName(address), flags: flagNames(d.flags), bytes,
    ...(d.trace !== undefined ? { cause: TraceNode.remoteKey(d.trace.inc, d.trace.lc) } : {}),
    ...(d.flags & F_DATA ? { seq: d.seq } : {}), ...(d.flags & F_ACK ? { ack: d.ack } : {}),
    label: datagramLabel(d),
  });
}
