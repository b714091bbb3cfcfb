/**
 * Per-page grant epochs on one node. Every grant a manager gives for a page carries that
 * manager's transaction number for the page (its epoch). A node records the epoch of the last
 * grant it installed, so a request that refers to a grant whose reply is still in flight to this
 * node (a forwarded serve to a new owner, an invalidation of a read copy not installed yet) can
 * wait for it, instead of holding a lock across the call to the manager (which deadlocks when an
 * owner faults on its own page while the manager forwards to it).
 */
import type { Timers } from '../../rpc/runtime/index.js';

interface Waiter {
  readonly epoch: number;
  readonly resolve: (installed: boolean) => void;
  handle: unknown;
}

export class InstallEpochs {
  readonly #installed = new Map<number, number>();
  readonly #invalidated = new Map<number, number>();
  readonly #waiters = new Map<number, Waiter[]>();
  readonly #timers: Timers;

  constructor(timers: Timers) {
    this.#timers = timers;
  }

  /** Epoch of the last grant installed for `page` (0: none, or the initial owner's page). */
  installed(page: number): number {
    return this.#installed.get(page) ?? 0;
  }

  /** Records an installed grant and wakes the waiters it satisfies. */
  setInstalled(page: number, epoch: number): void {
    if (epoch <= this.installed(page)) return;
    this.#installed.set(page, epoch);
    const ws = this.#waiters.get(page);
    if (ws === undefined) return;
    const keep: Waiter[] = [];
    for (const w of ws) {
      if (w.epoch <= epoch) {
        this.#timers.clearTimeout(w.handle);
        w.resolve(true);
      } else keep.push(w);
    }
    if (keep.length === 0) this.#waiters.delete(page);
    else this.#waiters.set(page, keep);
  }

  /** Resolves true once a grant of at least `epoch` is installed, false after `timeoutMs`. */
  waitInstalled(page: number, epoch: number, timeoutMs: number): Promise<boolean> {
    if (this.installed(page) >= epoch) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: Waiter = { epoch, resolve, handle: undefined };
      w.handle = this.#timers.setTimeout(() => {
        const ws = this.#waiters.get(page);
        if (ws !== undefined) {
          const i = ws.indexOf(w);
          if (i >= 0) ws.splice(i, 1);
          if (ws.length === 0) this.#waiters.delete(page);
        }
        resolve(false);
      }, timeoutMs);
      const ws = this.#waiters.get(page);
      if (ws === undefined) this.#waiters.set(page, [w]);
      else ws.push(w);
    });
  }

  /** Notes that the read copy granted at `copyEpoch` was invalidated (possibly before it arrived). */
  noteInvalidated(page: number, copyEpoch: number): void {
    if (copyEpoch > (this.#invalidated.get(page) ?? 0)) this.#invalidated.set(page, copyEpoch);
  }

  /** True when a read grant of `epoch` arrives after its own invalidation: it must not be installed. */
  isStaleRead(page: number, epoch: number): boolean {
    return (this.#invalidated.get(page) ?? 0) >= epoch;
  }

  /** Fails every waiter (on close). */
  cancelAll(): void {
    for (const ws of this.#waiters.values()) {
      for (const w of ws) {
        this.#timers.clearTimeout(w.handle);
        w.resolve(false);
      }
    }
    this.#waiters.clear();
  }
}
