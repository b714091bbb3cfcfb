/**
 * Runs async operations one at a time per key (per page), in call order; operations on different
 * keys run concurrently, and a failure does not block the next. The page store serialises its
 * changes of one page with it, and an Ivy owner its requests for one page (Li & Hudak's
 * `PTable[p].lock`, dsm/protocol/owner.ts).
 */
export class PerKeySerializer<K> {
  private readonly chains = new Map<K, Promise<unknown>>();

  run<T>(key: K, op: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }
}
