/**
 * The manager role of Ivy's fixed distributed manager on one node: for each page it manages it
 * knows the owner and serialises requests (PageQueue, Li & Hudak's `info[p].lock`).
 *
 * ## Ownership transfer is atomic
 * A write moves the page from owner O to requester R in one transfer, numbered by the page's
 * epoch T (the transfer id):
 *
 *   R --acquire--> M --serve(T)--> O     O invalidates the copies, drops its rights, KEEPS the
 *                                        contents, and returns them
 *   R <--grant(T)-- M                    M records owner = R, transfer T pending
 *   R installs; confirms T to M (piggybacked on R's next heartbeat: Li & Hudak's confirmation)
 *   M confirms T to O (piggybacked on M's heartbeat): O forgets the contents it kept
 *
 * Nothing is lost whatever message goes missing, because an unsettled transfer is always settled
 * before the page is used again, under the page's lock:
 * - the serve's outcome is unknown (its reply is lost or late, the owner is silent): the transfer
 *   is kept as `serving`; the next request first ABORTS it at O, which takes the page back
 *   exactly as it was if it had handed it over (abort is idempotent, and O never hands the page
 *   over under an aborted epoch); if O is declared dead instead, the page is lost with O;
 * - the grant's reply is lost: R asks again with `have` < T, or, asked to serve, answers
 *   NotInstalled (and never installs T afterwards): M aborts T at O, which still has the
 *   contents, and starts over; R proves it installed T by asking with `have` >= T, by serving the
 *   page, or by its confirmation;
 * - R is declared dead before it confirmed: the page is lost with R (R may have written it).
 * So at every moment a page has one owner that is alive, or is reported lost naming a node a
 * majority declared dead. Read grants move no ownership and need none of this.
 *
 * A request from this node itself, and a serve by this node itself, go through the same code and
 * the same failure mapping (Peers.local) as remote ones.
 */
import { Outcome, Served, Want, type Grant, type Handoff } from './ivy.stubs.js';
import type { RoleContext } from './role.js';
import type { Owner } from './owner.js';
import { traceNode, type TraceNode } from '../../trace/node.js';
import { describeFailure, type Result } from './peers.js';
import { PageQueue } from './page-queue.js';

/** A write transfer: page moves from `from` (owner since `fromEpoch`) to `to` under `epoch`. */
interface Transfer {
  readonly epoch: number;
  /** The previous owner, which keeps the contents until the transfer completes. */
  readonly from: number;
  readonly fromEpoch: number;
  readonly to: number;
}

/** What a manager keeps per managed page. */
interface Managed {
  owner: number;
  /** Epoch of the grant that made `owner` the owner (0: initial owner). */
  ownerEpoch: number;
  /** Last transaction number used for this page. */
  epoch: number;
  /** The transfer that made `owner` the owner, while its install is not confirmed. */
  granted: Transfer | undefined;
  /**
   * A transfer away from `owner` whose serve had an unknown outcome (the owner may have handed
   * the page over): settled (aborted) before anything else happens to the page.
   */
  serving: Transfer | undefined;
  /** Set once the page is lost: the node (declared dead) that had its only copy. */
  lost: number | undefined;
}

export interface ManagerInit extends RoleContext {
  readonly queueWaitMs: number;
  readonly serveTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly owner: Owner;
}

/** Settling a pending transfer gives up after this many rounds in one request (then Busy). */
const MAX_ROUNDS = 8;

export class Manager {
  readonly #i: ManagerInit;
  readonly #managed = new Map<number, Managed>();
  readonly #queue = new PageQueue();
  readonly #tn: TraceNode;

  constructor(init: ManagerInit) {
    this.#i = init;
    this.#tn = traceNode(String(init.id));
  }

  /** The owner this manager has on record for `page` (for tests, tools and the orphan checks); creates no state. */
  ownerOf(page: number): { owner: number; pending: boolean; lost: number | undefined } {
    const r = this.#managed.get(page);
    if (r === undefined) return { owner: this.#i.initialOwner(page), pending: false, lost: undefined };
    return { owner: r.owner, pending: r.granted !== undefined || r.serving !== undefined, lost: r.lost };
  }

  /** Requester -> manager. */
  acquire(page: number, want: Want, requester: number, have: number): Promise<Grant> {
    const enqueued = this.#i.timers.now();
    return this.#queue.run(page, async (): Promise<Grant> => {
      const now = this.#i.timers.now();
      const waited = now - enqueued;
      if (waited > this.#i.queueWaitMs) return this.#busy(`the request waited ${Math.round(waited)} ms in manager ${this.#i.id}'s queue for page ${page}`);
      // One request holds the page for at most one legitimate serve (plus a message round).
      const deadline = now + this.#i.serveTimeoutMs + this.#i.callTimeoutMs;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const g = await this.#step(page, want, requester, have, deadline);
        if (g !== 'again') return g;
      }
      return this.#busy(`page ${page}: its transfer did not settle after ${MAX_ROUNDS} rounds`);
    });
  }

  /** Requester `from` confirmed that it installed write grant `epoch` of `page`. */
  installed(from: number, page: number, epoch: number): void {
    const r = this.#managed.get(page);
    const g = r?.granted;
    if (r === undefined || g === undefined || g.to !== from || g.epoch !== epoch) return;
    this.#complete(r, page);
  }

  /** A node was declared dead: settle what can be settled without asking anyone. */
  nodeDead(node: number): void {
    for (const [page, r] of this.#managed) {
      // A transfer handed to a node that died: the page is lost with it (it may have written it).
      if (r.granted?.to === node && r.serving === undefined) this.#complete(r, page);
    }
  }

  /** One attempt at the request; 'again' when a pending transfer was settled and it should start over. */
  async #step(page: number, want: Want, requester: number, have: number, deadline: number): Promise<Grant | 'again'> {
    const r = this.#state(page);
    if (r.lost !== undefined) return this.#lost(r.lost);
    if (r.serving !== undefined) return this.#abort(r, page, r.serving, deadline);
    const g = r.granted;
    if (g !== undefined && g.to === requester) {
      if (have >= g.epoch) this.#complete(r, page); // it installed the grant: it is the owner
      else return this.#abort(r, page, g, deadline); // it asks again for a grant it never received
    }
    if (deadline - this.#i.timers.now() <= 0) return this.#busy(`page ${page}: manager ${this.#i.id} ran out of time`);
    const owner = r.owner;
    if (this.#i.membership.isDead(owner)) {
      this.#markLost(r, page, owner);
      return this.#lost(owner);
    }
    const epoch = ++r.epoch;
    if (owner === requester) {
      // The owner faults on its own page (a write on its read copy): no forward, no data; it
      // invalidates its copy set itself (Li & Hudak's "requester is the owner").
      if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'grant', page, access: accessOf(want), peer: String(requester), epoch, label: `grant p${page} ${accessOf(want)} to its owner, node ${requester} (no data)` });
      return { view: this.#i.view(), outcome: Outcome.Granted, epoch };
    }
    if (this.#tn.dsm.on) {
      this.#tn.dsm.emit({ type: 'forward', page, access: accessOf(want), requester: String(requester), peer: String(owner), label: `forward p${page} ${accessOf(want)} request of node ${requester} to its owner, node ${owner}` });
    }
    const res = await this.#serveAt(owner, page, want, requester, epoch, r.ownerEpoch, deadline);
    if (!res.ok) {
      if (res.kind === 'dead') {
        this.#markLost(r, page, owner);
        return this.#lost(owner);
      }
      if (want === Want.Write && res.kind === 'silent') {
        // The owner may have handed the page over: the next round aborts this transfer first.
        r.serving = { epoch, from: owner, fromEpoch: r.ownerEpoch, to: requester };
      }
      if (res.kind === 'evicted') return this.#busy(describeFailure(res), res.node);
      if (res.kind === 'silent' && !res.notUp) {
        // Wait (holding the page) for the owner to be heard from again or declared dead, so the
        // requester learns of a death as soon as it is decided.
        const v = await this.#i.membership.verdict(owner, deadline);
        if (v === 'alive' || v === 'dead') return 'again';
      }
      return this.#busy(`page ${page}: its owner, ${describeFailure(res)}`, owner);
    }
    const h = res.value;
    if (h.status === Served.NotInstalled) {
      // The owner on record never installed the grant that made it the owner: undo that transfer.
      if (g !== undefined && g.to === owner) return this.#abort(r, page, g, deadline);
      this.#i.counters.c.protocolErrors++;
      return this.#busy(`page ${page}: node ${owner} says it never installed grant ${r.ownerEpoch}, and no transfer to it is pending`, owner);
    }
    if (h.status !== Served.Handed || (h.data === undefined && requester !== owner)) {
      return this.#busy(`page ${page}: its owner, node ${owner}, could not hand it over: ${h.why ?? 'no contents'}`, h.node ?? owner);
    }
    // The owner served, so it had installed its grant: that transfer is complete.
    if (g !== undefined && g.to === owner) this.#complete(r, page);
    if (want === Want.Write) {
      r.granted = { epoch, from: owner, fromEpoch: r.ownerEpoch, to: requester };
      r.owner = requester;
      r.ownerEpoch = epoch;
      if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'owner-change', page, from: String(owner), to: String(requester), epoch, label: `p${page} owner: node ${owner} → node ${requester}` });
    }
    if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'grant', page, access: accessOf(want), peer: String(requester), epoch, label: `grant p${page} ${accessOf(want)} to node ${requester}` });
    const grant: Grant = { view: this.#i.view(), outcome: Outcome.Granted, epoch };
    if (h.data !== undefined) grant.data = h.data;
    return grant;
  }

  /**
   * Aborts transfer `t` at its previous owner (r.serving, or r.granted when its new owner never
   * installed it); on success the previous owner has the page again, as it was before `t`.
   */
  async #abort(r: Managed, page: number, t: Transfer, deadline: number): Promise<Grant | 'again'> {
    const { membership, peers, owner, timers } = this.#i;
    if (membership.isDead(t.from)) {
      // Its contents were kept only on the previous owner, which is dead; the new owner never had them.
      this.#markLost(r, page, t.from);
      return this.#lost(t.from);
    }
    const left = deadline - timers.now();
    if (left <= 0) return this.#busy(`page ${page}: transfer ${t.epoch} from node ${t.from} is unsettled and manager ${this.#i.id} ran out of time`, t.from);
    const res: Result<unknown> = t.from === this.#i.id
      ? await peers.local(() => owner.abort(page, t.epoch))
      : await peers.call(t.from, 'abort', left, (c, o) => c.abort(this.#i.view(), page, t.epoch, o));
    if (!res.ok) {
      if (res.kind === 'dead') {
        this.#markLost(r, page, t.from);
        return this.#lost(t.from);
      }
      if (res.kind === 'silent' && !res.notUp) {
        const v = await membership.verdict(t.from, deadline);
        if (v === 'alive' || v === 'dead') return 'again';
      }
      return this.#busy(`page ${page}: transfer ${t.epoch} from node ${t.from} is unsettled and ${describeFailure(res)}`, t.from);
    }
    this.#i.counters.c.transfersAborted++;
    if (r.serving === t) r.serving = undefined;
    else if (r.granted === t) r.granted = undefined;
    if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'owner-change', page, from: String(r.owner), to: String(t.from), epoch: t.epoch, label: `p${page} transfer ${t.epoch} aborted: node ${t.from} owns it again` });
    r.owner = t.from;
    r.ownerEpoch = t.fromEpoch;
    return 'again';
  }

  #serveAt(owner: number, page: number, want: Want, requester: number, epoch: number, ownerEpoch: number, deadline: number): Promise<Result<Handoff>> {
    const { peers, timers } = this.#i;
    if (owner === this.#i.id) return peers.local(() => this.#i.owner.serve(page, want, requester, epoch, ownerEpoch));
    return peers.call(owner, 'serve', deadline - timers.now(), (c, o) => c.serve(this.#i.view(), page, want, requester, epoch, ownerEpoch, o));
  }

  /** The granted transfer is complete: its previous owner may forget what it kept. */
  #complete(r: Managed, page: number): void {
    const g = r.granted;
    if (g === undefined) return;
    r.granted = undefined;
    this.#forget(g, page);
  }

  #forget(t: Transfer, page: number): void {
    if (t.from === this.#i.id) this.#i.owner.completed(page, t.epoch);
    else this.#i.membership.queueCompleted(t.from, page, t.epoch);
  }

  #markLost(r: Managed, page: number, node: number): void {
    r.lost = node;
    for (const t of [r.granted, r.serving]) if (t !== undefined && t.from !== node) this.#forget(t, page);
    r.granted = undefined;
    r.serving = undefined;
  }

  #state(page: number): Managed {
    let r = this.#managed.get(page);
    if (r === undefined) {
      r = { owner: this.#i.initialOwner(page), ownerEpoch: 0, epoch: 0, granted: undefined, serving: undefined, lost: undefined };
      this.#managed.set(page, r);
    }
    return r;
  }

  #busy(why: string, node?: number): Grant {
    const g: Grant = { view: this.#i.view(), outcome: Outcome.Busy, epoch: 0, why };
    if (node !== undefined) g.node = node;
    return g;
  }

  #lost(node: number): Grant {
    return { view: this.#i.view(), outcome: Outcome.PageLost, epoch: 0, node };
  }
}

/** A Want as traces say it. */
function accessOf(want: Want): 'read' | 'write' {
  return want === Want.Write ? 'write' : 'read';
}
