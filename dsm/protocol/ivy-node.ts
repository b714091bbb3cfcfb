/**
 * IvyNode: one node's half of Li & Hudak's write-invalidate coherence protocol ("Memory Coherence
 * in Shared Virtual Memory Systems", ACM TOCS 1989), with the page's OWNER as the one place that
 * serves and hands over a page, found through a probable-owner hint and, by mode, the FIXED
 * DISTRIBUTED MANAGER's directory or the DYNAMIC DISTRIBUTED MANAGER's probable-owner chains, and
 * a failure model that holds under wrong suspicion, partitions and pauses.
 *
 * This file is the thin shell that joins the roles, each in its own file:
 * - requester.ts:  resolves a page fault: finds the owner (hint, redirects, the manager or a
 *                  locate), installs the grant, confirms;
 * - owner.ts:      serves its pages one request at a time per page: read copies, ownership
 *                  transfers that are atomic (the previous owner keeps the page until the new one
 *                  confirms; check / take back), the copy set and its invalidation; the copy
 *                  holder's invalidate; redirects; locate answers;
 * - hints.ts:      probOwner: where this node believes each page's owner is, and why;
 * - manager.ts:    the fixed manager's directory (fixed mode only);
 * - membership.ts: up / suspected / dead / fenced; deaths decided by a majority; heartbeats.
 * and it guards every incoming message: the caller is the node the transport names; a caller a
 * majority declared dead is refused (DSM_ERR_EVICTED); a caller with another configuration (the
 * manager mode included) is refused (DSM_ERR_CLUSTER_MISMATCH); the caller's view (the deaths it
 * knows) is merged before the message is acted on.
 *
 * ## Who knows what
 * - Owner: the node that wrote the page last, or holds the writable copy. It keeps the copy set
 *   and numbers the page's grants (epochs travel with the ownership). Initial owner:
 *   `initialOwner(p)` (default: the manager), so the allocator can place data where its creator lives.
 * - Every node: a probable owner per page (hints.ts), initially the initial owner.
 * - Fixed mode, manager of p = sorted(nodes)[p mod N] (the paper's H(p)): a directory record of
 *   p's owner, updated by the new owner's confirmation on its heartbeat.
 * - Copy holders: nodes with a read copy; they know their rights and a probable owner.
 *
 * ## One fault (requester R, owner O)
 * R sends `request` to its probable owner. If that is O, O serves it (owner.ts) and the fault
 * costs one RPC: 2 messages. If not, the node answers Redirect and R asks the manager (fixed) or
 * follows the chain (dynamic). Li & Hudak's confirmation (new owner -> previous owner: installed)
 * rides on the next heartbeat; in fixed mode the new owner also tells the manager in one `owns`
 * call off the fault's path (on its heartbeat if that call fails): 2 messages per change of owner.
 *   Read fault:  O downgrades itself to read, adds R to the copy set, returns the contents; R installs
 *                a read copy and points its hint at O.
 *   Write fault: O invalidates every copy holder except R IN PARALLEL (each invalidation names R as
 *                the new owner), drops its own rights (keeping the contents until R confirms) and
 *                returns the contents (none if R's read copy is current) with the ownership.
 *   R is O (an owner writing its read copy): no message to anyone but the copy holders.
 * Between O giving the page up and R installing it nobody has rights, so at every moment a page
 * has one writer XOR any number of readers: sequential consistency as in the paper.
 *
 * ## Messages per fault (remote ones; each call = a request and a reply)
 * With the hint right (the usual case: a node's hint is refreshed by every grant, invalidation and
 * redirect it sees, and an owner's by the transfer it hands over):
 *   read fault:                 request                       = 2 messages
 *   write fault with c copies:  request + c invalidate        = 2 + 2c messages
 *   an owner writing its read copy:                  2c messages
 * A wrong hint costs 2 more per redirect: fixed mode asks the manager next (2 + 2 + 2 when the
 * manager's record is current), dynamic mode walks the chain (2 per hop). Li & Hudak count 3 and
 * 3 + 2c for the fixed distributed manager (request, forward, page), and for the dynamic manager 2
 * plus one message per forwarding hop: here the owner answers the requester itself, and a
 * redirect costs a reply where a forward costs none, because RPC is request/reply (a forwarded
 * request would have to return through every node on the chain). The benchmark (bench:dsm)
 * measures messages per fault in both modes. Every message also carries the sender's view (a
 * 4-byte configuration digest and the list of dead nodes, empty while all live).
 *
 * ## Epochs instead of locks held across calls
 * The owner numbers its grants per page (epoch = copy epoch or transfer id) and the numbers move
 * with the ownership. A node remembers the last epoch it installed and the highest it has acted on
 * (epochs.ts), so a grant that arrives after something that superseded it is discarded and the
 * fault asks again. The requester holds no lock while it waits, and an owner holds its page lock
 * only across calls to copy holders and to its transfer's new owner, neither of which takes a
 * lock, so two nodes faulting on each other's pages cannot deadlock.
 *
 * ## Failure
 * membership.ts explains when a node is suspected, when it is declared dead (a majority), and how
 * the dead are fenced. Once a node is declared dead:
 * - a fault that needs it as the owner fails DSM_ERR_PAGE_LOST naming it (found by asking every
 *   live node, since in either mode an owner may have handed its page on without the others
 *   knowing; requester.ts, "locate"); a page it had just been handed, unconfirmed, is lost with it;
 * - fixed mode: a fault that needs the directory it kept (a wrong hint) fails DSM_ERR_MANAGER_DEAD
 *   naming it; dynamic mode has no directory to lose: a dead node on a chain costs a locate;
 * - it is skipped when invalidating (and only then: a silent holder that is not declared dead is
 *   asked again until it answers or is declared dead, within the request's deadline);
 * - read copies held by survivors stay readable: a read copy exists only while nobody can write,
 *   so it holds the last value written. It can never be written again (PAGE_LOST) and is never
 *   handed to other nodes: Ivy copies pages for speed, not for availability, so a dead node
 *   takes its pages with it, which is the chapter's point.
 * A hint is only a hint: only the owner grants, under its page lock, so a stale hint never makes
 * two owners; and a node that knows of a death acts on nothing from the dead node (peers.ts).
 *
 * ## Bounds
 * Every wait has a deadline (options.ts): a fault resolves or fails within faultTimeoutMs.
 */
import { randomInt } from 'node:crypto';
import type { Access, LocalPages, PageFaultHandler } from '../contract.js';
import { DsmError } from '../errors.js';
import type { CallContext } from '../../rpc/index.js';
import { Holding, IvyClient, ManagerMode, type Ack, type Config, type IvyHandlers, type View } from './ivy.stubs.js';
import { PageEpochs } from './epochs.js';
import { OwnerHints } from './hints.js';
import { Manager } from './manager.js';
import { Membership, type MembershipEvent, type MembershipStats, type PeerStatus } from './membership.js';
import { Owner } from './owner.js';
import { Peers, Refusal, REFUSED_EVICTED, REFUSED_MISMATCH, REFUSED_STOPPED, REFUSED_STRANGER } from './peers.js';
import { evicted, Requester } from './requester.js';
import { IvyCounters, type IvyProcedure, type IvyStats } from './stats.js';
import { resolveIvyOptions, type IvyOptions, type ManagerMode as Mode } from './options.js';

/**
 * The fixed distributed manager of `page` (Li & Hudak's H(p) = p mod N) over the node ids in
 * ascending order: a pure function every node, demo and test computes the same way.
 */
export function managerOf(nodes: readonly number[], page: number): number {
  const sorted = nodes.every((n, i) => i === 0 || nodes[i - 1]! < n) ? nodes : [...nodes].sort((a, b) => a - b);
  return sorted[page % sorted.length]!;
}

/** Largest cluster a node accepts (views and configurations carry node lists). */
export const MAX_NODES = 4096;

export interface IvyNodeInit {
  /** This node's id (uint16); must be in `nodes`. */
  readonly id: number;
  /** Every node of the DSM, the same set on every node (order does not matter). */
  readonly nodes: readonly number[];
  /** The local page store. */
  readonly local: LocalPages;
  /** A client stub for a peer (called only with ids of other nodes). */
  readonly peer: (node: number) => IvyClient;
  /**
   * The node that made an incoming call, from its RPC context (the transport's authenticated
   * address); undefined when the address is not a node of the cluster (the call is refused).
   */
  readonly callerOf: (ctx: CallContext) => number | undefined;
  /** Node that owns `page` before anyone touched it. @default the page's manager */
  readonly initialOwner?: (page: number) => number;
  /** Membership events: peer up / suspected / dead, this node fenced, a majority up, a configuration mismatch. */
  readonly onEvent?: (e: MembershipEvent) => void;
  /** This process's incarnation (non-zero uint32). @default random */
  readonly incarnation?: number;
  readonly options?: IvyOptions;
}

/**
 * What one node knows of one page (IvyNode.inspect): the introspection tools read, never the
 * protocol's internals. Only the page's manager knows its owner for sure; only the owner knows its
 * copy set; every node knows its own rights.
 */
export interface PageInspection {
  readonly page: number;
  /** This node's rights on the page now. */
  readonly rights: 'none' | 'read' | 'write';
  /** When this node owns the page: its copy holders (empty when none); null when it does not own it. */
  readonly copyset: readonly number[] | null;
  /** Where this node would send its next request for the page (its probable owner: hints.ts). */
  readonly probableOwner: number;
  /** The dead node this node knows the page was lost with (any node, either mode), if it knows of a loss. */
  readonly lostWith?: number;
  /**
   * Only on the page's manager, in fixed mode (the dynamic mode has none): the owner on record,
   * whether a transfer is unsettled, and the dead node it was lost with.
   */
  readonly manager?: { readonly owner: number; readonly pending: boolean; readonly lost: number | undefined };
}

/** IvyNode.stats: the protocol's counters, the membership's, and what is kept for unfinished transfers. */
export interface IvyNodeStats extends IvyStats {
  readonly membership: MembershipStats;
  /** Pages this node handed over whose transfer is not confirmed complete yet (contents kept). */
  readonly retainedPages: number;
}

export class IvyNode implements PageFaultHandler {
  readonly id: number;
  /** Sorted node ids; manager(page) = nodes[page % nodes.length]. */
  readonly nodes: readonly number[];
  /** How owners are found: the fixed manager's directory, or the dynamic manager's chains. */
  readonly mode: Mode;
  /** Handler table for ivy.rpc: serve it with RpcServer.serve(IvyDescriptor, node.handlers). */
  readonly handlers: IvyHandlers;

  readonly #local: LocalPages;
  readonly #clients = new Map<number, IvyClient>();
  readonly #counters: IvyCounters;
  readonly #membership: Membership;
  readonly #epochs: PageEpochs;
  readonly #hints: OwnerHints;
  readonly #peers: Peers;
  readonly #owner: Owner;
  readonly #manager: Manager;
  readonly #requester: Requester;
  readonly #callerOf: (ctx: CallContext) => number | undefined;
  readonly #peer: (node: number) => IvyClient;
  #closed = false;

  constructor(init: IvyNodeInit) {
    const nodes = [...new Set(init.nodes)].sort((a, b) => a - b);
    if (nodes.length !== init.nodes.length || nodes.length === 0) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'nodes must be a non-empty list of distinct node ids');
    }
    if (nodes.length > MAX_NODES) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `at most ${MAX_NODES} nodes, got ${nodes.length}`);
    for (const n of nodes) {
      if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `node ids must be uint16, got ${n}`);
    }
    if (!nodes.includes(init.id)) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `node id ${init.id} is not in nodes [${nodes.join(', ')}]`);
    if (typeof init.callerOf !== 'function') throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'callerOf(ctx) is required: it names the node behind an incoming call');
    this.id = init.id;
    this.nodes = nodes;
    this.#local = init.local;
    this.#callerOf = init.callerOf;
    this.#peer = init.peer;
    const opts = resolveIvyOptions(init.options);
    this.mode = opts.manager;
    const initialOwner = init.initialOwner ?? ((p: number) => managerOf(nodes, p));
    const counters = (this.#counters = new IvyCounters(opts.latencyBucketsMs));
    const config: Config = {
      nodes, pageSize: init.local.pageSize, pageCount: init.local.pageCount, manager: opts.manager === 'fixed' ? ManagerMode.Fixed : ManagerMode.Dynamic,
    };
    const view = (): View => this.#membership.view();
    const incarnation = init.incarnation ?? randomInt(1, 0xffffffff);
    if (!Number.isInteger(incarnation) || incarnation < 1 || incarnation > 0xffffffff) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `incarnation must be an integer from 1 to 2^32 - 1, got ${String(incarnation)}`);
    }
    this.#membership = new Membership({
      self: this.id, incarnation, nodes, timers: opts.timers, config,
      heartbeat: opts.heartbeat, heartbeatIntervalMs: opts.heartbeatIntervalMs, deadAfterMs: opts.deadAfterMs, callTimeoutMs: opts.callTimeoutMs,
      ping: async (n, installed, owns, timeoutMs) =>
        (await this.#peers.call(n, 'ping', timeoutMs, (c, o) => c.ping(view(), config, installed, owns, o))).ok,
      propose: async (voter, suspect, timeoutMs) => {
        const r = await this.#peers.call(voter, 'propose', timeoutMs, (c, o) => c.propose(view(), suspect, o));
        return r.ok ? r.value : undefined;
      },
      onEvent: (e) => init.onEvent?.(e),
      onDead: (n) => {
        counters.c.nodesDeclaredDead++;
        this.#local.noteDead(n);
      },
      onEvicted: (by, reason) => this.#failStop(by, reason),
    });
    this.#epochs = new PageEpochs();
    this.#hints = new OwnerHints(initialOwner);
    this.#peers = new Peers({ self: this.id, membership: this.#membership, counters, client: (n) => this.#client(n) });
    const roles = {
      id: this.id, timers: opts.timers, membership: this.#membership, epochs: this.#epochs, counters, peers: this.#peers,
      view, initialOwner, local: this.#local,
    };
    const managerOfPage = (p: number): number => this.managerOf(p);
    this.#manager = new Manager({ id: this.id, hints: this.#hints, managerOf: managerOfPage });
    this.#owner = new Owner({
      ...roles, hints: this.#hints, serveTimeoutMs: opts.serveTimeoutMs, callTimeoutMs: opts.callTimeoutMs, queueWaitMs: opts.queueWaitMs,
      faulting: (p) => this.#requester.faulting(p),
      asking: (p) => this.#requester.asking(p),
      directory: this.mode === 'fixed' ? (p) => this.#manager.record(p) : undefined,
    });
    this.#requester = new Requester({
      ...roles, owner: this.#owner, hints: this.#hints, mode: this.mode, nodes, faultTimeoutMs: opts.faultTimeoutMs, callTimeoutMs: opts.callTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs, managerOf: managerOfPage, closed: () => this.#closed,
    });
    // The initial owner starts with a writable zero page, so its first store does not fault.
    for (let p = 1; p < this.#local.pageCount; p++) {
      const o = initialOwner(p);
      if (!nodes.includes(o)) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `initialOwner(${p}) = ${o} is not a node`);
      if (o === this.id) this.#local.install(p, null, 'write');
    }
    const ack = (): Ack => ({ view: view() });
    this.handlers = {
      request: (v, page, want, have, holding, expect, claim, ctx) => this.#guard('request', ctx, v, page, (caller) => {
        if (claim !== undefined && !this.#membership.isMember(claim.node)) return this.#violation(`a claim about page ${page} names node ${claim.node}, not a member`);
        return this.#owner.request(page, want, caller, have, holding, expect, claim);
      }),
      invalidate: (v, page, copyEpoch, newOwner, epoch, ctx) => this.#guard('invalidate', ctx, v, page, async (caller) => {
        if (!this.#membership.isMember(newOwner)) return this.#violation(`invalidation of page ${page} names node ${newOwner}, not a member, as its new owner`);
        if (epoch <= copyEpoch) return this.#violation(`invalidation of page ${page} names transfer ${epoch}, not after the copy it invalidates (epoch ${copyEpoch})`);
        const wrong = await this.#owner.invalidate(page, copyEpoch, newOwner, epoch, caller);
        if (wrong !== undefined) return this.#violation(wrong);
        return ack();
      }),
      locate: (v, page, ctx) => this.#guard('locate', ctx, v, page, () => this.#owner.where(page)),
      owns: (v, pages, ctx) => this.#guard('owns', ctx, v, undefined, (caller) => {
        if (this.mode === 'fixed') for (const t of pages) if (this.#validPage(t.page)) this.#manager.owns(caller, t.page, t.epoch);
        return ack();
      }),
      ping: (v, cfg, installed, owns, ctx) => this.#guard('ping', ctx, v, undefined, (caller) => {
        for (const t of installed) if (this.#validPage(t.page)) this.#owner.installed(caller, t.page, t.epoch);
        if (this.mode === 'fixed') for (const t of owns) if (this.#validPage(t.page)) this.#manager.owns(caller, t.page, t.epoch);
        return ack();
      }, cfg),
      propose: (v, suspect, ctx) => this.#guard('propose', ctx, v, undefined, (caller) => this.#membership.vote(caller, suspect)),
    };
    this.#membership.start();
  }

  /** The fixed distributed manager of `page` (its directory, in fixed mode). */
  managerOf(page: number): number {
    return managerOf(this.nodes, page);
  }

  /** True once a majority declared `node` dead (decided here, or learned from a peer). */
  isDead(node: number): boolean {
    return this.#membership.isDead(node);
  }

  get deadNodes(): number[] {
    return this.#membership.deadNodes;
  }

  /** Set once this node learned it was declared dead: it fails every access from then on. */
  get evicted(): { readonly by: number; readonly reason: string } | undefined {
    return this.#membership.evicted;
  }

  /** Each peer's status as this node sees it. */
  peers(): { node: number; status: PeerStatus; silenceMs: number | null; fencedByMe: boolean; mismatch?: string }[] {
    return this.#membership.peers();
  }

  /**
   * Anything valid arrived from `node` (the runtime calls this for every message the transport
   * delivers): evidence of life for the failure detector.
   */
  heard(node: number): void {
    this.#membership.heard(node);
  }

  /** Suspects a peer (e.g. the transport reported it unreachable): starts a proposal to declare it dead. */
  suspect(node: number, reason: string): void {
    this.#membership.suspect(node, reason);
  }

  /** True when this node currently owns `page`. */
  owns(page: number): boolean {
    return this.#owner.state(page) !== null;
  }

  /**
   * What this node knows of `page`'s owner: its probable owner (hint), the newest fact it learned
   * (with its epoch), whether it owns the page or handed it over unconfirmed, and the node it knows
   * the page was lost with. On the page's manager in fixed mode, the fact is the directory record.
   */
  ownerInfo(page: number): { probableOwner: number; known: number; knownEpoch: number; owns: boolean; handedTo: number | undefined; lost: number | undefined } {
    const f = this.#hints.fact(page);
    const w = this.#owner.where(page);
    return {
      probableOwner: this.#hints.route(page), known: f.node, knownEpoch: f.epoch, owns: this.#owner.owns(page),
      handedTo: w.holding === 2 ? w.node : undefined, lost: this.#owner.lostWith(page),
    };
  }

  /**
   * What this node knows of `page` right now, for tools that draw the page table (the console's
   * `map`, the live page map): read-only, no message, no state created. Throws
   * DSM_ERR_BAD_ADDRESS for a page outside 1..pageCount-1.
   */
  inspect(page: number): PageInspection {
    if (!this.#validPage(page)) throw new DsmError('DSM_ERR_BAD_ADDRESS', `page ${page} is outside 1..${this.#local.pageCount - 1}`, { page });
    const lostWith = this.#owner.lostWith(page);
    const info: PageInspection = {
      page, rights: this.#local.rights(page), copyset: this.#owner.peek(page), probableOwner: this.#hints.route(page),
      ...(lostWith === undefined ? {} : { lostWith }),
    };
    const r = this.mode === 'fixed' ? this.#manager.record(page) : undefined;
    if (r === undefined) return info;
    // The directory (fixed mode, on the page's manager): unsettled while the move it knows of was
    // only announced, or handed over from here and not confirmed.
    const pending = (r.via !== undefined && r.via !== r.node) || this.#owner.where(page).holding === Holding.Handed;
    return { ...info, manager: { owner: r.node, pending, lost: lostWith } };
  }

  get stats(): IvyNodeStats {
    return { ...this.#counters.snapshot(), membership: { ...this.#membership.stats }, retainedPages: this.#owner.retained };
  }

  /** Stops the heartbeat; later faults fail with DSM_ERR_CLOSED. Peers are not told. */
  close(): void {
    this.#closed = true;
    this.#membership.stop();
  }

  fault(page: number, access: Access): Promise<void> {
    if (!this.#validPage(page)) {
      return Promise.reject(new DsmError('DSM_ERR_BAD_ADDRESS', `page ${page} is outside 1..${this.#local.pageCount - 1}`, { page }));
    }
    if (access !== 'read' && access !== 'write') return Promise.reject(new DsmError('DSM_ERR_INVALID_ARGUMENT', `access must be 'read' or 'write'`));
    return this.#requester.fault(page, access);
  }

  // ---- incoming messages

  async #guard<T>(proc: IvyProcedure, ctx: CallContext, v: View, page: number | undefined, fn: (caller: number) => T | Promise<T>, config?: Config): Promise<T> {
    const m = this.#membership;
    const caller = this.#callerOf(ctx);
    if (caller === undefined || caller === this.id || !m.isMember(caller)) {
      this.#counters.c.protocolErrors++;
      throw new Refusal(REFUSED_STRANGER, `${ctx.peer} is not a node of this cluster (node ${this.id}'s nodes: ${this.nodes.join(', ')})`);
    }
    this.#counters.received[proc]++;
    if (m.evicted !== undefined) throw this.#stopped();
    if (m.isDead(caller)) {
      this.#counters.c.refusedFenced++;
      throw new Refusal(REFUSED_EVICTED, `node ${this.id} refuses node ${caller}: ${m.deathReason(caller) ?? 'it was declared dead'}`);
    }
    if (config !== undefined) {
      const diff = m.checkConfig(caller, config);
      if (diff !== undefined) throw new Refusal(REFUSED_MISMATCH, diff);
    }
    if (!m.checkDigest(caller, v.config)) throw new Refusal(REFUSED_MISMATCH, m.mismatch(caller) ?? 'cluster configuration mismatch');
    if (!m.checkIncarnation(caller, v.incarnation)) {
      this.#counters.c.refusedFenced++;
      throw new Refusal(REFUSED_EVICTED, `node ${this.id} refuses node ${caller}: it restarted, and a new process holding none of the old one's pages cannot rejoin a running cluster`);
    }
    m.heard(caller);
    if (!m.mergeView(caller, v)) throw this.#stopped();
    if (page !== undefined && !this.#validPage(page)) return this.#violation(`page ${page} is outside 1..${this.#local.pageCount - 1}`);
    if (this.#closed) throw new DsmError('DSM_ERR_CLOSED', `node ${this.id} is closed`);
    const out = await fn(caller);
    if (this.evicted !== undefined) throw this.#stopped();
    return out;
  }

  #stopped(): Refusal {
    return new Refusal(REFUSED_STOPPED, `node ${this.id} was declared dead and is fenced: ${this.evicted?.reason ?? 'evicted'}`);
  }

  #violation(what: string): never {
    this.#counters.c.protocolErrors++;
    throw new DsmError('DSM_ERR_INTERNAL', `protocol violation: ${what}`);
  }

  #validPage(page: number): boolean {
    return Number.isInteger(page) && page >= 1 && page < this.#local.pageCount;
  }

  /**
   * This node was fenced: every page fails DSM_ERR_EVICTED from now on, local ones included. The
   * failures are recorded and every revocation started at once (each takes its rights away before
   * it waits for app threads to leave the page).
   */
  async #failStop(by: number, reason: string): Promise<void> {
    const failure = evicted(undefined, by, reason).failure;
    const revoked: Promise<void>[] = [];
    for (let p = 1; p < this.#local.pageCount; p++) {
      this.#local.fail(p, failure);
      if (this.#local.rights(p) !== 'none') {
        // An app thread that stays inside an access makes this reject; its next access fails anyway.
        revoked.push(this.#local.invalidate(p).then(() => this.#local.fail(p, failure), () => this.#local.fail(p, failure)));
      }
    }
    await Promise.all(revoked);
  }

  #client(node: number): IvyClient {
    let c = this.#clients.get(node);
    if (c === undefined) {
      c = this.#peer(node);
      this.#clients.set(node, c);
    }
    return c;
  }
}
