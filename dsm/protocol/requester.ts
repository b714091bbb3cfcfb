/**
 * The requester role of Ivy on one node: resolve a page fault (PageFaultHandler.fault) by asking
 * the page's manager, installing the grant, and confirming a write grant to the manager.
 *
 * A fault ends, within faultTimeoutMs, in exactly one of: the page installed; or LocalPages.fail
 * with a typed failure that says what happened:
 * - DSM_ERR_PAGE_LOST / DSM_ERR_MANAGER_DEAD: a majority declared the holder / the manager dead;
 * - DSM_ERR_EVICTED: this node itself was declared dead (fenced);
 * - DSM_ERR_NO_QUORUM: a node the fault needs is suspected but no majority could be found to
 *   declare it dead (a minority side, or a two-node cluster after a death);
 * - DSM_ERR_FAULT_TIMEOUT: a node it needs is not up yet, slow, or suspected without a verdict yet;
 * - DSM_ERR_CLUSTER_MISMATCH: the manager runs another configuration;
 * - DSM_ERR_UNAUTHENTICATED: the manager refused this node (not the same cluster key);
 * - DSM_ERR_INTERNAL: a bug or a protocol violation (never reported as a lost page).
 * Each message carries the lower-level cause (the RPC error's message, the manager's reason).
 */
import type { Access, PageFailure } from '../contract.js';
import { Outcome, Want, type Grant } from './ivy.stubs.js';
import type { Manager } from './manager.js';
import type { RoleContext } from './role.js';
import type { Owner } from './owner.js';
import { traceNode, type TraceNode } from '../../trace/node.js';
import { describeFailure, messageOf, type Result } from './peers.js';

/** Pause before retrying a request the manager answered Busy. */
const BUSY_BACKOFF_MS = 20;

export class FaultFailed {
  constructor(readonly failure: PageFailure) {}
}

export interface RequesterInit extends RoleContext {
  readonly faultTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly owner: Owner;
  readonly manager: Manager;
  readonly managerOf: (page: number) => number;
  readonly closed: () => boolean;
}

export class Requester {
  readonly #i: RequesterInit;
  readonly #inflight = new Map<number, { readonly access: Access; readonly done: Promise<boolean> }>();
  readonly #tn: TraceNode;

  constructor(init: RequesterInit) {
    this.#i = init;
    this.#tn = traceNode(String(init.id));
  }

  /** True while a fault on `page` is being resolved. */
  faulting(page: number): boolean {
    return this.#inflight.has(page);
  }

  async fault(page: number, access: Access): Promise<void> {
    const { local } = this.#i;
    for (;;) {
      if (satisfies(local.rights(page), access)) return;
      const cur = this.#inflight.get(page);
      if (cur !== undefined) {
        // One fault per page at a time on this node; a write behind a read waits, then upgrades.
        if (!(await cur.done)) return;
        continue;
      }
      const done = this.#resolve(page, access);
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
  async #resolve(page: number, access: Access): Promise<boolean> {
    const { timers, faultTimeoutMs, counters, local } = this.#i;
    const start = timers.now();
    if (access === 'read') counters.c.readFaults++;
    else counters.c.writeFaults++;
    try {
      await this.#obtain(page, access, start + faultTimeoutMs);
      return true;
    } catch (e) {
      const failure: PageFailure = e instanceof FaultFailed
        ? e.failure
        : { code: 'DSM_ERR_INTERNAL', message: `page ${page}: ${access} fault failed on a bug: ${messageOf(e)}` };
      counters.c.failedFaults++;
      local.fail(page, failure);
      return false;
    } finally {
      counters.latency(timers.now() - start);
    }
  }

  async #obtain(page: number, access: Access, deadline: number): Promise<void> {
    const { id, timers, membership, peers, epochs, counters } = this.#i;
    const manager = this.#i.managerOf(page);
    const want = access === 'read' ? Want.Read : Want.Write;
    let cause: string | undefined;
    let blocker: number | undefined;
    for (;;) {
      this.#checkAlive(page);
      if (membership.isDead(manager)) {
        if (await this.#upgradeOrphan(page, access, deadline)) return;
        throw managerDead(page, manager);
      }
      const mismatch = membership.mismatch(manager);
      if (mismatch !== undefined) {
        throw new FaultFailed({ code: 'DSM_ERR_CLUSTER_MISMATCH', message: `page ${page}: its manager, ${mismatch}`, node: manager });
      }
      const left = deadline - timers.now();
      if (left <= 0) throw this.#timedOut(page, access, cause, blocker);
      const have = epochs.installed(page);
      if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'request', page, access, peer: String(manager), label: `${access} request for p${page} to its manager, node ${manager}` });
      const r: Result<Grant> = manager === id
        ? await peers.local(() => this.#i.manager.acquire(page, want, id, have))
        : await peers.call(manager, 'acquire', left, (c, o) => c.acquire(this.#i.view(), page, want, have, o));
      this.#checkAlive(page);
      if (!r.ok) {
        switch (r.kind) {
          case 'dead':
            continue; // the top of the loop reports it
          case 'evicted':
            throw evicted(page, r.node, r.message);
          case 'mismatch':
            continue;
          case 'refused':
            throw new FaultFailed({ code: 'DSM_ERR_UNAUTHENTICATED', message: `page ${page}: ${access} fault: its manager, ${describeFailure(r)}`, node: manager });
          case 'silent':
            cause = `its manager, ${describeFailure(r)}`;
            blocker = manager;
            // Not up yet: look again in a heartbeat (or as soon as it is heard from, or known dead).
            // Suspected: wait for the verdict.
            await membership.verdict(manager, r.notUp ? Math.min(deadline, timers.now() + this.#i.heartbeatIntervalMs) : deadline);
            continue;
          case 'error':
            counters.c.protocolErrors++;
            throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: ${access} fault: its manager, ${describeFailure(r)}`, node: manager });
        }
      }
      const g = r.value;
      if (g.outcome === Outcome.PageLost) throw pageLost(page, g.node);
      if (g.outcome === Outcome.Busy) {
        counters.c.busyRetries++;
        cause = `manager ${manager}: ${g.why ?? 'busy'}`;
        blocker = g.node ?? blocker;
        await this.#sleep(Math.min(BUSY_BACKOFF_MS, Math.max(0, deadline - timers.now())));
        continue;
      }
      if (epochs.isStale(page, g.epoch)) {
        // Something newer about this page arrived first (its invalidation overtook a read grant,
        // or this node already told the manager it never got it): discard, ask again.
        counters.c.staleGrants++;
        continue;
      }
      const installed = await this.#install(page, access, g, deadline);
      if (installed === 'stale') {
        counters.c.staleGrants++;
        continue;
      }
      if (installed === true) {
        if (access === 'write' && g.data !== undefined) {
          // Li & Hudak's confirmation, piggybacked on the next heartbeat to the manager.
          if (manager === id) this.#i.manager.installed(id, page, g.epoch);
          else membership.queueInstalled(manager, page, g.epoch);
        }
        return;
      }
      cause = installed.why;
      blocker = installed.node;
    }
  }

  /**
   * Installs a grant. An upgrade (no data: this node owns the page and keeps its contents) runs
   * behind the owner's page lock, so no serve interleaves; it says why when it could not
   * invalidate every copy (nothing changed), or that the grant went stale while it waited.
   */
  async #install(page: number, access: Access, g: Grant, deadline: number): Promise<true | 'stale' | { why: string; node: number }> {
    const { id, local, epochs, owner, counters } = this.#i;
    const data = g.data;
    if (data !== undefined) {
      if (data.length !== local.pageSize) {
        counters.c.protocolErrors++;
        throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: the grant carries ${data.length} bytes, a page has ${local.pageSize}`, node: this.#i.managerOf(page) });
      }
      if (access === 'write') owner.becomeOwner(page);
      local.install(page, data, access);
      epochs.setInstalled(page, g.epoch);
      return true;
    }
    return owner.exclusive(page, async () => {
      // A serve may have run meanwhile: the grant is stale then, and the fault asks again.
      if (epochs.isStale(page, g.epoch)) return 'stale';
      const owned = owner.state(page);
      if (owned === null || local.rights(page) === 'none') {
        counters.c.protocolErrors++;
        throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: manager ${this.#i.managerOf(page)} says node ${id} owns it, but it holds no copy` });
      }
      epochs.see(page, g.epoch);
      if (access === 'write') {
        // The owner upgrading its read copy invalidates its copy set itself, as in the paper.
        const inv = await owner.invalidateCopyset(page, owned, id, deadline);
        this.#checkAlive(page);
        if (!inv.ok) {
          if (inv.evicted) throw evicted(page, inv.node, inv.why);
          return { why: inv.why, node: inv.node };
        }
        local.install(page, null, 'write');
      }
      epochs.setInstalled(page, g.epoch);
      return true;
    });
  }

  /**
   * A write fault of the OWNER on its own read copy while the page's manager is dead: the owner
   * still knows everything the write needs (the contents and the copy set), and with the manager
   * dead nobody else can reach the page any more (their faults fail MANAGER_DEAD), so it
   * invalidates its copy set and upgrades in place. Every node refuses requests of a node declared
   * dead, so no forward of the dead manager can interleave. Returns false when this node is not
   * the owner (the fault then fails MANAGER_DEAD).
   */
  #upgradeOrphan(page: number, access: Access, deadline: number): Promise<boolean> {
    const { id, local, owner } = this.#i;
    return owner.exclusive(page, async () => {
      if (access !== 'write' || local.rights(page) !== 'read') return false;
      const owned = owner.state(page);
      if (owned === null) return false;
      const inv = await owner.invalidateCopyset(page, owned, id, deadline);
      this.#checkAlive(page);
      if (!inv.ok) {
        if (inv.evicted) throw evicted(page, inv.node, inv.why);
        throw new FaultFailed({ code: 'DSM_ERR_FAULT_TIMEOUT', message: `page ${page}: write fault: ${inv.why}`, node: inv.node });
      }
      if (owner.state(page) !== owned || local.rights(page) !== 'read') return false;
      local.install(page, null, 'write');
      return true;
    });
  }

  #checkAlive(page: number): void {
    const e = this.#i.membership.evicted;
    if (e !== undefined) throw evicted(page, e.by, e.reason);
    if (this.#i.closed()) throw new FaultFailed({ code: 'DSM_ERR_CLOSED', message: `page ${page}: the DSM node is closed` });
  }

  #timedOut(page: number, access: Access, cause: string | undefined, blocker: number | undefined): FaultFailed {
    const { membership, faultTimeoutMs } = this.#i;
    const within = `${access} fault not resolved within ${faultTimeoutMs} ms`;
    if (blocker !== undefined && membership.status(blocker) === 'suspected' && membership.lastRefusal(blocker) !== undefined) {
      return new FaultFailed({
        code: 'DSM_ERR_NO_QUORUM',
        message: `page ${page}: ${within}: node ${blocker} is suspected but cannot be declared dead: ${membership.lastRefusal(blocker)}`,
        node: blocker,
      });
    }
    const f: PageFailure = { code: 'DSM_ERR_FAULT_TIMEOUT', message: `page ${page}: ${within}${cause === undefined ? '' : `: ${cause}`}` };
    return new FaultFailed(blocker === undefined ? f : { ...f, node: blocker });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#i.timers.setTimeout(resolve, ms));
  }
}

export function satisfies(rights: Access | 'none', access: Access): boolean {
  return rights === 'write' || (rights === 'read' && access === 'read');
}

function managerDead(page: number, manager: number): FaultFailed {
  return new FaultFailed({
    code: 'DSM_ERR_MANAGER_DEAD',
    message: `page ${page}: its manager, node ${manager}, was declared dead, so nobody can say who holds it`,
    node: manager,
  });
}

function pageLost(page: number, node: number | undefined): FaultFailed {
  const who = node === undefined ? 'a dead node' : `node ${node}, which was declared dead`;
  return new FaultFailed({
    code: 'DSM_ERR_PAGE_LOST',
    message: `page ${page}: its only valid copy was on ${who}`,
    ...(node === undefined ? {} : { node }),
  });
}

export function evicted(page: number | undefined, by: number, reason: string): FaultFailed {
  return new FaultFailed({
    code: 'DSM_ERR_EVICTED',
    message: `${page === undefined ? '' : `page ${page}: `}this node was declared dead by a majority and is fenced (refused by node ${by}): ${reason}`,
    node: by,
  });
}

