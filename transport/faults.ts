/**
 * Built-in fault injection: the chapter's unreliable network, on demand. Sits between the
 * endpoint and its socket, once per direction, and decides per datagram from a seeded PRNG
 * whether to drop, duplicate, corrupt (flip 1-3 bits), hold back for reordering, or delay it.
 * Off unless configured. The decisions are reproducible from the seed; when a held or
 * delayed datagram is released depends on timers, so exact interleavings are not.
 */
import { seededRandom, type Random } from './random.js';

export interface FaultSpec {
  /** Probability a datagram is dropped. @default 0 */
  drop?: number;
  /** Probability a datagram is sent twice. @default 0 */
  duplicate?: number;
  /** Probability a datagram is held back and released after the next one (or after reorderHoldMs). @default 0 */
  reorder?: number;
  /** Probability a datagram is delayed by a random 0..delayMs milliseconds. @default 0 */
  delay?: number;
  /** Upper bound of an injected delay. @default 5 */
  delayMs?: number;
  /** Probability 1-3 random bits of a datagram are flipped (the CRC32C must catch it). @default 0 */
  corrupt?: number;
  /**
   * Drop exactly these datagrams, by their 1-based position among all datagrams this direction's
   * injector sees (e.g. [1]: the first one), whatever the PRNG says: a deterministic loss, the way
   * the chapter's Figures 47.4 and 47.5 drop one message. At most 1024 entries. @default []
   */
  dropNth?: readonly number[];
  /**
   * Drop the datagrams for which this returns true: `bytes` is the datagram as sent (decode it
   * with transport/wire.ts), `index` its 1-based position in this direction. For programs that
   * run the endpoint in-process (a function does not cross to a DSM node's runtime thread).
   * @default undefined
   */
  dropWhen?: (bytes: Uint8Array, index: number) => boolean;
}

/** Told of every datagram the injector drops or corrupts (the endpoint publishes it in traces). */
export type FaultObserver<C> = (what: 'dropped' | 'corrupted', bytes: Uint8Array, ctx: C) => void;

export interface FaultOptions {
  /** Seed of the decision PRNG. @default 1 */
  seed?: number;
  /** Faults applied to datagrams this endpoint receives. */
  inbound?: FaultSpec;
  /** Faults applied to datagrams this endpoint sends. */
  outbound?: FaultSpec;
}

export interface FaultCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  corrupted: number;
}

const PROBS = ['drop', 'duplicate', 'reorder', 'delay', 'corrupt'] as const;

/** Throws a RangeError naming the bad field; used by the endpoint's option validation. */
export function validateFaultSpec(spec: FaultSpec, where: string): void {
  for (const k of PROBS) {
    const p = spec[k];
    if (p !== undefined && !(typeof p === 'number' && p >= 0 && p <= 1)) {
      throw new RangeError(`${where}.${k} must be a probability between 0 and 1, got ${String(p)}`);
    }
  }
  if (spec.delayMs !== undefined && !(Number.isFinite(spec.delayMs) && spec.delayMs >= 0 && spec.delayMs <= 60_000)) {
    throw new RangeError(`${where}.delayMs must be a number of milliseconds in [0, 60000], got ${String(spec.delayMs)}`);
  }
  const nth = spec.dropNth;
  if (nth !== undefined && !(Array.isArray(nth) && nth.length <= 1024 && nth.every((n) => Number.isSafeInteger(n) && n >= 1))) {
    throw new RangeError(`${where}.dropNth must be a list of at most 1024 datagram positions (integers ≥ 1), got ${JSON.stringify(nth)}`);
  }
  if (spec.dropWhen !== undefined && typeof spec.dropWhen !== 'function') {
    throw new RangeError(`${where}.dropWhen must be a function (bytes, index) => boolean, got ${typeof spec.dropWhen}`);
  }
}

export function isActive(spec: FaultSpec | undefined): boolean {
  return spec !== undefined && (PROBS.some((k) => (spec[k] ?? 0) > 0) || (spec.dropNth?.length ?? 0) > 0 || spec.dropWhen !== undefined);
}

const REORDER_HOLD_MS = 2;
const MAX_PENDING = 4096;

export class FaultInjector<C> {
  readonly counters: FaultCounters = { dropped: 0, duplicated: 0, reordered: 0, delayed: 0, corrupted: 0 };
  private held: { bytes: Uint8Array; ctx: C } | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Datagrams seen so far (for dropNth). */
  private seen = 0;
  private readonly nth: ReadonlySet<number>;

  constructor(
    private readonly spec: FaultSpec,
    private readonly rand: Random,
    private readonly forward: (bytes: Uint8Array, ctx: C) => void,
    private readonly observe?: FaultObserver<C>,
  ) {
    this.nth = new Set(spec.dropNth ?? []);
  }

  static create<C>(spec: FaultSpec | undefined, seed: number, forward: (bytes: Uint8Array, ctx: C) => void, observe?: FaultObserver<C>): FaultInjector<C> | undefined {
    return isActive(spec) ? new FaultInjector<C>(spec!, seededRandom(seed), forward, observe) : undefined;
  }

  /**
   * Pass one datagram through the faults; what survives reaches `forward`, now or later,
   * with the same `ctx` (the datagram's sender or destination).
   */
  push(bytes: Uint8Array, ctx: C): void {
    if (this.closed) return;
    const s = this.spec;
    const r = this.rand;
    const index = ++this.seen;
    if (this.nth.has(index) || this.dropWhen(bytes, index) || r() < (s.drop ?? 0)) {
      this.counters.dropped++;
      this.observe?.('dropped', bytes, ctx);
      return;
    }
    let out = bytes;
    if (r() < (s.corrupt ?? 0)) {
      out = Uint8Array.from(bytes);
      const flips = 1 + Math.floor(r() * 3);
      for (let i = 0; i < flips; i++) {
        const bit = Math.floor(r() * out.length * 8);
        out[bit >>> 3]! ^= 1 << (bit & 7);
      }
      this.counters.corrupted++;
      this.observe?.('corrupted', bytes, ctx);
    }
    const copies = r() < (s.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) this.counters.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (r() < (s.delay ?? 0) && this.timers.size < MAX_PENDING) {
        this.counters.delayed++;
        this.later(out, ctx, r() * (s.delayMs ?? 5));
      } else if (r() < (s.reorder ?? 0) && this.held === undefined) {
        this.counters.reordered++;
        this.held = { bytes: out, ctx };
        this.heldTimer = setTimeout(() => this.release(), REORDER_HOLD_MS);
      } else {
        this.forward(out, ctx);
        this.release();
      }
    }
  }

  /** The dropWhen predicate; one that throws drops nothing (the socket path must not throw). */
  private dropWhen(bytes: Uint8Array, index: number): boolean {
    const f = this.spec.dropWhen;
    if (f === undefined) return false;
    try {
      return f(bytes, index) === true;
    } catch {
      return false;
    }
  }

  /** Stop: drop whatever is held or delayed. */
  close(): void {
    this.closed = true;
    this.held = undefined;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private release(): void {
    const h = this.held;
    if (h === undefined) return;
    this.held = undefined;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.forward(h.bytes, h.ctx);
  }

  private later(bytes: Uint8Array, ctx: C, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) this.forward(bytes, ctx);
    }, ms);
    this.timers.add(t);
  }
}
