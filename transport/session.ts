/**
 * One peer address: who is there (its incarnation, proven), and the two streams to and from it.
 * No sockets and no timers: datagrams leave through `hooks.transmit`, time comes in as `now`, and
 * the owner arms one timer for nextDeadline() and calls onTimer().
 *
 * Three things identify traffic, and each changes for its own reason:
 * - incarnation: which start of an endpoint sent it (handshake.ts). Changes only when the
 *   endpoint restarts. A new one is believed only when proven: its datagram must echo a cookie
 *   we sent to this address. Then the peer restarted: both streams end, pending sends reject
 *   with PEER_RESTARTED, 'restarted' is reported, and the old incarnation is retired (last 8)
 *   so its late datagrams are never delivered.
 * - send stream (send-stream.ts): our data toward the peer. Changes when we give up on the peer
 *   (pending sends reject with PEER_UNREACHABLE) and on a proven restart. Stream ids come from
 *   one counter per endpoint, so the receiver can tell a newer stream from a late datagram of
 *   an older one.
 * - receive stream (receive-stream.ts): the peer's data toward us. Replaced when the peer (same
 *   incarnation) starts a newer stream with SYN: the peer gave up on us. That is not a restart
 *   and is not reported as one; nothing of the older stream is delivered after it.
 *
 * Keyed endpoints (seal.ts) add a fourth: the peer's sending key (its node id and salt, one per
 * start of the peer). The proven incarnation is believed only under the key it was proven with;
 * a datagram under another key is a claim to prove like a new incarnation, and the key of a
 * retired incarnation is retired with it. Each datagram's counter is taken into the key's replay
 * window once its tag proved it authentic; a counter seen before is a replay, dropped unread.
 *
 * Until the peer is proven, every datagram we send carries a CHALLENGE; whoever answers with a
 * valid ECHO is who receives at this address. When the peer challenges us, we ECHO on every
 * datagram until it addresses us by our incarnation. Data is taken only when addressed to this
 * incarnation (dstInc): data sent before its sender knew us may be meant for an earlier one.
 */
import { TransportError } from './errors.js';
import type { Handshake, RateLimiter } from './handshake.js';
import { ReplayWindow } from './replay-window.js';
import type { Opener } from './seal.js';
import { advertisedWindow, ReceiveStream, type ReassemblyBudget, type ReceiveConfig, type ReceiveDrop, type ReceiveOutput } from './receive-stream.js';
import { RtoEstimator, type RtoOptions } from './rto.js';
import { SendStream, type SendConfig } from './send-stream.js';
import { seqLt } from './seq.js';
import { isLoopbackHost } from './address.js';
import type { PeerStats } from './types.js';
import {
  EMPTY, F_ACK, F_CHALLENGE, F_DATA, F_ECHO, F_SYN, NO_SACKS, setDatagram, type Datagram,
} from './wire.js';
import type { TraceNode } from '../trace/node.js';
import { stampSend } from './trace.js';

export interface SessionConfig extends ReceiveConfig, Omit<SendConfig, 'maxPayload'>, RtoOptions {
  giveUpMs: number;
}

/** Counters of the endpoint that sessions add to. */
export interface SessionCounters extends Record<ReceiveDrop, number> {
  challengesSent: number;
  challengesRateLimited: number;
  proofs: number;
}

/** What all sessions of one endpoint share. */
export interface SessionContext {
  readonly cfg: SessionConfig;
  /** Fragment payload bytes per data datagram (what is left of datagramBytes after the headers, sealed or not). */
  readonly maxPayload: number;
  /** The largest datagram to and from loopback peers (options.ts, loopbackDatagramBytes; core.ts, setReceiveBuffer()). */
  readonly loopbackBytes: number;
  /**
   * Encode a datagram for the wire: with its CRC, or sealed (undefined once the key's counters are
   * used up). The buffer is the transmit hook's to send, not to keep (core.ts).
   */
  frame(d: Datagram): Buffer | undefined;
  /** The datagram being sent: one object every session overwrites and frames at once (nothing allocated per datagram). */
  readonly out: Datagram;
  readonly handshake: Handshake;
  readonly budget: ReassemblyBudget;
  /** Bounds challenges sent by the whole endpoint (they answer datagrams anyone can forge). */
  readonly challenges: RateLimiter;
  readonly counters: SessionCounters;
  newStreamId(): number;
  newIsn(): number;
  /** The endpoint's trace node, once it is bound (trace/README.md); events are published only while it traces. */
  trace: TraceNode | undefined;
  /**
   * Set when the owner reads datagrams in batches (the endpoint: all those the socket has ready in
   * one turn of the event loop): an ack that is owed is handed here, and leaves once the batch is
   * read (flushDeferredAck()), so a burst that arrives together is acknowledged once. Unset (the
   * simulated network): it leaves at once.
   */
  deferAck: ((s: PeerSession) => void) | undefined;
}

export interface SessionHooks {
  transmit(bytes: Buffer): void;
  deliver(data: Uint8Array, incarnation: number): void;
  restarted(oldIncarnation: number, newIncarnation: number): void;
  unreachable(waitedMs: number, refused: boolean): void;
}

/** Why onDatagram() did not take a datagram in, for the endpoint's counters. */
export type Rejection = 'staleSession' | 'malformed' | 'unproven' | 'badEcho' | 'replay' | undefined;

const RETIRED_INCARNATIONS = 8;
/** Sending keys of retired incarnations remembered (keyed endpoints). */
const RETIRED_KEYS = 8;
/**
 * At most one unsolicited control datagram per peer per millisecond: one answer covers a burst
 * of datagrams from a restarted peer, and a flood forged from a peer's address is reflected to
 * that peer at no more than this rate (and no more than maxChallengesPerSecond overall).
 */
const CONTROL_INTERVAL_MS = 1;

export class PeerSession {
  readonly stats: PeerStats;
  lastActivity = 0;
  /** Owned by the endpoint's I/O shell: its timer for nextDeadline(). */
  timer: unknown = undefined;
  timerAt = Infinity;

  /** Our incarnation id toward this peer. */
  readonly localInc: number;
  /** The peer's proven incarnation (0: none proven yet). */
  private peerInc = 0;
  private readonly retired: number[] = [];
  /** Keyed: the key the proven incarnation seals with, and the counters taken under it. */
  private rxOpener: Opener | undefined;
  private rxWindow: ReplayWindow | undefined;
  private readonly retiredKeys: Buffer[] = [];
  /** Keyed: counters up to this were taken under that key by an evicted session of this address (core.ts). */
  private floor: { keyId: Buffer; highest: number } | undefined;
  /** Keyed: the peer's node id, as its key authenticates it (undefined until proven, and on unkeyed endpoints). */
  peerId: string | undefined;
  /** When the peer last said it cannot read us (refuse()), and why; when a datagram of its was last taken. */
  private refusedAt = -Infinity;
  private refusedWhy = '';
  private heardAt = -Infinity;
  private tx: SendStream | undefined;
  private rx: ReceiveStream | undefined;
  private readonly rto: RtoEstimator;
  private peerWindow: number;
  /** The peer challenged us: echo this on every datagram until it shows it knows us. */
  private echo = 0n;
  private hasEcho = false;
  private cookieEpochAt = -Infinity;
  private cookie = 0n;
  /** Unsolicited control datagrams (challenge answers, announcements) are rate-limited per peer. */
  private lastControlAt = -Infinity;
  private lastResendAt = -Infinity;
  private now = 0;
  private closed = false;
  private readonly rxOut: ReceiveOutput;
  /** On loopback: datagrams may be larger than datagramBytes (loopbackDatagramBytes), both ways. */
  readonly loopback: boolean;
  /** Loopback: the largest datagram the peer said it accepts (0: it said nothing; we send datagramBytes). */
  private peerAccepts = 0;
  /** The receive streams' configuration: datagramBytes is the largest datagram this peer may send us. */
  private rxCfg: ReceiveConfig;
  /** While tracing: the sequence number of the data datagram being taken in (for duplicate-received). */
  private rxSeq = 0;
  /** An ack is owed and handed to ctx.deferAck (it will call flushDeferredAck()). */
  private ackDeferred = false;
  /** Unacknowledged datagrams at which an ack leaves even in the middle of a batch. */
  private readonly ackBatchMax: number;

  constructor(
    readonly address: string,
    readonly host: string,
    readonly port: number,
    readonly pinned: boolean,
    private readonly ctx: SessionContext,
    private readonly hooks: SessionHooks,
  ) {
    const cfg = ctx.cfg;
    this.localInc = ctx.handshake.incarnationFor(address);
    this.rto = new RtoEstimator(cfg);
    this.peerWindow = cfg.windowDatagrams;
    this.loopback = isLoopbackHost(host);
    this.rxCfg = cfg;
    this.ackBatchMax = Math.max(2, Math.floor(cfg.windowDatagrams / 4));
    this.stats = {
      peer: address, peerId: undefined, incarnation: 0, pinned, datagramsSent: 0, datagramsReceived: 0, retransmits: 0, bundles: 0, messagesSent: 0,
      messagesDelivered: 0, duplicatesDropped: 0, pureAcksSent: 0, srttUs: 0, rttvarUs: 0, rtoUs: 0, cwnd: 0,
      peerWindow: 0, inFlight: 0, timeouts: 0, probes: 0, giveUps: 0, restarts: 0, streamsReceived: 0,
    };
    this.rxOut = {
      deliver: (data) => {
        this.stats.messagesDelivered++;
        const tn = this.ctx.trace;
        if (tn?.transport.on) tn.transport.emit({ type: 'message-delivered', peer: tn.peerName(this.address), bytes: data.length, label: `deliver message (${data.length} B)` });
        this.hooks.deliver(data, this.peerInc);
      },
      dropped: (reason) => void this.ctx.counters[reason]++,
      duplicate: () => {
        this.stats.duplicatesDropped++;
        const tn = this.ctx.trace;
        if (tn?.transport.on) {
          tn.transport.emit({ type: 'duplicate-received', peer: tn.peerName(this.address), seq: this.rxSeq, label: `duplicate seq=${this.rxSeq}: acked, not delivered again` });
        }
      },
    };
  }

  /** The peer's proven incarnation, 0 if none yet. */
  get incarnation(): number {
    return this.peerInc;
  }

  /**
   * Queue one message; the promise settles when the peer acknowledged all of it, or on failure.
   * With `pump` false it only queues: the caller calls flush() once the messages of this tick are
   * queued, and they leave coalesced (send-stream.ts).
   */
  send(data: Uint8Array, now: number, pump = true): Promise<void> {
    this.now = now;
    this.lastActivity = now;
    this.tx ??= this.newSendStream();
    const tn = this.ctx.trace;
    if (!tn?.transport.on) return this.tx.send(data, now, pump);
    const peer = tn.peerName(this.address);
    const sent = tn.transport.emit({ type: 'message-sent', peer, bytes: data.length, label: `send message (${data.length} B); keep a copy, set the timer` });
    const p = this.tx.send(data, now, pump);
    p.then(() => {
      if (tn.transport.on) {
        tn.transport.emit({
          type: 'message-acked', peer, bytes: data.length, of: tn.key(sent), ms: Math.round((this.now - now) * 1000) / 1000,
          label: 'acked: delete the copy, timer off',
        });
      }
    }, () => undefined);
    return p;
  }

  /** Send what send(..., false) queued, as far as the windows allow. */
  flush(now: number): void {
    if (this.closed || this.tx === undefined) return;
    this.now = now;
    this.tx.pump(now);
  }

  /** Keyed: the key of the proven incarnation (the core checks its replay window before opening a datagram under it). */
  get opener(): Opener | undefined {
    return this.rxOpener;
  }

  /** Keyed: create the cipher context of the peer's next datagram (its counter after the highest taken). */
  prepareOpen(): void {
    if (this.rxOpener !== undefined) this.rxOpener.prepare(this.rxWindow!.highest + 1);
  }

  /** Keyed: could a datagram under the proven key with this counter be new (not a replay)? */
  fresh(counter: number): boolean {
    return this.rxWindow!.fresh(counter);
  }

  /**
   * Process one decoded datagram from this address. Keyed endpoints pass the key it opened
   * under and its counter: the core opened it (its tag is valid) and, under the proven key,
   * found the counter fresh.
   */
  onDatagram(d: Datagram, now: number, opener?: Opener, counter = 0): Rejection {
    this.now = now;
    this.lastActivity = now;
    this.stats.datagramsReceived++;
    const keyed = opener !== undefined;
    let resend = false;
    if (keyed && opener === this.rxOpener && !this.rxWindow!.take(counter)) return 'replay';
    if (d.srcInc !== this.peerInc || opener !== this.rxOpener) {
      if (this.retired.includes(d.srcInc) || (keyed && this.retiredKeys.some((k) => k.equals(opener.keyId)))) {
        return keyed ? 'replay' : 'staleSession';
      }
      if (keyed && this.floor !== undefined && counter <= this.floor.highest && this.floor.keyId.equals(opener.keyId)) return 'replay';
      const proven = (d.flags & F_ECHO) !== 0 && this.ctx.handshake.verify(this.address, d.echo, now);
      if (!proven) {
        // A claim we cannot check yet (a first contact, a restart, or a forgery from this
        // address): change nothing, and challenge whoever really receives at this address.
        this.answerClaim(d, now);
        // Sealed by a key holder, but an answer to a challenge of an earlier life of ours, or
        // addressed to one: a replay (or a datagram from before our restart).
        if (keyed && (d.flags & F_ECHO || (d.dstInc !== 0 && d.dstInc !== this.localInc))) return 'replay';
        return d.flags & F_ECHO ? 'badEcho' : 'unproven';
      }
      this.ctx.counters.proofs++;
      const first = this.peerInc === 0;
      if (!first) {
        this.restart(d.srcInc);
        if (this.closed) return undefined;
      }
      this.peerInc = this.stats.incarnation = d.srcInc;
      if (keyed && !this.acceptKey(opener, counter)) return 'replay';
      const tn = this.ctx.trace;
      if (first && tn?.transport.on) {
        tn.transport.emit({ type: 'session-change', peer: tn.peerName(this.address), kind: 'proven', incarnation: d.srcInc.toString(16), label: 'peer proven (its echo came back)' });
      }
      resend = true; // what we sent before we knew who is there was not accepted (see onData)
    }
    this.heardAt = now; // from the proven peer (under its key): it can read us, or it would not answer
    if (this.loopback && (d.accept ?? 0) * 1024 !== this.peerAccepts) {
      this.peerAccepts = (d.accept ?? 0) * 1024;
      this.tx?.setMaxPayload(this.payloadBytes());
    }
    if (d.dstInc !== 0 && d.dstInc !== this.localInc) {
      // Meant for an earlier incarnation of ours: tell the sender who is here now (our srcInc),
      // with a challenge, so its answer lets it prove us.
      this.sendControl(now, F_CHALLENGE, this.peerInc, 0n);
      return keyed ? 'replay' : 'staleSession';
    }
    const sentBefore = this.stats.datagramsSent;
    const challenged = (d.flags & F_CHALLENGE) !== 0;
    resend ||= challenged;
    if (challenged) {
      this.echo = d.challenge;
      this.hasEcho = true;
    } else if (d.dstInc === this.localInc) {
      this.hasEcho = false; // the peer addresses this incarnation: it has proven us
    }
    let rejected: Rejection;
    const tx = this.tx;
    if (d.flags & F_ACK && tx !== undefined && d.ackStream === tx.id) {
      // (An ack of an older stream of ours is simply out of date.)
      if (!tx.onAck(d.ack, d.sacks, d.window, now)) rejected = 'malformed';
    }
    if (d.flags & F_DATA) rejected = this.onData(d) ?? rejected;
    if (this.closed) return rejected;
    if (resend && this.tx !== undefined && now - this.lastResendAt >= this.ctx.cfg.minRtoMs) {
      // The peer dropped what we sent, because it did not know us (it challenged us) or because
      // it was not addressed to it (we had not proven it yet): resend it now.
      this.lastResendAt = now;
      this.tx.retransmitInFlight(now);
    } else {
      this.tx?.peerHeard(now); // if the path was down and is back, do not wait out the back-off
    }
    this.tx?.pump(now);
    this.flushAck(now);
    if (challenged && this.stats.datagramsSent === sentBefore) this.emit(0, 0, EMPTY); // the echo must leave
    return rejected;
  }

  /** Earliest time onTimer() has work to do (Infinity when none). */
  nextDeadline(): number {
    const ack = this.rx?.ackDueAt || Infinity;
    const tx = this.tx === undefined ? Infinity : this.tx.nextDeadline();
    return ack < tx ? ack : tx;
  }

  onTimer(now: number): void {
    this.now = now;
    if (this.rx?.onTimer(now)) this.sendPureAck();
    const tn = this.ctx.trace;
    const waited = this.tx?.onTimer(now, tn?.transport.on ? (kind, rtoMs, resent) => {
      tn.transport.emit({
        type: 'rto-fired', peer: tn.peerName(this.address), kind, rtoMs: Math.round(rtoMs * 1000) / 1000, resent,
        label: `timer went off (${kind}, RTO ${rtoMs < 10 ? rtoMs.toFixed(1) : Math.round(rtoMs)} ms): send again`,
      });
    } : undefined);
    if (waited !== undefined) this.giveUp(waited);
  }

  /** Messages accepted by send() and not yet settled. */
  get queuedMessages(): number {
    return this.tx?.queuedMessages ?? 0;
  }

  /** Reject everything pending and stop. */
  close(err: TransportError): void {
    this.closed = true;
    this.tx?.abandon(err);
    this.tx = undefined;
    this.rx?.release();
    this.rx = undefined;
  }

  snapshot(): PeerStats {
    const s = this.stats;
    s.srttUs = Math.round(this.rto.srttMs * 1000);
    s.rttvarUs = Math.round(this.rto.rttvarMs * 1000);
    s.rtoUs = Math.round(this.rto.rtoMs * 1000);
    s.cwnd = Math.round((this.tx?.congestionWindow ?? this.ctx.cfg.initialCwnd) * 100) / 100;
    s.peerWindow = this.tx?.advertisedWindow ?? this.peerWindow;
    s.inFlight = this.tx?.inFlight ?? 0;
    return { ...s };
  }

  /**
   * The peer told us it cannot read what we send (a refusal notice quoting our datagram, or
   * datagrams in the other mode, sealed or clear). If a send then gives up and nothing of the
   * peer's was taken in since, it fails TRANSPORT_ERR_REFUSED with `why` instead of PEER_UNREACHABLE.
   */
  refuse(now: number, why: string): void {
    this.refusedAt = now;
    this.refusedWhy = why;
  }

  /**
   * Keyed, before the first proof: an evicted session of this address took counters up to
   * `highest` under `keyId`; if the peer proves itself under that key, those stay refused.
   */
  setReplayFloor(keyId: Buffer, highest: number): void {
    this.floor = { keyId, highest };
  }

  /** The replay window at the last counter this peer's key used, for a tombstone when the session is evicted. */
  get replayState(): { keyId: Buffer; highest: number } | undefined {
    return this.rxOpener === undefined ? undefined : { keyId: this.rxOpener.keyId, highest: this.rxWindow!.highest };
  }

  // ------------------------------------------------------------------ sessions

  /**
   * Keyed: the incarnation just proven seals with `opener`; its replay window starts at the proof's
   * `counter`. Everything the peer sealed before it was sent before it knew us and was answered
   * without state (or, with a tombstone, was taken by an evicted session): a replay from now on.
   */
  private acceptKey(opener: Opener, counter: number): boolean {
    const w = new ReplayWindow();
    const tomb = this.floor !== undefined && this.floor.keyId.equals(opener.keyId) ? this.floor.highest : -1;
    w.raiseFloor(Math.max(counter - 1, tomb));
    this.floor = undefined;
    this.rxOpener = opener;
    this.rxWindow = w;
    this.peerId = this.stats.peerId = opener.nodeId;
    return w.take(counter); // (a counter under the floor was refused before the proof)
  }

  /** The peer's proven new incarnation replaces the old one: it restarted. */
  private restart(newInc: number): void {
    const old = this.peerInc;
    this.peerAccepts = 0; // until the new incarnation says what it accepts
    if (old !== newInc) this.retired.push(old); // (a new key with the same 32-bit incarnation: retire only the key)
    if (this.retired.length > RETIRED_INCARNATIONS) this.retired.shift();
    if (this.rxOpener !== undefined) {
      this.retiredKeys.push(this.rxOpener.keyId);
      if (this.retiredKeys.length > RETIRED_KEYS) this.retiredKeys.shift();
      this.rxOpener = this.rxWindow = undefined;
    }
    this.peerInc = this.stats.incarnation = newInc;
    this.stats.restarts++;
    this.hasEcho = false;
    const tn = this.ctx.trace;
    if (tn?.transport.on) {
      tn.transport.emit({ type: 'session-change', peer: tn.peerName(this.address), kind: 'restart', incarnation: newInc.toString(16), label: `peer restarted (incarnation ${old.toString(16)} → ${newInc.toString(16)})` });
    }
    this.endSendStream(new TransportError('TRANSPORT_ERR_PEER_RESTARTED',
      `${this.address} restarted (incarnation ${old.toString(16)} -> ${newInc.toString(16)}) before acknowledging`, { peer: this.address }));
    this.rx?.release();
    this.rx = undefined;
    this.hooks.restarted(old, newInc);
  }

  private giveUp(waited: number): void {
    this.stats.giveUps++;
    const refused = this.refusedAt > this.heardAt;
    const tn = this.ctx.trace;
    if (tn?.transport.on) {
      tn.transport.emit({
        type: 'give-up', peer: tn.peerName(this.address), waitedMs: Math.round(waited),
        label: `gave up after ${Math.round(waited)} ms: ${refused ? 'the peer refused what we sent' : 'peer unreachable'}`,
      });
    }
    this.endSendStream(refused
      ? new TransportError('TRANSPORT_ERR_REFUSED',
        `${this.address} refused what we sent for ${Math.round(waited)} ms: ${this.refusedWhy}`, { peer: this.address })
      : new TransportError('TRANSPORT_ERR_PEER_UNREACHABLE',
        `${this.address} did not acknowledge for ${Math.round(waited)} ms (giveUpMs ${this.ctx.cfg.giveUpMs})`, { peer: this.address }));
    this.hooks.unreachable(waited, refused);
  }

  /** Abandon the send stream; the next send() starts a new one (a new id, a new ISN, SYN again). */
  private endSendStream(err: TransportError): void {
    const tx = this.tx;
    if (tx === undefined) return;
    this.peerWindow = tx.advertisedWindow;
    this.tx = undefined;
    tx.abandon(err);
  }

  private newSendStream(): SendStream {
    const cfg = this.ctx.cfg;
    return new SendStream(this.ctx.newStreamId(), this.ctx.newIsn(), { ...cfg, maxPayload: this.payloadBytes() }, this.rto,
      (flags, seq, payload, tx) => this.emit(flags, seq, payload, tx), this.stats, this.peerWindow, this.address);
  }

  /**
   * Answer a datagram whose incarnation is not proven: echo its challenge (so it can prove us)
   * and challenge it (so it can prove itself). Rate-limited per peer and for the endpoint.
   */
  private answerClaim(d: Datagram, now: number): void {
    if (!(d.flags & (F_DATA | F_CHALLENGE))) return; // only a datagram that wants something gets an answer
    this.sendControl(now, F_CHALLENGE | (d.flags & F_CHALLENGE ? F_ECHO : 0), d.srcInc, d.challenge);
  }

  /**
   * An unsolicited datagram with no data and no ack: a challenge answer (to `dstInc`, a claimed
   * incarnation, echoing `echo` if F_ECHO) or an announcement to the proven peer (carrying the
   * echo we owe it, if any).
   */
  private sendControl(now: number, flags: number, dstInc: number, echo: bigint): void {
    if (now - this.lastControlAt < CONTROL_INTERVAL_MS) return;
    if (flags & F_CHALLENGE && !this.ctx.challenges.take(now)) {
      this.ctx.counters.challengesRateLimited++;
      return;
    }
    this.lastControlAt = now;
    if (flags & F_CHALLENGE) this.ctx.counters.challengesSent++;
    if (dstInc === this.peerInc && this.hasEcho && !(flags & F_ECHO)) {
      flags |= F_ECHO;
      echo = this.echo;
    }
    this.stats.datagramsSent++;
    const d = setDatagram(this.ctx.out, flags, this.window(), this.localInc, dstInc, 0, 0, 0, 0, 0,
      flags & F_CHALLENGE ? this.challengeCookie(now) : 0n, echo, this.acceptKiB(), NO_SACKS, EMPTY);
    const tn = this.ctx.trace;
    const bytes = this.ctx.frame(tn?.active ? stampSend(tn, d, this.address) : d);
    if (bytes !== undefined) this.hooks.transmit(bytes);
  }

  private challengeCookie(now: number): bigint {
    // Recomputed at most once a second: an HMAC per datagram would cost more than the datagram.
    if (now - this.cookieEpochAt >= 1000 || now < this.cookieEpochAt) {
      this.cookie = this.ctx.handshake.cookie(this.address, now);
      this.cookieEpochAt = now;
    }
    return this.cookie;
  }

  // ------------------------------------------------------------------ receiving

  private onData(d: Datagram): Rejection {
    // Data is taken only when addressed to this incarnation. Data sent before its sender knew
    // who is here (dstInc 0) could be a late or replayed datagram meant for a previous one.
    if (d.dstInc !== this.localInc) return 'unproven';
    let rx = this.rx;
    if (rx === undefined || d.stream !== rx.id) {
      // Only a SYN can start a stream, and only one newer than the current: a late datagram of
      // an older stream (which the peer abandoned) is never delivered.
      if (!(d.flags & F_SYN) || (rx !== undefined && !seqLt(rx.id, d.stream))) return 'staleSession';
      const replaced = rx !== undefined;
      rx?.release();
      rx = this.rx = new ReceiveStream(d.stream, d.isn, this.receiveConfig(), this.ctx.budget, this.rxOut);
      this.stats.streamsReceived++;
      const tn = this.ctx.trace;
      if (replaced && tn?.transport.on) {
        tn.transport.emit({ type: 'session-change', peer: tn.peerName(this.address), kind: 'new-stream', incarnation: this.peerInc.toString(16), label: 'peer started a newer stream (it gave up on the old one)' });
      }
    }
    this.rxSeq = d.seq;
    rx.onData(d.seq, d.flags, d.payload);
    return undefined;
  }

  /**
   * After a datagram was taken in: the ack it calls for (receive-stream.ts, ackDue()) leaves now,
   * or, when the owner batches, at the end of the batch, unless ACK_BATCH_MAX datagrams are
   * already unacknowledged (the sender may be waiting for window) or a datagram leaving for the
   * peer carries it first (a reply: then no pure ack at all).
   */
  private flushAck(now: number): void {
    const rx = this.rx;
    if (rx === undefined || !rx.ackDue(now)) return;
    const defer = this.ctx.deferAck;
    if (defer !== undefined && !rx.ackUrgent && rx.unacked < this.ackBatchMax) {
      if (!this.ackDeferred) {
        this.ackDeferred = true;
        defer(this);
      }
      return;
    }
    this.sendPureAck();
  }

  /** The batch of datagrams the deferred ack waited for is read: send it if it is still owed. */
  flushDeferredAck(now: number): void {
    this.ackDeferred = false;
    if (this.closed) return;
    this.now = now;
    if (this.rx?.ackDue(now)) this.sendPureAck();
  }

  private window(): number {
    return this.rx !== undefined ? this.rx.window() : advertisedWindow(this.receiveConfig(), this.ctx.budget, 0);
  }

  /** Fragment payload for this peer: more than datagramBytes allows on loopback, up to what both ends accept. */
  private payloadBytes(): number {
    const ctx = this.ctx;
    const larger = Math.min(ctx.loopbackBytes, this.peerAccepts) - ctx.cfg.datagramBytes;
    return ctx.maxPayload + (larger > 0 ? larger : 0);
  }

  /** What the peer's datagrams may be at most (its window is reckoned in them): larger on loopback. */
  private receiveConfig(): ReceiveConfig {
    const bytes = this.loopback ? this.ctx.loopbackBytes : this.ctx.cfg.datagramBytes;
    if (this.rxCfg.datagramBytes !== bytes) this.rxCfg = { ...this.ctx.cfg, datagramBytes: bytes };
    return this.rxCfg;
  }

  /** KiB this endpoint accepts per datagram, said to loopback peers (0 to others, and when no more than datagramBytes). */
  private acceptKiB(): number {
    const b = this.ctx.loopbackBytes;
    return this.loopback && b > this.ctx.cfg.datagramBytes ? Math.floor(b / 1024) : 0;
  }

  // ------------------------------------------------------------------ sending

  private sendPureAck(): void {
    this.stats.pureAcksSent++;
    this.emit(0, 0, EMPTY);
  }

  /** Send a datagram to the peer, with everything the session has to say: acks, SYN, challenge, echo. */
  private emit(flags: number, seq: number, payload: Uint8Array, txCount?: number): void {
    const tx = this.tx;
    const rx = this.rx;
    let stream = 0;
    let isn = 0;
    if (flags & F_DATA) {
      stream = tx!.id;
      if (!tx!.synAcked) {
        flags |= F_SYN;
        isn = tx!.isn;
      }
    }
    let ackStream = 0;
    let ack = 0;
    let sacks = NO_SACKS;
    if (rx !== undefined) {
      flags |= F_ACK;
      ackStream = rx.id;
      ack = rx.rcvNxt;
      sacks = rx.sackBlocks();
      rx.acked();
    }
    let challenge = 0n;
    if (this.peerInc === 0) {
      flags |= F_CHALLENGE; // until we know who is there, every datagram asks it to prove itself
      challenge = this.challengeCookie(this.now);
    }
    if (this.hasEcho) flags |= F_ECHO;
    const d = setDatagram(this.ctx.out, flags, rx !== undefined ? rx.window() : this.window(), this.localInc, this.peerInc,
      stream, ackStream, seq, ack, isn, challenge, this.echo, this.acceptKiB(), sacks, payload);
    const tn = this.ctx.trace;
    const bytes = this.ctx.frame(tn?.active ? stampSend(tn, d, this.address, txCount) : d);
    this.stats.datagramsSent++;
    if (bytes !== undefined) this.hooks.transmit(bytes);
  }
}
