/**
 * The owner and copy-holder role of Ivy on one node: it answers `request` (the page, a read copy,
 * or a Redirect when it does not own the page), settles its own unconfirmed transfers, answers
 * `check` and `locate`, and drops read copies on `invalidate`.
 *
 * ## The owner is the page's serialisation point (both manager modes)
 * Li & Hudak's dynamic manager makes the owner serve its page directly; here the fixed manager's
 * faults do the same whenever the requester's probable-owner hint is right (hints.ts), and the
 * manager is only the directory that finds the owner when it is not (manager.ts). So every change
 * of a page happens at its owner, one at a time per page (a PerKeySerializer: Li & Hudak's
 * `PTable[p].lock`), whoever asked and however they found it:
 *   read:  downgrade to read (LocalPages.downgrade waits for in-flight local stores), add the
 *          requester to the copy set under a new copy epoch, return the contents;
 *   write: allocate the transfer id T, invalidate every copy holder except the requester IN
 *          PARALLEL (waiting for each to answer or be declared dead), drop the own rights, keep the
 *          contents, and return them with the ownership (no contents when the requester's own
 *          read copy is current: it upgrades in place);
 *   the owner itself (a write on its read copy): the same invalidations, then write rights in place.
 * Epochs (the owner's per-page grant numbers) travel with the ownership: the new owner continues
 * from T, so the epochs of a page only grow along its one line of owners, and a grant or an
 * invalidation can be ordered against anything a node has seen of the page (epochs.ts).
 *
 * ## Ownership transfer is atomic
 * The previous owner Y keeps what it handed to X under T (`handed`: the contents, and X's read
 * copy epoch if it had one) until it knows whether X installed T:
 * - X confirms it (Li & Hudak's confirmation, piggybacked on X's next heartbeat to Y): Y forgets;
 * - X asks Y again with `have` < T: X never got the grant (its reply was lost, and a failed RPC
 *   never delivers a late reply): Y takes the page back exactly as it was (abort) and serves anew;
 * - someone else, Q, asks Y first: Y redirects Q to X with `expect` = T. X installed T: it serves
 *   Q (or redirects it on). X never did and is not asking for the page: it cannot install T any
 *   more (no request of it is outstanding, and a failed call never delivers a late reply), so it
 *   answers NotInstalled; Q brings that claim back to Y, which takes
 *   the page back and serves Q. X is still asking: Busy, and Q asks again later. So an unconfirmed
 *   transfer costs a third party nothing but the hop to X, and Y never waits on X;
 * - X is declared dead: X may have installed T, written, and handed the page on to a node that
 *   had not heard of the death, so Y cannot take it back, nor call it lost on its own: it
 *   redirects to X, the requester finds X dead and asks every live node (locate), and with the
 *   news of the death in the question the answers settle it: someone owns it, or it is lost with X.
 * So at every moment a page has one owner that is alive, a previous owner that knows where it
 * went, or it is lost with a node a majority declared dead: never two owners.
 *
 * ## What a node keeps per page, all bounded by the address space
 * `owned` (copy set: holder -> copy epoch), `handed` (at most one unconfirmed transfer), `lost`.
 *
 * ## Invalidations never skip a live node
 * A copy holder that does not answer is suspected, and the owner keeps asking it until it answers
 * or a majority declares it dead (Membership.verdict), within the request's deadline; past the
 * deadline the request fails (nothing moved) with Busy. Only a decided death lets a write go
 * ahead without a holder's answer.
 */
import { PerKeySerializer } from '../serial.js';
import { Holding, Outcome, Want, type Claim, type Grant, type Where } from './ivy.stubs.js';
import type { OwnerHints } from './hints.js';
import type { RoleContext } from './role.js';
import { traceNode, type TraceNode } from '../../trace/node.js';
import { describeFailure } from './peers.js';

/** What an owner keeps per owned page. */
export interface Owned {
  /** Copy holders and the epoch of the grant that gave each its copy. */
  readonly copyset: Map<number, number>;
}

interface Handed {
  readonly epoch: number;
  readonly data: Uint8Array;
  readonly to: number;
  /** The new owner's copy epoch, if it held a read copy (it was not invalidated). */
  readonly toCopy: number | undefined;
  /** hints.now() at the hand-off: a guess made later names a node further along. */
  readonly at: number;
}

export type InvalidateResult = { readonly ok: true } | { readonly ok: false; readonly node: number; readonly why: string; readonly evicted: boolean };

export interface OwnerInit extends RoleContext {
  readonly serveTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly queueWaitMs: number;
  readonly hints: OwnerHints;
  /** True while this node's requester is resolving a fault on `page` (it may still install a transfer). */
  readonly faulting: (page: number) => boolean;
  /**
   * The node this node's requester is waiting on for an answer to its request for `page` right
   * now, if any: the only node whose grant can still arrive here (a failed call never delivers a
   * late reply).
   */
  readonly asking: (page: number) => number | undefined;
  /**
   * Fixed mode: the directory record a Redirect of a page this node manages names (the manager
   * answers from what it was told, never from a guess). Undefined: answer with the route.
   */
  readonly directory: ((page: number) => { readonly node: number; readonly epoch: number } | undefined) | undefined;
}

/** Settling a page (an unconfirmed transfer) gives up after this many rounds in one request (then Busy). */
const MAX_ROUNDS = 8;

export class Owner {
  readonly #i: OwnerInit;
  readonly #owned = new Map<number, Owned | null>();
  readonly #handed = new Map<number, Handed>();
  readonly #lost = new Map<number, number>();
  readonly #lock = new PerKeySerializer<number>();
  readonly #tn: TraceNode;

  constructor(init: OwnerInit) {
    this.#i = init;
    this.#tn = traceNode(String(init.id));
  }

  /** Owned state of `page`: the copy set, or null when this node does not own it. */
  state(page: number): Owned | null {
    let o = this.#owned.get(page);
    if (o === undefined) {
      o = this.#i.initialOwner(page) === this.#i.id ? { copyset: new Map() } : null;
      this.#owned.set(page, o);
    }
    return o;
  }

  owns(page: number): boolean {
    return this.state(page) !== null;
  }

  /** Read-only (creates no state): the copy holders of `page` if this node owns it, else null. */
  peek(page: number): number[] | null {
    const o = this.#owned.get(page);
    if (o === undefined) return this.#i.initialOwner(page) === this.#i.id ? [] : null;
    return o === null ? null : [...o.copyset.keys()].sort((a, b) => a - b);
  }

  /** Pages handed over whose transfer is not known installed (retained contents). */
  get retained(): number {
    return this.#handed.size;
  }

  /** The node this node knows `page` was lost with, if it knows. */
  lostWith(page: number): number | undefined {
    return this.#lost.get(page);
  }

  /** Records that `page` is lost with `node` (declared dead): later requests here are answered PageLost. */
  markLost(page: number, node: number): void {
    this.#lost.set(page, node);
    this.#handed.delete(page);
  }

  /** This node installed write grant `epoch`: it owns the page now, with no copy holders. */
  becomeOwner(page: number, epoch: number): void {
    this.#owned.set(page, { copyset: new Map() });
    this.#handed.delete(page);
    this.#i.hints.learn(page, this.#i.id, epoch);
  }

  // ---- request (requester -> probable owner; also this node's own requests, without a message)

  /**
   * `requester` asks for `page` with `want`; `have` is the epoch of the last grant it installed,
   * `holding` says it holds that grant's read copy now; `expect` is the unconfirmed transfer to
   * this node a previous owner redirected it here under (0: none); `claim`, the NotInstalled
   * answer it brings back to this node as that previous owner. Runs behind every earlier request
   * for the page here, at most queueWaitMs of waiting (then Busy).
   */
  request(page: number, want: Want, requester: number, have: number, holding: boolean, expect = 0, claim?: Claim): Promise<Grant> {
    const { timers } = this.#i;
    const enqueued = timers.now();
    return this.#lock.run(page, async (): Promise<Grant> => {
      const now = timers.now();
      const waited = now - enqueued;
      if (waited > this.#i.queueWaitMs) return this.#busy(`the request waited ${Math.round(waited)} ms in node ${this.#i.id}'s queue for page ${page}`);
      // One request holds the page for at most one legitimate invalidation round (plus a message round).
      const deadline = now + this.#i.serveTimeoutMs + this.#i.callTimeoutMs;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const g = await this.#step(page, want, requester, have, holding, expect, claim, deadline);
        if (g !== 'again') return g;
      }
      return this.#busy(`page ${page}: its transfer did not settle after ${MAX_ROUNDS} rounds on node ${this.#i.id}`);
    });
  }

  async #step(page: number, want: Want, requester: number, have: number, holding: boolean, expect: number, claim: Claim | undefined, deadline: number): Promise<Grant | 'again'> {
    const { id, local, counters, timers, epochs } = this.#i;
    const lost = this.#lost.get(page);
    if (lost !== undefined) return this.#lostGrant(lost);
    const h = this.#handed.get(page);
    if (h !== undefined) return this.#settle(page, h, want, requester, have, claim);
    const owned = this.state(page);
    if (owned === null) {
      if (expect > 0 && requester !== id && epochs.installed(page) < expect) {
        // A previous owner says it handed this node transfer `expect`, which it never installed.
        if (this.#i.faulting(page)) return this.#busy(`node ${id} is still acquiring page ${page} (transfer ${expect})`, id);
        // Not faulting: no grant can reach this node any more, so it need not (and does not)
        // record `expect` as seen: a number a peer merely names never makes later grants stale.
        return { view: this.#i.view(), outcome: Outcome.NotInstalled, epoch: expect, node: id };
      }
      return this.#redirect(page, want, requester);
    }
    if (local.rights(page) === 'none') {
      counters.c.protocolErrors++;
      return this.#busy(`node ${id} owns page ${page} but holds no copy of it`);
    }
    if (deadline - timers.now() <= 0) return this.#busy(`page ${page}: node ${id} ran out of time`);
    if (want === Want.Read) {
      if (requester === id) return this.#granted(epochs.installed(page)); // an owner always has read rights
      const data = await local.downgrade(page);
      const epoch = this.#next(page);
      owned.copyset.set(requester, epoch);
      counters.c.pagesSent++;
      if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'grant', page, access: 'read', peer: String(requester), epoch, label: `grant p${page} read to node ${requester}` });
      return this.#granted(epoch, data);
    }
    const epoch = this.#next(page);
    const inv = await this.invalidateCopyset(page, owned, requester, requester, epoch, deadline);
    if (!inv.ok) return this.#busy(inv.why, inv.node);
    if (this.#owned.get(page) !== owned) {
      counters.c.protocolErrors++;
      return this.#busy(`page ${page} changed hands on node ${id} during transfer ${epoch}`);
    }
    if (requester === id) {
      // The owner writes its own read copy: no transfer, no data; its copy set is empty now.
      local.install(page, null, 'write');
      epochs.setInstalled(page, epoch);
      this.#i.hints.learn(page, id, epoch);
      if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'grant', page, access: 'write', peer: String(id), epoch, label: `grant p${page} write to its owner, node ${id} (no data)` });
      return this.#granted(epoch);
    }
    const toCopy = owned.copyset.get(requester);
    const data = await local.invalidate(page);
    this.#owned.set(page, null);
    this.#handed.set(page, { epoch, data, to: requester, toCopy, at: this.#i.hints.now() });
    this.#i.hints.learn(page, requester, epoch, id); // announced: a fact once the new owner confirms
    counters.c.pagesSent++;
    const tn = this.#tn;
    if (tn.dsm.on) {
      tn.dsm.emit({ type: 'owner-change', page, from: String(id), to: String(requester), epoch, label: `p${page} owner: node ${id} → node ${requester}` });
      tn.dsm.emit({ type: 'grant', page, access: 'write', peer: String(requester), epoch, label: `grant p${page} write to node ${requester}` });
    }
    // The requester's read copy is the current contents (every write since would have invalidated it).
    return holding && toCopy !== undefined && toCopy === have ? this.#granted(epoch) : this.#granted(epoch, data);
  }

  /** This node handed `page` to `h.to` under `h.epoch` and does not know yet whether it was installed. */
  #settle(page: number, h: Handed, want: Want, requester: number, have: number, claim: Claim | undefined): Grant | 'again' {
    if (h.to === requester) {
      if (have >= h.epoch) {
        this.#forget(page, h); // it installed the transfer (and asks for something it gave away since)
        return 'again';
      }
      this.#abort(page, h); // it asks again below the transfer: the grant never reached it
      return 'again';
    }
    if (claim !== undefined && claim.node === h.to && claim.epoch === h.epoch) {
      this.#abort(page, h); // the new owner promised it never installed it (NotInstalled)
      return 'again';
    }
    // Handed to a node declared dead: it may have installed the page and passed it on to a node
    // that had not heard of the death, so only asking everyone can tell (requester.ts, locate).
    const { hints, membership, id } = this.#i;
    if (membership.isDead(h.to)) return this.#redirectTo(page, requester, h.to, 0);
    // A writer this node sent on after the hand-off may have gone further than h.to (Li &
    // Hudak's compression): send this one there too, but only while that writer is another node
    // and neither suspected nor dead. A guess is no pointer to the page: if it names this node (its own write
    // fault) or a writer that died on its way to h.to, sending requesters there sends them round
    // a cycle back here that nobody settles, since only a requester that reaches h.to with the
    // transfer brings back h.to's NotInstalled. Else to h.to, naming the transfer.
    const further = hints.guessAfter(page, h.at);
    if (want === Want.Write && requester !== id) hints.guess(page, requester);
    const st = further === undefined ? undefined : membership.status(further);
    if (further !== undefined && further !== id && further !== requester && further !== h.to && st !== 'dead' && st !== 'suspected') {
      return this.#redirectTo(page, requester, further, 0);
    }
    return this.#redirectTo(page, requester, h.to, h.epoch);
  }

  /** Not the owner: tell the requester where to ask (the manager's directory, or this node's route). */
  #redirect(page: number, want: Want, requester: number): Grant {
    const { hints, id } = this.#i;
    const node = this.#i.directory?.(page)?.node ?? hints.route(page);
    // Li & Hudak's compression: the writer will own the page; send the next request there. (Not
    // for a reader: it will only know where the page is, and pointing at it costs a hop whenever
    // the page is read-shared, as a write's copy holders found out in bench:dsm.)
    if (want === Want.Write && requester !== id) hints.guess(page, requester);
    return this.#redirectTo(page, requester, node, 0);
  }

  #redirectTo(page: number, requester: number, node: number, epoch: number): Grant {
    this.#i.counters.c.redirectsGiven++;
    if (this.#tn.dsm.on) {
      this.#tn.dsm.emit({ type: 'forward', page, access: 'read', requester: String(requester), peer: String(node), label: `p${page}: node ${requester} sent on to node ${node}${epoch > 0 ? ` (transfer ${epoch})` : ''}` });
    }
    return { view: this.#i.view(), outcome: Outcome.Redirect, epoch, node };
  }

  /** Take the page back as it was before transfer `h` (the new owner never installed it, and never will). */
  #abort(page: number, h: Handed): void {
    const owned: Owned = { copyset: new Map(h.toCopy === undefined ? [] : [[h.to, h.toCopy]]) };
    this.#handed.delete(page);
    this.#owned.set(page, owned);
    this.#i.local.install(page, h.data, owned.copyset.size > 0 ? 'read' : 'write');
    this.#i.hints.learn(page, this.#i.id, this.#next(page));
    this.#i.counters.c.pagesTakenBack++;
    if (this.#tn.dsm.on) {
      this.#tn.dsm.emit({ type: 'owner-change', page, from: String(h.to), to: String(this.#i.id), epoch: h.epoch, label: `p${page} transfer ${h.epoch} to node ${h.to} never installed: node ${this.#i.id} owns it again` });
    }
  }

  /** Transfer `h` is known installed: forget what was kept for it. */
  #forget(page: number, h: Handed): void {
    if (this.#handed.get(page) !== h) return;
    this.#handed.delete(page);
    this.#i.hints.learn(page, h.to, h.epoch);
  }

  /** The next epoch of `page` (this node owns it, so nobody else numbers its grants). */
  #next(page: number): number {
    const e = this.#i.epochs.seen(page) + 1;
    this.#i.epochs.see(page, e);
    return e;
  }

  // ---- confirmations and failures

  /** `from` confirmed that it installed transfer `epoch` of `page` (piggybacked on its heartbeat). */
  installed(from: number, page: number, epoch: number): void {
    const h = this.#handed.get(page);
    if (h !== undefined && h.to === from && h.epoch === epoch) this.#forget(page, h);
  }

  // ---- locate (any node -> everyone)

  /** What this node holds of `page`, and the newest fact it knows about its owner. */
  where(page: number): Where {
    const f = this.#i.hints.fact(page);
    const w: Where = {
      view: this.#i.view(), holding: Holding.None, epoch: 0, installed: this.#i.epochs.installed(page), known: f.node, knownEpoch: f.epoch,
    };
    if (f.via !== undefined) w.knownVia = f.via;
    const lost = this.#lost.get(page);
    const h = this.#handed.get(page);
    if (lost !== undefined) {
      w.holding = Holding.Lost;
      w.node = lost;
    } else if (this.state(page) !== null) {
      w.holding = Holding.Owner;
      w.epoch = this.#i.epochs.seen(page);
    } else if (h !== undefined) {
      w.holding = Holding.Handed;
      w.node = h.to;
      w.epoch = h.epoch;
    }
    return w;
  }

  // ---- invalidations (owner -> copy holders)

  /**
   * Invalidates every copy holder except `except`, all at once, telling each that the page goes to
   * `newOwner` under `epoch`. Holders that answered, or were declared dead, leave the copy set; if
   * one did neither by `deadline`, the result says which.
   */
  async invalidateCopyset(page: number, owned: Owned, except: number, newOwner: number, epoch: number, deadline: number): Promise<InvalidateResult> {
    const holders = [...owned.copyset].filter(([n]) => n !== except);
    if (holders.length === 0) return { ok: true };
    const results = await Promise.all(holders.map(([n, c]) => this.#invalidateAt(n, page, c, newOwner, epoch, deadline)));
    let failure: InvalidateResult | undefined;
    holders.forEach(([n, c], k) => {
      const r = results[k]!;
      if (r.ok) {
        if (owned.copyset.get(n) === c) owned.copyset.delete(n);
      } else failure ??= r;
    });
    return failure ?? { ok: true };
  }

  async #invalidateAt(node: number, page: number, copyEpoch: number, newOwner: number, epoch: number, deadline: number): Promise<InvalidateResult> {
    const { membership, peers, timers, counters } = this.#i;
    for (;;) {
      if (membership.isDead(node)) {
        counters.c.copiesSkipped++;
        return { ok: true };
      }
      const left = deadline - timers.now();
      if (left <= 0) {
        const why = membership.lastRefusal(node);
        return {
          ok: false, node, evicted: false,
          why: `node ${node} holds a copy of page ${page}, did not answer its invalidation and was not declared dead${why === undefined ? '' : `: ${why}`}`,
        };
      }
      counters.c.invalidationsSent++;
      const tn = this.#tn;
      if (tn.dsm.on) tn.dsm.emit({ type: 'invalidate-sent', page, peer: String(node), label: `invalidate node ${node}'s copy of p${page}` });
      // One call for the whole deadline: a slow holder's late answer still counts. It ends early
      // only if the holder is declared dead (the call is aborted) or the transport gives up.
      const r = await peers.call(node, 'invalidate', left, (c, o) => c.invalidate(this.#i.view(), page, copyEpoch, newOwner, epoch, o));
      if (r.ok) {
        if (tn.dsm.on) tn.dsm.emit({ type: 'invalidate-acked', page, peer: String(node), label: `node ${node} dropped its copy of p${page}` });
        return { ok: true };
      }
      switch (r.kind) {
        case 'dead':
          counters.c.copiesSkipped++;
          return { ok: true };
        case 'evicted':
          return { ok: false, node: r.node, evicted: true, why: describeFailure(r) };
        case 'silent': {
          const v = await membership.verdict(node, deadline);
          if (v === 'evicted') {
            const e = membership.evicted;
            return { ok: false, node: e?.by ?? node, evicted: true, why: e?.reason ?? 'this node was fenced' };
          }
          continue; // alive: ask again; dead: skipped above; timeout: reported above
        }
        default:
          return { ok: false, node, evicted: false, why: describeFailure(r) };
      }
    }
  }

  // ---- copy holder (owner -> holder)

  /**
   * `from` (the owner) invalidates the read copy granted at `copyEpoch`: this node drops its copy if
   * it was granted at or before that (a write supersedes every copy granted before it; the owner's
   * copy set may name a later grant than the one this node installed, when a late retry of its
   * request was served after the request that brought its copy), and keeps one granted after (a
   * late invalidation never drops a newer copy). The page is on its way to `newOwner` under
   * transfer `epoch`. Resolves to what is wrong with the invalidation if it contradicts this
   * node's state (nothing was changed), else undefined.
   */
  async invalidate(page: number, copyEpoch: number, newOwner: number, epoch: number, from: number): Promise<string | undefined> {
    const { epochs, local, counters, hints } = this.#i;
    counters.c.invalidationsReceived++;
    if (this.owns(page)) {
      // A late copy of an invalidation (the owner's grants are numbered after every copy it
      // ever held); one naming a copy epoch above all this node has seen is no invalidation at
      // all, and recording it would make this owner number its next grant past uint32.
      return copyEpoch > epochs.seen(page) ? `an invalidation of page ${page} names copy epoch ${copyEpoch}, but node ${this.#i.id} owns the page at epoch ${epochs.seen(page)}` : undefined;
    }
    // A grant of that copy still on its way here is stale. Only `from`'s answer to this node's
    // request for the page can still bring one, so only then is the number recorded: an
    // invalidation never makes every later grant stale by naming a huge epoch.
    if (this.#i.asking(page) === from) epochs.see(page, copyEpoch);
    hints.learn(page, newOwner, epoch, from);
    if (epochs.installed(page) > copyEpoch) return undefined;
    if (local.rights(page) === 'none') return undefined;
    if (!local.discard(page)) await local.invalidate(page);
    if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'invalidated', page, label: `read copy of p${page} dropped` });
    return undefined;
  }

  #granted(epoch: number, data?: Uint8Array): Grant {
    const g: Grant = { view: this.#i.view(), outcome: Outcome.Granted, epoch };
    if (data !== undefined) g.data = data;
    return g;
  }

  #busy(why: string, node?: number): Grant {
    const g: Grant = { view: this.#i.view(), outcome: Outcome.Busy, epoch: 0, why };
    if (node !== undefined) g.node = node;
    return g;
  }

  #lostGrant(node: number): Grant {
    return { view: this.#i.view(), outcome: Outcome.PageLost, epoch: 0, node };
  }
}
