/**
 * The public shape of a transport endpoint: what the RPC layer (and anyone else) may rely on.
 * A peer is named by its address string "host:port" (IPv4 dotted quad or "localhost" resolved
 * to 127.0.0.1 at the edge; IPv6 as "[::1]:port").
 */
import type { EventEmitter } from 'node:events';

export interface MessageEvent {
  /** Sender's address, "host:port". */
  readonly peer: string;
  /**
   * The sender's incarnation id toward us: the same for the whole life of the sending endpoint,
   * different after it restarts (a give-up or a new stream does not change it).
   */
  readonly session: number;
  /** The whole reassembled message, exactly as the sender passed it to send(). */
  readonly data: Uint8Array;
  /**
   * The sender's node id as the cluster key authenticates it (its `nodeId`, bound into the key it
   * seals with: see transport/README.md). Undefined on an unkeyed endpoint, where nothing is
   * authenticated and any sender can claim anything.
   */
  readonly peerId?: string | undefined;
}

/** The peer proved it is a new incarnation (it restarted): both streams started over. */
export interface PeerRestartedEvent {
  readonly peer: string;
  /** Incarnation ids (MessageEvent.session) before and after. */
  readonly oldSession: number;
  readonly newSession: number;
}

export interface PeerUnreachableEvent {
  readonly peer: string;
  /** Milliseconds the oldest unacknowledged datagram waited before the transport gave up. */
  readonly waitedMs: number;
  /**
   * The peer said it cannot read us (our datagrams did not authenticate under its key, or one of
   * us is keyed and the other not): the sends failed TRANSPORT_ERR_REFUSED.
   */
  readonly refused: boolean;
}

export interface PeerStats {
  readonly peer: string;
  /** Keyed endpoints: the peer's node id, authenticated by its key (undefined until proven, and unkeyed). */
  peerId: string | undefined;
  /** The peer's proven incarnation id (0 until it proved one). */
  incarnation: number;
  /** Listed in pinnedPeers: never evicted. */
  readonly pinned: boolean;
  /** Datagrams sent to this peer, first transmissions and retransmissions and pure acks. */
  datagramsSent: number;
  datagramsReceived: number;
  /** Data datagrams sent again after a timeout or a selective-ack gap. */
  retransmits: number;
  /** Data datagrams that carried two or more whole messages (messages sent in one tick, coalesced). */
  bundles: number;
  /** Messages handed to send() and fully acknowledged. */
  messagesSent: number;
  /** Messages delivered to the application. */
  messagesDelivered: number;
  /** Data datagrams received that were already delivered or buffered. */
  duplicatesDropped: number;
  /** Datagrams that carried only acks (no data). */
  pureAcksSent: number;
  /** Smoothed RTT estimate in microseconds (0 before the first sample). */
  srttUs: number;
  rttvarUs: number;
  /** Current retransmission timeout, microseconds. */
  rtoUs: number;
  /** Congestion window, in datagrams. */
  cwnd: number;
  /** Window the peer last advertised, in datagrams. */
  peerWindow: number;
  /** Datagrams sent but not yet acknowledged. */
  inFlight: number;
  /** Retransmission timeouts that backed off the RTO and cut the congestion window. */
  timeouts: number;
  /** First timer expiries of a stall, which only resend (tail-loss probes). */
  probes: number;
  /** Send streams given up after giveUpMs without an ack (each rejected its sends PEER_UNREACHABLE). */
  giveUps: number;
  /** Proven restarts of the peer. */
  restarts: number;
  /** Receive streams the peer started (its first, and one after each of its give-ups or restarts). */
  streamsReceived: number;
}

export interface EndpointStats {
  /** Datagrams dropped as bad: what the peer sent was wrong, stale or unproven. */
  readonly bad: {
    /** Shorter than a header, or header fields running past the end. */
    truncated: number;
    badVersion: number;
    badChecksum: number;
    /** Well-formed bytes, impossible meaning (flag combinations, an ack of data never sent, ...). */
    malformed: number;
    /** Longer than datagramBytes (from a loopback peer: than loopbackDatagramBytes, as the socket buffer allows). */
    oversized: number;
    /** For an earlier incarnation of ours, from a retired incarnation of the peer, or of a stream the peer abandoned. */
    staleSession: number;
    /** From an incarnation not proven yet (a stranger, a restart, a forgery): answered with a challenge, not processed. */
    unproven: number;
    /** Carried an echo that is not a cookie we sent to that address (forged, or older than 30-60 s). */
    badEcho: number;
    /**
     * Keyed endpoints: did not authenticate under the cluster key (a forgery, random bytes, a flipped
     * bit, a sender with another key, a clear-text datagram), or a refusal notice that does not
     * quote a datagram of ours. Dropped before any peer state is touched.
     */
    auth: number;
    /**
     * Keyed endpoints: authentic, but not new: a counter already taken (or older than the replay
     * window), a key or incarnation the peer retired, or addressed to an earlier incarnation of
     * ours (a replay, or a datagram from before our restart).
     */
    replay: number;
    /** Datagrams dropped by the fault injector (inbound + outbound). */
    injectedDrops: number;
  };
  /** Good datagrams (or parts of them) dropped because a limit was reached. */
  readonly dropped: {
    /** A proven sender got no state: maxPeers peers held, none idle. */
    tooManyPeers: number;
    /** Challenges not sent: maxChallengesPerSecond reached. */
    challengesRateLimited: number;
    /**
     * Keyed: datagrams under a key not seen lately dropped unchecked (counted in bad.auth too):
     * more such keys this second than maxChallengesPerSecond (deriving one costs an HKDF).
     */
    keyDerivationsRateLimited: number;
    /** Data beyond the advertised window. */
    beyondWindow: number;
    /** Fragments not accepted: maxReassemblyBytes held. */
    reassemblyBudget: number;
    /** Messages discarded whole: larger than maxMessageBytes. */
    messageTooLarge: number;
    /** Messages discarded whole: more than maxFragmentsPerMessage fragments. */
    fragmentLimit: number;
    /**
     * Unfinished messages a sender abandoned (a new start or a bundle before their last fragment),
     * and fragments that continue no message: only a broken or hostile sender sends either.
     */
    abandoned: number;
  };
  readonly handshake: {
    challengesSent: number;
    /** Incarnations proven by an echo (first contacts and restarts). */
    proofs: number;
    /** Keyed: refusal notices sent, answering datagrams that did not authenticate (rate-limited with the challenges). */
    refusalsSent: number;
    /** Keyed: refusal notices received that quote a datagram of ours (the peer does not share our key). */
    refusalsReceived: number;
  };
  /** Datagrams are sealed with a cluster key (the `key` option). */
  readonly keyed: boolean;
  /** The last datagram that failed authentication (keyed), or came in the other mode: who sent it, why, when (ms, the endpoint's clock). */
  readonly lastAuthFailure: { readonly from: string; readonly reason: string; readonly atMs: number } | undefined;
  /** Errors the socket reported after binding (e.g. ICMP port unreachable), counted, never thrown. */
  socketErrors: number;
  /** Unpinned peers whose state was evicted to make room (idle ones, least recently active first). */
  peersEvicted: number;
  /** Bytes held for reorder buffers and unfinished messages, all peers together (≤ maxReassemblyBytes). */
  reassemblyBytes: number;
  datagramsSent: number;
  datagramsReceived: number;
  /** UDP payload bytes of those datagrams (headers, and with a key the seal, included). */
  bytesSent: number;
  bytesReceived: number;
  readonly peers: PeerStats[];
}

export interface TransportEvents {
  message: [MessageEvent];
  'peer-restarted': [PeerRestartedEvent];
  'peer-unreachable': [PeerUnreachableEvent];
}

export interface Endpoint extends EventEmitter<TransportEvents> {
  /** Node id used in log prefixes; on a keyed endpoint also its authenticated identity (MessageEvent.peerId at its peers). */
  readonly nodeId: string;
  /** Datagrams are sealed with a cluster key. */
  readonly keyed: boolean;
  /** The bound address, "host:port". */
  readonly address: string;
  readonly port: number;
  /**
   * A random id of this start of the endpoint, for logs. (Each peer knows us by its own
   * incarnation id, derived from a secret drawn at start: see transport/README.md.)
   */
  readonly session: number;
  /**
   * Queue `data` for reliable, in-order delivery to `peer` ("host:port"). Resolves once the peer
   * has acknowledged every fragment; rejects with a TransportError (PEER_UNREACHABLE after
   * giveUpMs, PEER_RESTARTED, MESSAGE_TOO_LARGE, QUEUE_FULL, CLOSED). The bytes are copied.
   */
  send(peer: string, data: Uint8Array): Promise<void>;
  stats(): EndpointStats;
  peerStats(peer: string): PeerStats | undefined;
  /** Stop: pending sends reject with TRANSPORT_ERR_CLOSED; the socket is closed. */
  close(): Promise<void>;
}
