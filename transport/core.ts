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
 *
 * With a cluster key (seal.ts) every datagram is opened first: one whose tag fails is counted
 * (`auth`) and answered at most with a 22-byte refusal notice, one under a peer's proven key
 * whose counter was taken before is counted (`replay`) before it is even decrypted; neither
 * touches any peer state. Only then does the datagram meet the logic above.
 */
import { formatAddress, isLoopbackHost, parsePeer } from './address.js';
import { TransportError } from './errors.js';
import { Handshake, RateLimiter } from './handshake.js';
import type { ResolvedOptions } from './options.js';
import { cryptoRandom } from './random.js';
import { advertisedWindow, ReassemblyBudget } from './receive-stream.js';
import { PeerSession, type SessionContext, type SessionCounters } from './session.js';
import type { EndpointStats, MessageEvent, PeerRestartedEvent, PeerStats, PeerUnreachableEvent } from './types.js';
import {
  encodeRefusal, Opener, parseSealedHeader, Sealer, sealOverhead, SEALED_VERSION, type SealedHeader,
} from './seal.js';
import type { Logger } from './log.js';
import {
  CRC_BYTES, decodeInto, EMPTY, NO_SACKS, F_CHALLENGE, F_DATA, F_ECHO, Framer, MAX_OVERHEAD_BYTES, newDatagram, WIRE_VERSION,
  type Datagram, type DecodeFailure,
} from './wire.js';
import type { TraceNode } from '../trace/node.js';
import { traceReceive } from './trace.js';

/** Where a datagram goes: a session (it carries its address) or, for a stateless answer, an address. */
export interface Destination {
  readonly host: string;
  readonly port: number;
}

export interface CoreHooks {
  /**
   * Send `bytes` to `to`. Return false if nothing holds on to `bytes` once this returns (the OS
   * took a copy): the core then writes the next datagram of that length into the same buffer.
   * Anything else (a send queued, a simulated network keeping it) leaves the buffer to the hook.
   */
  transmit(bytes: Buffer, to: Destination): boolean | void;
  message(ev: MessageEvent): void;
  restarted(ev: PeerRestartedEvent): void;
  unreachable(ev: PeerUnreachableEvent): void;
  /** A session left the table (eviction): its owner drops its timer. */
  evicted(session: PeerSession): void;
  /** Where the core logs refusals received and datagrams that failed authentication, when enabled. */
  readonly log?: Logger;
}

type Counters = Record<DecodeFailure | 'staleSession' | 'unproven' | 'badEcho' | 'auth' | 'replay' | 'tooManyPeers' | 'peersEvicted' | 'refusalsSent' | 'refusalsReceived' | 'keyDerivationsRateLimited', number> & SessionCounters;

/** Keyed: what an evicted session's replay window had taken, so a replay cannot come back in with a new session. */
interface Tombstone {
  readonly keyId: Buffer;
  readonly highest: number;
}

/** Keys (other than sessions' proven ones) remembered after they opened a datagram. */
const KNOWN_KEYS = 256;

/** A sealed header's key id (idLen, node id, salt) as a Map key. */
function keyIdOf(h: SealedHeader): string {
  return Buffer.from(h.buf.buffer, h.buf.byteOffset + 2, 1 + h.idLen + 12).toString('latin1');
}

const WHY_REFUSED = 'our datagrams did not authenticate under its cluster key (does it use the same key file as this node?)';
const WHY_CLEAR_PEER = 'it sends clear-text datagrams: it has no cluster key and this endpoint has one, so neither can read the other';
const WHY_SEALED_PEER = 'it sends sealed datagrams: it has a cluster key and this endpoint has none (give this endpoint the cluster\'s key)';


export class TransportCore {
  readonly sessions = new Map<string, PeerSession>();
  readonly counters: Counters = {
    truncated: 0, badVersion: 0, badChecksum: 0, malformed: 0, oversized: 0, staleSession: 0, unproven: 0, badEcho: 0,
    tooManyPeers: 0, peersEvicted: 0, challengesRateLimited: 0, beyondWindow: 0, reassemblyBudget: 0, messageTooLarge: 0, fragmentLimit: 0, abandoned: 0,
    challengesSent: 0, proofs: 0, auth: 0, replay: 0, refusalsSent: 0, refusalsReceived: 0, keyDerivationsRateLimited: 0,
  };
  private readonly ctx: SessionContext;
  private unpinned = 0;
  private nextStreamId: number;
  /** Keyed: this endpoint's sending key (created once its node id is known: setIdentity()). */
  private sealer: Sealer | undefined;
  private readonly tombstones = new Map<string, Tombstone>();
  private lastAuthFailure: { from: string; reason: string; atMs: number } | undefined;
  private maxPayload: number;
  /** Keyed: sessions that took a datagram under their peer's proven key since the last prepare(). */
  private readonly recent: PeerSession[] = [];
  /** Keyed: keys other than a session's proven one that opened a datagram lately, by key id (at most KNOWN_KEYS). */
  private readonly openers = new Map<string, Opener>();
  /** Keyed: key derivations for unknown key ids, at most maxChallengesPerSecond (bursts of a tenth). */
  private readonly derivations: RateLimiter;
  /** The largest datagram to and from loopback peers (setReceiveBuffer()); datagramBytes until then. */
  private loopbackBytes: number;
  /** Sessions holding an ack until the batch of datagrams being read ends (batchAcks()). */
  private acksOwed: PeerSession[] = [];
  /** Clear text: encodes outgoing datagrams into reused buffers. */
  private readonly framer = new Framer();
  /** The datagram being taken in: one object, overwritten by every receive (decodeInto). */
  private readonly rx: Datagram = newDatagram();
  /** The address and session of the last datagram received: a burst from one peer skips formatting its address. */
  private lastHost = '';
  private lastPort = -1;
  private lastKey = '';

  constructor(private readonly opts: ResolvedOptions, private readonly hooks: CoreHooks) {
    const rand = opts.random ?? cryptoRandom;
    const initialSeq = opts.initialSeq;
    // Stream ids only need to grow (a receiver takes a higher one as newer); a random start
    // keeps two starts of an endpoint from reusing the same numbers.
    this.nextStreamId = (Math.floor(rand() * 2 ** 30) + 1) >>> 0;
    this.maxPayload = opts.datagramBytes - MAX_OVERHEAD_BYTES;
    this.loopbackBytes = opts.datagramBytes;
    this.derivations = new RateLimiter(opts.maxChallengesPerSecond, Math.max(1, Math.ceil(opts.maxChallengesPerSecond / 10)));
    const core = this;
    this.ctx = {
      cfg: opts,
      get maxPayload() {
        return core.maxPayload;
      },
      get loopbackBytes() {
        return core.loopbackBytes;
      },
      frame: opts.key === undefined ? (d) => this.framer.frame(d) : (d) => this.sealer!.seal(d),
      out: newDatagram(),
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
      deferAck: undefined,
    };
    if (opts.key !== undefined && opts.nodeId !== undefined) this.setIdentity(opts.nodeId);
    for (const p of opts.pinnedPeers) {
      const { host, port, key } = parsePeer(p);
      if (!this.sessions.has(key)) this.create(key, host, port, true);
    }
  }

  /** Datagrams are sealed with the cluster key. */
  get keyed(): boolean {
    return this.opts.key !== undefined;
  }

  /**
   * Keyed: the node id this endpoint seals under (its authenticated identity), when it was not
   * given as an option: the endpoint calls this with its bound address before anything is sent.
   */
  setIdentity(nodeId: string): void {
    const key = this.opts.key;
    if (key === undefined || this.sealer !== undefined) return;
    const idBytes = Buffer.byteLength(nodeId, 'utf8');
    const payload = this.opts.datagramBytes - (MAX_OVERHEAD_BYTES - CRC_BYTES) - sealOverhead(idBytes);
    if (payload < 64) {
      throw new TransportError('TRANSPORT_ERR_INVALID_ARGUMENT',
        `datagramBytes (${this.opts.datagramBytes}) leaves ${payload} payload bytes once sealed with node id ${JSON.stringify(nodeId)}; at least 64 are needed`);
    }
    this.sealer = new Sealer(key, nodeId);
    this.maxPayload = payload;
  }

  /**
   * The socket's receive buffer is `bytes` (as the OS reports it: Linux doubles what it grants, for
   * its bookkeeping, so half of it holds data): datagrams to and from loopback peers may be as large
   * as loopbackDatagramBytes, as long as that buffer holds a full window of them and 16 more.
   */
  setReceiveBuffer(bytes: number): void {
    const o = this.opts;
    this.loopbackBytes = Math.max(o.datagramBytes, Math.min(o.loopbackDatagramBytes, Math.floor(bytes / 2 / (o.windowDatagrams + 16))));
  }

  /**
   * Keyed, when the process is idle (the endpoint calls it from setImmediate): create the cipher
   * contexts the next datagrams will need, ours and the next one from each peer we just heard
   * (seal.ts explains why; only a speed-up: nothing changes if it is never called).
   */
  prepare(): void {
    this.sealer?.prepare();
    for (const s of this.recent) s.prepareOpen();
    this.recent.length = 0;
  }

  /** Take in one datagram from host:port. Returns the session it concerned, if any (to re-arm its timer). */
  receive(buf: Uint8Array, host: string, port: number, now: number): PeerSession | undefined {
    if (this.opts.key !== undefined) return this.receiveSealed(buf, host, port, now);
    const d = decodeInto(buf, isLoopbackHost(host) ? this.loopbackBytes : this.opts.datagramBytes, true, this.rx);
    const tn = this.ctx.trace;
    if (typeof d === 'string') {
      this.counters[d]++;
      if (d === 'badVersion' && buf[0] === SEALED_VERSION) this.otherMode(host, port, WHY_SEALED_PEER, now);
      this.traceDrop(host, port, d, buf.length);
      return undefined;
    }
    const key = this.addressKey(host, port);
    if (tn?.active) traceReceive(tn, d, key, buf.length);
    return this.take(d, key, host, port, now, undefined, 0);
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

  stats(): Omit<EndpointStats, 'datagramsSent' | 'datagramsReceived' | 'bytesSent' | 'bytesReceived' | 'socketErrors' | 'bad'> & { bad: Omit<EndpointStats['bad'], 'injectedDrops'> } {
    const c = this.counters;
    return {
      bad: {
        truncated: c.truncated, badVersion: c.badVersion, badChecksum: c.badChecksum, malformed: c.malformed,
        oversized: c.oversized, staleSession: c.staleSession, unproven: c.unproven, badEcho: c.badEcho,
        auth: c.auth, replay: c.replay,
      },
      keyed: this.keyed,
      lastAuthFailure: this.lastAuthFailure === undefined ? undefined : { ...this.lastAuthFailure },
      dropped: {
        tooManyPeers: c.tooManyPeers, challengesRateLimited: c.challengesRateLimited, keyDerivationsRateLimited: c.keyDerivationsRateLimited, beyondWindow: c.beyondWindow,
        reassemblyBudget: c.reassemblyBudget, messageTooLarge: c.messageTooLarge, fragmentLimit: c.fragmentLimit, abandoned: c.abandoned,
      },
      handshake: { challengesSent: c.challengesSent, proofs: c.proofs, refusalsSent: c.refusalsSent, refusalsReceived: c.refusalsReceived },
      reassemblyBytes: this.ctx.budget.used,
      peersEvicted: c.peersEvicted,
      peers: [...this.sessions.values()].map((s) => s.snapshot()),
    };
  }

  peerStats(peer: string): PeerStats | undefined {
    return this.find(peer)?.snapshot();
  }

  /**
   * Read datagrams in batches from now on: acks they call for are held until flushAcks(), which the
   * owner calls once the batch is read; `schedule` is called when the first ack of a batch is held.
   */
  batchAcks(schedule: () => void): void {
    this.ctx.deferAck = (s) => {
      if (this.acksOwed.length === 0) schedule();
      this.acksOwed.push(s);
    };
  }

  /** Send the acks held since the last call (batchAcks()); returns the sessions they concern, to re-arm their timers. */
  flushAcks(now: number): readonly PeerSession[] {
    const owed = this.acksOwed;
    if (owed.length === 0) return owed;
    this.acksOwed = [];
    for (const s of owed) s.flushDeferredAck(now);
    return owed;
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

  /** "host:port" of a sender, formatted once per run of datagrams from the same one. */
  private addressKey(host: string, port: number): string {
    if (port !== this.lastPort || host !== this.lastHost) {
      this.lastKey = formatAddress(host, port);
      this.lastHost = host;
      this.lastPort = port;
    }
    return this.lastKey;
  }

  /** Hand a datagram to the hook; a framed buffer it keeps is never written again (Framer.kept; a sealed one never came from the Framer). */
  private transmit(bytes: Buffer, to: Destination): void {
    if (this.hooks.transmit(bytes, to) !== false && this.opts.key === undefined) this.framer.kept(bytes);
  }

  /** A decoded datagram from a sender that got this far (its CRC or its tag checked): to its session, or the stateless path. */
  private take(d: Datagram, key: string, host: string, port: number, now: number, opener: Opener | undefined, counter: number): PeerSession | undefined {
    let s = this.sessions.get(key);
    if (s === undefined) {
      const t = opener === undefined ? undefined : this.tombstones.get(key);
      if (t !== undefined && counter <= t.highest && t.keyId.equals(opener!.keyId)) {
        // What an evicted session of this address took, again: a replay, which cannot bring it back.
        this.counters.replay++;
        return undefined;
      }
      if (!(d.flags & F_ECHO) || !this.ctx.handshake.verify(key, d.echo, now)) {
        this.answerStranger(d, key, host, port, now);
        return undefined;
      }
      s = this.admit(key, host, port, now);
      if (s === undefined) return undefined;
      if (t !== undefined) {
        this.tombstones.delete(key);
        s.setReplayFloor(t.keyId, t.highest);
      }
    }
    const rejected = s.onDatagram(d, now, opener, counter);
    if (rejected !== undefined) this.counters[rejected]++;
    return s;
  }

  /**
   * Keyed: open a sealed datagram, or count why not. Under the proven key of the address's
   * session the replay window is checked first (no decryption for a replay); any other key is
   * derived from the header (HKDF) and kept only if the datagram then proves itself (session.ts).
   */
  private receiveSealed(buf: Uint8Array, host: string, port: number, now: number): PeerSession | undefined {
    if (buf.length > (isLoopbackHost(host) ? this.loopbackBytes : this.opts.datagramBytes)) {
      this.counters.oversized++;
      this.traceDrop(host, port, 'oversized', buf.length);
      return undefined;
    }
    const h = parseSealedHeader(buf);
    if (typeof h === 'string') {
      if (h === 'refusal') return this.onRefusal(buf, host, port, now);
      if (h === 'badVersion') {
        // Clear text (or garbage): nothing here is authenticated.
        this.authFailed(host, port, buf[0] === WIRE_VERSION ? 'clear text (the sender has no cluster key?)' : `not a sealed datagram (version ${buf[0]})`, now, buf.length);
        if (buf[0] === WIRE_VERSION) this.otherMode(host, port, WHY_CLEAR_PEER, now);
      } else {
        this.counters[h]++;
        this.traceDrop(host, port, h, buf.length);
      }
      return undefined;
    }
    const key = this.addressKey(host, port);
    const s = this.sessions.get(key);
    let opener = s?.opener;
    /** Set when the key was derived for this datagram: remembered if the datagram opens. */
    let derivedFor: string | undefined;
    if (opener !== undefined && opener.matches(h)) {
      if (!s!.fresh(h.counter)) {
        this.counters.replay++;
        this.traceDrop(host, port, 'replay', buf.length, `counter ${h.counter} already taken`);
        return undefined;
      }
    } else {
      // Another key: one that opened a datagram here lately, or derived now (HKDF), no more of
      // those a second than maxChallengesPerSecond, so random key ids cost a bounded share of the CPU.
      const id = keyIdOf(h);
      opener = this.openers.get(id);
      if (opener === undefined) {
        if (!this.derivations.take(now)) {
          this.counters.keyDerivationsRateLimited++;
          this.authFailed(host, port, 'under an unknown key, with more unknown keys this second than maxChallengesPerSecond (not checked)', now, buf.length);
          return undefined;
        }
        opener = Opener.for(this.opts.key!, h);
        if (opener === undefined) {
          this.counters.malformed++; // a node id that is not UTF-8
          return undefined;
        }
        derivedFor = id;
      }
    }
    const inner = opener.open(buf, h);
    if (inner !== undefined && derivedFor !== undefined) {
      // A key that opened a datagram: remember it (bounded, the oldest first out).
      this.openers.set(derivedFor, opener);
      if (this.openers.size > KNOWN_KEYS) this.openers.delete(this.openers.keys().next().value!);
    }
    if (inner === undefined) {
      this.authFailed(host, port, 'its tag did not verify (another cluster key, a forgery or damage in transit)', now, buf.length);
      this.refuse(h, host, port, now);
      return undefined;
    }
    const d = decodeInto(inner, Infinity, false, this.rx);
    if (typeof d === 'string') {
      this.counters[d]++; // authentic, but not a datagram: a key holder with a bug
      this.traceDrop(host, port, d, buf.length, `sealed by ${opener.nodeId}`);
      return undefined;
    }
    const tn = this.ctx.trace;
    if (tn?.active) traceReceive(tn, d, key, buf.length);
    const taken = this.take(d, key, host, port, now, opener, h.counter);
    if (taken !== undefined && taken.opener !== undefined && this.recent.at(-1) !== taken && this.recent.length < 64) this.recent.push(taken);
    return taken;
  }

  /** Keyed: a refusal notice. Only one quoting a datagram of ours counts (it is not authenticated). */
  private onRefusal(buf: Uint8Array, host: string, port: number, now: number): undefined {
    if (this.sealer === undefined || !this.sealer.quotes(buf)) {
      this.authFailed(host, port, 'a refusal notice that does not quote a datagram of ours', now, buf.length);
      return undefined;
    }
    this.counters.refusalsReceived++;
    this.sessions.get(formatAddress(host, port))?.refuse(now, WHY_REFUSED);
    const log = this.hooks.log;
    if (log?.enabled) log('<- %s:%d refusal: %s', host, port, WHY_REFUSED);
    return undefined;
  }

  /** Keyed: answer a datagram that did not open with a refusal notice (rate-limited; smaller than what it answers). */
  private refuse(h: SealedHeader, host: string, port: number, now: number): void {
    if (!this.ctx.challenges.take(now)) {
      this.counters.challengesRateLimited++;
      return;
    }
    this.counters.refusalsSent++;
    this.transmit(encodeRefusal(h), { host, port });
  }

  private authFailed(host: string, port: number, reason: string, now: number, bytes = 0): void {
    this.counters.auth++;
    const from = formatAddress(host, port);
    this.lastAuthFailure = { from, reason, atMs: now };
    const log = this.hooks.log;
    if (log?.enabled) log('<- %s drop auth: %s', from, reason);
    this.traceDrop(host, port, 'auth', bytes, reason);
  }

  /** A datagram in the other mode (sealed at an unkeyed endpoint, clear text at a keyed one) from a peer we talk to. */
  private otherMode(host: string, port: number, why: string, now: number): void {
    const from = formatAddress(host, port);
    if (this.opts.key === undefined) this.lastAuthFailure = { from, reason: 'sealed (the sender has a cluster key, this endpoint has none)', atMs: now };
    this.sessions.get(from)?.refuse(now, why);
  }

  /** A datagram dropped as `reason` (counted by the caller), for the trace (DEBUG=pagewire:trace:transport). */
  private traceDrop(host: string, port: number, reason: string, bytes: number, why?: string): void {
    const tn = this.ctx.trace;
    if (!tn?.transport.on) return;
    const peer = tn.peerName(formatAddress(host, port));
    tn.transport.emit({ type: 'datagram-corrupt', peer, reason, bytes, label: `${reason}: dropped${why === undefined ? '' : ` (${why})`}` });
  }

  /**
   * A datagram from an address without state: count it, and answer with a challenge if it asks
   * for something (data, or a challenge of its own). One answer per datagram at most, no state
   * kept, within maxChallengesPerSecond, and never larger than 50 bytes (so never trace-stamped:
   * an answer to a stranger must not grow).
   */
  private answerStranger(d: Datagram, key: string, host: string, port: number, now: number): void {
    const hs = this.ctx.handshake;
    const ours = hs.incarnationFor(key);
    const keyed = this.opts.key !== undefined; // (then authentic: sealed by a key holder, but not fresh)
    if (d.flags & F_ECHO) this.counters[keyed ? 'replay' : 'badEcho']++;
    else if (d.dstInc !== 0 && d.dstInc !== ours) this.counters[keyed ? 'replay' : 'staleSession']++; // for an earlier incarnation of ours
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
    const bytes = this.ctx.frame({
      flags: F_CHALLENGE | (echo ? F_ECHO : 0), window: advertisedWindow(this.opts, this.ctx.budget, 0),
      srcInc: ours, dstInc: d.srcInc, stream: 0, ackStream: 0, seq: 0, ack: 0, isn: 0,
      challenge: hs.cookie(key, now), echo: echo ? d.challenge : 0n, sacks: NO_SACKS, payload: EMPTY,
    });
    if (bytes !== undefined) this.transmit(bytes, { host, port });
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
      transmit: (bytes) => this.transmit(bytes, s),
      deliver: (data, session) => this.hooks.message({ peer: key, session, data, peerId: s.peerId }),
      restarted: (oldSession, newSession) => this.hooks.restarted({ peer: key, oldSession, newSession }),
      unreachable: (waitedMs, refused) => this.hooks.unreachable({ peer: key, waitedMs, refused }),
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
    const replay = victim.replayState;
    if (replay !== undefined) {
      // Bounded like the peer table: the oldest tombstone goes first.
      this.tombstones.delete(victim.address);
      this.tombstones.set(victim.address, replay);
      if (this.tombstones.size > this.opts.maxPeers) this.tombstones.delete(this.tombstones.keys().next().value!);
    }
    victim.close(new TransportError('TRANSPORT_ERR_CLOSED', `state for ${victim.address} evicted`, { peer: victim.address }));
    this.hooks.evicted(victim);
    return true;
  }
}

