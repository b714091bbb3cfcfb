/**
 * Link rules: network faults changed while the endpoint runs, for tools that break a live cluster
 * (`pagewire console`: partition, heal, loss). Two rules:
 *
 * - `blocked`: peers cut off. Every datagram to one of them, and every datagram from one of them,
 *   is dropped before anything else looks at it: from this endpoint's point of view the link is
 *   cut, exactly as a partition would cut it (set it on both sides, and the cut is symmetric).
 * - `loss`: each datagram this endpoint sends is dropped with this probability (its own seeded
 *   PRNG), the runtime twin of `faults.outbound.drop`.
 *
 * Kept apart from the seeded FaultInjector (transport/faults.ts), which is configured once at
 * construction and whose decisions replay from its seed: changing these rules never shifts that
 * injector's random sequence, and what they drop is counted here (LinkRuleStats), not in the
 * injector's counters. Off (nothing blocked, no loss) by default, and then one branch per datagram.
 */
import { invalid, parsePeer } from './address.js';
import { seededRandom, type Random } from './random.js';

export interface LinkRules {
  /** Peers ("host:port" / "[v6]:port") whose datagrams are dropped in both directions. @default [] */
  readonly blocked?: readonly string[];
  /** Probability each datagram this endpoint sends is dropped, in [0, 1]. @default 0 */
  readonly loss?: number;
  /** Seed of the loss decisions; a new seed restarts the sequence. @default 1 */
  readonly seed?: number;
}

export interface LinkRuleStats {
  /** The peers cut off now. */
  readonly blocked: string[];
  readonly loss: number;
  /** Datagrams to a blocked peer, dropped. */
  readonly blockedOut: number;
  /** Datagrams from a blocked peer, dropped. */
  readonly blockedIn: number;
  /** Datagrams dropped by the loss rule. */
  readonly lossDrops: number;
}

/** Most peers one rule set may block (a cluster is at most a few thousand nodes). */
export const MAX_BLOCKED = 4096;

export class LinkFilter {
  #blocked = new Set<string>();
  #loss = 0;
  #rand: Random = seededRandom(1);
  #blockedOut = 0;
  #blockedIn = 0;
  #lossDrops = 0;

  /** True when no rule is set (the endpoint skips the filter). */
  get idle(): boolean {
    return this.#blocked.size === 0 && this.#loss === 0;
  }

  /**
   * Replace the rules (a field left out is reset to its default). Throws
   * TRANSPORT_ERR_INVALID_ARGUMENT naming the bad field; the old rules stay then.
   */
  set(rules: LinkRules): void {
    if (typeof rules !== 'object' || rules === null) throw invalid('link rules must be an object { blocked?, loss?, seed? }');
    const list = rules.blocked ?? [];
    if (!Array.isArray(list) || list.length > MAX_BLOCKED) throw invalid(`blocked must be a list of at most ${MAX_BLOCKED} "host:port" addresses`);
    const blocked = new Set(list.map((p) => {
      try {
        return parsePeer(p).key;
      } catch (e) {
        throw invalid(`blocked: ${(e as Error).message}`);
      }
    }));
    const loss = rules.loss ?? 0;
    if (typeof loss !== 'number' || !(loss >= 0 && loss <= 1)) throw invalid(`loss must be a probability in [0, 1], got ${String(loss)}`);
    const seed = rules.seed ?? 1;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw invalid(`seed must be an integer in [0, 2^32 - 1], got ${String(seed)}`);
    this.#blocked = blocked;
    this.#loss = loss;
    this.#rand = seededRandom(seed);
  }

  /** Should a datagram to `address` ("host:port" as formatAddress writes it) be dropped? Counts it. */
  dropOutbound(address: string): boolean {
    if (this.#blocked.has(address)) {
      this.#blockedOut++;
      return true;
    }
    if (this.#loss > 0 && this.#rand() < this.#loss) {
      this.#lossDrops++;
      return true;
    }
    return false;
  }

  /** Should a datagram from `address` be dropped? Counts it. */
  dropInbound(address: string): boolean {
    if (!this.#blocked.has(address)) return false;
    this.#blockedIn++;
    return true;
  }

  stats(): LinkRuleStats {
    return { blocked: [...this.#blocked], loss: this.#loss, blockedOut: this.#blockedOut, blockedIn: this.#blockedIn, lossDrops: this.#lossDrops };
  }
}
