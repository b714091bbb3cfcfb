/**
 * One peer's connection state: the sending stream (sequence numbers, retransmission, windows)
 * and the receiving stream (reordering, duplicate detection, reassembly, acks). No sockets and
 * no timers: datagrams leave through `hooks.transmit`, time comes in as `now`, and the owner
 * arms one timer for nextDeadline() and calls onTimer(). That keeps it testable without I/O.
 *
 * Streams and sessions. Each side picks a random non-zero `localSession` for its stream toward
 * the other and a random (or configured) initial sequence number. Until the peer acknowledges
 * that stream, every datagram carries SYN and the ISN, so the receiver can start the stream
 * whichever datagram arrives first. A datagram whose dstSession is not our current stream is
 * stale (sent to an earlier incarnation of us) and is dropped; a new srcSession with SYN from a
 * known address means the peer restarted (or abandoned its stream after giving up on us): both
 * our streams to it start over, pending sends reject with PEER_RESTARTED, and the old session
 * is remembered so its late datagrams are never delivered.
 */
import { TransportError } from './errors.js';
import { RtoEstimator } from './rto.js';
import { seqAdd, seqDiff, seqLt } from './seq.js';
import { encodeDatagram, F_ACK, F_DATA, F_FIRST, F_LAST, F_SYN, MAX_OVERHEAD_BYTES, MAX_SACK_BLOCKS, type Datagram } from './wire.js';
import type { PeerStats } from './types.js';

export interface PeerConfig {
  datagramBytes: number;
  maxMessageBytes: number;
  windowDatagrams: number;
  initialCwnd: number;
  minCwnd: number;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  giveUpMs: number;
  ackDelayMs: number;
  maxQueuedMessages: number;
  newSession: () => number;
  newIsn: () => number;
}

export interface PeerHooks {
  transmit(bytes: Buffer): void;
  deliver(data: Uint8Array, session: number): void;
  restarted(oldSession: number, newSession: number): void;
  unreachable(waitedMs: number): void;
}

/** What onDatagram did with a datagram that it did not accept, for the endpoint's counters. */
export type Rejection = 'staleSession' | 'malformed' | undefined;

interface OutSeg {
  readonly seq: number;
  /** F_FIRST / F_LAST of this fragment. */
  readonly frag: number;
  readonly payload: Uint8Array;
  firstSentAt: number;
  sentAt: number;
  tx: number;
  sacked: boolean;
}

interface PendingMessage {
  readonly lastSeq: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

interface Held {
  readonly frag: number;
  readonly payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const RETIRED_SESSIONS = 8;

export class PeerConnection {
  readonly stats: PeerStats;
  lastActivity = 0;

  // ---- sending stream
  private localSession: number;
  private isn: number;
  /** Next sequence number to assign. */
  private sndNxt: number;
  /** Next sequence number to transmit for the first time. */
  private sndMax: number;
  /** Oldest unacknowledged sequence number. */
  private sndUna: number;
  private synAcked = false;
  private unsent: OutSeg[] = [];
  private unsentHead = 0;
  private inflight: OutSeg[] = [];
  private pending: PendingMessage[] = [];
  private pendingHead = 0;
  private readonly rto: RtoEstimator;
  private cwnd: number;
  private ssthresh = Infinity;
  private inRecovery = false;
  private recoveryEnd = 0;
  private peerWindow: number;
  private rtoDeadline = 0;
  /** The first timer expiry of a stall only probes (a tail-loss probe): no back-off, no window cut. */
  private probed = false;
  /** Send time of the most recently sent datagram known to have arrived (RACK, RFC 8985). */
  private rackSentAt = -Infinity;
  /** Its sequence number: breaks ties between datagrams sent in the same instant. */
  private rackSeq = 0;
  /** When the next datagram may be declared lost by RACK (0 = none pending). */
  private rackDeadline = 0;
  private lastAnnounceAt = -Infinity;

  // ---- receiving stream
  private remoteSession = 0;
  private rcvNxt = 0;
  private ooo = new Map<number, Held>();
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private inMessage = false;
  private discarding = false;
  private lastAckSent = 0;
  private ackNow = false;
  private ackDueAt = 0;
  private readonly retired: number[] = [];
  private closed = false;

  private readonly maxPayload: number;

  constructor(
    readonly address: string,
    private readonly cfg: PeerConfig,
    private readonly hooks: PeerHooks,
  ) {
    this.maxPayload = cfg.datagramBytes - MAX_OVERHEAD_BYTES;
    this.rto = new RtoEstimator(cfg);
    this.cwnd = cfg.initialCwnd;
    this.peerWindow = cfg.windowDatagrams;
    this.localSession = cfg.newSession();
    this.isn = this.sndNxt = this.sndMax = this.sndUna = cfg.newIsn();
    this.stats = {
      peer: address, datagramsSent: 0, datagramsReceived: 0, retransmits: 0, messagesSent: 0,
      messagesDelivered: 0, duplicatesDropped: 0, pureAcksSent: 0, srttUs: 0, rttvarUs: 0,
      rtoUs: 0, cwnd: 0, peerWindow: 0, inFlight: 0, timeouts: 0, probes: 0,
    };
  }

  /** Queue one message; the promise settles when the peer acknowledged all of it, or on failure. */
  send(data: Uint8Array, now: number): Promise<void> {
    if (this.pending.length - this.pendingHead >= this.cfg.maxQueuedMessages) {
      return Promise.reject(new TransportError('TRANSPORT_ERR_QUEUE_FULL',
        `${this.cfg.maxQueuedMessages} messages already queued for ${this.address} (maxQueuedMessages)`, { peer: this.address }));
    }
    const copy = data.slice();
    const n = Math.max(1, Math.ceil(copy.length / this.maxPayload));
    for (let i = 0; i < n; i++) {
      this.unsent.push({
        seq: this.sndNxt,
        frag: (i === 0 ? F_FIRST : 0) | (i === n - 1 ? F_LAST : 0),
        payload: copy.subarray(i * this.maxPayload, Math.min(copy.length, (i + 1) * this.maxPayload)),
        firstSentAt: 0, sentAt: 0, tx: 0, sacked: false,
      });
      this.sndNxt = seqAdd(this.sndNxt, 1);
    }
    const lastSeq = seqAdd(this.sndNxt, -1);
    const p = new Promise<void>((resolve, reject) => this.pending.push({ lastSeq, resolve, reject }));
    this.lastActivity = now;
    this.pump(now);
    this.flushAck(now);
    return p;
  }

  /** Process one decoded datagram from this peer's address. */
  onDatagram(d: Datagram, now: number): Rejection {
    this.lastActivity = now;
    this.stats.datagramsReceived++;
    if (d.dstSession !== 0 && d.dstSession !== this.localSession) {
      // Meant for an earlier stream of ours (we restarted or reset): tell the sender who we are now.
      if (d.flags & F_DATA) this.announce(d.srcSession, now);
      return 'staleSession';
    }
    let acksApply = true;
    if (d.srcSession !== this.remoteSession) {
      if (!(d.flags & F_SYN) || this.retired.includes(d.srcSession)) return 'staleSession';
      if (this.remoteSession !== 0) {
        const old = this.remoteSession;
        this.retire(old);
        this.resetReceive();
        this.resetSend(new TransportError('TRANSPORT_ERR_PEER_RESTARTED',
          `${this.address} restarted (session ${old.toString(16)} -> ${d.srcSession.toString(16)}) before acknowledging`, { peer: this.address }));
        this.remoteSession = d.srcSession;
        this.rcvNxt = this.lastAckSent = d.isn;
        acksApply = false; // its acks refer to our previous stream
        this.hooks.restarted(old, d.srcSession);
        if (this.closed) return undefined;
      } else {
        this.remoteSession = d.srcSession;
        this.rcvNxt = this.lastAckSent = d.isn;
      }
    }
    if (acksApply && d.flags & F_ACK) {
      if (!this.onAck(d, now)) return 'malformed';
    }
    if (d.flags & F_DATA) this.onData(d);
    if (this.closed) return undefined;
    this.pump(now);
    this.flushAck(now);
    return undefined;
  }

  /** Earliest time onTimer() has work to do (Infinity when none). */
  nextDeadline(): number {
    let t = this.ackDueAt || Infinity;
    if (this.rackDeadline) t = Math.min(t, this.rackDeadline);
    if (this.rtoDeadline) t = Math.min(t, this.rtoDeadline, this.inflight[0]!.firstSentAt + this.cfg.giveUpMs);
    return t;
  }

  onTimer(now: number): void {
    if (this.ackDueAt && now >= this.ackDueAt) {
      this.ackDueAt = 0;
      if (this.rcvNxt !== this.lastAckSent || this.ackNow) this.sendPureAck();
    }
    if (this.rackDeadline && now >= this.rackDeadline) this.detectLosses(now);
    if (!this.rtoDeadline) return;
    const oldest = this.inflight[0];
    if (oldest === undefined) {
      this.rtoDeadline = 0;
      return;
    }
    if (now - oldest.firstSentAt >= this.cfg.giveUpMs) {
      const waited = now - oldest.firstSentAt;
      this.resetSend(new TransportError('TRANSPORT_ERR_PEER_UNREACHABLE',
        `${this.address} did not acknowledge for ${Math.round(waited)} ms (giveUpMs ${this.cfg.giveUpMs})`, { peer: this.address }));
      this.hooks.unreachable(waited);
      return;
    }
    if (now < this.rtoDeadline) return;
    // Retransmission timeout: resend the oldest datagram and every other one out for a full RTO.
    const threshold = now - this.rto.rtoMs;
    for (const seg of this.inflight) {
      if (!seg.sacked && (seg === oldest || seg.sentAt <= threshold)) {
        this.stats.retransmits++;
        this.transmitData(seg, now);
      }
    }
    if (!this.probed) {
      // Most stalls are a lost tail or a lost ack, not congestion: probe once before backing off.
      this.probed = true;
      this.stats.probes++;
      this.rtoDeadline = now + this.rto.rtoMs;
      return;
    }
    this.stats.timeouts++;
    this.rto.backoff();
    this.ssthresh = Math.max(this.cfg.minCwnd, Math.floor(this.inflight.length / 2));
    this.cwnd = this.cfg.minCwnd;
    this.inRecovery = false;
    this.rtoDeadline = now + this.rto.rtoMs;
  }

  /** Messages accepted by send() and not yet settled. */
  get queuedMessages(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Reject everything pending and stop. */
  close(err: TransportError): void {
    this.closed = true;
    this.resetSend(err);
    this.ackDueAt = 0;
  }

  snapshot(): PeerStats {
    const s = this.stats;
    s.srttUs = Math.round(this.rto.srttMs * 1000);
    s.rttvarUs = Math.round(this.rto.rttvarMs * 1000);
    s.rtoUs = Math.round(this.rto.rtoMs * 1000);
    s.cwnd = Math.round(this.cwnd * 100) / 100;
    s.peerWindow = this.peerWindow;
    s.inFlight = this.inflight.length;
    return { ...s };
  }

  // ------------------------------------------------------------------ sending

  private pump(now: number): void {
    const limit = Math.max(1, Math.min(Math.floor(this.cwnd), this.peerWindow));
    while (this.unsentHead < this.unsent.length && this.inflight.length < limit) {
      const seg = this.unsent[this.unsentHead]!;
      this.unsent[this.unsentHead++] = undefined as unknown as OutSeg;
      this.transmitData(seg, now);
      this.inflight.push(seg);
      this.sndMax = seqAdd(seg.seq, 1);
      if (!this.rtoDeadline) this.rtoDeadline = now + this.rto.rtoMs;
    }
    if (this.unsentHead === this.unsent.length) {
      this.unsent = [];
      this.unsentHead = 0;
    } else if (this.unsentHead > 4096 && this.unsentHead * 2 > this.unsent.length) {
      this.unsent = this.unsent.slice(this.unsentHead);
      this.unsentHead = 0;
    }
  }

  private transmitData(seg: OutSeg, now: number): void {
    seg.tx++;
    seg.sentAt = now;
    if (seg.tx === 1) seg.firstSentAt = now;
    this.emit(F_DATA | seg.frag, seg.seq, seg.payload, this.remoteSession);
  }

  private sendPureAck(): void {
    this.stats.pureAcksSent++;
    this.emit(F_ACK, 0, EMPTY, this.remoteSession);
  }

  /** A SYN-only datagram telling `theirSession`'s owner which stream of ours is current. */
  private announce(theirSession: number, now: number): void {
    if (now - this.lastAnnounceAt < this.cfg.minRtoMs) return;
    this.lastAnnounceAt = now;
    this.emit(0, 0, EMPTY, theirSession);
  }

  private emit(flags: number, seq: number, payload: Uint8Array, dst: number): void {
    if (!this.synAcked) flags |= F_SYN;
    let sacks: number[] = NO_SACKS;
    if (this.remoteSession !== 0 && dst === this.remoteSession) {
      flags |= F_ACK;
      if (this.ooo.size) sacks = this.sackBlocks();
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.ackDueAt = 0;
    }
    const bytes = encodeDatagram({
      flags, window: Math.min(65535, this.cfg.windowDatagrams), srcSession: this.localSession, dstSession: dst,
      seq, ack: flags & F_ACK ? this.rcvNxt : 0, isn: this.isn, sacks, payload,
    });
    this.stats.datagramsSent++;
    this.hooks.transmit(bytes);
  }

  /** Apply a cumulative + selective ack. Returns false if it acknowledges data never sent. */
  private onAck(d: Datagram, now: number): boolean {
    this.synAcked = true;
    this.peerWindow = d.window;
    const ack = d.ack;
    if (seqLt(this.sndMax, ack)) return false;
    let sampleFrom: OutSeg | undefined;
    if (seqLt(this.sndUna, ack)) {
      while (this.inflight.length && seqLt(this.inflight[0]!.seq, ack)) {
        const seg = this.inflight.shift()!;
        if (seg.tx === 1 && !seg.sacked) sampleFrom = seg;
        this.rackUpdate(seg);
        if (!this.inRecovery) this.cwnd += this.cwnd < this.ssthresh ? 1 : 1 / this.cwnd;
      }
      if (this.cwnd > 65535) this.cwnd = 65535;
      this.sndUna = ack;
      this.probed = false;
      this.rto.restore();
      if (this.inRecovery && !seqLt(ack, this.recoveryEnd)) this.inRecovery = false;
      this.rtoDeadline = this.inflight.length ? now + this.rto.rtoMs : 0;
      this.settleAcked();
    }
    for (let i = 0; i < d.sacks.length; i += 2) {
      const start = d.sacks[i]!;
      const end = d.sacks[i + 1]!;
      for (const seg of this.inflight) {
        if (!seg.sacked && !seqLt(seg.seq, start) && seqLt(seg.seq, end)) {
          seg.sacked = true;
          if (seg.tx === 1) sampleFrom = seg;
          this.rackUpdate(seg);
        }
      }
    }
    if (sampleFrom !== undefined) this.rto.sample(now - sampleFrom.sentAt); // Karn: sent once only
    this.detectLosses(now);
    return true;
  }

  /** Remember the most recently sent datagram known delivered. */
  private rackUpdate(seg: OutSeg): void {
    if (seg.sentAt > this.rackSentAt || (seg.sentAt === this.rackSentAt && seqLt(this.rackSeq, seg.seq))) {
      this.rackSentAt = seg.sentAt;
      this.rackSeq = seg.seq;
    }
  }

  /**
   * Time-based loss detection (RACK, RFC 8985): a datagram is lost once a datagram sent after
   * it has arrived and it has been out for longer than SRTT plus a reordering allowance. Works
   * with any number in flight, unlike counting three duplicate acks. Each loss episode halves
   * the congestion window once (multiplicative decrease).
   */
  private detectLosses(now: number): void {
    this.rackDeadline = 0;
    if (this.rackSentAt === -Infinity) return;
    const srtt = this.rto.samples ? this.rto.srttMs : this.rto.rtoMs;
    const wait = srtt + Math.max(srtt / 4, 0.25);
    for (const seg of this.inflight) {
      if (seg.sacked || seg.sentAt > this.rackSentAt || (seg.sentAt === this.rackSentAt && !seqLt(seg.seq, this.rackSeq))) continue;
      const due = seg.sentAt + wait;
      if (due > now) {
        if (!this.rackDeadline || due < this.rackDeadline) this.rackDeadline = due;
        continue;
      }
      if (!this.inRecovery) {
        this.inRecovery = true;
        this.recoveryEnd = this.sndMax;
        this.ssthresh = Math.max(this.cfg.minCwnd, Math.floor(this.cwnd / 2));
        this.cwnd = this.ssthresh;
      }
      this.stats.retransmits++;
      this.transmitData(seg, now);
    }
  }

  private settleAcked(): void {
    const una = this.sndUna;
    while (this.pendingHead < this.pending.length) {
      const p = this.pending[this.pendingHead]!;
      if (!seqLt(p.lastSeq, una)) break;
      this.pending[this.pendingHead++] = undefined as unknown as PendingMessage;
      this.stats.messagesSent++;
      p.resolve();
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private resetSend(err: TransportError): void {
    const pending = this.pending;
    const head = this.pendingHead;
    this.pending = [];
    this.pendingHead = 0;
    this.unsent = [];
    this.unsentHead = 0;
    this.inflight = [];
    this.localSession = this.cfg.newSession();
    this.isn = this.sndNxt = this.sndMax = this.sndUna = this.cfg.newIsn();
    this.synAcked = false;
    this.cwnd = this.cfg.initialCwnd;
    this.ssthresh = Infinity;
    this.inRecovery = false;
    this.rtoDeadline = 0;
    this.probed = false;
    this.rackSentAt = -Infinity;
    this.rackDeadline = 0;
    this.peerWindow = this.cfg.windowDatagrams;
    for (let i = head; i < pending.length; i++) pending[i]!.reject(err);
  }

  // ------------------------------------------------------------------ receiving

  private onData(d: Datagram): void {
    const dist = seqDiff(d.seq, this.rcvNxt);
    if (dist < 0) {
      this.stats.duplicatesDropped++;
      this.ackNow = true; // our ack was probably lost: repeat it now
      return;
    }
    if (dist >= this.cfg.windowDatagrams) {
      this.ackNow = true; // beyond what we buffer: drop, and say where we are
      return;
    }
    if (dist > 0) {
      if (this.ooo.has(d.seq)) this.stats.duplicatesDropped++;
      else this.ooo.set(d.seq, { frag: d.flags & (F_FIRST | F_LAST), payload: d.payload });
      this.ackNow = true; // a gap: the sender learns of it from our SACK blocks at once
      return;
    }
    const hadGap = this.ooo.size > 0;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.consume(d.flags, d.payload);
    let next: Held | undefined;
    while (!this.closed && (next = this.ooo.get(this.rcvNxt)) !== undefined) {
      this.ooo.delete(this.rcvNxt);
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.consume(next.frag, next.payload);
    }
    if (hadGap) this.ackNow = true;
  }

  private consume(flags: number, payload: Uint8Array): void {
    if (flags & F_FIRST) {
      this.parts = [];
      this.partBytes = 0;
      this.inMessage = true;
      this.discarding = false;
    } else if (!this.inMessage) {
      return; // a continuation with no start: only a broken or hostile sender does this
    }
    if (!this.discarding) {
      if (this.partBytes + payload.length > this.cfg.maxMessageBytes) {
        this.discarding = true; // over maxMessageBytes: drop the whole message, keep the stream
        this.parts = [];
      } else {
        this.parts.push(payload);
        this.partBytes += payload.length;
      }
    }
    if (flags & F_LAST) {
      this.inMessage = false;
      if (this.discarding) return;
      const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
      this.parts = [];
      this.stats.messagesDelivered++;
      this.hooks.deliver(data, this.remoteSession);
    }
  }

  private flushAck(now: number): void {
    if (this.remoteSession === 0) return;
    const behind = seqDiff(this.rcvNxt, this.lastAckSent);
    if (this.ackNow || behind >= 2 || (behind > 0 && this.cfg.ackDelayMs === 0)) {
      this.sendPureAck();
    } else if (behind > 0 && !this.ackDueAt) {
      this.ackDueAt = now + this.cfg.ackDelayMs;
    }
  }

  private sackBlocks(): number[] {
    const seqs = [...this.ooo.keys()].sort((a, b) => seqDiff(a, b));
    const out: number[] = [];
    let start = seqs[0]!;
    let end = seqAdd(start, 1);
    for (let i = 1; i <= seqs.length && out.length < 2 * MAX_SACK_BLOCKS; i++) {
      const s = seqs[i];
      if (s === end) {
        end = seqAdd(end, 1);
        continue;
      }
      out.push(start, end);
      if (s === undefined) break;
      start = s;
      end = seqAdd(s, 1);
    }
    return out;
  }

  private resetReceive(): void {
    this.remoteSession = 0;
    this.ooo.clear();
    this.parts = [];
    this.partBytes = 0;
    this.inMessage = false;
    this.discarding = false;
    this.ackNow = false;
    this.ackDueAt = 0;
  }

  private retire(session: number): void {
    this.retired.push(session);
    if (this.retired.length > RETIRED_SESSIONS) this.retired.shift();
  }
}

const NO_SACKS: number[] = [];
