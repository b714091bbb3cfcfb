/**
 * Membership: who is up, who is suspected, who is dead, and whether this node itself was fenced.
 *
 * ## Suspicion is not death
 * A peer is SUSPECTED when a call to it missed its deadline or the transport gave up on it, or
 * when nothing at all was heard from it for deadAfterMs (every delivered message counts, page
 * traffic as much as heartbeats: heard()). A suspicion only leads to PROPOSALS, one per heartbeat
 * round while it lasts: this node asks every other configured node "do you agree it is dead?".
 * The proposer and every voter agree only if they have not heard from the suspect for deadAfterMs
 * themselves (a slow reply, or one node's broken link, never kills a node others still hear), and
 * an agreeing voter PROMISES never to accept a proposal made by the suspect. The death is DECIDED
 * when a majority of the configured nodes (the proposer included) agreed; only then may anyone act
 * on it (skip the node's read copies, report its pages lost). Why a majority, and what it buys
 * (quorum intersection):
 * - two sides of a partition cannot both decide: a voter in both majorities would have had to
 *   agree to the second proposal after promising to refuse its proposer;
 * - a node in a minority can never decide a death, so it can never skip a copy holder and can
 *   never complete a write that needs one (its faults fail DSM_ERR_NO_QUORUM);
 * - a two-node cluster can never decide a death (a majority of 2 is 2): after a death the
 *   survivor cannot skip the dead node's copies nor declare its pages lost; those faults fail
 *   DSM_ERR_NO_QUORUM after faultTimeoutMs. Pages held only by the survivor keep working.
 *
 * ## Fencing: the dead never mix stale data with new data
 * Every request and every reply carries the sender's VIEW: the nodes it knows were decided dead
 * (view() / mergeView()). A node that learns a death refuses every later request of the dead node
 * with DSM_ERR_EVICTED, and a node that finds itself in a view, or is refused that way, is
 * EVICTED: it fails every access from then on (fail-stop). Since knowledge of a death travels
 * with every message, anything written after a death was decided (a write that skipped the dead
 * node's copy is the first such thing) can reach another node only together with the news: the
 * dead node can never obtain it. What a fenced node can still read before it learns its fate are
 * its own read copies, all of which were current when the death was decided: a consistent
 * picture of the past, never combined with anything written after.
 *
 * ## A restarted node is a new node
 * Every message carries the sender's incarnation (random per start). A peer seen with a second
 * incarnation restarted: it is a new process holding none of the old one's pages, so it is
 * refused (and, told so, fails every access: DSM_ERR_EVICTED), messages from it are no evidence
 * that the old one lives, and the old one is declared dead by the usual majority (a voter that
 * saw the restart agrees at once).
 *
 * ## Not started is not dead
 * A configured peer never heard from is NOT UP YET: it is never suspected (faults that need it
 * wait, bounded by the fault timeout). `majority-up` is reported once a majority is up.
 *
 * ## Whom it trusts
 * A configured member's word (its view, its votes) is taken as given: making sure that a message
 * from a member's address comes from that member is the transport's job (with a cluster key it
 * authenticates every datagram). Anything that does not fit (a stranger's address, a dead list
 * naming non-members, a vote about a non-member) is refused or ignored, and counted.
 *
 * ## A pause of this node is not the others' silence
 * A heartbeat tick that runs much later than scheduled (this process was stopped, or starved)
 * shifts every lastHeard by the stall, so a node resuming from SIGSTOP does not suspect the whole
 * cluster before it has read what they sent meanwhile.
 */
import { setMaxListeners } from 'node:events';
import type { Timers } from '../../rpc/runtime/index.js';
import { ManagerMode, type Config, type Transfer, type View, type Vote } from './ivy.stubs.js';

export type PeerStatus = 'not-up' | 'up' | 'suspected' | 'dead';

export interface MembershipEvent {
  /**
   * up: first heard from, or heard again after a suspicion; suspected: silent (a proposal starts);
   * dead: a majority declared it dead (this node refuses it from now on); fenced: THIS node was
   * declared dead (`node` names the node that refused it); majority-up: a majority of the
   * configured nodes is up (`node` is this node); mismatch: the peer runs another configuration;
   * refused: the peer cannot authenticate this node (not the same cluster key) or refused the node
   * id this node's key proves, so every call to it fails DSM_ERR_UNAUTHENTICATED until it is heard.
   */
  readonly kind: 'up' | 'suspected' | 'dead' | 'fenced' | 'majority-up' | 'mismatch' | 'refused';
  readonly node: number;
  readonly reason: string;
  /** timers.now() when it happened. */
  readonly at: number;
}

/** A verdict on a suspect: heard from again, declared dead, this node evicted, or still nothing. */
export type Verdict = 'alive' | 'dead' | 'evicted' | 'timeout';

export interface MembershipStats {
  proposalsStarted: number;
  deathsDecided: number;
  deathsLearned: number;
  votesAgreed: number;
  votesRefused: number;
  /** Heartbeat ticks that ran more than two intervals late (this process was paused or starved). */
  stalls: number;
  mismatches: number;
  /** Peers that refused this node (a 'refused' event each). */
  refusals: number;
}

interface Waiter {
  readonly resolve: (v: Verdict) => void;
  handle: unknown;
}

interface PeerRec {
  readonly id: number;
  status: PeerStatus;
  lastHeard: number;
  everHeard: boolean;
  /** This node agreed (or decided) that the peer is dead: it refuses the peer's proposals. */
  promised: boolean;
  proposing: boolean;
  pinging: boolean;
  mismatch: string | undefined;
  /** Why the peer refused this node (cleared when a message of the peer's is taken in). */
  refused: string | undefined;
  /** Why the last proposal about this peer failed (for DSM_ERR_NO_QUORUM). */
  lastRefusal: string | undefined;
  /** Why it was declared dead. */
  deathReason: string | undefined;
  /** The incarnation first seen in its messages, and whether another one showed up since. */
  incarnation: number | undefined;
  restarted: boolean;
  readonly waiters: Set<Waiter>;
  death: AbortController;
  /** Confirmations to piggyback on the next heartbeat to this peer: page -> epoch. */
  readonly outInstalled: Map<number, number>;
  readonly outOwns: Map<number, number>;
}

export interface MembershipInit {
  readonly self: number;
  /** This process's incarnation (non-zero, random per start). */
  readonly incarnation: number;
  /** Every configured node, sorted, self included. */
  readonly nodes: readonly number[];
  readonly timers: Timers;
  readonly heartbeat: boolean;
  readonly heartbeatIntervalMs: number;
  readonly deadAfterMs: number;
  readonly callTimeoutMs: number;
  readonly config: Config;
  /** Sends a heartbeat; resolves once answered (evidence and view handled by the caller). */
  readonly ping: (node: number, installed: Transfer[], owns: Transfer[], timeoutMs: number) => Promise<boolean>;
  /** Asks `voter` to agree that `suspect` is dead; resolves with its vote, or undefined when it did not answer. */
  readonly propose: (voter: number, suspect: number, timeoutMs: number) => Promise<Vote | undefined>;
  readonly onEvent: (e: MembershipEvent) => void;
  /** A peer was decided dead (locally or learned). */
  readonly onDead: (node: number) => void;
  /** This node was fenced: stop (the 'fenced' event follows once the returned promise settles). */
  readonly onEvicted: (by: number, reason: string) => Promise<void>;
}

/** Digest of a configuration: FNV-1a over its canonical text. */
export function configDigest(c: Config): number {
  const text = `pagewire/ivy/3|${c.nodes.join(',')}|${c.pageSize}|${c.pageCount}|${c.manager}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The differences between two configurations, in words ("" when equal). */
export function describeMismatch(mine: Config, theirs: Config, self: number, peer: number): string {
  const d: string[] = [];
  if (mine.nodes.join(',') !== theirs.nodes.join(',')) d.push(`node ${peer} has nodes [${theirs.nodes.join(', ')}], node ${self} [${mine.nodes.join(', ')}]`);
  if (mine.pageSize !== theirs.pageSize) d.push(`node ${peer} has page size ${theirs.pageSize}, node ${self} ${mine.pageSize}`);
  if (mine.pageCount !== theirs.pageCount) d.push(`node ${peer} has ${theirs.pageCount} pages, node ${self} ${mine.pageCount}`);
  if (mine.manager !== theirs.manager) d.push(`node ${peer} runs the ${managerName(theirs.manager)} manager, node ${self} the ${managerName(mine.manager)} one`);
  return d.join('; ');
}

function managerName(m: number): string {
  return m === ManagerMode.Fixed ? 'fixed' : m === ManagerMode.Dynamic ? 'dynamic' : `unknown (${m})`;
}

/** Confirmations piggybacked per heartbeat (the rest go with the next one). */
const MAX_CONFIRMS = 1024;

export class Membership {
  readonly self: number;
  readonly nodes: readonly number[];
  /** Nodes needed to decide a death: a majority of the configured nodes. */
  readonly majority: number;
  readonly digest: number;
  readonly stats: MembershipStats = {
    proposalsStarted: 0, deathsDecided: 0, deathsLearned: 0, votesAgreed: 0, votesRefused: 0, stalls: 0, mismatches: 0, refusals: 0,
  };

  readonly #init: MembershipInit;
  readonly #peers = new Map<number, PeerRec>();
  #dead: number[] = [];
  #evicted: { readonly by: number; readonly reason: string } | undefined;
  #majorityUp = false;
  #handle: unknown;
  #lastTick: number;
  #stopped = false;
  readonly #selfDeath = controller();

  constructor(init: MembershipInit) {
    this.#init = init;
    this.self = init.self;
    this.nodes = init.nodes;
    this.majority = Math.floor(init.nodes.length / 2) + 1;
    this.digest = configDigest(init.config);
    const now = init.timers.now();
    this.#lastTick = now;
    for (const id of init.nodes) {
      if (id === init.self) continue;
      this.#peers.set(id, {
        id, status: 'not-up', lastHeard: now, everHeard: false, promised: false, proposing: false, pinging: false,
        mismatch: undefined, refused: undefined, lastRefusal: undefined, deathReason: undefined, incarnation: undefined, restarted: false, waiters: new Set(), death: controller(),
        outInstalled: new Map(), outOwns: new Map(),
      });
    }
    this.#checkMajority();
  }

  /** Starts the heartbeat (the first round at once, so peers and mismatches are found early). */
  start(): void {
    if (this.#init.heartbeat && this.#peers.size > 0 && !this.#stopped && this.#handle === undefined) {
      this.#handle = this.#init.timers.setTimeout(() => this.#tick(), 0);
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#handle !== undefined) this.#init.timers.clearTimeout(this.#handle);
    this.#handle = undefined;
    for (const p of this.#peers.values()) this.#settle(p, 'timeout');
  }

  // ---- what this node knows

  get evicted(): { readonly by: number; readonly reason: string } | undefined {
    return this.#evicted;
  }

  isDead(node: number): boolean {
    return this.#peers.get(node)?.status === 'dead';
  }

  status(node: number): PeerStatus | 'self' | 'unknown' {
    if (node === this.self) return 'self';
    return this.#peers.get(node)?.status ?? 'unknown';
  }

  isMember(node: number): boolean {
    return this.#peers.has(node) || node === this.self;
  }

  /** Why `node` refused this node, if it did and has not been heard from since. */
  refusal(node: number): string | undefined {
    return this.#peers.get(node)?.refused;
  }

  /** A call to `from` failed RPC_ERR_UNAUTHENTICATED: it refused this node. */
  noteRefused(from: number, message: string): void {
    const p = this.#peers.get(from);
    if (p === undefined || p.refused !== undefined) return;
    p.refused = `${message}; every node of a cluster must use the same cluster key (--key-file)`;
    this.stats.refusals++;
    this.#emit('refused', from, p.refused);
  }

  /** The mismatch with `node`, in words, if there is one. */
  mismatch(node: number): string | undefined {
    return this.#peers.get(node)?.mismatch;
  }

  everHeard(node: number): boolean {
    return this.#peers.get(node)?.everHeard ?? false;
  }

  /** Why the last proposal to declare `node` dead did not succeed, if one failed. */
  lastRefusal(node: number): string | undefined {
    return this.#peers.get(node)?.lastRefusal;
  }

  /** Why `node` was declared dead, if it was. */
  deathReason(node: number): string | undefined {
    return this.#peers.get(node)?.deathReason;
  }

  get deadNodes(): number[] {
    return [...this.#dead];
  }

  /** Peers and their status, for stats and the console. */
  peers(): { node: number; status: PeerStatus; silenceMs: number | null; fencedByMe: boolean; mismatch?: string }[] {
    return [...this.#peers.values()].map((p) => ({
      node: p.id, status: p.status, silenceMs: p.everHeard ? Math.round(this.#init.timers.now() - p.lastHeard) : null,
      fencedByMe: p.promised, ...(p.mismatch === undefined ? {} : { mismatch: p.mismatch }),
    }));
  }

  /** What every message this node sends carries. */
  view(): View {
    return { config: this.digest, incarnation: this.#init.incarnation, dead: this.#dead };
  }

  /**
   * Checks the incarnation a message of `from` carries. The first one seen is the peer; another
   * one means it restarted: returns false (refuse it), and the old incarnation is suspected at
   * once (and declared dead as soon as a majority agrees).
   */
  checkIncarnation(from: number, incarnation: number): boolean {
    const p = this.#peers.get(from);
    if (p === undefined) return true;
    if (p.incarnation === undefined && !p.restarted) {
      p.incarnation = incarnation;
      return true;
    }
    if (p.incarnation === incarnation) return true;
    if (!p.restarted) {
      p.restarted = true;
      if (p.status !== 'dead') {
        p.status = 'suspected';
        this.#emit('suspected', from, `it restarted (a new process with none of the old one's pages): refused`);
        this.#startProposal(p);
      }
    }
    return false;
  }

  /** True once `node` was seen with a second incarnation. */
  restarted(node: number): boolean {
    return this.#peers.get(node)?.restarted ?? false;
  }

  /**
   * An AbortSignal that fires when `node` is declared dead or this node is evicted: calls to a
   * node stop waiting the moment it is known dead.
   */
  deathSignal(node: number): AbortSignal {
    return (this.#peers.get(node)?.death ?? this.#selfDeath).signal;
  }

  // ---- evidence

  /** Anything valid arrived from `node`: a message, a reply, a request. */
  heard(node: number): void {
    const p = this.#peers.get(node);
    if (p === undefined || p.status === 'dead' || p.restarted || this.#evicted !== undefined) return;
    p.lastHeard = this.#init.timers.now();
    p.refused = undefined;
    if (p.status !== 'up') {
      const was = p.status;
      p.status = 'up';
      p.lastRefusal = undefined;
      const first = !p.everHeard;
      p.everHeard = true;
      this.#emit('up', node, first ? 'first contact' : `heard from again after being ${was}`);
      this.#checkMajority();
    }
    this.#settle(p, 'alive');
  }

  /**
   * A call to `node` missed its deadline or the transport gave up on it. A peer never heard from
   * is not up yet (nothing happens); otherwise it becomes suspected and a proposal starts.
   */
  suspect(node: number, reason: string): void {
    const p = this.#peers.get(node);
    if (p === undefined || !p.everHeard || p.status === 'dead' || p.mismatch !== undefined || this.#evicted !== undefined) return;
    if (p.status === 'up') {
      p.status = 'suspected';
      this.#emit('suspected', node, reason);
    }
    this.#startProposal(p);
  }

  /**
   * Waits until `node` is heard from again, is declared dead, this node is evicted, or `deadline`
   * (timers time) passes.
   */
  verdict(node: number, deadline: number): Promise<Verdict> {
    if (this.#evicted !== undefined) return Promise.resolve('evicted');
    const p = this.#peers.get(node);
    if (p === undefined) return Promise.resolve('timeout');
    if (p.status === 'dead') return Promise.resolve('dead');
    const wait = deadline - this.#init.timers.now();
    if (wait <= 0 || this.#stopped) return Promise.resolve('timeout');
    return new Promise((resolve) => {
      const w: Waiter = { resolve, handle: undefined };
      w.handle = this.#init.timers.setTimeout(() => {
        p.waiters.delete(w);
        resolve('timeout');
      }, wait);
      p.waiters.add(w);
    });
  }

  // ---- views, refusals and configuration

  /**
   * Merges the dead list a peer sent. Returns false when it names this node (this node is then
   * evicted and must ignore the message's content).
   */
  mergeView(from: number, view: View): boolean {
    for (const d of view.dead) {
      if (d === this.self) {
        this.evict(from, `node ${from} knows that a majority declared node ${this.self} dead`);
        return false;
      }
      const p = this.#peers.get(d);
      if (p !== undefined && p.status !== 'dead' && d !== from) {
        this.stats.deathsLearned++;
        this.#markDead(p, `declared dead by a majority (learned from node ${from})`);
      }
    }
    return this.#evicted === undefined;
  }

  /** `node` said it was fenced: a majority declared it dead, so this node knows that too. */
  noteStopped(node: number, message: string): void {
    const p = this.#peers.get(node);
    if (p === undefined || p.status === 'dead') return;
    this.stats.deathsLearned++;
    this.#markDead(p, `it reports that it was fenced: ${message}`);
  }

  /** This node was declared dead by a majority (learned from `by`): fail-stop from now on. */
  evict(by: number, reason: string): void {
    if (this.#evicted !== undefined) return;
    this.#evicted = { by, reason };
    // Fail-stop first (the pages go), then tell: whoever sees the event sees a stopped node.
    void this.#init.onEvicted(by, reason).finally(() => this.#emit('fenced', by, reason));
    this.#selfDeath.abort();
    for (const p of this.#peers.values()) {
      p.death.abort(); // every call in flight stops waiting
      this.#settle(p, 'evicted');
    }
  }

  /** Checks a peer's configuration digest; records a mismatch (once) and returns false on one. */
  checkDigest(from: number, digest: number): boolean {
    if (digest === this.digest) {
      // The peer runs this configuration now (a misconfigured process was restarted right, on the
      // same address): what it said before no longer holds. Left in place, the old mismatch would
      // refuse the node one way only: it could take read copies of this node's pages that this
      // node never invalidates, and every write of them would wait for it until its deadline.
      const p = this.#peers.get(from);
      if (p?.mismatch !== undefined) {
        p.mismatch = undefined;
        this.#emit('up', from, 'it runs this cluster\'s configuration now');
      }
      return true;
    }
    this.#recordMismatch(from, `node ${from} runs another cluster configuration (node list, page size or page count; digest ${digest.toString(16)}, node ${this.self} ${this.digest.toString(16)})`);
    return false;
  }

  /** Checks a peer's full configuration (heartbeats carry it); returns the mismatch in words, or undefined. */
  checkConfig(from: number, theirs: Config): string | undefined {
    const diff = describeMismatch(this.#init.config, theirs, this.self, from);
    if (diff === '') return undefined;
    this.#recordMismatch(from, diff);
    return diff;
  }

  /** A peer refused this node's call for a configuration mismatch. */
  noteMismatch(from: number, message: string): void {
    this.#recordMismatch(from, message);
  }

  #recordMismatch(from: number, why: string): void {
    const p = this.#peers.get(from);
    if (p === undefined) return;
    // A detailed description (from a heartbeat) replaces the digest-only one.
    if (p.mismatch === undefined || p.mismatch.includes('digest')) {
      const first = p.mismatch === undefined;
      p.mismatch = why;
      if (first) this.stats.mismatches++;
      if (first || !why.includes('digest')) this.#emit('mismatch', from, why);
    }
  }

  // ---- confirmations piggybacked on heartbeats

  /** As new owner: tell the previous owner (with the next heartbeat) that this node installed transfer `epoch` of `page`. */
  queueInstalled(previousOwner: number, page: number, epoch: number): void {
    this.#peers.get(previousOwner)?.outInstalled.set(page, epoch);
  }

  /** As new owner, fixed mode: tell the page's manager (with the next heartbeat) that this node owns `page` since `epoch`. */
  queueOwns(manager: number, page: number, epoch: number): void {
    this.#peers.get(manager)?.outOwns.set(page, epoch);
  }

  // ---- proposals

  /** The handler of propose(): `caller` asks this node to agree that `suspect` is dead. */
  vote(caller: number, suspect: number): Vote {
    const view = this.view();
    if (suspect === this.self) return this.#refuse(view, `node ${this.self} is alive: it is the one asked`);
    const s = this.#peers.get(suspect);
    if (s === undefined) return this.#refuse(view, `node ${suspect} is not a member of the cluster`);
    if (s.status === 'dead') {
      this.stats.votesAgreed++;
      return { view, agree: true };
    }
    if (this.#peers.get(caller)?.promised === true) {
      return this.#refuse(view, `node ${this.self} agreed that node ${caller} is dead and refuses its proposals`);
    }
    if (s.restarted) {
      // Its old incarnation is gone for certain: this node saw the new one.
      s.promised = true;
      this.stats.votesAgreed++;
      return { view, agree: true };
    }
    const silence = s.everHeard ? this.#init.timers.now() - s.lastHeard : Infinity;
    if (silence < this.#init.deadAfterMs) {
      return this.#refuse(view, `node ${this.self} heard from node ${suspect} ${Math.round(silence)} ms ago`);
    }
    s.promised = true;
    this.stats.votesAgreed++;
    if (s.status === 'up' && s.everHeard) {
      s.status = 'suspected';
      this.#emit('suspected', suspect, `node ${caller} proposed that it is dead; silent here for ${Math.round(silence)} ms`);
    }
    return { view, agree: true };
  }

  #refuse(view: View, why: string): Vote {
    this.stats.votesRefused++;
    return { view, agree: false, why };
  }

  #startProposal(p: PeerRec): void {
    if (p.proposing || p.status === 'dead' || this.#evicted !== undefined || this.#stopped) return;
    const { timers, callTimeoutMs, deadAfterMs } = this.#init;
    // This node votes too, by the voters' rule: only after deadAfterMs of silence (or a restart seen).
    const silence = timers.now() - p.lastHeard;
    if (silence < deadAfterMs && !p.restarted) {
      p.lastRefusal = `node ${this.self} itself heard from node ${p.id} ${Math.round(silence)} ms ago`;
      return;
    }
    p.proposing = true;
    this.stats.proposalsStarted++;
    const startedAt = timers.now();
    const voters = this.nodes.filter((n) => n !== this.self && n !== p.id && this.#peers.get(n)?.status !== 'dead');
    let agreed = 1; // this node
    const agreedBy: number[] = [this.self];
    const refusals: string[] = [];
    let decided = false;
    const tryDecide = (): void => {
      if (decided || agreed < this.majority || p.status === 'dead' || this.#evicted !== undefined) return;
      if (p.lastHeard > startedAt && !p.restarted) return; // heard from it meanwhile: alive after all
      decided = true;
      this.stats.deathsDecided++;
      this.#markDead(p, `silent for ${Math.round(timers.now() - p.lastHeard)} ms; declared dead by a majority: nodes ${agreedBy.join(', ')}`);
      // Announce it at once (the heartbeats carry the view) rather than at the next round.
      for (const q of this.#peers.values()) if (q.status !== 'dead' && q.mismatch === undefined && q.everHeard) this.#ping(q, true);
    };
    tryDecide();
    void Promise.all(voters.map(async (v) => {
      const vote = await this.#init.propose(v, p.id, callTimeoutMs).catch(() => undefined);
      if (vote === undefined) refusals.push(`node ${v} did not answer`);
      else if (!vote.agree) refusals.push(vote.why ?? `node ${v} disagreed`);
      else {
        agreed++;
        agreedBy.push(v);
        tryDecide();
      }
    })).then(() => {
      p.proposing = false;
      if (!decided && p.status !== 'dead') {
        p.lastRefusal = `${agreed} of the ${this.majority} nodes needed (of ${this.nodes.length}) agree that node ${p.id} is dead` +
          (refusals.length > 0 ? ` (${refusals.join('; ')})` : '');
      }
    });
  }

  #markDead(p: PeerRec, reason: string): void {
    if (p.status === 'dead') return;
    p.status = 'dead';
    p.deathReason = reason;
    p.promised = true;
    p.outInstalled.clear();
    p.outOwns.clear();
    let i = this.#dead.length;
    while (i > 0 && this.#dead[i - 1]! > p.id) i--;
    this.#dead = [...this.#dead.slice(0, i), p.id, ...this.#dead.slice(i)];
    this.#emit('dead', p.id, reason);
    p.death.abort();
    this.#settle(p, 'dead');
    this.#init.onDead(p.id);
  }

  #settle(p: PeerRec, v: Verdict): void {
    if (p.waiters.size === 0) return;
    const ws = [...p.waiters];
    p.waiters.clear();
    for (const w of ws) {
      this.#init.timers.clearTimeout(w.handle);
      w.resolve(v);
    }
  }

  // ---- heartbeat

  #tick(): void {
    this.#handle = undefined;
    if (this.#stopped) return;
    const { timers, deadAfterMs, heartbeatIntervalMs } = this.#init;
    const now = timers.now();
    const late = now - this.#lastTick - heartbeatIntervalMs;
    this.#lastTick = now;
    if (late > heartbeatIntervalMs) {
      // This process did not run for `late` ms: that is not the peers' silence.
      this.stats.stalls++;
      for (const p of this.#peers.values()) p.lastHeard = Math.min(now, p.lastHeard + late);
    }
    if (this.#evicted === undefined) {
      for (const p of this.#peers.values()) {
        if (p.status === 'dead' || p.mismatch !== undefined) continue;
        if (p.everHeard && now - p.lastHeard >= deadAfterMs && p.status === 'up') {
          p.status = 'suspected';
          this.#emit('suspected', p.id, `nothing heard for ${Math.round(now - p.lastHeard)} ms`);
        }
        if (p.status === 'suspected') this.#startProposal(p);
        if (!p.pinging) this.#ping(p);
      }
    }
    this.#handle = timers.setTimeout(() => this.#tick(), heartbeatIntervalMs);
  }

  #ping(p: PeerRec, announce = false): void {
    if (!announce) p.pinging = true;
    const installed = take(p.outInstalled);
    const owns = take(p.outOwns);
    this.#init.ping(p.id, installed, owns, this.#init.deadAfterMs).then(
      (ok) => {
        if (!announce) p.pinging = false;
        if (ok) {
          // Sent: forget what went out (unless a newer epoch was queued meanwhile).
          for (const t of installed) if (p.outInstalled.get(t.page) === t.epoch) p.outInstalled.delete(t.page);
          for (const t of owns) if (p.outOwns.get(t.page) === t.epoch) p.outOwns.delete(t.page);
        }
      },
      () => {
        if (!announce) p.pinging = false;
      },
    );
  }

  #checkMajority(): void {
    if (this.#majorityUp) return;
    let up = 1;
    for (const p of this.#peers.values()) if (p.everHeard && p.status !== 'dead') up++;
    if (up >= this.majority) {
      this.#majorityUp = true;
      this.#emit('majority-up', this.self, `${up} of ${this.nodes.length} nodes are up (a majority is ${this.majority})`);
    }
  }

  #emit(kind: MembershipEvent['kind'], node: number, reason: string): void {
    try {
      this.#init.onEvent({ kind, node, reason, at: this.#init.timers.now() });
    } catch {
      // A listener's bug must not break the membership.
    }
  }
}

/** Every call to a peer listens on its controller's signal: no listener limit (and no leak warning). */
function controller(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

function take(m: Map<number, number>): Transfer[] {
  const out: Transfer[] = [];
  for (const [page, epoch] of m) {
    if (out.length >= MAX_CONFIRMS) break;
    out.push({ page, epoch });
  }
  return out;
}
