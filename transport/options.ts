/**
 * Endpoint options: every default lives here, next to its documentation, and every option is
 * validated once, at construction, with a message that says what is allowed.
 */
import { TransportError } from './errors.js';
import { validateFaultSpec, type FaultOptions } from './faults.js';
import { MAX_OVERHEAD_BYTES } from './wire.js';
import type { Random } from './random.js';

export interface EndpointOptions {
  /** Address to bind. @default '127.0.0.1' */
  host?: string;
  /** Port to bind; 0 picks a free one. @default 0 */
  port?: number;
  /** Name used in log lines. @default "host:port" once bound */
  nodeId?: string;
  /** Largest datagram sent or accepted, header included. Fits a 1,500-byte Ethernet MTU with room for IP/UDP and tunnels. @default 1200 */
  datagramBytes?: number;
  /** Largest message send() accepts and the receiver reassembles. @default 1_048_576 (1 MiB) */
  maxMessageBytes?: number;
  /** Receive window advertised to each peer, in datagrams (out-of-order buffer). @default 64 */
  windowDatagrams?: number;
  /** Congestion window at start and after idle, in datagrams. @default 10 */
  initialCwnd?: number;
  /**
   * Floor of the congestion window after a loss, in datagrams. TCP's floor of 1-2 segments is
   * for sharing the Internet; on a LAN or loopback a higher floor keeps a link with random
   * (non-congestion) loss usable. Raise it for lossy links. @default 8
   */
  minCwnd?: number;
  /** RTO before any RTT sample. @default 100 */
  initialRtoMs?: number;
  /** Floor of the adaptive RTO. Loopback round trips are ~25 us; Node timers tick in 1 ms. @default 4 */
  minRtoMs?: number;
  /** Ceiling of the RTO after exponential back-off. @default 1000 */
  maxRtoMs?: number;
  /** A datagram unacknowledged for this long makes the peer unreachable: its sends reject. @default 2000 */
  giveUpMs?: number;
  /** How long an ack may wait for outgoing data to ride on. Must stay below minRtoMs. @default 1 */
  ackDelayMs?: number;
  /** Messages queued per peer (not yet acknowledged) before send() rejects with QUEUE_FULL. @default 65536 */
  maxQueuedMessages?: number;
  /** Peers with state at once; idle ones are evicted beyond this. @default 1024 */
  maxPeers?: number;
  /** SO_RCVBUF / SO_SNDBUF requested (the kernel may cap it, e.g. net.core.rmem_max). @default 4 MiB */
  socketBufferBytes?: number;
  /**
   * First sequence number of each new stream; a number (tests start near 2^32 to cross the
   * wrap) or a function. @default random
   */
  initialSeq?: number | (() => number);
  /** Fault injection, off by default. */
  faults?: FaultOptions;
  /** Monotonic clock in milliseconds. @default performance.now */
  now?: () => number;
  /** Randomness for session ids and initial sequence numbers. @default Math.random */
  random?: Random;
}

export type ResolvedOptions = Required<Omit<EndpointOptions, 'nodeId' | 'faults' | 'initialSeq'>> & {
  nodeId: string | undefined;
  faults: FaultOptions | undefined;
  initialSeq: number | (() => number) | undefined;
};

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  datagramBytes: 1200,
  maxMessageBytes: 1_048_576,
  windowDatagrams: 64,
  initialCwnd: 10,
  minCwnd: 8,
  initialRtoMs: 100,
  minRtoMs: 4,
  maxRtoMs: 1000,
  giveUpMs: 2000,
  ackDelayMs: 1,
  maxQueuedMessages: 65_536,
  maxPeers: 1024,
  socketBufferBytes: 4 * 1024 * 1024,
} as const;

function bad(message: string): TransportError {
  return new TransportError('TRANSPORT_ERR_INVALID_ARGUMENT', message);
}

function int(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw bad(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  return v;
}

function ms(name: string, v: number, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw bad(`${name} must be a number of milliseconds in [${lo}, ${hi}], got ${String(v)}`);
  }
  return v;
}

export function resolveOptions(o: EndpointOptions = {}): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw bad('options must be an object');
  const r: ResolvedOptions = {
    host: o.host ?? DEFAULTS.host,
    port: int('port', o.port ?? DEFAULTS.port, 0, 65535),
    nodeId: o.nodeId,
    datagramBytes: int('datagramBytes', o.datagramBytes ?? DEFAULTS.datagramBytes, MAX_OVERHEAD_BYTES + 64, 65507),
    maxMessageBytes: int('maxMessageBytes', o.maxMessageBytes ?? DEFAULTS.maxMessageBytes, 1, 1 << 30),
    windowDatagrams: int('windowDatagrams', o.windowDatagrams ?? DEFAULTS.windowDatagrams, 1, 65535),
    initialCwnd: int('initialCwnd', o.initialCwnd ?? DEFAULTS.initialCwnd, 1, 65535),
    minCwnd: int('minCwnd', o.minCwnd ?? DEFAULTS.minCwnd, 1, 65535),
    initialRtoMs: ms('initialRtoMs', o.initialRtoMs ?? DEFAULTS.initialRtoMs, 0.1, 60_000),
    minRtoMs: ms('minRtoMs', o.minRtoMs ?? DEFAULTS.minRtoMs, 0.1, 60_000),
    maxRtoMs: ms('maxRtoMs', o.maxRtoMs ?? DEFAULTS.maxRtoMs, 0.1, 600_000),
    giveUpMs: ms('giveUpMs', o.giveUpMs ?? DEFAULTS.giveUpMs, 1, 3_600_000),
    ackDelayMs: ms('ackDelayMs', o.ackDelayMs ?? DEFAULTS.ackDelayMs, 0, 1000),
    maxQueuedMessages: int('maxQueuedMessages', o.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages, 1, 1 << 24),
    maxPeers: int('maxPeers', o.maxPeers ?? DEFAULTS.maxPeers, 1, 1 << 20),
    socketBufferBytes: int('socketBufferBytes', o.socketBufferBytes ?? DEFAULTS.socketBufferBytes, 4096, 1 << 30),
    initialSeq: o.initialSeq,
    faults: o.faults,
    now: o.now ?? (() => performance.now()),
    random: o.random ?? Math.random,
  };
  if (typeof r.host !== 'string' || r.host.length === 0) throw bad('host must be a non-empty string');
  if (r.minRtoMs > r.maxRtoMs) throw bad(`minRtoMs (${r.minRtoMs}) must not exceed maxRtoMs (${r.maxRtoMs})`);
  if (r.ackDelayMs >= r.minRtoMs) {
    throw bad(`ackDelayMs (${r.ackDelayMs}) must be below minRtoMs (${r.minRtoMs}), or delayed acks cause spurious retransmissions`);
  }
  if (typeof r.initialSeq === 'number') int('initialSeq', r.initialSeq, 0, 2 ** 32 - 1);
  else if (r.initialSeq !== undefined && typeof r.initialSeq !== 'function') throw bad('initialSeq must be a number or a function');
  if (r.faults !== undefined) {
    try {
      if (r.faults.seed !== undefined) int('faults.seed', r.faults.seed, 0, 2 ** 32 - 1);
      if (r.faults.inbound) validateFaultSpec(r.faults.inbound, 'faults.inbound');
      if (r.faults.outbound) validateFaultSpec(r.faults.outbound, 'faults.outbound');
    } catch (e) {
      if (e instanceof RangeError) throw bad(e.message);
      throw e;
    }
  }
  return r;
}
