/**
 * A transport endpoint: one UDP socket, a PeerConnection per remote address, one timer per
 * peer, the fault injectors, and the counters for datagrams that never reach a peer. This is
 * the only file of the layer that touches sockets; it moves bytes and time, nothing more.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { TransportError } from './errors.js';
import { FaultInjector, type FaultCounters } from './faults.js';
import { createLogger, type Logger } from './log.js';
import { resolveOptions, type EndpointOptions, type ResolvedOptions } from './options.js';
import { PeerConnection, type PeerConfig } from './peer.js';
import { randomU32NonZero } from './random.js';
import type { Endpoint, EndpointStats, PeerStats, TransportEvents } from './types.js';
import { decodeDatagram, describeDatagram, F_DATA, F_SYN } from './wire.js';

interface PeerSlot {
  readonly conn: PeerConnection;
  readonly host: string;
  readonly port: number;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

/** Parse "host:port" / "[v6]:port" into parts; "localhost" means 127.0.0.1. */
export function parsePeer(peer: string): { host: string; port: number; key: string } {
  if (typeof peer !== 'string') throw invalid(`peer must be a "host:port" string, got ${typeof peer}`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(peer);
  if (!m) throw invalid(`peer must look like "127.0.0.1:7001" or "[::1]:7001", got ${JSON.stringify(peer)}`);
  let host = m[1] ?? m[2]!;
  if (host === 'localhost') host = '127.0.0.1';
  const port = Number(m[3]);
  if (isIP(host) === 0) throw invalid(`peer host must be an IP address or "localhost", got ${JSON.stringify(host)}`);
  if (port < 1 || port > 65535) throw invalid(`peer port must be in [1, 65535], got ${port}`);
  return { host, port, key: formatAddress(host, port) };
}

/** "host:port", or "[v6]:port" (any address with a colon is IPv6). */
function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function ipLiteralLookup(
  address: string, options: unknown, cb: (err: Error | null, address: string, family: number) => void,
): void {
  // Only addresses that parsePeer() accepted get here: no need to validate again per datagram.
  cb(null, address, address.includes(':') ? 6 : 4);
}

function invalid(message: string): TransportError {
  return new TransportError('TRANSPORT_ERR_INVALID_ARGUMENT', message);
}

export class UdpEndpoint extends EventEmitter<TransportEvents> implements Endpoint {
  readonly session: number;
  private readonly socket: dgram.Socket;
  private readonly opts: ResolvedOptions;
  private readonly peers = new Map<string, PeerSlot>();
  private readonly peerConfig: PeerConfig;
  private readonly log: Logger;
  private readonly outFaults: FaultInjector<PeerSlot> | undefined;
  private readonly inFaults: FaultInjector<dgram.RemoteInfo> | undefined;
  private boundAddress = '';
  private boundPort = 0;
  private closed = false;
  private readonly counters = {
    datagramsSent: 0, datagramsReceived: 0, truncated: 0, badVersion: 0, badChecksum: 0, malformed: 0,
    oversized: 0, staleSession: 0, tooManyPeers: 0, socketErrors: 0,
  };

  /** Use createEndpoint(): the socket must be bound before anything is sent. */
  private constructor(opts: ResolvedOptions) {
    super();
    this.opts = opts;
    const rand = opts.random;
    this.session = randomU32NonZero(rand);
    const initialSeq = opts.initialSeq;
    this.peerConfig = {
      ...opts,
      newSession: () => randomU32NonZero(rand),
      newIsn: typeof initialSeq === 'number' ? () => initialSeq
        : typeof initialSeq === 'function' ? () => initialSeq() >>> 0
        : () => Math.floor(rand() * 2 ** 32) >>> 0,
    };
    this.log = createLogger('transport', () => this.nodeId);
    this.socket = dgram.createSocket({
      type: isIP(opts.host) === 6 ? 'udp6' : 'udp4',
      // Peers are IP literals (parsePeer checks), so resolve them synchronously: the default
      // dns.lookup defers every datagram's send by a process tick.
      lookup: ipLiteralLookup,
      recvBufferSize: opts.socketBufferBytes,
      sendBufferSize: opts.socketBufferBytes,
    });
    const f = opts.faults;
    const seed = f?.seed ?? 1;
    this.outFaults = FaultInjector.create<PeerSlot>(f?.outbound, seed, (b, to) => this.rawSend(b, to));
    this.inFaults = FaultInjector.create<dgram.RemoteInfo>(f?.inbound, (seed ^ 0x9e3779b9) >>> 0, (b, from) => this.ingest(b, from));
  }

  static async create(options?: EndpointOptions): Promise<UdpEndpoint> {
    const opts = resolveOptions(options);
    if (isIP(opts.host === 'localhost' ? '127.0.0.1' : opts.host) === 0) {
      throw invalid(`host must be an IP address or "localhost", got ${JSON.stringify(opts.host)}`);
    }
    if (opts.host === 'localhost') opts.host = '127.0.0.1';
    const ep = new UdpEndpoint(opts);
    await ep.bind();
    return ep;
  }

  get nodeId(): string {
    return this.opts.nodeId ?? this.address;
  }

  get address(): string {
    return formatAddress(this.boundAddress, this.boundPort);
  }

  get port(): number {
    return this.boundPort;
  }

  send(peer: string, data: Uint8Array): Promise<void> {
    try {
      if (this.closed) throw new TransportError('TRANSPORT_ERR_CLOSED', `endpoint ${this.nodeId} is closed`, { peer });
      if (!(data instanceof Uint8Array)) throw invalid(`data must be a Uint8Array, got ${data === null ? 'null' : typeof data}`);
      if (data.length > this.opts.maxMessageBytes) {
        throw new TransportError('TRANSPORT_ERR_MESSAGE_TOO_LARGE',
          `message of ${data.length} bytes exceeds maxMessageBytes (${this.opts.maxMessageBytes})`, { peer });
      }
      const slot = this.slotFor(peer);
      const now = this.opts.now();
      const p = slot.conn.send(data, now);
      this.arm(slot, now);
      return p;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  stats(): EndpointStats {
    const c = this.counters;
    return {
      bad: {
        truncated: c.truncated, badVersion: c.badVersion, badChecksum: c.badChecksum, malformed: c.malformed,
        oversized: c.oversized, staleSession: c.staleSession,
        injectedDrops: (this.inFaults?.counters.dropped ?? 0) + (this.outFaults?.counters.dropped ?? 0),
      },
      datagramsSent: c.datagramsSent,
      datagramsReceived: c.datagramsReceived,
      peers: [...this.peers.values()].map((s) => s.conn.snapshot()),
    };
  }

  peerStats(peer: string): PeerStats | undefined {
    const slot = this.peers.get(parsePeer(peer).key);
    return slot?.conn.snapshot();
  }

  /** Fault-injection counters per direction (undefined where no faults are configured). */
  faultStats(): { inbound?: FaultCounters; outbound?: FaultCounters } {
    return { inbound: this.inFaults?.counters, outbound: this.outFaults?.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.inFaults?.close();
    this.outFaults?.close();
    const err = new TransportError('TRANSPORT_ERR_CLOSED', `endpoint ${this.nodeId} closed`);
    for (const slot of this.peers.values()) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.conn.close(err);
    }
    this.peers.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  // ------------------------------------------------------------------ internals

  private bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        this.closed = true;
        reject(new TransportError('TRANSPORT_ERR_BIND', `cannot bind UDP ${this.opts.host}:${this.opts.port}: ${e.message}`, { cause: e }));
      };
      this.socket.once('error', onError);
      this.socket.bind(this.opts.port, this.opts.host, () => {
        this.socket.off('error', onError);
        // After bind, socket errors (e.g. ICMP-triggered ones) are counted, never thrown.
        this.socket.on('error', (e) => {
          this.counters.socketErrors++;
          this.log('socket error: %s', e.message);
        });
        const a = this.socket.address();
        this.boundAddress = a.address;
        this.boundPort = a.port;
        this.socket.on('message', (buf, rinfo) => this.onSocketMessage(buf, rinfo));
        this.log('listening on %s (session %s)', this.address, this.session.toString(16));
        resolve();
      });
    });
  }

  private onSocketMessage(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.datagramsReceived++;
    if (this.inFaults) this.inFaults.push(buf, rinfo);
    else this.ingest(buf, rinfo);
  }

  private ingest(buf: Uint8Array, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const host = rinfo.address;
    const port = rinfo.port;
    const from = formatAddress(host, port);
    const d = decodeDatagram(buf, this.opts.datagramBytes);
    if (typeof d === 'string') {
      this.counters[d]++;
      if (this.log.enabled) this.log('drop %s datagram (%d bytes) from %s', d, buf.length, from);
      return;
    }
    if (this.log.enabled) this.log('<- %s %s', from, describeDatagram(d));
    let slot = this.peers.get(from);
    if (slot === undefined) {
      // Only a datagram that starts a stream, or data for a stream we forgot, earns state.
      if (!(d.flags & (F_DATA | F_SYN))) {
        this.counters.staleSession++;
        return;
      }
      const created = this.createSlot(from, host, port);
      if (created === undefined) return;
      slot = created;
    }
    const now = this.opts.now();
    const rejected = slot.conn.onDatagram(d, now);
    if (rejected !== undefined) this.counters[rejected]++;
    if (!this.closed) this.arm(slot, now);
  }

  private slotFor(peer: string): PeerSlot {
    const known = this.peers.get(peer); // the common case: the caller uses the canonical "host:port"
    if (known !== undefined) return known;
    const { host, port, key } = parsePeer(peer);
    const slot = this.peers.get(key) ?? this.createSlot(key, host, port);
    if (slot === undefined) {
      throw new TransportError('TRANSPORT_ERR_QUEUE_FULL', `state for ${this.opts.maxPeers} peers already held (maxPeers), none idle`, { peer });
    }
    return slot;
  }

  private createSlot(key: string, host: string, port: number): PeerSlot | undefined {
    if (this.peers.size >= this.opts.maxPeers && !this.evictIdlePeer()) {
      this.counters.tooManyPeers++;
      return undefined;
    }
    const slot: PeerSlot = {
      host, port, timer: undefined, timerAt: Infinity,
      conn: new PeerConnection(key, this.peerConfig, {
        transmit: (bytes) => this.transmit(slot, bytes),
        deliver: (data, session) => this.emit('message', { peer: key, session, data }),
        restarted: (oldSession, newSession) => {
          this.log('%s restarted: session %s -> %s', key, oldSession.toString(16), newSession.toString(16));
          this.emit('peer-restarted', { peer: key, oldSession, newSession });
        },
        unreachable: (waitedMs) => {
          this.log('%s unreachable after %d ms', key, Math.round(waitedMs));
          this.emit('peer-unreachable', { peer: key, waitedMs });
        },
      }),
    };
    this.peers.set(key, slot);
    return slot;
  }

  private evictIdlePeer(): boolean {
    let victim: PeerSlot | undefined;
    for (const s of this.peers.values()) {
      if (s.conn.queuedMessages === 0 && (victim === undefined || s.conn.lastActivity < victim.conn.lastActivity)) victim = s;
    }
    if (victim === undefined) return false;
    if (victim.timer) clearTimeout(victim.timer);
    this.peers.delete(victim.conn.address);
    return true;
  }

  private transmit(slot: PeerSlot, bytes: Buffer): void {
    if (this.outFaults) this.outFaults.push(bytes, slot);
    else this.rawSend(bytes, slot);
  }

  private rawSend(bytes: Uint8Array, to: PeerSlot): void {
    if (this.closed) return;
    this.counters.datagramsSent++;
    this.socket.send(bytes, to.port, to.host);
  }

  /**
   * Make sure the peer's timer fires no later than its next deadline. A timer that would fire
   * early or for nothing is left alone (it re-checks when it fires): on a busy request/reply
   * path that saves creating and clearing a timer per message.
   */
  private arm(slot: PeerSlot, now: number): void {
    const at = slot.conn.nextDeadline();
    if (at === Infinity || slot.timerAt <= at) return;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timerAt = at;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      slot.timerAt = Infinity;
      if (this.closed) return;
      const t = this.opts.now();
      slot.conn.onTimer(t);
      if (!this.closed) this.arm(slot, t);
    }, Math.max(0, at - now));
  }
}

/** Create and bind an endpoint. Rejects with TRANSPORT_ERR_BIND or TRANSPORT_ERR_INVALID_ARGUMENT. */
export function createEndpoint(options?: EndpointOptions): Promise<UdpEndpoint> {
  return UdpEndpoint.create(options);
}
