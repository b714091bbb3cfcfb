/**
 * The sending half of one peer's traffic: one stream of data datagrams, from its initial
 * sequence number to the day it is acknowledged to the end or abandoned (quic-go's
 * sent_packet_handler: what is in flight, what is lost, when to retransmit, how much may be
 * out; nothing about receiving). No sockets, no timers: datagrams leave through `transmit`,
 * time comes in as `now`, and the session asks nextDeadline() and calls onTimer().
 *
 * A stream never outlives a give-up: when its oldest datagram has waited `giveUpMs`, onTimer()
 * says so and the session abandons it (its pending sends reject) and starts the next stream with
 * a new id. Nothing else about the peer changes: the receive stream and the peer's incarnation
 * are not this object's business.
 *
 * Congestion control (RFC 5681 with the refinements that matter here):
 * - cwnd grows (slow start: +1 per acked datagram; congestion avoidance: +1/cwnd) only while the
 *   sender is cwnd-limited (RFC 7661's idea): a datagram was sent with cwnd already full, and
 *   the acks of that flight are still arriving. An application that sends one message at a time
 *   never fills the window, so its cwnd does not grow on acks it did not need. Nor does cwnd
 *   grow beyond the window the peer advertises: the peer's window then limits, not cwnd.
 * - After an idle period longer than the RTO, cwnd restarts from min(cwnd, initialCwnd)
 *   (RFC 5681 4.1, RFC 2861): the path may have changed while nothing was measured.
 * - A loss episode (RACK) sets cwnd = ssthresh = max(minCwnd, min(cwnd, flight) / 2); a
 *   retransmission timeout sets ssthresh the same way and cwnd = minCwnd.
 *
 * Coalescing: messages wait whole in a queue until they are cut into datagrams, at the moment a
 * datagram may leave (pump). A message larger than a datagram's payload becomes fragments, as
 * before; consecutive small ones become ONE datagram, a bundle, as many as fit (each behind its
 * length: wire.ts), so a burst of small messages to one peer costs one datagram per datagram-full,
 * not one each. The endpoint pumps once at the end of the tick in which messages were sent
 * (send(..., false) only queues), and an ack that opens the window pumps what queued meanwhile. A
 * message alone in its tick leaves alone, exactly as it did: no bundle, no extra byte.
 */
import { TransportError } from './errors.js';
import type { RtoEstimator } from './rto.js';
import { seqAdd, seqLe, seqLt } from './seq.js';
import type { PeerStats } from './types.js';
import { BUNDLE_ENTRY_BYTES, F_BUNDLE, F_DATA, F_FIRST, F_LAST, MAX_BUNDLE_ENTRY_BYTES } from './wire.js';

export interface SendConfig {
  /** Payload bytes per data datagram. */
  maxPayload: number;
  initialCwnd: number;
  minCwnd: number;
  giveUpMs: number;
  maxQueuedMessages: number;
}

export interface OutSeg {
  readonly seq: number;
  /** F_FIRST / F_LAST of this fragment (and F_BUNDLE: several whole messages). */
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

/** A message not cut into datagrams yet. */
interface QueuedMessage {
  readonly data: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** Sends one data datagram: flags (F_DATA | fragment bits), sequence number, payload, and its transmission count (1 = first). */
export type Transmit = (flags: number, seq: number, payload: Uint8Array, tx: number) => void;

export class SendStream {
  /** Next sequence number to assign. */
  private sndNxt: number;
  /** Next sequence number to transmit for the first time. */
  private sndMax: number;
  /** Oldest unacknowledged sequence number. */
  private sndUna: number;
  /** The peer acknowledged this stream: datagrams stop carrying SYN. */
  synAcked = false;
  private queued: QueuedMessage[] = [];
  private queuedHead = 0;
  private unsent: OutSeg[] = [];
  private unsentHead = 0;
  private inflight: OutSeg[] = [];
  private pending: PendingMessage[] = [];
  private pendingHead = 0;
  private cwnd: number;
  private ssthresh = Infinity;
  private inRecovery = false;
  private recoveryEnd = 0;
  /** A datagram left with the congestion window full; cwnd may grow until the ack of `limitedUntil`. */
  private cwndLimited = false;
  private limitedUntil = 0;
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
  /** When a data datagram last left (first transmissions and retransmissions). */
  private lastTxAt = -Infinity;
  private abandoned = false;
  /** Payload bytes per fragment of the messages queued from now on (setMaxPayload()). */
  private maxPayload: number;

  constructor(
    readonly id: number,
    readonly isn: number,
    private readonly cfg: SendConfig,
    private readonly rto: RtoEstimator,
    private readonly transmit: Transmit,
    private readonly stats: PeerStats,
    /** The window the peer last advertised (a new stream starts with what the old one knew). */
    peerWindow: number,
    private readonly peer: string,
  ) {
    this.sndNxt = this.sndMax = this.sndUna = isn;
    this.cwnd = cfg.initialCwnd;
    this.peerWindow = peerWindow;
    this.maxPayload = cfg.maxPayload;
  }

  /** Cut the messages queued from now on into fragments of `bytes` (a loopback peer accepts larger datagrams). */
  setMaxPayload(bytes: number): void {
    this.maxPayload = bytes;
  }

  /**
   * Queue one message; the promise settles when the peer acknowledged all of it, or on failure.
   * With `pump` false it only queues (the caller pumps soon, so messages of one tick coalesce).
   */
  send(data: Uint8Array, now: number, pump = true): Promise<void> {
    if (this.queuedMessages >= this.cfg.maxQueuedMessages) {
      return Promise.reject(new TransportError('TRANSPORT_ERR_QUEUE_FULL',
        `${this.cfg.maxQueuedMessages} messages already queued for ${this.peer} (maxQueuedMessages)`, { peer: this.peer }));
    }
    if (this.idle && now - this.lastTxAt > this.rto.rtoMs) this.restartAfterIdle();
    const data2 = data.slice();
    const p = new Promise<void>((resolve, reject) => this.queued.push({ data: data2, resolve, reject }));
    if (pump) this.pump(now);
    return p;
  }

  /**
   * Cut the next queued message into datagrams: a large one into fragments; a small one together
   * with the small ones queued behind it, as many as fit in one datagram (a bundle of two or more),
   * or alone.
   */
  private cutNext(): void {
    const max = this.maxPayload;
    const q = this.queued;
    const first = q[this.queuedHead]!;
    let k = 1;
    let bytes = BUNDLE_ENTRY_BYTES + first.data.length;
    while (this.queuedHead + k < q.length) {
      const next = q[this.queuedHead + k]!.data.length;
      if (next === 0 || next > MAX_BUNDLE_ENTRY_BYTES || bytes + BUNDLE_ENTRY_BYTES + next > max) break;
      bytes += BUNDLE_ENTRY_BYTES + next;
      k++;
    }
    const seq = this.sndNxt;
    if (k >= 2 && first.data.length > 0 && first.data.length <= MAX_BUNDLE_ENTRY_BYTES) {
      const payload = new Uint8Array(bytes);
      let off = 0;
      for (let i = 0; i < k; i++) {
        const m = q[this.queuedHead + i]!;
        payload[off] = m.data.length >>> 8; // its length, big-endian u16 (wire.ts)
        payload[off + 1] = m.data.length & 0xff;
        payload.set(m.data, off + BUNDLE_ENTRY_BYTES);
        off += BUNDLE_ENTRY_BYTES + m.data.length;
        this.pending.push({ lastSeq: seq, resolve: m.resolve, reject: m.reject });
        q[this.queuedHead + i] = undefined as unknown as QueuedMessage;
      }
      this.queuedHead += k;
      this.unsent.push({ seq, frag: F_FIRST | F_LAST | F_BUNDLE, payload, firstSentAt: 0, sentAt: 0, tx: 0, sacked: false });
      this.sndNxt = seqAdd(seq, 1);
      this.stats.bundles++;
    } else {
      const data = first.data;
      q[this.queuedHead++] = undefined as unknown as QueuedMessage;
      const n = Math.max(1, Math.ceil(data.length / max));
      for (let i = 0; i < n; i++) {
        this.unsent.push({
          seq: this.sndNxt,
          frag: (i === 0 ? F_FIRST : 0) | (i === n - 1 ? F_LAST : 0),
          payload: data.subarray(i * max, Math.min(data.length, (i + 1) * max)),
          firstSentAt: 0, sentAt: 0, tx: 0, sacked: false,
        });
        this.sndNxt = seqAdd(this.sndNxt, 1);
      }
      this.pending.push({ lastSeq: seqAdd(this.sndNxt, -1), resolve: first.resolve, reject: first.reject });
    }
    if (this.queuedHead === q.length) {
      this.queued = [];
      this.queuedHead = 0;
    } else if (this.queuedHead > 4096 && this.queuedHead * 2 > q.length) {
      this.queued = q.slice(this.queuedHead);
      this.queuedHead = 0;
    }
  }

  /** Send what the windows allow. */
  pump(now: number): void {
    if (this.abandoned) return;
    const cwnd = Math.floor(this.cwnd);
    const limit = Math.max(1, Math.min(cwnd, this.peerWindow));
    while (this.inflight.length < limit) {
      if (this.unsentHead === this.unsent.length) {
        if (this.queuedHead === this.queued.length) break;
        this.cutNext();
      }
      const seg = this.unsent[this.unsentHead]!;
      this.unsent[this.unsentHead++] = undefined as unknown as OutSeg;
      this.inflight.push(seg);
      this.sndMax = seqAdd(seg.seq, 1);
      if (this.inflight.length >= cwnd) {
        this.cwndLimited = true;
        this.limitedUntil = this.sndMax;
      }
      if (!this.rtoDeadline) this.rtoDeadline = now + this.rto.rtoMs;
      this.transmitSeg(seg, now);
    }
    if (this.unsentHead === this.unsent.length) {
      this.unsent = [];
      this.unsentHead = 0;
    } else if (this.unsentHead > 4096 && this.unsentHead * 2 > this.unsent.length) {
      this.unsent = this.unsent.slice(this.unsentHead);
      this.unsentHead = 0;
    }
  }

  /**
   * Apply a cumulative + selective ack of this stream and the window it advertises. Returns
   * false if it acknowledges data never sent (the caller counts it as malformed).
   */
  onAck(ack: number, sacks: readonly number[], window: number, now: number): boolean {
    if (seqLt(this.sndMax, ack) || seqLt(ack, this.sndUna)) {
      if (seqLt(this.sndMax, ack)) return false;
      return true; // an old ack, overtaken by a newer one: nothing to learn from it
    }
    this.synAcked = true;
    this.peerWindow = window;
    let sampleFrom: OutSeg | undefined;
    if (seqLt(this.sndUna, ack)) {
      const grow = this.cwndLimited && !this.inRecovery;
      while (this.inflight.length && seqLt(this.inflight[0]!.seq, ack)) {
        const seg = this.inflight.shift()!;
        if (seg.tx === 1 && !seg.sacked) sampleFrom = seg;
        this.rackUpdate(seg);
        if (grow && this.cwnd < Math.max(this.peerWindow, this.cfg.initialCwnd)) {
          this.cwnd += this.cwnd < this.ssthresh ? 1 : 1 / this.cwnd;
        }
      }
      this.sndUna = ack;
      if (this.cwndLimited && seqLe(this.limitedUntil, ack)) this.cwndLimited = false;
      this.probed = false;
      this.rto.restore();
      if (this.inRecovery && !seqLt(ack, this.recoveryEnd)) this.inRecovery = false;
      this.rtoDeadline = this.inflight.length ? now + this.rto.rtoMs : 0;
      this.settleAcked();
    }
    for (let i = 0; i < sacks.length; i += 2) {
      const start = sacks[i]!;
      const end = sacks[i + 1]!;
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
    return true; // the session pumps once the whole datagram is processed, so new data carries its ack

  }

  /** Earliest time onTimer() has work to do (Infinity when none). */
  nextDeadline(): number {
    let t = this.rackDeadline || Infinity;
    if (this.rtoDeadline) t = Math.min(t, this.rtoDeadline, this.inflight[0]!.firstSentAt + this.cfg.giveUpMs);
    return t;
  }

  /**
   * Run due timers: RACK losses, retransmission timeout. Returns the milliseconds the oldest
   * datagram waited if the stream must be given up (the caller abandons it), else undefined.
   */
  onTimer(now: number, rtoFired?: (kind: 'probe' | 'timeout', rtoMs: number, resent: number) => void): number | undefined {
    if (this.rackDeadline && now >= this.rackDeadline) this.detectLosses(now);
    if (!this.rtoDeadline) return undefined;
    const oldest = this.inflight[0];
    if (oldest === undefined) {
      this.rtoDeadline = 0;
      return undefined;
    }
    if (now - oldest.firstSentAt >= this.cfg.giveUpMs) return now - oldest.firstSentAt;
    if (now < this.rtoDeadline) return undefined;
    // Retransmission timeout: resend the oldest datagram and every other one out for a full RTO.
    const threshold = now - this.rto.rtoMs;
    if (rtoFired !== undefined) {
      const resent = this.inflight.filter((seg) => !seg.sacked && (seg === oldest || seg.sentAt <= threshold)).length;
      rtoFired(this.probed ? 'timeout' : 'probe', this.rto.rtoMs, resent);
    }
    for (const seg of this.inflight) {
      if (!seg.sacked && (seg === oldest || seg.sentAt <= threshold)) {
        this.stats.retransmits++;
        this.transmitSeg(seg, now);
      }
    }
    if (!this.probed) {
      // Most stalls are a lost tail or a lost ack, not congestion: probe once before backing off.
      this.probed = true;
      this.stats.probes++;
      this.rtoDeadline = now + this.rto.rtoMs;
      return undefined;
    }
    this.stats.timeouts++;
    this.rto.backoff();
    this.ssthresh = Math.max(this.cfg.minCwnd, Math.floor(Math.min(this.cwnd, this.inflight.length) / 2));
    this.cwnd = this.cfg.minCwnd;
    this.inRecovery = false;
    this.cwndLimited = false;
    this.rtoDeadline = now + this.rto.rtoMs;
    return undefined;
  }

  /**
   * Resend everything in flight now, without backing off: the peer has just told us (with a
   * challenge) that it dropped what we sent because it did not know us yet.
   */
  retransmitInFlight(now: number): void {
    for (const seg of this.inflight) {
      if (seg.sacked) continue;
      this.stats.retransmits++;
      this.transmitSeg(seg, now);
    }
    if (this.inflight.length) this.rtoDeadline = now + this.rto.rtoMs;
  }

  /**
   * A datagram from the peer arrived. If the RTO is backed off (timeouts, no progress, maybe on
   * an earlier stream), the path was down and is evidently up again: resend the oldest datagram
   * now with the RTO restored, rather than after a back-off of up to maxRtoMs. At most once per
   * timeout, so a peer that can reach us but not hear us gets no more than the timer would send.
   */
  peerHeard(now: number): void {
    const oldest = this.inflight[0];
    if (!this.rto.backedOff || oldest === undefined) return;
    this.rto.restore();
    this.stats.retransmits++;
    this.transmitSeg(oldest, now);
    this.rtoDeadline = now + this.rto.rtoMs;
  }

  /** Reject every pending send with `err`; the stream is dead and transmits nothing more. */
  abandon(err: TransportError): void {
    this.abandoned = true;
    const pending = this.pending;
    const head = this.pendingHead;
    const queued = this.queued;
    const qhead = this.queuedHead;
    this.pending = [];
    this.pendingHead = 0;
    this.queued = [];
    this.queuedHead = 0;
    this.unsent = [];
    this.unsentHead = 0;
    this.inflight = [];
    this.rtoDeadline = 0;
    this.rackDeadline = 0;
    for (let i = head; i < pending.length; i++) pending[i]!.reject(err);
    for (let i = qhead; i < queued.length; i++) queued[i]!.reject(err);
  }

  /** Messages accepted by send() and not yet settled. */
  get queuedMessages(): number {
    return this.pending.length - this.pendingHead + this.queued.length - this.queuedHead;
  }

  /** Nothing in flight and nothing waiting to be sent. */
  get idle(): boolean {
    return this.inflight.length === 0 && this.unsentHead === this.unsent.length && this.queuedHead === this.queued.length;
  }

  get congestionWindow(): number {
    return this.cwnd;
  }

  get advertisedWindow(): number {
    return this.peerWindow;
  }

  get inFlight(): number {
    return this.inflight.length;
  }

  private restartAfterIdle(): void {
    if (this.cwnd <= this.cfg.initialCwnd) return;
    this.ssthresh = Math.max(this.ssthresh === Infinity ? 0 : this.ssthresh, Math.floor((this.cwnd * 3) / 4));
    this.cwnd = this.cfg.initialCwnd;
  }

  private transmitSeg(seg: OutSeg, now: number): void {
    seg.tx++;
    seg.sentAt = now;
    this.lastTxAt = now;
    if (seg.tx === 1) seg.firstSentAt = now;
    this.transmit(F_DATA | seg.frag, seg.seq, seg.payload, seg.tx);
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
        this.ssthresh = Math.max(this.cfg.minCwnd, Math.floor(Math.min(this.cwnd, this.inflight.length) / 2));
        this.cwnd = this.ssthresh;
        this.cwndLimited = false;
      }
      this.stats.retransmits++;
      this.transmitSeg(seg, now);
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
}
