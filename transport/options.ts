/**
 * Endpoint options: every default lives here, next to its documentation, and every option is
 * validated once, at construction, with a message that says what is allowed.
 */
import { checkClusterKey } from './cluster-key.js';
import { TransportError } from './errors.js';
import { validateFaultSpec, type FaultOptions } from './faults.js';
import { MAX_OVERHEAD_BYTES } from './wire.js';
import { MAX_NODE_ID_BYTES } from './seal.js';
import type { Random } from './random.js';

export interface EndpointOptions {
  /** Address to bind. @default '127.0.0.1' */
  host?: string;
  /** Port to bind; 0 picks a free one. @default 0 */
  port?: number;
  /**
   * Name used in log lines. With a `key`, also this endpoint's identity: it is bound into every
   * datagram's key and peers receive it as MessageEvent.peerId (1 to 64 bytes of UTF-8 then).
   * @default "host:port" once bound
   */
  nodeId?: string;
  /**
   * The cluster key: 32 random bytes every endpoint of the cluster shares (generateClusterKey(),
   * `pagewire keygen`). With it, every datagram is encrypted and authenticated (AES-256-GCM, a key
   * per sender start derived by HKDF), replays and forgeries are dropped and counted
   * (stats().bad.auth, .replay), and only endpoints with the same key can talk to this one.
   * Without it, datagrams travel in clear text with a CRC32C. @default none (clear text)
   */
  key?: Uint8Array;
  /** Largest datagram sent or accepted, header included. Fits a 1,500-byte Ethernet MTU with room for IP/UDP and tunnels. @default 1200 */
  datagramBytes?: number;
  /**
   * Largest datagram sent to and accepted from peers on loopback (127.0.0.0/8, ::1), where no
   * Ethernet MTU applies (Linux's loopback MTU is 65,536): like TCP, which takes its segment size
   * from the interface, a bulk transfer between processes of one machine then needs a fraction of
   * the datagrams (and of the CPU). Used toward a peer only once it said it accepts as much (every
   * datagram to a loopback peer carries what its sender accepts), and never more than the socket's
   * receive buffer holds a full window of (windowDatagrams + 16 of them; the kernel may give less
   * than socketBufferBytes). @default 65_000, or datagramBytes when that is given
   */
  loopbackDatagramBytes?: number;
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
  /**
   * Peers ("host:port") whose state is created at start and never evicted, whatever strangers
   * send: the nodes of a cluster. They do not count against maxPeers. @default []
   */
  pinnedPeers?: readonly string[];
  /**
   * Other peers with state at once. State is only created for a sender that proved it receives
   * at its address (it echoed our challenge) or that we send to; beyond this many, the least
   * recently active peer with nothing queued is evicted. @default 1024
   */
  maxPeers?: number;
  /**
   * Bytes held for all peers together in reorder buffers and unfinished messages. A fragment that
   * would exceed it is not accepted (the sender retransmits it later) and advertised windows
   * shrink as it fills. Must be at least 2 × maxMessageBytes. @default 64 MiB, or 2 × maxMessageBytes if larger
   */
  maxReassemblyBytes?: number;
  /**
   * Fragments one message may have; a message with more is discarded whole (the stream goes on).
   * The default admits a maxMessageBytes message from a sender with the smallest datagrams. @default 16384
   */
  maxFragmentsPerMessage?: number;
  /**
   * Challenges this endpoint sends per second, at most (bursts of a tenth of it). They answer
   * datagrams from senders not yet proven, which anyone can forge, so this bounds what a flood
   * can make us send to the addresses it forges. @default 10000
   */
  maxChallengesPerSecond?: number;
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
  /**
   * Randomness for the incarnation secret and initial sequence numbers; pass a seeded one to make
   * a run reproducible. @default node:crypto
   */
  random?: Random;
}

export type ResolvedOptions = Required<Omit<EndpointOptions, 'nodeId' | 'faults' | 'initialSeq' | 'random' | 'pinnedPeers' | 'key'>> & {
  nodeId: string | undefined;
  /** A copy of the cluster key; undefined: clear text. */
  key: Uint8Array | undefined;
  faults: FaultOptions | undefined;
  initialSeq: number | (() => number) | undefined;
  /** undefined: the secret comes from node:crypto. */
  random: Random | undefined;
  pinnedPeers: readonly string[];
};

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  datagramBytes: 1200,
  loopbackDatagramBytes: 65_000,
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
  maxReassemblyBytes: 64 * 1024 * 1024,
  maxFragmentsPerMessage: 16_384,
  maxChallengesPerSecond: 10_000,
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
    key: undefined,
    datagramBytes: int('datagramBytes', o.datagramBytes ?? DEFAULTS.datagramBytes, MAX_OVERHEAD_BYTES + 64, 65507),
    loopbackDatagramBytes: 0,
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
    pinnedPeers: o.pinnedPeers ?? [],
    maxReassemblyBytes: 0,
    maxFragmentsPerMessage: int('maxFragmentsPerMessage', o.maxFragmentsPerMessage ?? DEFAULTS.maxFragmentsPerMessage, 1, 1 << 24),
    maxChallengesPerSecond: int('maxChallengesPerSecond', o.maxChallengesPerSecond ?? DEFAULTS.maxChallengesPerSecond, 1, 1 << 24),
    socketBufferBytes: int('socketBufferBytes', o.socketBufferBytes ?? DEFAULTS.socketBufferBytes, 4096, 1 << 30),
    initialSeq: o.initialSeq,
    faults: o.faults,
    now: o.now ?? (() => performance.now()),
    random: o.random,
  };
  const minBudget = 2 * r.maxMessageBytes;
  r.loopbackDatagramBytes = o.loopbackDatagramBytes === undefined
    ? (o.datagramBytes === undefined ? DEFAULTS.loopbackDatagramBytes : r.datagramBytes)
    : int('loopbackDatagramBytes', o.loopbackDatagramBytes, r.datagramBytes, 65_000);
  r.maxReassemblyBytes = o.maxReassemblyBytes === undefined
    ? Math.max(DEFAULTS.maxReassemblyBytes, minBudget)
    : int('maxReassemblyBytes', o.maxReassemblyBytes, 1, 2 ** 40);
  if (r.maxReassemblyBytes < minBudget) {
    throw bad(`maxReassemblyBytes (${r.maxReassemblyBytes}) must be at least 2 × maxMessageBytes (${minBudget}), or one whole message might never fit`);
  }
  if (!Array.isArray(r.pinnedPeers) || r.pinnedPeers.some((p) => typeof p !== 'string')) {
    throw bad('pinnedPeers must be an array of "host:port" strings');
  }
  if (r.pinnedPeers.length > 1 << 16) throw bad(`pinnedPeers may list at most 65536 peers, got ${r.pinnedPeers.length}`);
  if (r.random !== undefined && typeof r.random !== 'function') throw bad('random must be a function returning numbers in [0, 1)');
  if (typeof r.host !== 'string' || r.host.length === 0) throw bad('host must be a non-empty string');
  if (r.nodeId !== undefined && (typeof r.nodeId !== 'string' || r.nodeId.length === 0)) throw bad('nodeId must be a non-empty string');
  if (o.key !== undefined) {
    checkClusterKey(o.key, 'key');
    r.key = Uint8Array.from(o.key);
    const idBytes = r.nodeId === undefined ? 0 : Buffer.byteLength(r.nodeId, 'utf8');
    if (idBytes > MAX_NODE_ID_BYTES) throw bad(`nodeId must be at most ${MAX_NODE_ID_BYTES} bytes of UTF-8 with a key (it is in every datagram's header), got ${idBytes}`);
  }
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
