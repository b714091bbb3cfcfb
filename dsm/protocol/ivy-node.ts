/**
 * IvyNode: one node's half of Li & Hudak's write-invalidate coherence protocol ("Memory Coherence
 * in Shared Virtual Memory Systems", ACM TOCS 1989), FIXED DISTRIBUTED MANAGER algorithm.
 *
 * ## Who knows what (follows the paper)
 * - Manager: page p is managed by sorted(nodes)[p mod N] (the paper's H(p) = p mod N). The
 *   manager keeps only `owner[p]` (the paper's `info[p].owner`) and a per-page lock
 *   (`info[p].lock`: a PageQueue, requests for one page run one at a time in arrival order).
 * - Owner: the node that wrote the page last, or holds the writable copy. It keeps the copy set
 *   (`ptable[p].copyset`), as in the paper's improved centralized manager, which the fixed
 *   distributed manager is built on. Initial owner: `initialOwner(p)` (default: the manager),
 *   so the allocator can place data where its creator lives.
 * - Copy holders: nodes with a read copy; they know nothing but their rights.
 *
 * ## One fault (requester R, manager M, owner O)
 * RPC calls are request/reply, so the paper's forwarding (M forwards R's request to O, O sends
 * the page straight to R) becomes a nested call: R calls M.acquire; M, holding the page lock,
 * calls O.serve; O hands the page over and returns it to M; M records the new owner and returns
 * it to R. The page lock is held until O has handed over, so M has its "confirmation" from O's
 * reply and no separate confirmation message follows (the improved algorithms drop it too).
 *   Read fault:  O downgrades itself to read (LocalPages.downgrade waits for in-flight local
 *                stores), adds R to the copy set, returns the contents; R installs a read copy.
 *   Write fault: O invalidates every copy holder except R IN PARALLEL (Promise.all), drops its
 *                own copy (LocalPages.invalidate) and returns the contents with the ownership;
 *                M sets owner = R; R installs with write rights.
 *   R is O (an owner upgrading its read copy, the paper's "requester is owner" case): M answers
 *                at once without data; R invalidates its own copy set in parallel, then installs
 *                write rights over its contents. M has already released the page lock; a request
 *                it forwards to R meanwhile waits until R's grant is installed (epochs, below).
 * Between O giving the page up and R installing it nobody has rights, so at every moment a page
 * has one writer XOR any number of readers: sequential consistency as in the paper.
 *
 * ## Messages per fault (remote ones; a node calls its own handlers directly, no message)
 * With R, M and O distinct (each call = a request and a reply):
 *   read fault:                 acquire + serve                    = 4 messages
 *   write fault with c copies:  acquire + serve + c invalidate     = 4 + 2c messages
 * (The paper counts 3 and 3 + 2c for the distributed managers because O sends the page to R
 * directly; with request/reply RPC the page returns through M, one extra message, and the
 * invalidations' replies are the paper's acknowledgements.) Each of M = R, M = O saves the
 * corresponding call: R = M gives 2 (read) and 2 + 2c (write); an owner upgrading its read copy
 * (R = O) pays 2 + 2c if it is not the manager, 2c if it is. The manager may itself hold one of
 * the c copies; its invalidation is a message like any other.
 *
 * ## Grants in flight: epochs instead of holding locks across calls
 * M numbers its transactions per page (epoch). A new owner's grant reply may still be in flight
 * when M forwards the next request to it; a read copy's grant may still be in flight when a
 * writer's invalidation reaches it. So serve carries the epoch that made O owner and invalidate
 * the epoch of the copy it revokes; the receiver waits (at most installWaitMs) until it has
 * installed that grant. A read grant whose invalidation overtook it is discarded and the fault
 * retried. The requester holds no lock while it waits for M, so an owner faulting on its own
 * page while M forwards another request to it cannot deadlock, and neither can two nodes faulting
 * on each other's pages: every wait is for a message already sent, along the order M imposed.
 *
 * ## Failure (fail-stop)
 * A peer is declared dead when a call to it fails with RPC_ERR_UNREACHABLE or misses its deadline,
 * or when heartbeats go unanswered for deadAfterMs (failure-detector.ts). Then:
 * - a fault on a page whose manager is dead fails DSM_ERR_MANAGER_DEAD naming the manager,
 *   except the owner's own write on its read copy: the owner holds the contents and the copy set,
 *   so it invalidates the copies and upgrades alone (#upgradeOrphan); pages held by live nodes
 *   keep working for their holder, though nobody else can find them any more;
 * - a fault on a page whose owner is dead fails DSM_ERR_PAGE_LOST naming the owner: the owner
 *   held the only writable copy and the copy set, and nobody else knows who holds read copies;
 * - a dead copy holder is skipped when invalidating (it can no longer read);
 * - read copies held by survivors stay readable: under sequential consistency a read copy exists
 *   only while nobody can write, so it holds the last value ever written, not a stale one. It can
 *   never be written again (a write fault fails DSM_ERR_PAGE_LOST) and is never handed to other
 *   nodes: promoting one survivor to owner would need the lost copy set and an agreement among
 *   survivors on one new owner, which Ivy does not have. This is the chapter's point: Ivy copies
 *   pages for speed, not for availability, so a dead node takes its pages with it.
 *   A failed write fault leaves the read rights in place (PageStore.fail keeps rights), so the
 *   copy stays readable after a write to it failed (test/dsm-node-failure.test.ts checks both).
 *
 * ## Bounds
 * Every wait has a deadline (options.ts): a fault resolves or fails within faultTimeoutMs.
 */
import type { Access, LocalPages, PageFailure, PageFaultHandler } from '../contract.js';
import { DsmError } from '../errors.js';
import { isRpcError } from '../../rpc/index.js';
import { IvyClient, Outcome, Want, type Grant, type Handoff, type IvyHandlers } from './ivy.stubs.js';
import { PageQueue } from './page-queue.js';
import { InstallEpochs } from './epochs.js';
import { FailureDetector, type NodeDeadEvent } from './failure-detector.js';
import { IvyCounters, type IvyProcedure, type IvyStats } from './stats.js';
import { resolveIvyOptions, type IvyOptions, type ResolvedIvyOptions } from './options.js';

/**
 * The fixed distributed manager of `page` (Li & Hudak's H(p) = p mod N) over the node ids in
 * ascending order: a pure function every node, demo and test computes the same way.
 */
export function managerOf(nodes: readonly number[], page: number): number {
  const sorted = nodes.every((n, i) => i === 0 || nodes[i - 1]! < n) ? nodes : [...nodes].sort((a, b) => a - b);
  return sorted[page % sorted.length]!;
}

export interface IvyNodeInit {
  /** This node's id (uint16); must be in `nodes`. */
  readonly id: number;
  /** Every node of the DSM, the same set on every node (order does not matter). */
  readonly nodes: readonly number[];
  /** The local page store. */
  readonly local: LocalPages;
  /** A client stub for a peer (called only with ids of other nodes). */
  readonly peer: (node: number) => IvyClient;
  /** Node that owns `page` before anyone touched it. @default the page's manager */
  readonly initialOwner?: (page: number) => number;
  /** Called once per peer declared dead. */
  readonly onNodeDead?: (e: NodeDeadEvent) => void;
  readonly options?: IvyOptions;
}

/** What an owner keeps per owned page. */
interface Owned {
  /** Copy holders and the epoch of the grant that gave each its copy. */
  readonly copyset: Map<number, number>;
}

/** What a manager keeps per managed page. */
interface Managed {
  owner: number;
  /** Epoch of the grant that made `owner` the owner (0: initial owner). */
  ownerEpoch: number;
  /** Last transaction number used for this page. */
  epoch: number;
}

/** Pause before retrying a request the manager answered Busy. */
const BUSY_BACKOFF_MS = 20;

class FaultFailed {
  constructor(readonly failure: PageFailure) {}
}

export class IvyNode implements PageFaultHandler {
  readonly id: number;
  /** Sorted node ids; manager(page) = nodes[page % nodes.length]. */
  readonly nodes: readonly number[];
  /** Handler table for ivy.rpc: serve it with RpcServer.serve(IvyDescriptor, node.handlers). */
  readonly handlers: IvyHandlers;

  readonly #local: LocalPages;
  readonly #opts: ResolvedIvyOptions;
  readonly #initialOwner: (page: number) => number;
  readonly #clients = new Map<number, IvyClient>();
  readonly #peer: (node: number) => IvyClient;
  readonly #managed = new Map<number, Managed>();
  /** Owned pages; `null` = known not owned; absent = decided by initialOwner. */
  readonly #owned = new Map<number, Owned | null>();
  readonly #queue = new PageQueue();
  readonly #epochs: InstallEpochs;
  readonly #inflight = new Map<number, { readonly access: Access; readonly done: Promise<boolean> }>();
  readonly #counters: IvyCounters;
  readonly #detector: FailureDetector;
  #closed = false;

  constructor(init: IvyNodeInit) {
    const nodes = [...new Set(init.nodes)].sort((a, b) => a - b);
    if (nodes.length !== init.nodes.length || nodes.length === 0) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'nodes must be a non-empty list of distinct node ids');
    }
    for (const n of nodes) {
      if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `node ids must be uint16, got ${n}`);
    }
    if (!nodes.includes(init.id)) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `node id ${init.id} is not in nodes [${nodes.join(', ')}]`);
    this.id = init.id;
    this.nodes = nodes;
    this.#local = init.local;
    this.#peer = init.peer;
    this.#opts = resolveIvyOptions(init.options);
    this.#initialOwner = init.initialOwner ?? ((p) => this.managerOf(p));
    this.#epochs = new InstallEpochs(this.#opts.timers);
    this.#counters = new IvyCounters(this.#opts.latencyBucketsMs);
    this.#detector = new FailureDetector({
      self: this.id,
      peers: nodes.filter((n) => n !== this.id),
      timers: this.#opts.timers,
      heartbeat: this.#opts.heartbeat,
      intervalMs: this.#opts.heartbeatIntervalMs,
      deadAfterMs: this.#opts.deadAfterMs,
      ping: (n, timeoutMs) => this.#client(n, 'ping').ping(this.id, { timeoutMs }),
      onDead: (e) => {
        this.#counters.c.nodesDeclaredDead++;
        init.onNodeDead?.(e);
      },
    });
    // The initial owner starts with a writable zero page, so its first store does not fault.
    for (let p = 1; p < this.#local.pageCount; p++) {
      const o = this.#initialOwner(p);
      if (!nodes.includes(o)) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `initialOwner(${p}) = ${o} is not a node`);
      if (o === this.id) this.#local.install(p, null, 'write');
    }
    this.handlers = {
      acquire: (page, want, requester) => {
        this.#counters.received.acquire++;
        return this.#acquire(page, want, requester);
      },
      serve: (page, want, requester, epoch, ownerEpoch) => {
        this.#counters.received.serve++;
        return this.#serve(page, want, requester, epoch, ownerEpoch);
      },
      invalidate: (page, copyEpoch, epoch) => {
        this.#counters.received.invalidate++;
        return this.#invalidate(page, copyEpoch, epoch);
      },
      ping: () => {
        this.#counters.received.ping++;
        return this.id;
      },
    };
  }

  /** The fixed distributed manager of `page`. */
  managerOf(page: number): number {
    return managerOf(this.nodes, page);
  }

  isDead(node: number): boolean {
    return this.#detector.isDead(node);
  }

  get deadNodes(): number[] {
    return this.#detector.deadNodes;
  }

  /** Declares a peer dead (e.g. the transport reported it unreachable outside a protocol call). */
  declareDead(node: number, reason: string): void {
    this.#detector.declareDead(node, reason);
  }

  /** True when this node currently owns `page`. */
  owns(page: number): boolean {
    return this.#ownedState(page) !== null;
  }

  get stats(): IvyStats {
    return this.#counters.snapshot();
  }

  /** Stops the heartbeat; later faults fail with DSM_ERR_CLOSED. Peers are not told. */
  close(): void {
    this.#closed = true;
    this.#detector.stop();
    this.#epochs.cancelAll();
  }

  // ---- Requester side ----

  async fault(page: number, access: Access): Promise<void> {
    if (!Number.isInteger(page) || page < 1 || page >= this.#local.pageCount) {
      throw new DsmError('DSM_ERR_BAD_ADDRESS', `page ${page} is outside 1..${this.#local.pageCount - 1}`, { page });
    }
    if (access !== 'read' && access !== 'write') throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `access must be 'read' or 'write'`);
    for (;;) {
      if (satisfies(this.#local.rights(page), access)) return;
      const cur = this.#inflight.get(page);
      if (cur !== undefined) {
        // One fault per page at a time on this node; a write behind a read waits, then upgrades.
        if (!(await cur.done)) return;
        continue;
      }
      const done = this.#resolveFault(page, access);
      const entry = { access, done };
      this.#inflight.set(page, entry);
      try {
        if (!(await done)) return;
      } finally {
        if (this.#inflight.get(page) === entry) this.#inflight.delete(page);
      }
    }
  }

  /** Resolves true when the page was installed, false when it was failed. */
  async #resolveFault(page: number, access: Access): Promise<boolean> {
    const { timers, faultTimeoutMs } = this.#opts;
    const start = timers.now();
    if (access === 'read') this.#counters.c.readFaults++;
    else this.#counters.c.writeFaults++;
    try {
      await this.#obtain(page, access, start + faultTimeoutMs);
      return true;
    } catch (e) {
      const failure: PageFailure = e instanceof FaultFailed
        ? e.failure
        : { code: 'DSM_ERR_FAULT_TIMEOUT', message: `page ${page}: ${access} fault failed: ${(e as Error)?.message ?? String(e)}` };
      this.#counters.c.failedFaults++;
      this.#local.fail(page, failure);
      return false;
    } finally {
      this.#counters.latency(timers.now() - start);
    }
  }

  async #obtain(page: number, access: Access, deadline: number): Promise<void> {
    const manager = this.managerOf(page);
    const want = access === 'read' ? Want.Read : Want.Write;
    for (;;) {
      if (this.#closed) throw new FaultFailed({ code: 'DSM_ERR_CLOSED', message: `page ${page}: the DSM node is closed` });
      if (this.#detector.isDead(manager)) {
        if (await this.#upgradeOrphan(page, access)) return;
        throw managerDead(page, manager);
      }
      const left = deadline - this.#opts.timers.now();
      if (left <= 0) throw new FaultFailed({ code: 'DSM_ERR_FAULT_TIMEOUT', message: `page ${page}: ${access} fault not resolved within ${this.#opts.faultTimeoutMs} ms` });
      let grant: Grant;
      if (manager === this.id) {
        grant = await this.#acquire(page, want, this.id);
      } else {
        try {
          grant = await this.#client(manager, 'acquire').acquire(page, want, this.id, { timeoutMs: left });
        } catch (e) {
          if (isRpcError(e, 'RPC_ERR_UNREACHABLE')) {
            this.#detector.callFailed(manager, e);
            if (await this.#upgradeOrphan(page, access)) return;
            throw managerDead(page, manager);
          }
          if (isRpcError(e, 'RPC_ERR_DEADLINE')) {
            throw new FaultFailed({ code: 'DSM_ERR_FAULT_TIMEOUT', message: `page ${page}: its manager, node ${manager}, did not answer within ${this.#opts.faultTimeoutMs} ms`, node: manager });
          }
          throw e;
        }
      }
      if (this.#closed) throw new FaultFailed({ code: 'DSM_ERR_CLOSED', message: `page ${page}: the DSM node is closed` });
      if (grant.outcome === Outcome.PageLost) throw pageLost(page, grant.node);
      if (grant.outcome === Outcome.Busy) {
        // Back off a little (bounded by the deadline) so a broken page does not spin.
        this.#counters.c.busyRetries++;
        await this.#sleep(Math.min(BUSY_BACKOFF_MS, Math.max(0, deadline - this.#opts.timers.now())));
        continue;
      }
      if (access === 'read' && this.#epochs.isStaleRead(page, grant.epoch)) {
        // Its invalidation overtook it: the grant is processed (so the invalidation stops
        // waiting for it) but not installed, and the fault starts over.
        this.#counters.c.staleGrants++;
        this.#epochs.setInstalled(page, grant.epoch);
        continue;
      }
      const data = grant.data ?? null;
      if (data === null) {
        // The manager says this node is the owner: it keeps its contents. On a write (an owner
        // upgrading its read copy) it invalidates its copy set itself, as in the paper; the
        // manager already forwards later requests, which wait until this grant is installed.
        const owned = this.#ownedState(page);
        if (owned === null || this.#local.rights(page) === 'none') {
          this.#epochs.setInstalled(page, grant.epoch);
          throw new FaultFailed({ code: 'DSM_ERR_FAULT_TIMEOUT', message: `page ${page}: manager ${manager} says node ${this.id} owns it, but it holds no copy` });
        }
        if (access === 'write') await this.#invalidateCopyset(page, owned, this.id, grant.epoch);
      } else if (access === 'write') {
        this.#owned.set(page, { copyset: new Map() });
      }
      this.#local.install(page, data, access);
      this.#epochs.setInstalled(page, grant.epoch);
      return;
    }
  }

  /**
   * A write fault of the OWNER on its own read copy while the page's manager is dead: the owner
   * still knows everything the write needs (it holds the contents and the copy set), and with the
   * manager dead nobody else can reach the page any more (their faults fail MANAGER_DEAD), so it
   * invalidates its copy set and upgrades in place, as it would after the manager's grant. Without
   * this, memory a survivor allocated in its own pages would become read-only the moment the
   * manager of that page died. #serve refuses forwards from a manager declared dead, so no serve
   * can interleave with this upgrade (fail-stop assumption, as everywhere in failure handling).
   * Returns false when this node is not the owner (the fault then fails MANAGER_DEAD).
   */
  async #upgradeOrphan(page: number, access: Access): Promise<boolean> {
    if (access !== 'write' || this.#local.rights(page) !== 'read') return false;
    const owned = this.#ownedState(page);
    if (owned === null) return false;
    await this.#invalidateCopyset(page, owned, this.id, this.#epochs.installed(page));
    if (this.#closed) throw new FaultFailed({ code: 'DSM_ERR_CLOSED', message: `page ${page}: the DSM node is closed` });
    if (this.#ownedState(page) !== owned || this.#local.rights(page) !== 'read') return false;
    this.#local.install(page, null, 'write');
    return true;
  }

  // ---- Manager side ----

  #acquire(page: number, want: Want, requester: number): Promise<Grant> {
    this.#checkPage(page);
    const enqueued = this.#opts.timers.now();
    return this.#queue.run(page, async (): Promise<Grant> => {
      if (this.#opts.timers.now() - enqueued > this.#opts.queueWaitMs) return { outcome: Outcome.Busy, epoch: 0 };
      const rec = this.#managedState(page);
      const owner = rec.owner;
      if (this.#detector.isDead(owner)) return { outcome: Outcome.PageLost, epoch: 0, node: owner };
      const epoch = ++rec.epoch;
      if (owner === requester) {
        // The owner faults on its own page (a write on its read copy): no forward, no data.
        if (want === Want.Write) rec.ownerEpoch = epoch;
        return { outcome: Outcome.Granted, epoch };
      }
      let handoff: Handoff;
      if (owner === this.id) {
        handoff = await this.#serve(page, want, requester, epoch, rec.ownerEpoch);
      } else {
        try {
          handoff = await this.#client(owner, 'serve').serve(page, want, requester, epoch, rec.ownerEpoch, { timeoutMs: this.#opts.serveTimeoutMs });
        } catch (e) {
          if (this.#detector.callFailed(owner, e)) return { outcome: Outcome.PageLost, epoch: 0, node: owner };
          return { outcome: Outcome.Busy, epoch: 0 };
        }
      }
      if (want === Want.Write) {
        rec.owner = requester;
        rec.ownerEpoch = epoch;
      }
      const grant: Grant = { outcome: Outcome.Granted, epoch };
      if (handoff.data !== undefined && handoff.data !== null) grant.data = handoff.data;
      return grant;
    });
  }

  #managedState(page: number): Managed {
    let rec = this.#managed.get(page);
    if (rec === undefined) {
      rec = { owner: this.#initialOwner(page), ownerEpoch: 0, epoch: 0 };
      this.#managed.set(page, rec);
    }
    return rec;
  }

  // ---- Owner side ----

  async #serve(page: number, want: Want, requester: number, epoch: number, ownerEpoch: number): Promise<Handoff> {
    this.#checkPage(page);
    const manager = this.managerOf(page);
    if (manager !== this.id && this.#detector.isDead(manager)) {
      // Only the manager forwards; one declared dead may have left the owner to upgrade alone
      // (#upgradeOrphan), so a late forward from it must not move the page.
      throw new DsmError('DSM_ERR_MANAGER_DEAD', `node ${this.id} ignores a forward for page ${page} from its manager, node ${manager}, declared dead`, { page, node: manager });
    }
    if (!(await this.#epochs.waitInstalled(page, ownerEpoch, this.#opts.installWaitMs))) {
      throw new DsmError('DSM_ERR_FAULT_TIMEOUT', `node ${this.id} has not installed page ${page} (grant ${ownerEpoch}) within ${this.#opts.installWaitMs} ms`, { page });
    }
    const owned = this.#ownedState(page);
    if (owned === null) throw new DsmError('DSM_ERR_PAGE_LOST', `node ${this.id} does not own page ${page}`, { page, node: this.id });
    if (want === Want.Read) {
      if (requester === this.id) return {};
      const data = await this.#local.downgrade(page);
      owned.copyset.set(requester, epoch);
      this.#counters.c.pagesSent++;
      return { data };
    }
    await this.#invalidateCopyset(page, owned, requester, epoch);
    if (requester === this.id) return {};
    const data = await this.#local.invalidate(page);
    this.#owned.set(page, null);
    this.#counters.c.pagesSent++;
    return { data };
  }

  /** Invalidates every copy holder except `requester`, all at once (Promise.all). */
  async #invalidateCopyset(page: number, owned: Owned, requester: number, epoch: number): Promise<void> {
    const holders = [...owned.copyset].filter(([n]) => n !== requester);
    await Promise.all(holders.map(([n, copyEpoch]) => this.#invalidateAt(n, page, copyEpoch, epoch)));
    owned.copyset.clear();
  }

  async #invalidateAt(node: number, page: number, copyEpoch: number, epoch: number): Promise<void> {
    if (this.#detector.isDead(node)) return;
    this.#counters.c.invalidationsSent++;
    try {
      await this.#client(node, 'invalidate').invalidate(page, copyEpoch, epoch, { timeoutMs: this.#opts.callTimeoutMs });
    } catch (e) {
      // A holder that cannot be reached, or does not answer in time, is declared dead (fail-stop):
      // it can no longer read the page, so the write may go ahead.
      if (!this.#detector.callFailed(node, e)) this.#detector.declareDead(node, `invalidation of page ${page} failed: ${(e as Error).message}`);
    }
  }

  #ownedState(page: number): Owned | null {
    let o = this.#owned.get(page);
    if (o === undefined) {
      o = this.#initialOwner(page) === this.id ? { copyset: new Map() } : null;
      this.#owned.set(page, o);
    }
    return o;
  }

  // ---- Copy holder side ----

  async #invalidate(page: number, copyEpoch: number, _epoch: number): Promise<void> {
    this.#checkPage(page);
    this.#counters.c.invalidationsReceived++;
    this.#epochs.noteInvalidated(page, copyEpoch);
    await this.#epochs.waitInstalled(page, copyEpoch, this.#opts.installWaitMs);
    // Drop only the copy this invalidation is about (a later grant would not be revoked by it);
    // if that grant never arrived, noteInvalidated makes sure it is discarded when it does.
    if (this.#epochs.installed(page) !== copyEpoch || this.owns(page)) return;
    if (this.#local.rights(page) !== 'none') await this.#local.invalidate(page);
  }

  // ---- Helpers ----

  #client(node: number, proc: IvyProcedure): IvyClient {
    this.#counters.sent[proc]++;
    let c = this.#clients.get(node);
    if (c === undefined) {
      c = this.#peer(node);
      this.#clients.set(node, c);
    }
    return c;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#opts.timers.setTimeout(resolve, ms));
  }

  #checkPage(page: number): void {
    if (page < 1 || page >= this.#local.pageCount) {
      throw new DsmError('DSM_ERR_BAD_ADDRESS', `page ${page} is outside 1..${this.#local.pageCount - 1}`, { page });
    }
  }
}

function satisfies(rights: Access | 'none', access: Access): boolean {
  return rights === 'write' || (rights === 'read' && access === 'read');
}

function managerDead(page: number, manager: number): FaultFailed {
  return new FaultFailed({
    code: 'DSM_ERR_MANAGER_DEAD',
    message: `page ${page}: its manager, node ${manager}, is dead, so nobody can say who holds it`,
    node: manager,
  });
}

function pageLost(page: number, node: number | undefined): FaultFailed {
  const who = node === undefined ? 'a dead node' : `node ${node}, which is dead`;
  return new FaultFailed({
    code: 'DSM_ERR_PAGE_LOST',
    message: `page ${page}: its only valid copy was on ${who}`,
    ...(node === undefined ? {} : { node }),
  });
}
