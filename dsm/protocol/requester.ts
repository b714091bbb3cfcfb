/**
 * The requester role of Ivy on one node: resolve a page fault (PageFaultHandler.fault) by finding
 * the page's owner, installing its grant, and confirming a write grant.
 *
 * ## Finding the owner
 * The request goes to the page's probable owner (hints.ts: Li & Hudak's probOwner). A node that
 * does not own the page answers Redirect, naming where it believes the page is. Then, by mode:
 * - fixed:   after a wrong hint, ask the page's manager (its directory, manager.ts), then follow
 *            its answer (the record can lag a heartbeat behind a move: the previous owner then
 *            redirects once more);
 * - dynamic: follow the redirects: Li & Hudak's probable-owner chain, walked by the requester
 *            (each hop is an RPC round trip: a request/reply protocol cannot forward a request
 *            and have the owner answer someone else). Chains are compressed as used: the
 *            requester's own hint jumps to the owner it found, a node that redirects a write
 *            points at the writer, a copy holder's invalidation names the new owner, and an owner
 *            that hands a page over points at its new owner.
 * A walk that comes back to a node it asked already (a cycle of stale hints: the directory lags a
 * heartbeat behind a move, a node that redirected a write guessed its writer would own the page)
 * asks everyone (a locate, below).
 *
 * ## When the way to the owner runs into a dead node (the chapter's question)
 * A node declared dead cannot be asked, and it may have been the owner or merely a stale pointer.
 * - fixed: a dead hint sends the requester to the manager; a dead manager fails the fault
 *   DSM_ERR_MANAGER_DEAD (the directory died with it); a directory entry naming a dead node makes
 *   the requester ask every live node, as below;
 * - dynamic, and the fixed case above: LOCATE, a broadcast to every live node (waiting for a
 *   silent one's verdict, as an invalidation does). The question carries the news of the death,
 *   so no node that answers can install anything from the dead node afterwards: the answers are
 *   final. Some node owns the page: go there. A node handed it to the dead node without a
 *   confirmation, or knows it lost: DSM_ERR_PAGE_LOST naming the dead node. Nobody holds it: it
 *   was lost with the node the newest fact names (a dead node, or the answers contradict each
 *   other and the fault retries until its deadline).
 *
 * A fault ends, within faultTimeoutMs, in exactly one of: the page installed; or LocalPages.fail
 * with a typed failure that says what happened:
 * - DSM_ERR_PAGE_LOST / DSM_ERR_MANAGER_DEAD: a majority declared the holder / the manager dead;
 * - DSM_ERR_EVICTED: this node itself was declared dead (fenced);
 * - DSM_ERR_NO_QUORUM: a node the fault needs is suspected but no majority could be found to
 *   declare it dead (a minority side, or a two-node cluster after a death);
 * - DSM_ERR_FAULT_TIMEOUT: a node it needs is not up yet, slow, or suspected without a verdict yet;
 * - DSM_ERR_CLUSTER_MISMATCH: the node it asked runs another configuration;
 * - DSM_ERR_UNAUTHENTICATED: the node it asked refused this node (not the same cluster key);
 * - DSM_ERR_INTERNAL: a bug or a protocol violation (never reported as a lost page).
 * Each message carries the lower-level cause (the RPC error's message, the owner's reason).
 */
import type { Access, PageFailure } from '../contract.js';
import { Holding, Outcome, Want, type Claim, type Grant, type Where } from './ivy.stubs.js';
import type { OwnerHints } from './hints.js';
import type { RoleContext } from './role.js';
import type { Owner } from './owner.js';
import { traceNode, type TraceNode } from '../../trace/node.js';
import { describeFailure, messageOf, type Result } from './peers.js';

/** Pause before retrying a request answered Busy (or a locate that could not decide). */
const BUSY_BACKOFF_MS = 20;

export type ManagerMode = 'fixed' | 'dynamic';

export class FaultFailed {
  constructor(readonly failure: PageFailure) {}
}

export interface RequesterInit extends RoleContext {
  readonly faultTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly mode: ManagerMode;
  readonly nodes: readonly number[];
  readonly owner: Owner;
  readonly hints: OwnerHints;
  readonly managerOf: (page: number) => number;
  readonly closed: () => boolean;
}

/**
 * What a locate found: the node to ask next (`expect` and `by` set when a previous owner, `by`,
 * handed the page to `node` under that transfer, unconfirmed: the walk goes to `node` naming it,
 * and brings a NotInstalled answer back to `by`), the dead node the page is lost with, or nothing
 * decided yet.
 */
type Located =
  | { readonly kind: 'owner'; readonly node: number; readonly expect?: number; readonly by?: number }
  | { readonly kind: 'lost'; readonly node: number }
  | { readonly kind: 'busy'; readonly why: string; readonly node?: number };

export class Requester {
  readonly #i: RequesterInit;
  readonly #inflight = new Map<number, { readonly access: Access; readonly done: Promise<boolean> }>();
  /** Per page, the node whose answer to this node's request is awaited now. */
  readonly #asking = new Map<number, number>();
  /** Longest walk along redirects before asking everyone. */
  readonly #maxHops: number;
  readonly #tn: TraceNode;

  constructor(init: RequesterInit) {
    this.#i = init;
    this.#maxHops = init.nodes.length + 1;
    this.#tn = traceNode(String(init.id));
  }

  /** True while a fault on `page` is being resolved. */
  faulting(page: number): boolean {
    return this.#inflight.has(page);
  }

  /** The node whose answer to this node's request for `page` is awaited now (the only node whose grant can still arrive). */
  asking(page: number): number | undefined {
    return this.#asking.get(page);
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
    const { id, timers, membership, peers, epochs, counters, hints, owner, local, mode } = this.#i;
    const manager = this.#i.managerOf(page);
    const want = access === 'read' ? Want.Read : Want.Write;
    let target = hints.route(page);
    /** The walk started from a guess (Li & Hudak's compression): if it leads nowhere, the fact comes next. */
    let guessed = hints.guessed(page);
    /** Fixed: the manager's directory was consulted in this walk. */
    let askedManager = false;
    /** Nodes this walk asked since it last started over: seeing one again is a cycle of stale hints. */
    const visited = new Set<number>();
    /** The unconfirmed transfer a previous owner redirected this walk under, and that previous owner. */
    let expect = 0;
    let handedBy: number | undefined;
    /** A NotInstalled answer to bring back to `handedBy`. */
    let claim: Claim | undefined;
    /** Fixed: a previous owner's pointer (with its transfer) the walk set aside to ask the directory. */
    let pending: { node: number; epoch: number; by: number } | undefined;
    let cause: string | undefined;
    let blocker: number | undefined;
    /** Grants this walk discarded as stale. */
    let staleGrants = 0;
    const lost = owner.lostWith(page);
    if (lost !== undefined) throw pageLost(page, lost);
    for (;;) {
      this.#checkAlive(page);
      const left = deadline - timers.now();
      if (left <= 0) throw this.#timedOut(page, access, cause, blocker);
      if (guessed && target !== id && membership.isDead(target)) {
        guessed = false;
        hints.unguess(page);
        target = hints.route(page);
        continue;
      }
      if (target !== id && membership.isDead(target)) {
        // The way to the owner runs into a dead node.
        if (mode === 'fixed' && target !== manager && !askedManager) {
          target = manager;
          askedManager = true;
          continue;
        }
        if (mode === 'fixed' && target === manager) throw managerDead(page, manager);
        const found = await this.#locateOrLose(page, deadline);
        if (found.kind === 'busy') {
          cause = found.why;
          blocker = found.node ?? blocker;
          continue;
        }
        [target, expect, handedBy] = [found.node, found.expect ?? 0, found.by ?? handedBy];
        visited.clear();
        continue;
      }
      if (claim === undefined) visited.add(target); // (going back to a previous owner with a claim is no cycle)
      const mismatch = membership.mismatch(target);
      if (mismatch !== undefined) {
        throw new FaultFailed({ code: 'DSM_ERR_CLUSTER_MISMATCH', message: `page ${page}: ${role(target, manager, askedManager)}, ${mismatch}`, node: target });
      }
      const have = epochs.installed(page);
      const holding = local.rights(page) === 'read';
      const [ex, cl] = [expect, claim];
      expect = 0;
      claim = undefined;
      if (this.#tn.dsm.on) {
        const to = target === manager && askedManager ? `its manager, node ${target}` : target === id ? 'its own owner role' : `node ${target}`;
        this.#tn.dsm.emit({ type: 'request', page, access, peer: String(target), label: `${access} request for p${page} to ${to}` });
      }
      const to = target;
      this.#asking.set(page, to);
      let r: Result<Grant>;
      try {
        r = to === id
          ? await peers.local(() => owner.request(page, want, id, have, holding, ex, cl))
          : await peers.call(to, 'request', left, (c, o) => c.request(this.#i.view(), page, want, have, holding, ex, cl, o));
      } finally {
        this.#asking.delete(page);
      }
      this.#checkAlive(page);
      if (!r.ok) {
        switch (r.kind) {
          case 'dead':
          case 'mismatch':
            continue; // the top of the loop reports it
          case 'evicted':
            throw evicted(page, r.node, r.message);
          case 'refused':
            throw new FaultFailed({ code: 'DSM_ERR_UNAUTHENTICATED', message: `page ${page}: ${access} fault: ${role(target, manager, askedManager)}, ${describeFailure(r)}`, node: target });
          case 'silent':
            cause = `${role(target, manager, askedManager)}, ${describeFailure(r)}`;
            blocker = target;
            [expect, claim] = [ex, cl]; // the same request again, once the node is heard from
            // Not up yet: look again in a heartbeat (or as soon as it is heard from, or known dead).
            // Suspected: wait for the verdict.
            await membership.verdict(target, r.notUp ? Math.min(deadline, timers.now() + this.#i.heartbeatIntervalMs) : deadline);
            continue;
          case 'error':
            counters.c.protocolErrors++;
            throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: ${access} fault: ${role(target, manager, askedManager)}, ${describeFailure(r)}`, node: target });
        }
      }
      const g = r.value;
      switch (g.outcome) {
        case Outcome.PageLost:
          // Only a node a majority declared dead takes a page with it, and the answer's view (merged
          // before this) carries that death: anything else is a false loss, never recorded here.
          if (g.node === undefined || !membership.isDead(g.node)) {
            counters.c.protocolErrors++;
            throw new FaultFailed({
              code: 'DSM_ERR_INTERNAL',
              message: `page ${page}: node ${target} answered that the page is lost with ${g.node === undefined ? 'no node' : `node ${g.node}, which is not declared dead`}`,
              node: target,
            });
          }
          owner.markLost(page, g.node);
          throw pageLost(page, g.node);
        case Outcome.Busy:
          counters.c.busyRetries++;
          [expect, claim] = [ex, cl];
          cause = `node ${target}: ${g.why ?? 'busy'}`;
          blocker = g.node ?? blocker;
          await this.#backOff(deadline);
          continue;
        case Outcome.Redirect: {
          const next = g.node;
          if (next === undefined || !membership.isMember(next)) {
            counters.c.protocolErrors++;
            throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: node ${target} redirected the fault to ${next === undefined ? 'nobody' : `node ${next}, not a member`}`, node: target });
          }
          counters.c.redirects++; // (the route is not changed: only what a node sees happen is a fact, hints.ts)
          if (guessed) {
            // The guess was wrong: go where this node itself saw the page go, unless the node
            // guessed is a previous owner that names the transfer it handed the page over under
            // (first hand, and newer than anything this node saw: follow it, below).
            guessed = false;
            hints.unguess(page);
            const fact = hints.route(page);
            if (g.epoch === 0 && fact !== target && !visited.has(fact)) {
              target = fact;
              continue;
            }
          }
          if (mode === 'fixed' && !askedManager && target !== manager) {
            // Li & Hudak's fixed manager: the hint was wrong, ask the directory (kept current by
            // the owners' owns calls). A previous owner's pointer is kept in case the directory
            // turns out to know less.
            if (g.epoch > 0) pending = { node: next, epoch: g.epoch, by: target };
            target = manager;
            askedManager = true;
            continue;
          }
          if (g.epoch > 0) {
            // A previous owner that handed the page over and has no confirmation yet: it names the
            // one node that can have it, first hand. Ask it, saying so.
            expect = g.epoch;
            handedBy = target;
            target = next;
            continue;
          }
          if (pending !== undefined && visited.has(next)) {
            // The directory sent the walk back where it had been: take the previous owner's pointer.
            [target, expect, handedBy] = [pending.node, pending.epoch, pending.by];
            pending = undefined;
            continue;
          }
          if (visited.has(next) || visited.size > this.#maxHops) {
            // A cycle of stale hints (the directory lags a heartbeat behind a move; a node that
            // redirected a write guessed its writer would own the page): ask everyone.
            hints.unguess(page);
            const found = await this.#locateOrLose(page, deadline);
            visited.clear();
            if (found.kind === 'busy') {
              cause = found.why;
              blocker = found.node ?? blocker;
              target = hints.route(page);
              continue;
            }
            [target, expect, handedBy] = [found.node, found.expect ?? 0, found.by ?? handedBy];
            continue;
          }
          target = next;
          continue;
        }
        case Outcome.NotInstalled: {
          // The node a previous owner handed the page to never installed it, and promised never to.
          if (handedBy === undefined || g.node !== target) {
            counters.c.protocolErrors++;
            throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: node ${target} answered NotInstalled to a request that named no transfer`, node: target });
          }
          claim = { node: target, epoch: g.epoch };
          target = handedBy;
          handedBy = undefined;
          continue;
        }
        case Outcome.Granted: {
          if (target === id) return; // this node's own owner role did it (an upgrade in place, or nothing to do)
          if (epochs.isStale(page, g.epoch)) {
            // Something newer about this page arrived first (its invalidation overtook a read
            // grant, or the grant was refused here before): discard, ask again, at once the first
            // time, then after a pause (the grants keep arriving stale: not a copy per round trip).
            counters.c.staleGrants++;
            if (++staleGrants > 1) await this.#backOff(deadline);
            continue;
          }
          const installed = this.#install(page, access, g, target, have, holding);
          if (installed === true) return;
          if (installed === false) {
            counters.c.staleGrants++;
            continue;
          }
          // The store could not install it (app threads stayed inside an access): nothing was
          // recorded, so asking again, below the transfer, makes its owner take it back and serve anew.
          cause = `node ${target}'s grant could not be installed here: ${installed}`;
          await this.#backOff(deadline);
          continue;
        }
        default:
          counters.c.protocolErrors++;
          throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: node ${target} answered with an unknown outcome ${String(g.outcome)}`, node: target });
      }
    }
  }

  /**
   * Installs a grant from `from`: true when installed, false when discarded as stale, or why the
   * local store refused it. A write grant without contents upgrades this node's read copy, which
   * must still be the one the request named; if it is not (a late invalidation took it), the grant
   * is discarded, and asking again below it makes the previous owner take the page back.
   *
   * The store installs first and only then does this node record anything (ownership, epochs, the
   * confirmation): PageStore.install throws when it cannot take a read copy away because app
   * threads stay inside an access (installSpinMs), and a node that took the ownership of a grant
   * it never installed would serve the page under an epoch below the transfer while its previous
   * owner, asked about that transfer, would hear NotInstalled and take the page back: two owners.
   * A refused grant is never installed later (seen), so the fault asks again below it.
   */
  #install(page: number, access: Access, g: Grant, from: number, have: number, holding: boolean): boolean | string {
    const { id, local, epochs, owner, counters, hints, membership, mode } = this.#i;
    const data = g.data;
    if (data !== undefined && data.length !== local.pageSize) {
      counters.c.protocolErrors++;
      throw new FaultFailed({ code: 'DSM_ERR_INTERNAL', message: `page ${page}: the grant carries ${data.length} bytes, a page has ${local.pageSize}`, node: from });
    }
    if (data === undefined) {
      if (access !== 'write' || !holding || local.rights(page) !== 'read' || epochs.installed(page) !== have) {
        epochs.see(page, g.epoch); // never install it later
        return false;
      }
    }
    try {
      local.install(page, data ?? null, access);
    } catch (e) {
      epochs.see(page, g.epoch); // never install it later
      return messageOf(e);
    }
    if (access === 'write') owner.becomeOwner(page, g.epoch);
    else hints.learn(page, from, g.epoch);
    epochs.setInstalled(page, g.epoch);
    if (access === 'write') {
      // Li & Hudak's confirmation, piggybacked on the next heartbeat: the previous owner may
      // forget what it kept (asked before it arrives, the previous owner checks: owner.ts).
      membership.queueInstalled(from, page, g.epoch);
      // Fixed mode: the manager's directory learns the new owner at once (off this fault's path),
      // so a fault whose hint is stale finds the owner in one more call; if this call fails, the
      // next heartbeat carries it. (The previous owner knows already: it handed the page over.)
      const manager = this.#i.managerOf(page);
      if (mode === 'fixed' && manager !== id && manager !== from) void this.#tellManager(manager, page, g.epoch);
    }
    return true;
  }

  async #tellManager(manager: number, page: number, epoch: number): Promise<void> {
    const { peers, membership, callTimeoutMs } = this.#i;
    const r = await peers.call(manager, 'owns', callTimeoutMs, (c, o) => c.owns(this.#i.view(), [{ page, epoch }], o));
    if (!r.ok) membership.queueOwns(manager, page, epoch);
  }

  /**
   * LOCATE: asks every node not declared dead what it holds of `page`. The question carries this
   * node's view, so each answerer knows of every death in `sent` before it answers, and from then
   * on acts on nothing from those nodes: a verdict "lost with D" is taken only for D in `sent`.
   */
  /** Wait BUSY_BACKOFF_MS before asking again, or until `deadline` if that comes first. */
  #backOff(deadline: number): Promise<void> {
    return this.#sleep(Math.min(BUSY_BACKOFF_MS, Math.max(0, deadline - this.#i.timers.now())));
  }

  /**
   * A locate whose verdict "lost" ends the fault (the page is marked lost with that node); a
   * "busy" one (no verdict yet) returns after the back-off, for the caller to try again.
   */
  async #locateOrLose(page: number, deadline: number): Promise<Exclude<Located, { kind: 'lost' }>> {
    const found = await this.#locate(page, deadline);
    if (found.kind === 'lost') {
      this.#i.owner.markLost(page, found.node);
      throw pageLost(page, found.node);
    }
    if (found.kind === 'busy') await this.#backOff(deadline);
    return found;
  }

  async #locate(page: number, deadline: number): Promise<Located> {
    const { id, membership, counters, owner, hints, nodes } = this.#i;
    counters.c.broadcasts++;
    const sent = new Set(membership.deadNodes);
    if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'locate', page, dead: [...sent].join(','), label: `locate p${page}: ask every live node (dead: ${[...sent].join(', ')})` });
    const others = nodes.filter((n) => n !== id && !sent.has(n));
    const results = await Promise.all(others.map((n) => this.#askWhere(n, page, deadline)));
    this.#checkAlive(page);
    const answers: { node: number; w: Where }[] = [{ node: id, w: owner.where(page) }];
    let unanswered: { node: number; why: string } | undefined;
    others.forEach((n, k) => {
      const r = results[k]!;
      if (r.kind === 'answer') {
        const wrong = this.#wrongWhere(r.where);
        if (wrong === undefined) answers.push({ node: n, w: r.where });
        else {
          // Counted and dropped: none of it is learned or decided on (the locate cannot decide
          // without it unless a node answers that it owns the page).
          counters.c.protocolErrors++;
          unanswered ??= { node: n, why: `node ${n} answered ${wrong}` };
        }
      } else if (r.kind === 'unanswered') unanswered ??= { node: n, why: r.why };
    });
    for (const { w } of answers) if (w.knownEpoch > 0) hints.learn(page, w.known, w.knownEpoch, w.knownVia);
    const ownerAnswer = answers.find((a) => a.w.holding === Holding.Owner);
    if (ownerAnswer !== undefined) return { kind: 'owner', node: ownerAnswer.node };
    const lost = (node: number, why: string): Located =>
      sent.has(node) ? { kind: 'lost', node } : { kind: 'busy', why: `locating page ${page}: ${why}; asking again with the news of its death`, node };
    for (const { node, w } of answers) {
      if (w.holding === Holding.Lost && w.node !== undefined) return { kind: 'lost', node: w.node };
      if (w.holding === Holding.Handed && w.node !== undefined) {
        if (membership.isDead(w.node)) return lost(w.node, `node ${node} handed it to node ${w.node}, declared dead`);
        // Ask the node it went to, naming the transfer (a NotInstalled answer goes back to `node`,
        // which then takes the page back). This node is that node: ask `node`, below the transfer.
        return w.node === id ? { kind: 'owner', node } : { kind: 'owner', node: w.node, expect: w.epoch, by: node };
      }
    }
    if (unanswered !== undefined) return { kind: 'busy', why: `locating page ${page}: ${unanswered.why}`, node: unanswered.node };
    // Nobody holds it: it went with the node the newest fact names...
    let best = answers[0]!.w;
    for (const { w } of answers) if (w.knownEpoch > best.knownEpoch) best = w;
    if (membership.isDead(best.known)) return lost(best.known, `its last known owner, node ${best.known}, was declared dead`);
    // ...unless that fact is a transfer an invalidation announced, which never reached its node:
    // then the page stayed with the old owner.
    const named = answers.find((a) => a.node === best.known);
    if (best.knownVia !== undefined && named !== undefined && named.w.installed < best.knownEpoch && membership.isDead(best.knownVia)) {
      return lost(best.knownVia, `node ${best.knownVia}, declared dead, was handing it to node ${best.known}, which never installed it`);
    }
    return { kind: 'busy', why: `locating page ${page}: no live node holds it, and its last known owner, node ${best.known}, is not declared dead`, node: best.known };
  }

  /**
   * What is wrong with a locate answer (its view already merged), or undefined: every node it
   * names is a member, a hand-off names its transfer, and a page is lost only with a node a
   * majority declared dead (the answerer knew of that death, and its view carried it here).
   */
  #wrongWhere(w: Where): string | undefined {
    const { membership } = this.#i;
    if (!membership.isMember(w.known)) return `that the page's owner is node ${w.known}, not a member`;
    if (w.knownVia !== undefined && !membership.isMember(w.knownVia)) return `that node ${w.knownVia}, not a member, handed the page on`;
    if (w.node !== undefined && !membership.isMember(w.node)) return `that it holds the page for node ${w.node}, not a member`;
    if (w.holding === Holding.Handed && (w.node === undefined || w.epoch === 0)) return 'that it handed the page over, naming no node or no transfer';
    if (w.holding === Holding.Lost && (w.node === undefined || !membership.isDead(w.node))) {
      return `that the page is lost with ${w.node === undefined ? 'no node' : `node ${w.node}, which is not declared dead`}`;
    }
    return undefined;
  }

  async #askWhere(node: number, page: number, deadline: number): Promise<{ kind: 'answer'; where: Where } | { kind: 'dead' } | { kind: 'unanswered'; why: string }> {
    const { membership, peers, timers } = this.#i;
    for (;;) {
      if (membership.isDead(node)) return { kind: 'dead' };
      const left = deadline - timers.now();
      if (left <= 0) return { kind: 'unanswered', why: `node ${node} did not answer and was not declared dead${membership.lastRefusal(node) === undefined ? '' : `: ${membership.lastRefusal(node)}`}` };
      const r = await peers.call(node, 'locate', left, (c, o) => c.locate(this.#i.view(), page, o));
      if (r.ok) return { kind: 'answer', where: r.value };
      switch (r.kind) {
        case 'dead':
          return { kind: 'dead' };
        case 'evicted':
          throw evicted(page, r.node, r.message);
        case 'silent': {
          const v = await membership.verdict(node, deadline);
          if (v === 'evicted') this.#checkAlive(page);
          continue;
        }
        default:
          return { kind: 'unanswered', why: describeFailure(r) };
      }
    }
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

/** How a fault's error names the node it asked. */
function role(node: number, manager: number, askedManager: boolean): string {
  return node === manager && askedManager ? `its manager, node ${node}` : `node ${node} (its probable owner)`;
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
