/**
 * The manager's per-page lock (Li & Hudak's `info[p].lock`): requests for one page run one at a
 * time, in arrival order; requests for different pages run concurrently. A task that throws does
 * not block the ones behind it.
 */
export class PageQueue {
  readonly #tails = new Map<number, Promise<unknown>>();

  /** Runs `task` after every task queued earlier for `page` has settled. */
  run<T>(page: number, task: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(page) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.then(() => undefined, () => undefined);
    this.#tails.set(page, tail);
    void tail.then(() => {
      if (this.#tails.get(page) === tail) this.#tails.delete(page);
    });
    return next;
  }

  /** Pages with queued or running requests. */
  get busyPages(): number {
    return this.#tails.size;
  }
}
