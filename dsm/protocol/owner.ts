/**
 * The owner and copy-holder role of Ivy on one node: serve (hand a page to a requester the manager
 * names), abort (take a page back when its transfer did not complete), invalidate (drop a read copy),
 * and the owner's invalidation of its copy set.
 *
 * ## What an owner keeps
 * - `owned`: per page it owns, the copy set (holder -> epoch of the grant that gave it its copy);
 * - `handed`: per page it handed over under a write transfer the manager has not yet declared
 *   complete: the contents at that moment and the one copy holder it did not invalidate (the
 *   requester). A retried serve of the same transfer answers the same; an abort restores the
 *   page exactly as it was. Dropped on `completed` (the manager's confirmation, piggybacked on its
 *   heartbeat), or when the page comes back. At most one entry per page: bounded by the address
 *   space, like the frames themselves.
 *
 * ## One owner-side change of a page at a time
 * serve, abort and the owner's own upgrade of its read copy (requester.ts) run one at a time per
 * page (`exclusive`): an upgrade that started while a serve was between its downgrade and its
 * copy-set update would miss the new copy holder.
 *
 * ## Invalidations never skip a live node
 * A copy holder that does not answer is suspected, and the owner keeps asking it until it answers
 * or a majority declares it dead (Membership.verdict), within the serve's deadline; past the
 * deadline the serve fails (nothing moved) and the manager answers Busy. Only a decided death lets
 * a write go ahead without a holder's answer.
 */
import { PageQueue } from './page-queue.js';
import { Served, Want, type Handoff } from './ivy.stubs.js';
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
  readonly requester: number;
  /** The requester's copy epoch, if it held a read copy (it was not invalidated). */
  readonly requesterCopy: number | undefined;
}

export type InvalidateResult = { readonly ok: true } | { readonly ok: false; readonly node: number; readonly why: string; readonly evicted: boolean };

export interface OwnerInit extends RoleContext {
  readonly serveTimeoutMs: number;
  readonly callTimeoutMs: number;
}

export class Owner {
  readonly #i: OwnerInit;
  readonly #owned = new Map<number, Owned | null>();
  readonly #handed = new Map<number, Handed>();
  readonly #serving = new Map<number, { readonly epoch: number; readonly done: Promise<Handoff> }>();
  readonly #lock = new PageQueue();

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

  /** This node installed a write grant: it owns the page now, with no copy holders. */
  becomeOwner(page: number): Owned {
    const o: Owned = { copyset: new Map() };
    this.#owned.set(page, o);
    this.#handed.delete(page);
    return o;
  }

  /** Runs `fn` when no other owner-side change of `page` (serve, abort, upgrade) is running. */
  exclusive<T>(page: number, fn: () => Promise<T>): Promise<T> {
    return this.#lock.run(page, fn);
  }

  /** Pages handed over whose transfer is not known complete (retained contents). */
  get retained(): number {
    return this.#handed.size;
  }

  // ---- serve (manager -> owner)

  serve(page: number, want: Want, requester: number, epoch: number, ownerEpoch: number): Promise<Handoff> {
    const h = this.#handed.get(page);
    if (h !== undefined && h.epoch === epoch) return Promise.resolve(this.#handoff(Served.Handed, h.data));
    const s = this.#serving.get(page);
    if (s !== undefined && s.epoch === epoch) return s.done;
    const done = this.#lock.run(page, () => this.#serve(page, want, requester, epoch, ownerEpoch));
    this.#serving.set(page, { epoch, done });
    const clear = (): void => {
      if (this.#serving.get(page)?.done === done) this.#serving.delete(page);
    };
    done.then(clear, clear);
    return done;
  }

  async #serve(page: number, want: Want, requester: number, epoch: number, ownerEpoch: number): Promise<Handoff> {
    const { timers, serveTimeoutMs, epochs, local, counters } = this.#i;
    const deadline = timers.now() + serveTimeoutMs;
    if (epochs.isStale(page, epoch)) return this.#failed(`transfer ${epoch} of page ${page} was superseded on node ${this.#i.id} (aborted or out of date)`);
    if (epochs.installed(page) < ownerEpoch) {
      // The grant that made this node the owner never arrived (its reply was lost): say so, and
      // never install it later (seen), so the manager can safely abort that transfer.
      epochs.see(page, epoch);
      return this.#handoff(Served.NotInstalled);
    }
    const owned = this.state(page);
    if (owned === null || local.rights(page) === 'none') {
      counters.c.protocolErrors++;
      return this.#failed(`node ${this.#i.id} does not own page ${page} (asked to serve transfer ${epoch}, owner since ${ownerEpoch})`);
    }
    if (want === Want.Read) {
      const data = await local.downgrade(page);
      owned.copyset.set(requester, epoch);
      epochs.see(page, epoch);
      counters.c.pagesSent++;
      return this.#handoff(Served.Handed, data);
    }
    const inv = await this.invalidateCopyset(page, owned, requester, deadline);
    if (!inv.ok) return this.#failed(inv.why, inv.node);
    if (this.#owned.get(page) !== owned) {
      counters.c.protocolErrors++;
      return this.#failed(`page ${page} changed hands on node ${this.#i.id} during transfer ${epoch}`);
    }
    const requesterCopy = owned.copyset.get(requester);
    const data = await local.invalidate(page);
    this.#owned.set(page, null);
    this.#handed.set(page, { epoch, data, requester, requesterCopy });
    epochs.see(page, epoch);
    counters.c.pagesSent++;
    return this.#handoff(Served.Handed, data);
  }

  /**
   * Manager -> previous owner: transfer `epoch` did not complete. Takes the page back if it was
   * handed over under it; either way never hands it over under that epoch later.
   */
  abort(page: number, epoch: number): Promise<void> {
    // Behind the page's lock: a serve of that transfer still running finishes first.
    return this.#lock.run(page, async () => this.#abort(page, epoch));
  }

  #abort(page: number, epoch: number): void {
    this.#i.epochs.see(page, epoch);
    const h = this.#handed.get(page);
    if (h === undefined || h.epoch !== epoch) return;
    const owned: Owned = { copyset: new Map(h.requesterCopy === undefined ? [] : [[h.requester, h.requesterCopy]]) };
    this.#handed.delete(page);
    this.#owned.set(page, owned);
    this.#i.local.install(page, h.data, owned.copyset.size > 0 ? 'read' : 'write');
    this.#i.counters.c.pagesTakenBack++;
  }

  /** The manager confirmed that transfer `epoch` of `page` completed: forget what was kept for it. */
  completed(page: number, epoch: number): void {
    if (this.#handed.get(page)?.epoch === epoch) this.#handed.delete(page);
  }

  // ---- invalidations (owner -> copy holders)

  /**
   * Invalidates every copy holder except `except`, all at once. Holders that answered, or were
   * declared dead, leave the copy set; if one did neither by `deadline`, the result says which.
   */
  async invalidateCopyset(page: number, owned: Owned, except: number, deadline: number): Promise<InvalidateResult> {
    const holders = [...owned.copyset].filter(([n]) => n !== except);
    if (holders.length === 0) return { ok: true };
    const results = await Promise.all(holders.map(([n, c]) => this.#invalidateAt(n, page, c, deadline)));
    let failure: InvalidateResult | undefined;
    holders.forEach(([n, c], k) => {
      const r = results[k]!;
      if (r.ok) {
        if (owned.copyset.get(n) === c) owned.copyset.delete(n);
      } else failure ??= r;
    });
    return failure ?? { ok: true };
  }

  async #invalidateAt(node: number, page: number, copyEpoch: number, deadline: number): Promise<InvalidateResult> {
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
      const r = await peers.call(node, 'invalidate', left, (c, o) => c.invalidate(this.#i.view(), page, copyEpoch, o));
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

  /** Drops the read copy granted at `copyEpoch`, if this node holds exactly that one. */
  async invalidate(page: number, copyEpoch: number): Promise<void> {
    const { epochs, local, counters } = this.#i;
    counters.c.invalidationsReceived++;
    epochs.see(page, copyEpoch); // a grant of that copy arriving later is stale
    if (epochs.installed(page) !== copyEpoch || this.owns(page)) return;
    if (local.rights(page) !== 'none') {
      await local.invalidate(page);
      if (this.#tn.dsm.on) this.#tn.dsm.emit({ type: 'invalidated', page, label: `read copy of p${page} dropped` });
    }
  }

  #handoff(status: Served, data?: Uint8Array): Handoff {
    const h: Handoff = { view: this.#i.view(), status };
    if (data !== undefined) h.data = data;
    return h;
  }

  #failed(why: string, node?: number): Handoff {
    const h: Handoff = { view: this.#i.view(), status: Served.Failed, why };
    if (node !== undefined) h.node = node;
    return h;
  }
}
