/**
 * An in-process implementation of the transport Endpoint interface, for testing the layers
 * above the transport without sockets: a MemoryNetwork connects endpoints by address, and
 * delivers every message exactly once and in order (global FIFO via setImmediate), like the
 * real transport does while the peer lives.
 *
 * Failure controls:
 *  - crash(address): the endpoint stops answering. Messages to it (queued or new) are not
 *    delivered and their send() rejects with TRANSPORT_ERR_PEER_UNREACHABLE after giveUpMs.
 *    The crashed endpoint's own pending and future sends are dropped (rejected CLOSED).
 *  - restart(address): a new endpoint at the same address with a new session id. Peers learn
 *    of it when they receive its first message ('peer-restarted' before the 'message').
 *    Messages queued for the old session are rejected with TRANSPORT_ERR_PEER_RESTARTED.
 *  - inject(from, to, data): deliver raw bytes as if `from` had sent them (duplicates, garbage).
 *  - tap: observe every delivered message; counts per direction in `delivered`.
 *  - authenticated: every message carries the sender's nodeId as `peerId`, as a keyed transport's do.
 */
import { EventEmitter } from 'node:events';
import type { Endpoint, EndpointStats, PeerStats, TransportEvents } from '../../transport/types.js';
import { TransportError } from '../../transport/errors.js';

export interface MemoryNetworkOptions {
  /** How long a send to a dead address takes to reject with PEER_UNREACHABLE. @default 100 */
  readonly giveUpMs?: number;
  /** Largest message accepted by send(). @default 4 MiB */
  readonly maxMessageBytes?: number;
  /** Messages carry the sender's nodeId as MessageEvent.peerId (a keyed transport). @default false */
  readonly authenticated?: boolean;
}

export interface TapEvent {
  readonly from: string;
  readonly to: string;
  readonly data: Uint8Array;
  /** True for messages delivered through inject(). */
  readonly injected: boolean;
}

let nextSession = 1 + Math.floor(Math.random() * 1000);

export class MemoryNetwork {
  readonly giveUpMs: number;
  readonly maxMessageBytes: number;
  readonly authenticated: boolean;
  private readonly nodes = new Map<string, MemoryEndpoint>();
  /** Messages delivered, keyed "from->to". */
  readonly delivered = new Map<string, number>();
  totalDelivered = 0;
  /** Called for every message delivered (before the receiver's 'message' event). */
  tap: ((ev: TapEvent) => void) | undefined;
  /** Return true to drop a message as a partition would: not delivered, send() rejects PEER_UNREACHABLE after giveUpMs. */
  blackhole: ((ev: TapEvent) => boolean) | undefined;

  constructor(opts: MemoryNetworkOptions = {}) {
    this.giveUpMs = opts.giveUpMs ?? 100;
    this.maxMessageBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
    this.authenticated = opts.authenticated ?? false;
  }

  /** Bind a new endpoint at `address` ("host:port"). */
  endpoint(address: string, nodeId = address): MemoryEndpoint {
    const old = this.nodes.get(address);
    if (old !== undefined && !old.isCrashed && !old.isClosed) throw new Error(`address ${address} in use`);
    const ep = new MemoryEndpoint(this, address, nodeId, nextSession++);
    this.nodes.set(address, ep);
    return ep;
  }

  crash(address: string): void {
    const ep = this.nodes.get(address);
    if (ep === undefined) throw new Error(`no endpoint at ${address}`);
    ep.crashNow();
  }

  /** Crash (if live) and start a new endpoint at the same address with a new session. */
  restart(address: string, nodeId?: string): MemoryEndpoint {
    const ep = this.nodes.get(address);
    if (ep !== undefined && !ep.isCrashed) ep.crashNow();
    return this.endpoint(address, nodeId ?? ep?.nodeId ?? address);
  }

  /** Deliver `data` to `to` as if the endpoint at `from` had sent it (no send() promise). */
  inject(from: string, to: string, data: Uint8Array): void {
    const src = this.nodes.get(from);
    if (src === undefined) throw new Error(`no endpoint at ${from}`);
    const copy = Uint8Array.from(data);
    setImmediate(() => {
      const dst = this.nodes.get(to);
      if (dst === undefined || dst.isCrashed || dst.isClosed) return;
      this.deliver(src, dst, copy, true);
    });
  }

  count(from: string, to: string): number {
    return this.delivered.get(`${from}->${to}`) ?? 0;
  }

  /** @internal */
  route(src: MemoryEndpoint, to: string, data: Uint8Array): Promise<void> {
    const dstAtSend = this.nodes.get(to);
    const sessionAtSend = dstAtSend?.session;
    return new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        if (src.isCrashed || src.isClosed) {
          reject(new TransportError('TRANSPORT_ERR_CLOSED', `endpoint ${src.address} closed`, { peer: to }));
          return;
        }
        const dst = this.nodes.get(to);
        if (dst !== undefined && sessionAtSend !== undefined && dst.session !== sessionAtSend && !dst.isCrashed) {
          reject(new TransportError('TRANSPORT_ERR_PEER_RESTARTED', `peer ${to} restarted before acknowledging`, { peer: to }));
          return;
        }
        const ev: TapEvent = { from: src.address, to, data, injected: false };
        if (dst === undefined || dst.isCrashed || dst.isClosed || this.blackhole?.(ev) === true) {
          const t = setTimeout(() => {
            src.emit('peer-unreachable', { peer: to, waitedMs: this.giveUpMs, refused: false });
            reject(new TransportError('TRANSPORT_ERR_PEER_UNREACHABLE', `peer ${to} did not acknowledge within ${this.giveUpMs} ms`, { peer: to }));
          }, this.giveUpMs);
          src.track(t);
          return;
        }
        this.deliver(src, dst, data, false);
        resolve();
      });
    });
  }

  private deliver(src: MemoryEndpoint, dst: MemoryEndpoint, data: Uint8Array, injected: boolean): void {
    const k = `${src.address}->${dst.address}`;
    this.delivered.set(k, (this.delivered.get(k) ?? 0) + 1);
    this.totalDelivered++;
    this.tap?.({ from: src.address, to: dst.address, data, injected });
    dst.receive(src.address, src.session, data, this.authenticated ? src.nodeId : undefined);
  }
}

export class MemoryEndpoint extends EventEmitter<TransportEvents> implements Endpoint {
  readonly port: number;
  private crashed = false;
  private closed = false;
  get keyed(): boolean {
    return this.net.authenticated;
  }
  private readonly peerSessions = new Map<string, number>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  messagesSent = 0;
  messagesReceived = 0;

  constructor(
    private readonly net: MemoryNetwork,
    readonly address: string,
    readonly nodeId: string,
    readonly session: number,
  ) {
    super();
    this.port = Number(address.slice(address.lastIndexOf(':') + 1));
  }

  get isCrashed(): boolean {
    return this.crashed;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  send(peer: string, data: Uint8Array): Promise<void> {
    if (this.closed || this.crashed) return Promise.reject(new TransportError('TRANSPORT_ERR_CLOSED', `endpoint ${this.address} closed`, { peer }));
    if (!(data instanceof Uint8Array)) return Promise.reject(new TransportError('TRANSPORT_ERR_INVALID_ARGUMENT', 'data must be a Uint8Array', { peer }));
    if (data.length > this.net.maxMessageBytes) {
      return Promise.reject(new TransportError('TRANSPORT_ERR_MESSAGE_TOO_LARGE', `${data.length} > ${this.net.maxMessageBytes} bytes`, { peer }));
    }
    this.messagesSent++;
    return this.net.route(this, peer, Uint8Array.from(data));
  }

  /** @internal */
  receive(peer: string, session: number, data: Uint8Array, peerId: string | undefined): void {
    const known = this.peerSessions.get(peer);
    this.peerSessions.set(peer, session);
    if (known !== undefined && known !== session) this.emit('peer-restarted', { peer, oldSession: known, newSession: session });
    this.messagesReceived++;
    this.emit('message', { peer, session, data, peerId });
  }

  /** @internal */
  track(t: ReturnType<typeof setTimeout>): void {
    this.timers.add(t);
  }

  /** @internal */
  crashNow(): void {
    this.crashed = true;
  }

  stats(): EndpointStats {
    return {
      bad: { truncated: 0, badVersion: 0, badChecksum: 0, malformed: 0, oversized: 0, staleSession: 0, unproven: 0, badEcho: 0, auth: 0, replay: 0, injectedDrops: 0 },
      dropped: { tooManyPeers: 0, challengesRateLimited: 0, keyDerivationsRateLimited: 0, beyondWindow: 0, reassemblyBudget: 0, messageTooLarge: 0, fragmentLimit: 0, abandoned: 0 },
      handshake: { challengesSent: 0, proofs: 0, refusalsSent: 0, refusalsReceived: 0 }, socketErrors: 0, peersEvicted: 0, reassemblyBytes: 0,
      keyed: this.net.authenticated, lastAuthFailure: undefined,
      datagramsSent: this.messagesSent, datagramsReceived: this.messagesReceived, bytesSent: 0, bytesReceived: 0, peers: [],
    };
  }

  peerStats(_peer: string): PeerStats | undefined {
    return undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.removeAllListeners();
  }
}
