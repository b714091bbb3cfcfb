/**
 * A transport endpoint: one UDP socket around a TransportCore, one timer per peer session, the
 * fault injectors. This is the only file of the layer that touches sockets or timers; it moves
 * bytes and time, nothing more.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { formatAddress, invalid, parsePeer } from './address.js';
import { TransportCore, type Destination } from './core.js';
import { TransportError } from './errors.js';
import { FaultInjector, type FaultCounters } from './faults.js';
import { LinkFilter, type LinkRules, type LinkRuleStats } from './link-rules.js';
import { createLogger, type Logger } from './log.js';
import { resolveOptions, type EndpointOptions, type ResolvedOptions } from './options.js';
import { cryptoRandom, randomU32NonZero } from './random.js';
import type { PeerSession } from './session.js';
import type { Endpoint, EndpointStats, PeerStats, TransportEvents } from './types.js';
import { decodeDatagram } from './wire.js';
import { retireTraceNode, TraceNode, traceNode } from '../trace/node.js';

export { parsePeer };

function ipLiteralLookup(
  address: string, options: unknown, cb: (err: Error | null, address: string, family: number) => void,
): void {
  // Only addresses that parsePeer() accepted get here: no need to validate again per datagram.
  cb(null, address, address.includes(':') ? 6 : 4);
}

export class UdpEndpoint extends EventEmitter<TransportEvents> implements Endpoint {
  readonly session: number;
  private readonly socket: dgram.Socket;
  private readonly opts: ResolvedOptions;
  private readonly core: TransportCore;
  private readonly log: Logger;
  private readonly outFaults: FaultInjector<Destination> | undefined;
  private readonly inFaults: FaultInjector<dgram.RemoteInfo> | undefined;
  private readonly links = new LinkFilter();
  private boundAddress = '';
  private boundPort = 0;
  private closed = false;
  /** Keyed: cipher contexts to prepare (prepareSoon()); a send's completion will do it; an immediate is due. */
  private prepareWanted = false;
  private prepareHooked = false;
  private prepareScheduled = false;
  private readonly afterSendPrepare = (): void => {
    this.prepareHooked = false;
    this.prepareNow();
  };
  private readonly flushAcks = (): void => {
    if (this.closed) return;
    const now = this.opts.now();
    for (const s of this.core.flushAcks(now)) if (!this.closed) this.arm(s, now);
  };
  private datagramsSent = 0;
  private datagramsReceived = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private socketErrors = 0;
  /** This endpoint's trace node, from bind on (trace/README.md). */
  private tn: TraceNode | undefined;

  /** Use createEndpoint(): the socket must be bound before anything is sent. */
  private constructor(opts: ResolvedOptions) {
    super();
    this.opts = opts;
    this.session = randomU32NonZero(opts.random ?? cryptoRandom);
    this.log = createLogger('transport', () => this.nodeId);
    this.core = new TransportCore(opts, {
      transmit: (bytes, to) => this.transmit(bytes, to),
      message: (ev) => this.emit('message', ev),
      restarted: (ev) => {
        this.log('%s restarted: incarnation %s -> %s', ev.peer, ev.oldSession.toString(16), ev.newSession.toString(16));
        this.emit('peer-restarted', ev);
      },
      unreachable: (ev) => {
        this.log('%s %s after %d ms', ev.peer, ev.refused ? 'refused us (it cannot authenticate what we send)' : 'unreachable', Math.round(ev.waitedMs));
        this.emit('peer-unreachable', ev);
      },
      log: this.log,
      evicted: (s) => {
        if (s.timer !== undefined) clearTimeout(s.timer as NodeJS.Timeout);
        s.timer = undefined;
      },
    });
    // Acks owed by a batch of datagrams leave once the batch is read: setImmediate runs right
    // after the poll phase that read them (libuv reads up to 32 datagrams a socket per turn).
    this.core.batchAcks(() => setImmediate(this.flushAcks));
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
    this.outFaults = FaultInjector.create<Destination>(f?.outbound, seed, (b, to) => this.rawSend(b, to),
      (what, b, to) => this.traceFault(what, b, `${to.host.includes(':') ? `[${to.host}]` : to.host}:${to.port}`, 'outbound'));
    this.inFaults = FaultInjector.create<dgram.RemoteInfo>(f?.inbound, (seed ^ 0x9e3779b9) >>> 0, (b, from) => this.ingest(b, from),
      (what, b, from) => this.traceFault(what, b, `${from.address.includes(':') ? `[${from.address}]` : from.address}:${from.port}`, 'inbound'));
  }

  static async create(options?: EndpointOptions): Promise<UdpEndpoint> {
    const opts = resolveOptions(options);
    if (isIP(opts.host === 'localhost' ? '127.0.0.1' : opts.host) === 0) {
      throw invalid(`host must be an IP address or "localhost", got ${JSON.stringify(opts.host)}`);
    }
    if (opts.host === 'localhost') opts.host = '127.0.0.1';
    for (const p of opts.pinnedPeers) parsePeer(p); // a bad entry fails here, with its own message
    const ep = new UdpEndpoint(opts);
    await ep.bind();
    try {
      ep.core.setIdentity(ep.nodeId); // keyed without a nodeId: the bound address is the identity
    } catch (e) {
      await ep.close();
      throw e;
    }
    return ep;
  }

  get nodeId(): string {
    return this.opts.nodeId ?? this.address;
  }

  get address(): string {
    return this.boundAddress.includes(':') ? `[${this.boundAddress}]:${this.boundPort}` : `${this.boundAddress}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  get keyed(): boolean {
    return this.core.keyed;
  }

  send(peer: string, data: Uint8Array): Promise<void> {
    try {
      if (this.closed) throw new TransportError('TRANSPORT_ERR_CLOSED', `endpoint ${this.nodeId} is closed`, { peer });
      if (!(data instanceof Uint8Array)) throw invalid(`data must be a Uint8Array, got ${data === null ? 'null' : typeof data}`);
      if (data.length > this.opts.maxMessageBytes) {
        throw new TransportError('TRANSPORT_ERR_MESSAGE_TOO_LARGE',
          `message of ${data.length} bytes exceeds maxMessageBytes (${this.opts.maxMessageBytes})`, { peer });
      }
      const now = this.opts.now();
      const s = this.core.sessionFor(peer, now);
      this.prepareSoon();
      // Queued only; it leaves at the end of this tick with every other message sent to this peer
      // meanwhile, as few datagrams as they fit in (send-stream.ts, coalescing).
      const p = s.send(data, now, false);
      this.flushSoon(s);
      return p;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  stats(): EndpointStats {
    const c = this.core.stats();
    return {
      ...c,
      bad: { ...c.bad, injectedDrops: (this.inFaults?.counters.dropped ?? 0) + (this.outFaults?.counters.dropped ?? 0) },
      socketErrors: this.socketErrors,
      datagramsSent: this.datagramsSent,
      datagramsReceived: this.datagramsReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
    };
  }

  peerStats(peer: string): PeerStats | undefined {
    parsePeer(peer); // a malformed address is the caller's bug: say so
    return this.core.peerStats(peer);
  }

  /** Fault-injection counters per direction (undefined where no faults are configured). */
  faultStats(): { inbound?: FaultCounters; outbound?: FaultCounters } {
    return { inbound: this.inFaults?.counters, outbound: this.outFaults?.counters };
  }

  /**
   * Set the link rules (transport/link-rules.ts): peers cut off both ways, and a loss rate on what
   * this endpoint sends, changed while it runs (a partition, its heal). Replaces the previous rules;
   * independent of the seeded `faults` injector. Throws TRANSPORT_ERR_INVALID_ARGUMENT.
   */
  setLinkRules(rules: LinkRules): void {
    this.links.set(rules);
  }

  /** The link rules in force and what they dropped. */
  linkRuleStats(): LinkRuleStats {
    return this.links.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.inFaults?.close();
    this.outFaults?.close();
    for (const s of this.core.sessions.values()) if (s.timer !== undefined) clearTimeout(s.timer as NodeJS.Timeout);
    this.core.close(new TransportError('TRANSPORT_ERR_CLOSED', `endpoint ${this.nodeId} closed`));
    // A node started again under this id in this thread is a new incarnation in traces.
    if (this.tn !== undefined) retireTraceNode(this.nodeId, this.tn);
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
          this.socketErrors++;
          this.log('socket error: %s', e.message);
        });
        const a = this.socket.address();
        this.core.setReceiveBuffer(this.socket.getRecvBufferSize());
        this.boundAddress = a.address;
        this.boundPort = a.port;
        this.socket.on('message', (buf, rinfo) => this.onSocketMessage(buf, rinfo));
        this.tn = traceNode(this.nodeId);
        this.tn.addAddress(this.address);
        this.core.setTrace(this.tn);
        this.log('listening on %s (start %s)%s', this.address, this.session.toString(16), this.opts.key ? ', sealed with the cluster key' : ', clear text (no key)');
        resolve();
      });
    });
  }

  private onSocketMessage(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.datagramsReceived++;
    this.bytesReceived += buf.length;
    if (!this.links.idle && this.links.dropInbound(formatAddress(rinfo.address, rinfo.port))) return;
    if (this.inFaults) this.inFaults.push(buf, rinfo);
    else this.ingest(buf, rinfo);
  }

  private ingest(buf: Uint8Array, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    // Each datagram, sent and received, with peers by node id: DEBUG=pagewire:trace:transport
    // (trace/debug.ts); sealed ones decoded after they were opened.
    this.prepareSoon();
    const now = this.opts.now();
    const s = this.core.receive(buf, rinfo.address, rinfo.port, now);
    if (s !== undefined && !this.closed) this.arm(s, now);
  }

  /**
   * Keyed: create the cipher contexts the next datagrams will need once the process is idle, so
   * creating them is off the path of the next send and receive (seal.ts). Not in a plain
   * setImmediate when something is being sent: libuv holds a datagram sent from inside a receive
   * callback until the next turn of the loop, after the immediates, so the work would delay it.
   * Then the completion callback of that send does it (the datagram has left).
   */
  private prepareSoon(): void {
    if (!this.opts.key) return;
    this.prepareWanted = true;
    if (this.prepareScheduled) return;
    this.prepareScheduled = true;
    setImmediate(() => {
      this.prepareScheduled = false;
      if (!this.prepareHooked) this.prepareNow();
    });
  }

  private prepareNow(): void {
    if (!this.prepareWanted || this.closed) return;
    this.prepareWanted = false;
    this.core.prepare();
  }

  /**
   * Send (or hand to the fault injector, which keeps it; or drop, by a link rule). False when
   * nothing holds on to `bytes` afterwards: the send went out at once (libuv tries a synchronous
   * sendmsg first; only when the socket cannot take the datagram now is it queued, with `bytes`),
   * or it was dropped, so the core may reuse the buffer.
   */
  private transmit(bytes: Buffer, to: Destination): boolean {
    if (!this.links.idle && this.links.dropOutbound(formatAddress(to.host, to.port))) return false;
    if (this.outFaults) {
      this.outFaults.push(bytes, to);
      return true;
    }
    this.rawSend(bytes, to);
    return this.socket.getSendQueueCount() !== 0;
  }

  private rawSend(bytes: Uint8Array, to: Destination): void {
    if (this.closed) return;
    this.datagramsSent++;
    this.bytesSent += bytes.length;
    if (this.prepareWanted && !this.prepareHooked) {
      this.prepareHooked = true;
      this.socket.send(bytes, to.port, to.host, this.afterSendPrepare);
    } else {
      this.socket.send(bytes, to.port, to.host);
    }
  }

  /** Publish what the fault injector did to a datagram (only while the transport layer is traced). */
  private traceFault(what: 'dropped' | 'corrupted', bytes: Uint8Array, address: string, direction: 'outbound' | 'inbound'): void {
    const tn = this.tn;
    if (tn === undefined || !tn.transport.on) return;
    const d = decodeDatagram(bytes, 65_507);
    const stamp = typeof d === 'string' ? undefined : d.trace;
    const peer = tn.peerName(address);
    const link = stamp === undefined ? {}
      : direction === 'outbound' ? (stamp.inc === tn.inc ? { of: tn.key(stamp.lc) } : {})
      : { cause: TraceNode.remoteKey(stamp.inc, stamp.lc) };
    if (what === 'dropped') tn.transport.emit({ type: 'datagram-dropped', peer, direction, ...link, label: `dropped by the fault injector (${direction})` });
    else if (direction === 'outbound') tn.transport.emit({ type: 'datagram-corrupted', peer, ...link, label: 'bits flipped by the fault injector' });
  }

  /** Sessions with messages queued in this tick, flushed by one microtask. */
  private readonly unflushed = new Set<PeerSession>();

  private flushSoon(s: PeerSession): void {
    if (this.unflushed.size === 0) queueMicrotask(this.flushAll);
    this.unflushed.add(s);
  }

  private readonly flushAll = (): void => {
    const sessions = [...this.unflushed];
    this.unflushed.clear();
    if (this.closed) return;
    const now = this.opts.now();
    for (const s of sessions) {
      if (this.core.sessions.get(s.address) !== s) continue; // evicted meanwhile: its sends were rejected
      s.flush(now);
      this.arm(s, now);
    }
  };

  /**
   * Make sure the session's timer fires no later than its next deadline. A timer that would fire
   * early or for nothing is left alone (it re-checks when it fires): on a busy request/reply
   * path that saves creating and clearing a timer per message.
   */
  private arm(s: PeerSession, now: number): void {
    const at = s.nextDeadline();
    if (at === Infinity) {
      // Nothing in flight and no ack owed: a pending timer would only wake an idle thread for
      // nothing (an RPC server's reply, acked, left its RTO timer behind: one wake-up per call).
      if (s.timer !== undefined) {
        clearTimeout(s.timer as NodeJS.Timeout);
        s.timer = undefined;
        s.timerAt = Infinity;
      }
      return;
    }
    if (s.timerAt <= at) return;
    if (s.timer !== undefined) clearTimeout(s.timer as NodeJS.Timeout);
    s.timerAt = at;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.timerAt = Infinity;
      if (this.closed || this.core.sessions.get(s.address) !== s) return;
      const t = this.opts.now();
      s.onTimer(t);
      if (!this.closed) this.arm(s, t);
    }, Math.max(0, at - now));
  }
}

/** Create and bind an endpoint. Rejects with TRANSPORT_ERR_BIND or TRANSPORT_ERR_INVALID_ARGUMENT. */
export function createEndpoint(options?: EndpointOptions): Promise<UdpEndpoint> {
  return UdpEndpoint.create(options);
}
