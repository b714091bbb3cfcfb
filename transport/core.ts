/**
 * The endpoint without its socket: the peer table, what to do with a datagram from an address
 * we hold no state for, and the counters. Datagrams leave through `hooks.transmit`, time comes
 * in as `now`; the UDP shell (endpoint.ts) and the simulated network of the tests drive the same
 * code.
 *
 * State is created for a peer only when (a) it is pinned (created at start, never evicted),
 * (b) the application sends to it, or (c) it proved that it receives at its address by echoing
 * a cookie we sent there. Anything else from a stranger costs a counter and, rate-limited, one
 * small stateless answer: a challenge (with an echo of its own challenge, so a real peer proves
 * us in the same round trip). A flood from many ports therefore never evicts a peer and never
 * allocates per-sender memory.
 */
import { formatAddress, parsePeer } from './address.js';
import { TransportError } from './errors.js';
import { Handshake, RateLimiter } from './handshake.js';
import type { ResolvedOptions } from './options.js';
import { cryptoRandom } from './random.js';
import { advertisedWindow, ReassemblyBudget } from './receive-stream.js';
import { PeerSession, type SessionContext, type SessionCounters } from './session.js';
import type { EndpointStats, MessageEvent, PeerRestartedEvent, PeerStats, PeerUnreachableEvent } from './types.js';
import { decodeDatagram, encodeDatagram, F_CHALLENGE, F_DATA, F_ECHO, type Datagram, type DecodeFailure } from './wire.js';
import type { TraceNode } from '../trace/node.js';
import { traceReceive } from './trace.js';

/** Where a datagram goes: a session (it carries its address) or, for a stateless answer, an address. */
export interface Destination {
  readonly host: string;
  readonly port: number;
}

export interface CoreHooks {
  transmit(bytes: Buffer, to: Destination): void;
  message(ev: MessageEvent): void;
  restarted(ev: PeerRestartedEvent): void;
  unreachable(ev: PeerUnreachableEvent): void;
  /** A session left the table (eviction): its owner drops its timer. */
  evicted(session: PeerSession): void;
}

type Counters = Record<DecodeFailure | 'staleSession' | 'unproven' | 'badEcho' | 'tooManyPeers' | 'peersEvicted', number> & SessionCounters;

const EMPTY = new Uint8Array(0);
const NO_SACKS: number[] = Object.freeze([]) as unknown as number[];

export class TransportCore {
  readonly sessions = new Map<string, PeerSession>();
  readonly counters: Counters = {
    truncated: 0, badVersion: 0, badChecksum: 0, malformed: 0, oversized: 0, staleSession: 0, unproven: 0, badEcho: 0,
    tooManyPeers: 0, peersEvicted: 0, challengesRateLimited: 0, beyondWindow: 0, reassemblyBudget: 0, messageTooLarge: 0, fragmentLimit: 0,
    challengesSent: 0, proofs: 0,
  };
  private readonly ctx: SessionContext;
  private unpinned = 0;
  private nextStreamId: number;

  constructor(private readonly opts: ResolvedOptions, private readonly hooks: CoreHooks) {
    const rand = opts.random ?? cryptoRandom;
    const initialSeq = opts.initialSeq;
    // Stream ids only need to grow (a receiver takes a higher one as newer); a random start
    // keeps two starts of an endpoint from reusing the same numbers.
    this.nextStreamId = (Math.floor(rand() * 2 ** 30) + 1) >>> 0;
    this.ctx = {
      cfg: opts,
      handshake: new Handshake(opts.random),
      budget: new ReassemblyBudget(opts.maxReassemblyBytes),
      challenges: new RateLimiter(opts.maxChallengesPerSecond, Math.max(1, Math.ceil(opts.maxChallengesPerSecond / 10))),
      counters: this.counters,
      newStreamId: () => {
        const id = this.nextStreamId;
        this.nextStreamId = (this.nextStreamId + 1) >>> 0 || 1;
        return id;
      },
      newIsn: typeof initialSeq === 'number' ? () => initialSeq
        : typeof initialSeq === 'function' ? () => initialSeq() >>> 0
        : () => Math.floor(rand() * 2 ** 32) >>> 0,
      trace: undefined,
    };
    for (const p of opts.pinnedPeers) {
      const { host, port, key } = parsePeer(p);
      if (!this.sessions.has(key)) this.create(key, host, port, true);
    }
  }

  /** Take in one datagram from host:port. Returns the session it concerned, if any (to re-arm its timer). */
  receive(buf: Uint8Array, host: string, port: number, now: number): PeerSession | undefined {
    const d = decodeDatagram(buf, this.opts.datagramBytes);
    const tn = this.ctx.trace;
    if (typeof d === 'string') {
      this.counters[d]++;
      if (tn?.transport.on) {
        const peer = tn.peerName(formatAddress(host, port));
        tn.transport.emit({ type: 'datagram-corrupt', peer, reason: d, bytes: buf.length, label: `${d}: dropped` });
      }
      return undefined;
    }
    const key = formatAddress(host, port);
    if (tn?.active) traceReceive(tn, d, key, buf.length);
    let s = this.sessions.get(key);
    if (s === undefined) {
      if (!(d.flags & F_ECHO) || !this.ctx.handshake.verify(key, d.echo, now)) {
        this.answerStranger(d, key, host, port, now);
        return undefined;
      }
      s = this.admit(key, host, port, now);
      if (s === undefined) return undefined;
    }
    const rejected = s.onDatagram(d, now);
    if (rejected !== undefined) this.counters[rejected]++;
    return s;
  }

  /** The session for `peer` ("host:port"), created if needed. Throws INVALID_ARGUMENT or QUEUE_FULL. */
  sessionFor(peer: string, now: number): PeerSession {
    const known = this.sessions.get(peer); // the common case: the caller uses the canonical "host:port"
    if (known !== undefined) return known;
    const { host, port, key } = parsePeer(peer);
    const s = this.sessions.get(key) ?? this.admit(key, host, port, now);
    if (s === undefined) {
      throw new TransportError('TRANSPORT_ERR_QUEUE_FULL', `state for ${this.opts.maxPeers} peers already held (maxPeers), none idle`, { peer });
    }
    return s;
  }

  /** The session for `peer` if there is one (no parsing errors thrown for unknown shapes). */
  find(peer: string): PeerSession | undefined {
    const s = this.sessions.get(peer);
    if (s !== undefined) return s;
    try {
      return this.sessions.get(parsePeer(peer).key);
    } catch {
      return undefined;
    }
  }

  stats(): Omit<EndpointStats, 'datagramsSent' | 'datagramsReceived' | 'socketErrors' | 'bad'> & { bad: Omit<EndpointStats['bad'], 'injectedDrops'> } {
    const c = this.counters;
    return {
      bad: {
        truncated: c.truncated, badVersion: c.badVersion, badChecksum: c.badChecksum, malformed: c.malformed,
        oversized: c.oversized, staleSession: c.staleSession, unproven: c.unproven, badEcho: c.badEcho,
      },
      dropped: {
        tooManyPeers: c.tooManyPeers, challengesRateLimited: c.challengesRateLimited, beyondWindow: c.beyondWindow,
        reassemblyBudget: c.reassemblyBudget, messageTooLarge: c.messageTooLarge, fragmentLimit: c.fragmentLimit,
      },
      handshake: { challengesSent: c.challengesSent, proofs: c.proofs },
      reassemblyBytes: this.ctx.budget.used,
      peersEvicted: c.peersEvicted,
      peers: [...this.sessions.values()].map((s) => s.snapshot()),
    };
  }

  peerStats(peer: string): PeerStats | undefined {
    return this.find(peer)?.snapshot();
  }

  /** Publish trace events as node `tn` (the endpoint calls this once it is bound and knows its id). */
  setTrace(tn: TraceNode): void {
    this.ctx.trace = tn;
  }

  close(err: TransportError): void {
    for (const s of this.sessions.values()) s.close(err);
    this.sessions.clear();
  }

  // ------------------------------------------------------------------ internals

  /**
   * A datagram from an address without state: count it, and answer with a challenge if it asks
   * for something (data, or a challenge of its own). One answer per datagram at most, no state
   * kept, within maxChallengesPerSecond, and never larger than 50 bytes (so never trace-stamped:
   * an answer to a stranger must not grow).
   */
  private answerStranger(d: Datagram, key: string, host: string, port: number, now: number): void {
    const hs = this.ctx.handshake;
    const ours = hs.incarnationFor(key);
    if (d.flags & F_ECHO) this.counters.badEcho++;
    else if (d.dstInc !== 0 && d.dstInc !== ours) this.counters.staleSession++; // for an earlier incarnation of ours
    else this.counters.unproven++;
    if (!(d.flags & (F_DATA | F_CHALLENGE))) return; // an ack or an answer: nothing to say to it
    if (!this.ctx.challenges.take(now)) {
      this.counters.challengesRateLimited++;
      return;
    }
    this.counters.challengesSent++;
    const echo = (d.flags & F_CHALLENGE) !== 0;
    const tn = this.ctx.trace;
    if (tn?.transport.on) {
      tn.transport.emit({ type: 'stateless-answer', peer: tn.peerName(key), label: `challenge${echo ? ' + echo' : ''} to a stranger (no state kept, not stamped)` });
    }
    this.hooks.transmit(encodeDatagram({
      flags: F_CHALLENGE | (echo ? F_ECHO : 0), window: advertisedWindow(this.opts, this.ctx.budget, 0),
      srcInc: ours, dstInc: d.srcInc, stream: 0, ackStream: 0, seq: 0, ack: 0, isn: 0,
      challenge: hs.cookie(key, now), echo: echo ? d.challenge : 0n, sacks: NO_SACKS, payload: EMPTY,
    }), { host, port });
  }

  /** Make room for and create an unpinned session; undefined (counted) if every one is busy. */
  private admit(key: string, host: string, port: number, now: number): PeerSession | undefined {
    if (this.unpinned >= this.opts.maxPeers && !this.evictIdle()) {
      this.counters.tooManyPeers++;
      return undefined;
    }
    const s = this.create(key, host, port, false);
    s.lastActivity = now;
    return s;
  }

  private create(key: string, host: string, port: number, pinned: boolean): PeerSession {
    const s: PeerSession = new PeerSession(key, host, port, pinned, this.ctx, {
      transmit: (bytes) => this.hooks.transmit(bytes, s),
      deliver: (data, session) => this.hooks.message({ peer: key, session, data }),
      restarted: (oldSession, newSession) => this.hooks.restarted({ peer: key, oldSession, newSession }),
      unreachable: (waitedMs) => this.hooks.unreachable({ peer: key, waitedMs }),
    });
    this.sessions.set(key, s);
    if (!pinned) this.unpinned++;
    return s;
  }

  /** Evict the least recently active unpinned session with nothing queued. */
  private evictIdle(): boolean {
    let victim: PeerSession | undefined;
    for (const s of this.sessions.values()) {
      if (s.pinned || s.queuedMessages !== 0) continue;
      if (victim === undefined || s.lastActivity < victim.lastActivity) victim = s;
    }
    if (victim === undefined) return false;
    this.sessions.delete(victim.address);
    this.unpinned--;
    this.counters.peersEvicted++;
    victim.close(new TransportError('TRANSPORT_ERR_CLOSED', `state for ${victim.address} evicted`, { peer: victim.address }));
    this.hooks.evicted(victim);
    return true;
  }
}

