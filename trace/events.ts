/**
 * The event model: what every traced event carries, and the typed events of each layer.
 * trace/README.md lists every event with its fields and says when it is published.
 *
 * Every event is one plain JSON-able object (no bigint, no typed arrays), so a subscriber can
 * keep it, post it to another thread or write it as one JSON line without converting anything.
 */

/** The layers that publish events, each on its own diagnostics channel (CHANNELS). */
export const LAYERS = ['transport', 'rpc', 'dsm'] as const;
export type Layer = (typeof LAYERS)[number];

/**
 * The envelope every event carries, filled in by LayerTrace.emit():
 * who (node), when (t, a monotonic clock), in which causal order (lc, a Lamport clock), and,
 * for the two ends of a message, how they connect across nodes (cause).
 */
export interface Envelope {
  /** Node id of the node that published the event (the endpoint's nodeId, e.g. "1"). */
  readonly node: string;
  /**
   * Milliseconds, microsecond resolution: performance.timeOrigin + performance.now(). Monotonic
   * within a process; comparable between processes of one host (it tracks the wall clock).
   */
  readonly t: number;
  /**
   * Lamport clock of the publishing node incarnation: +1 per event, and on a receive at least one
   * more than the sender's clock at the send (the clock travels with the message). So for any
   * receive R of a send S, S.lc < R.lc; events of one node are in `lc` order.
   */
  readonly lc: number;
  readonly layer: Layer;
  readonly type: string;
}

/** Fields any event may carry; the renderers know these and nothing layer-specific. */
export interface CommonFields {
  /** The other node of a message or of a decision about a peer: its node id, or "host:port" when the node has no name for it. */
  readonly peer?: string;
  /**
   * On the receiving end of a message: the key ("inc:lc", see eventKey) of the event that sent it
   * on the peer. The pair is drawn as an arrow and is a happened-before edge.
   */
  readonly cause?: string;
  /**
   * The key of the event that started the message this event is about (the layer above's send,
   * when it set one), on events at both ends; a happened-before edge when it is another node's.
   */
  readonly msg?: string;
  /** The DSM page this event concerns. */
  readonly page?: number;
  /** A short human label: what an arrow or a mark says in the diagrams. */
  readonly label?: string;
  /**
   * 'send' on the event that puts a message or datagram on its way (an arrow starts here, or a
   * lost arrow when nothing names it as `cause`); 'recv' on the one that takes it in (with `cause`).
   */
  readonly dir?: 'send' | 'recv';
  /** The key of an earlier event of the same node this one is about (e.g. the datagram an injector dropped). */
  readonly of?: string;
}

/**
 * The key of an event: its node incarnation (hex) and Lamport clock, "9f3a01bc:57". Unique
 * across a cluster (a Lamport clock never repeats within an incarnation), and what `cause` and
 * `msg` refer to. Incarnations are mapped to nodes by the trace files' headers.
 */
export function eventKey(incHex: string, lc: number): string {
  return `${incHex}:${lc}`;
}

// --------------------------------------------------------------------------- transport

/** What a datagram carried: DATA seq=12, ACK, SYN, CHALLENGE, ECHO, joined by "+". */
export type TransportEvent =
  /** A datagram handed to the socket (or to the outbound fault injector). */
  | (CommonFields & {
    readonly type: 'datagram-sent'; readonly dir: 'send'; readonly peer: string; readonly flags: string; readonly bytes: number;
    readonly seq?: number; readonly ack?: number;
    /** Transmissions of this data datagram so far: 1 the first, more for retransmissions. */
    readonly tx?: number;
  })
  /** A datagram taken from the socket and decoded (before the session decides what to do with it). */
  | (CommonFields & {
    readonly type: 'datagram-received'; readonly dir: 'recv'; readonly peer: string; readonly flags: string; readonly bytes: number;
    readonly seq?: number; readonly ack?: number;
  })
  /** The fault injector dropped a datagram: `of` our send (outbound), `cause` the peer's (inbound). */
  | (CommonFields & { readonly type: 'datagram-dropped'; readonly peer: string; readonly direction: 'outbound' | 'inbound' })
  /** The fault injector flipped bits of a datagram we sent (`of`): the receiver's CRC32C will refuse it. */
  | (CommonFields & { readonly type: 'datagram-corrupted'; readonly peer: string })
  /** A datagram that failed validation: bad checksum, truncated, malformed, ... (counted, dropped). */
  | (CommonFields & { readonly type: 'datagram-corrupt'; readonly peer: string; readonly reason: string; readonly bytes: number })
  /** send() accepted a message: the transport keeps a copy until the peer acknowledges all of it. */
  | (CommonFields & { readonly type: 'message-sent'; readonly peer: string; readonly bytes: number })
  /** Every fragment of a message was acknowledged (`of`: its message-sent): the copy is dropped, send() resolves. */
  | (CommonFields & { readonly type: 'message-acked'; readonly peer: string; readonly bytes: number; readonly ms: number })
  /** A whole message handed to the layer above, exactly once. */
  | (CommonFields & { readonly type: 'message-delivered'; readonly peer: string; readonly bytes: number })
  /** A data datagram already received: acknowledged again, not delivered again. */
  | (CommonFields & { readonly type: 'duplicate-received'; readonly peer: string; readonly seq: number })
  /** The retransmission timer went off: a tail-loss probe (first expiry of a stall) or a timeout (RTO backed off). */
  | (CommonFields & { readonly type: 'rto-fired'; readonly peer: string; readonly kind: 'probe' | 'timeout'; readonly rtoMs: number; readonly resent: number })
  /** A datagram waited giveUpMs unacknowledged: the send stream ends, its sends fail PEER_UNREACHABLE. */
  | (CommonFields & { readonly type: 'give-up'; readonly peer: string; readonly waitedMs: number })
  /** A challenge sent to an address we hold no state for (first contact): stateless, and never stamped, so it never grows. */
  | (CommonFields & { readonly type: 'stateless-answer'; readonly peer: string })
  /** The peer proved an incarnation (first contact), restarted (proven new incarnation), or started a newer stream. */
  | (CommonFields & { readonly type: 'session-change'; readonly peer: string; readonly kind: 'proven' | 'restart' | 'new-stream'; readonly incarnation: string });

// --------------------------------------------------------------------------- rpc

/** Kinds of RPC messages (rpc/runtime/README.md). */
export type RpcKind = 'request' | 'probe' | 'ack' | 'reply' | 'error' | 'working' | 'unknown-call';

export type RpcEvent =
  /** An RPC message handed to the transport (client: request/probe/ack; server: reply/error/working/unknown-call). */
  | (CommonFields & {
    readonly type: 'rpc-sent'; readonly dir: 'send'; readonly kind: RpcKind; readonly call: string; readonly peer: string;
    readonly iface?: string; readonly proc?: string;
    /** Copies of this request sent so far (1 = first), or the probe number. */
    readonly attempt?: number;
    /** Error code of an error message. */
    readonly code?: string;
    /** The server sent a saved reply again (for a duplicate request or a probe). */
    readonly resent?: boolean;
  })
  /** An RPC message taken from the transport. */
  | (CommonFields & {
    readonly type: 'rpc-received'; readonly dir: 'recv'; readonly kind: RpcKind; readonly call: string; readonly peer: string;
    readonly iface?: string; readonly proc?: string; readonly code?: string;
  })
  /** The server starts the handler of a call (the call's one and only execution). */
  | (CommonFields & { readonly type: 'rpc-executed'; readonly call: string; readonly peer: string; readonly iface: string; readonly proc: string; readonly pool: boolean })
  /** The server recognised a request it had seen and did not run it again. */
  | (CommonFields & {
    readonly type: 'rpc-duplicate'; readonly call: string; readonly peer: string;
    /** What the server knew of the call: still running (answered WORKING), done (saved reply sent again), stale (acked, dropped), lost (reply evicted). */
    readonly state: 'running' | 'done' | 'stale' | 'lost';
  })
  /** A call ended on the client: returned, or failed with a code and whether it ran. */
  | (CommonFields & {
    readonly type: 'rpc-call-done'; readonly call: string; readonly peer: string; readonly iface: string; readonly proc: string;
    readonly ok: boolean; readonly code?: string; readonly executed?: string; readonly ms: number;
  })
  /** A message that failed validation was dropped. */
  | (CommonFields & { readonly type: 'rpc-malformed'; readonly peer: string; readonly reason: string })
  /** The client heard a new server incarnation. */
  | (CommonFields & { readonly type: 'rpc-server-restarted'; readonly peer: string; readonly oldIncarnation: string; readonly newIncarnation: string });

// --------------------------------------------------------------------------- dsm

export type DsmEvent =
  /** The page store asked the protocol for a page: an application thread is blocked on it. */
  | (CommonFields & { readonly type: 'fault-begin'; readonly page: number; readonly access: 'read' | 'write' })
  /** The fault ended (`of` names its fault-begin): the page was installed (ok) or failed (code), after `ms`. */
  | (CommonFields & { readonly type: 'fault-end'; readonly page: number; readonly access: 'read' | 'write'; readonly of: string; readonly ok: boolean; readonly ms: number; readonly code?: string })
  /** Requester: asks the page's manager (peer) for it. */
  | (CommonFields & { readonly type: 'request'; readonly page: number; readonly access: 'read' | 'write'; readonly peer: string })
  /** Manager: forwards a request to the page's owner (peer). */
  | (CommonFields & { readonly type: 'forward'; readonly page: number; readonly access: 'read' | 'write'; readonly requester: string; readonly peer: string })
  /** Manager: grants the page to the requester (peer), transfer `epoch`. */
  | (CommonFields & { readonly type: 'grant'; readonly page: number; readonly access: 'read' | 'write'; readonly peer: string; readonly epoch: number })
  /** Manager: the page's owner on record changed (a write's grant, or an aborted transfer undone). */
  | (CommonFields & { readonly type: 'owner-change'; readonly page: number; readonly from: string; readonly to: string; readonly epoch: number })
  /** Owner: asks a copy holder (peer) to drop its read copy; then that it did. */
  | (CommonFields & { readonly type: 'invalidate-sent' | 'invalidate-acked'; readonly page: number; readonly peer: string })
  /** Copy holder: its read copy was dropped. */
  | (CommonFields & { readonly type: 'invalidated'; readonly page: number })
  /** Membership (dsm/protocol/membership.ts): a peer up, suspected, decided dead; this node fenced (peer: by whom); a majority up; another configuration. */
  | (CommonFields & { readonly type: 'peer-up' | 'peer-suspected' | 'peer-dead' | 'peer-fenced' | 'peer-refused' | 'majority-up' | 'config-mismatch'; readonly peer: string; readonly reason: string });

/** Any event as a subscriber receives it. */
export type TraceEvent = Envelope & CommonFields & Record<string, unknown>;
