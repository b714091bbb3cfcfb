/**
 * One dispatcher per Endpoint: owns the endpoint's 'message' and 'peer-restarted' listeners,
 * decodes each RPC message once, and routes it:
 *   - client → server types (REQUEST, PROBE, ACK) to the endpoint's RpcServer (at most one);
 *   - server → client types (REPLY, ERROR, WORKING, UNKNOWN_CALL) to the RpcClient whose
 *     (clientId, clientInc) is in the header.
 * So a node may run a server and any number of clients over one endpoint. Listeners are
 * attached when the first part registers and removed when the last one closes.
 */
import { randomBytes } from 'node:crypto';
import type { Endpoint, MessageEvent, PeerRestartedEvent } from '../../transport/types.js';
import { RpcError } from '../errors.js';
import { decodeMessage, isClientToServer, isServerToClient, type DecodeResult, type Header, type RpcMessage } from './wire.js';

export interface ClientPart {
  readonly clientId: bigint;
  readonly incarnation: number;
  readonly server: string;
  onMessage(peer: string, msg: RpcMessage): void;
  onMalformed(peer: string, reason: string, header: Header | undefined): void;
  onPeerRestarted(ev: PeerRestartedEvent): void;
}

export interface ServerPart {
  /** `peerId`: the sender's node id as the transport authenticated it (MessageEvent.peerId), if it does. */
  onMessage(peer: string, msg: RpcMessage, peerId?: string): void;
  onMalformed(peer: string, reason: string, header: Header | undefined): void;
  onPeerRestarted(ev: PeerRestartedEvent): void;
}

/** A fresh incarnation for an RpcClient or RpcServer: random, 32 bits, never 0 (0 means "not known yet" on the wire). */
export function randomIncarnation(): number {
  for (;;) {
    const v = randomBytes(4).readUInt32BE(0);
    if (v !== 0) return v;
  }
}

export function clientKey(clientId: bigint, clientInc: number): string {
  return `${clientId.toString(16)}:${clientInc.toString(16)}`;
}

const dispatchers = new WeakMap<Endpoint, Dispatcher>();

export class Dispatcher {
  private readonly clients = new Map<string, ClientPart>();
  private server: ServerPart | undefined;
  private attached = false;
  /** Messages no registered part could take (garbage with no server here, replies for unknown clients). */
  unroutable = 0;

  private constructor(readonly endpoint: Endpoint) {}

  static for(endpoint: Endpoint): Dispatcher {
    let d = dispatchers.get(endpoint);
    if (d === undefined) {
      d = new Dispatcher(endpoint);
      dispatchers.set(endpoint, d);
    }
    return d;
  }

  hasClientIncarnation(clientId: bigint, inc: number): boolean {
    return this.clients.has(clientKey(clientId, inc));
  }

  addClient(c: ClientPart): void {
    this.clients.set(clientKey(c.clientId, c.incarnation), c);
    this.attach();
  }

  removeClient(c: ClientPart): void {
    this.clients.delete(clientKey(c.clientId, c.incarnation));
    this.maybeDetach();
  }

  setServer(s: ServerPart): void {
    if (this.server !== undefined) {
      throw new RpcError('RPC_ERR_INVALID_ARGUMENT', `endpoint ${this.endpoint.address} already has an RpcServer; serve several interfaces on one server instead`);
    }
    this.server = s;
    this.attach();
  }

  removeServer(s: ServerPart): void {
    if (this.server === s) this.server = undefined;
    this.maybeDetach();
  }

  private readonly onMessage = (ev: MessageEvent): void => {
    let r: DecodeResult;
    try {
      r = decodeMessage(ev.data);
    } catch (e) {
      r = { ok: false, reason: `decoder threw: ${String(e)}` };
    }
    try {
      if (r.ok) this.route(ev.peer, r.msg, ev.peerId);
      else this.routeMalformed(ev.peer, r.reason, r.header);
    } catch {
      // A bug in a handler of ours must not escape into the transport's event loop.
      this.unroutable++;
    }
  };

  private readonly onPeerRestarted = (ev: PeerRestartedEvent): void => {
    this.server?.onPeerRestarted(ev);
    for (const c of [...this.clients.values()]) if (c.server === ev.peer) c.onPeerRestarted(ev);
  };

  private route(peer: string, msg: RpcMessage, peerId: string | undefined): void {
    if (isClientToServer(msg.h.type)) {
      if (this.server !== undefined) this.server.onMessage(peer, msg, peerId);
      else this.unroutable++;
      return;
    }
    const c = this.clients.get(clientKey(msg.h.clientId, msg.h.clientInc));
    if (c !== undefined) c.onMessage(peer, msg);
    else this.unroutable++;
  }

  private routeMalformed(peer: string, reason: string, header: Header | undefined): void {
    if (header !== undefined && isServerToClient(header.type)) {
      const c = this.clients.get(clientKey(header.clientId, header.clientInc));
      if (c !== undefined) return c.onMalformed(peer, reason, header);
    }
    // Unattributable garbage (or a malformed request): the server counts it, or else a
    // client talking to that peer, or else the dispatcher.
    if (this.server !== undefined && (header === undefined || isClientToServer(header.type))) {
      return this.server.onMalformed(peer, reason, header);
    }
    for (const c of this.clients.values()) {
      if (c.server === peer) return c.onMalformed(peer, reason, undefined);
    }
    this.unroutable++;
  }

  private attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.endpoint.on('message', this.onMessage);
    this.endpoint.on('peer-restarted', this.onPeerRestarted);
  }

  private maybeDetach(): void {
    if (!this.attached || this.server !== undefined || this.clients.size > 0) return;
    this.attached = false;
    this.endpoint.off('message', this.onMessage);
    this.endpoint.off('peer-restarted', this.onPeerRestarted);
  }
}
