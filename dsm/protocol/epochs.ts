/**
 * Per-page epochs on one node. Every grant a manager gives for a page carries the manager's
 * transaction number for the page (its epoch, which is also the transfer id). Epochs of a page
 * only grow, so two numbers per page say what is out of date:
 *
 * - installed(page): the epoch of the last grant this node installed;
 * - seen(page): the highest epoch this node has acted on for the page (installed, served,
 *   aborted, a grant discarded or refused by the store, a copy invalidated by the node whose
 *   answer to this node's request is still outstanding). A grant whose epoch is not above seen
 *   arrived after something that superseded it (its invalidation overtook it): it is discarded
 *   and the fault asks again. This is what makes every state-moving call safe to repeat and safe
 *   to receive out of order. An epoch a peer merely names is never recorded otherwise: a number
 *   no owner handed out must not make this node's later grants stale (requester.ts, owner.ts).
 */
export class PageEpochs {
  readonly #installed = new Map<number, number>();
  readonly #seen = new Map<number, number>();

  installed(page: number): number {
    return this.#installed.get(page) ?? 0;
  }

  seen(page: number): number {
    return this.#seen.get(page) ?? 0;
  }

  /** Records that epoch `epoch` of `page` was acted on (or refused): older grants are stale from now on. */
  see(page: number, epoch: number): void {
    if (epoch > this.seen(page)) this.#seen.set(page, epoch);
  }

  /** True when a grant of `epoch` arrives after something that superseded it. */
  isStale(page: number, epoch: number): boolean {
    return epoch <= this.seen(page);
  }

  /** Grant `epoch` of `page` was installed. */
  setInstalled(page: number, epoch: number): void {
    if (epoch > this.installed(page)) this.#installed.set(page, epoch);
    this.see(page, epoch);
  }
}
