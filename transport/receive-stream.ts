/**
 * The receiving half of one peer's traffic: one stream of data datagrams numbered from the
 * sender's initial sequence number, turned into whole messages delivered exactly once and in
 * order (quic-go's received_packet_handler: what to deliver and what to ack, nothing about
 * sending). No sockets, no timers: the session asks it what to put in an ack and when one is due.
 *
 * Memory a sender can make us hold is bounded three ways: the reorder buffer by the window
 * (`windowDatagrams`), one message by `maxMessageBytes` and `maxFragmentsPerMessage` (a message
 * beyond either is discarded whole and the stream goes on), and everything held for every peer
 * together by one ReassemblyBudget (`maxReassemblyBytes`). A fragment the budget cannot hold is
 * not accepted (not acknowledged), so the sender retransmits it later, and the window this stream
 * advertises shrinks with the free budget: that is the flow control a sender sees.
 */
import { seqAdd, seqDiff } from './seq.js';
import { F_BUNDLE, F_FIRST, F_LAST, MAX_OVERHEAD_BYTES, MAX_SACK_BLOCKS, NO_SACKS, forEachBundled } from './wire.js';

/**
 * What a held fragment costs beyond its payload: the datagram header retained with the payload
 * view (at most MAX_OVERHEAD_BYTES) and the allocation and objects that hold it. Measured on
 * Node 20 (RSS per held subarray of a received datagram): ≈ 1,830 bytes for a 1,200-byte datagram,
 * ≈ 670 for a 120-byte one, i.e. about 640 bytes beyond the datagram itself.
 */
export const HELD_FRAGMENT_OVERHEAD_BYTES = MAX_OVERHEAD_BYTES + 640;

/** Datagrams smaller than full ones are acked at least every this many (or after ackDelayMs). */
export const SMALL_ACK_EVERY = 4;

/** Bytes held for all peers' unfinished messages and reorder buffers, against one limit. */
export class ReassemblyBudget {
  used = 0;

  constructor(readonly limit: number) {}

  reserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }

  get free(): number {
    return this.limit - this.used;
  }
}

/**
 * The window to advertise with `held` datagrams in the reorder buffer: the free reorder slots,
 * but no more full-size fragments than the free reassembly budget can hold (it is shared by all
 * peers, so a window shrinks when other peers hold memory too).
 */
export function advertisedWindow(cfg: ReceiveConfig, budget: ReassemblyBudget, held: number): number {
  const byBudget = Math.floor(budget.free / (cfg.datagramBytes - MAX_OVERHEAD_BYTES + HELD_FRAGMENT_OVERHEAD_BYTES));
  return Math.max(0, Math.min(cfg.windowDatagrams - held, byBudget, 65535));
}

export interface ReceiveConfig {
  windowDatagrams: number;
  maxMessageBytes: number;
  maxFragmentsPerMessage: number;
  ackDelayMs: number;
  /** Our own datagram size: a full fragment's budget charge is derived from it for the window. */
  datagramBytes: number;
}

/** Why a data datagram was not taken in (the endpoint counts these in stats().dropped). */
export type ReceiveDrop = 'beyondWindow' | 'reassemblyBudget' | 'messageTooLarge' | 'fragmentLimit' | 'abandoned';

export interface ReceiveOutput {
  deliver(data: Uint8Array): void;
  dropped(reason: ReceiveDrop): void;
  duplicate(): void;
}

interface Held {
  readonly frag: number;
  readonly payload: Uint8Array;
  readonly charge: number;
}

export class ReceiveStream {
  /** Next sequence number expected: everything below it was taken in. */
  rcvNxt: number;
  private readonly ooo = new Map<number, Held>();
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private partCharge = 0;
  private fragments = 0;
  private inMessage = false;
  private discarding = false;
  private lastAckSent: number;
  /** Full-sized datagrams taken in order since the last ack left (ackDue). */
  private unackedFull = 0;
  private ackNow = false;
  /** When a delayed ack falls due (0 = none). */
  ackDueAt = 0;
  private released = false;

  constructor(
    readonly id: number,
    isn: number,
    private readonly cfg: ReceiveConfig,
    private readonly budget: ReassemblyBudget,
    private readonly out: ReceiveOutput,
  ) {
    this.rcvNxt = this.lastAckSent = isn;
  }

  /** Take in one data datagram of this stream. */
  onData(seq: number, flags: number, payload: Uint8Array): void {
    const dist = seqDiff(seq, this.rcvNxt);
    if (dist < 0) {
      this.out.duplicate();
      this.ackNow = true; // our ack was probably lost: repeat it now
      return;
    }
    if (dist >= this.cfg.windowDatagrams) {
      this.out.dropped('beyondWindow');
      this.ackNow = true; // beyond what we buffer: drop, and say where we are
      return;
    }
    const frag = flags & (F_FIRST | F_LAST | F_BUNDLE);
    this.ackNow ||= dist > 0 || this.ooo.size > 0; // a gap, or a gap filled: the sender learns at once
    if (dist > 0) {
      if (this.ooo.has(seq)) return this.out.duplicate();
      const charge = payload.length + HELD_FRAGMENT_OVERHEAD_BYTES;
      if (!this.budget.reserve(charge)) return this.out.dropped('reassemblyBudget');
      this.ooo.set(seq, { frag, payload, charge });
      return;
    }
    let charge = 0;
    if (this.mustHold(frag, payload.length)) {
      charge = payload.length + HELD_FRAGMENT_OVERHEAD_BYTES;
      if (!this.budget.reserve(charge)) {
        this.ackNow = true; // not taken in: the ack says so, with the (small) window
        return this.out.dropped('reassemblyBudget');
      }
    }
    // Advance before delivering, so a reply sent from the message handler carries this ack.
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.countFull(frag, payload.length);
    this.consume(frag, payload, charge);
    let next: Held | undefined;
    while (!this.released && (next = this.ooo.get(this.rcvNxt)) !== undefined) {
      this.ooo.delete(this.rcvNxt);
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.countFull(next.frag, next.payload.length);
      this.consume(next.frag, next.payload, next.charge);
    }
  }

  private countFull(frag: number, length: number): void {
    if (!(frag & F_LAST) || 2 * length >= this.cfg.datagramBytes - MAX_OVERHEAD_BYTES) this.unackedFull++;
  }

  /** Will this in-order fragment be kept until its message is complete (as consume() decides)? */
  private mustHold(frag: number, length: number): boolean {
    if (frag & F_LAST) return false;
    if (frag & F_FIRST) return length <= this.cfg.maxMessageBytes && 1 <= this.cfg.maxFragmentsPerMessage;
    return this.inMessage && !this.discarding && this.partBytes + length <= this.cfg.maxMessageBytes &&
      this.fragments + 1 <= this.cfg.maxFragmentsPerMessage;
  }

  /**
   * Add one in-order fragment to the message being reassembled. `charge` is what the budget
   * holds for it: reserved by the caller exactly when mustHold() says so, or carried over from
   * the reorder buffer; whatever is not kept is given back here.
   */
  private consume(frag: number, payload: Uint8Array, charge: number): void {
    if (frag & F_BUNDLE) {
      // Several whole messages in one datagram (the codec checked the framing): each delivered.
      this.abandonUnfinished(); // (a bundle also ends an unfinished message: only a broken sender does that)
      this.budget.release(charge);
      forEachBundled(payload, (m) => {
        if (this.released) return false;
        // Each message of a bundle meets the limit a message alone meets (a receiver may take less than a datagram holds).
        if (m.length > this.cfg.maxMessageBytes) this.out.dropped('messageTooLarge');
        else this.out.deliver(m);
      });
      return;
    }
    const last = (frag & F_LAST) !== 0;
    if (frag & F_FIRST) {
      this.abandonUnfinished(); // a new start abandons an unfinished message (only a broken sender does that)
      this.inMessage = true;
      this.discarding = false;
      this.partBytes = 0;
      this.fragments = 0;
    } else if (!this.inMessage) {
      this.budget.release(charge); // a continuation with no start: only a broken or hostile sender does this
      this.out.dropped('abandoned');
      return;
    }
    this.partBytes += payload.length;
    this.fragments++;
    if (!this.discarding && (this.partBytes > this.cfg.maxMessageBytes || this.fragments > this.cfg.maxFragmentsPerMessage)) {
      this.out.dropped(this.partBytes > this.cfg.maxMessageBytes ? 'messageTooLarge' : 'fragmentLimit');
      this.dropParts(); // discard the whole message, keep the stream
      this.discarding = true;
    }
    if (last) this.inMessage = false;
    if (this.discarding) {
      this.budget.release(charge);
      return;
    }
    if (!last) {
      this.parts.push(payload);
      this.partCharge += charge;
      return;
    }
    this.budget.release(charge);
    const parts = this.parts;
    let data = payload;
    if (parts.length > 0) {
      parts.push(payload);
      data = Buffer.concat(parts, this.partBytes);
    }
    this.dropParts();
    this.out.deliver(data);
  }

  /** Drop the message being reassembled, if any, counting it (not one already discarded and counted). */
  private abandonUnfinished(): void {
    if (this.inMessage && !this.discarding) this.out.dropped('abandoned');
    this.dropParts();
    this.inMessage = false;
  }

  private dropParts(): void {
    this.budget.release(this.partCharge);
    this.parts = [];
    this.partCharge = 0;
  }

  /** Window to advertise: free reorder slots, no more than the free budget can hold. */
  window(): number {
    return advertisedWindow(this.cfg, this.budget, this.ooo.size);
  }

  /** SACK blocks for what waits in the reorder buffer (at most MAX_SACK_BLOCKS, lowest first). */
  sackBlocks(): number[] {
    if (this.ooo.size === 0) return NO_SACKS;
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

  /** Datagrams taken in since the last ack that left. */
  get unacked(): number {
    return seqDiff(this.rcvNxt, this.lastAckSent);
  }

  /** A gap, a filled gap, a duplicate or a refusal: the sender should hear of it at once. */
  get ackUrgent(): boolean {
    return this.ackNow;
  }

  /** An ack carrying rcvNxt is leaving now. */
  acked(): void {
    this.lastAckSent = this.rcvNxt;
    this.unackedFull = 0;
    this.ackNow = false;
    this.ackDueAt = 0;
  }

  /**
   * After taking in datagrams: true if an ack is owed now (a gap, a duplicate, two full-sized
   * datagrams unacked: TCP acks every second full-sized segment; or SMALL_ACK_EVERY small ones);
   * otherwise a delayed ack is scheduled for ackDelayMs, hoping data leaves first to carry it. A
   * request answered within ackDelayMs thus costs two datagrams, and a bulk transfer at most one
   * ack per two datagrams (fewer when they arrive in batches: session.ts, flushAck()). Full-sized:
   * a fragment of a larger message, or a datagram at least half as large as ours. So a request
   * arriving while the previous small reply from the same peer is still unacked waits for its own
   * reply to carry the ack, instead of drawing a pure ack a moment before it (the DSM's pattern:
   * a call each way per fault, an invalidation on the heels of the read copy's grant).
   */
  ackDue(now: number): boolean {
    const behind = seqDiff(this.rcvNxt, this.lastAckSent);
    if (this.ackNow || (behind >= 2 && this.unackedFull >= 2) || behind >= SMALL_ACK_EVERY || (behind > 0 && this.cfg.ackDelayMs === 0)) return true;
    if (behind > 0 && !this.ackDueAt) this.ackDueAt = now + this.cfg.ackDelayMs;
    return false;
  }

  /** The delayed-ack timer fired: true if the ack is still owed. */
  onTimer(now: number): boolean {
    if (!this.ackDueAt || now < this.ackDueAt) return false;
    this.ackDueAt = 0;
    return this.rcvNxt !== this.lastAckSent || this.ackNow;
  }

  /** Bytes the budget holds for this stream. */
  get heldBytes(): number {
    let n = this.partCharge;
    for (const h of this.ooo.values()) n += h.charge;
    return n;
  }

  /** The stream ends (a newer stream, a restart, eviction, close): give its memory back. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.release(this.heldBytes);
    this.ooo.clear();
    this.parts = [];
    this.partCharge = 0;
    this.ackDueAt = 0;
  }
}

