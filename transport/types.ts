/**
 * The public shape of a transport endpoint: what the RPC layer (and anyone else) may rely on.
 * A peer is named by its address string "host:port" (IPv4 dotted quad or "localhost" resolved
 * to 127.0.0.1 at the edge; IPv6 as "[::1]:port").
 */
import type { EventEmitter } from 'node:events';

export interface MessageEvent {
  /** Sender's address, "host:port". */
  readonly peer: string;
  /** The sender's session id (changes when the sender restarts). */
  readonly session: number;
  /** The whole reassembled message, exactly as the sender passed it to send(). */
  readonly data: Uint8Array;
}

export interface PeerRestartedEvent {
  readonly peer: string;
  readonly oldSession: number;
  readonly newSession: number;
}

export interface PeerUnreachableEvent {
  readonly peer: string;
  /** Milliseconds the oldest unacknowledged datagram waited before the transport gave up. */
  readonly waitedMs: number;
}

export interface PeerStats {
  readonly peer: string;
  /** Datagrams sent to this peer, first transmissions and retransmissions and pure acks. */
  datagramsSent: number;
  datagramsReceived: number;
  /** Data datagrams sent again after a timeout or a selective-ack gap. */
  retransmits: number;
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
}

export interface EndpointStats {
  /** Datagrams dropped before reaching any peer state, by reason. */
  readonly bad: {
    truncated: number;
    badVersion: number;
    badChecksum: number;
    malformed: number;
    oversized: number;
    staleSession: number;
    /** Datagrams dropped by the fault injector (inbound + outbound). */
    injectedDrops: number;
  };
  datagramsSent: number;
  datagramsReceived: number;
  readonly peers: PeerStats[];
}

export interface TransportEvents {
  message: [MessageEvent];
  'peer-restarted': [PeerRestartedEvent];
  'peer-unreachable': [PeerUnreachableEvent];
}

export interface Endpoint extends EventEmitter<TransportEvents> {
  /** Node id used in log prefixes. */
  readonly nodeId: string;
  /** The bound address, "host:port". */
  readonly address: string;
  readonly port: number;
  /** This endpoint's own session id (random per start). */
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
