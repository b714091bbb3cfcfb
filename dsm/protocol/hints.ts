/**
 * Where a node believes each page's owner is: Li & Hudak's `probOwner`, kept by every node in both
 * manager modes. A hint is only a hint: a request sent to a node that does not own the page is
 * answered Redirect, never served, so a stale hint costs messages, never consistency (only the
 * owner hands a page over, under its page lock: owner.ts).
 *
 * Two things per page:
 * - the FACT: the owner this node last learned of first hand, and that event's epoch (the owner's
 *   per-page number of a grant or transfer). Epochs of a page only grow along its ownership, so a
 *   fact with a higher epoch is newer, whoever reported it. Facts come from: a grant received
 *   (read: the granter owns it; write: this node does), a transfer handed over (the new owner), a
 *   confirmation received by the page's manager (fixed mode), a locate's answers, and an
 *   invalidation, which ANNOUNCES a transfer (`via` the old owner: it may never complete). A
 *   locate's verdict on a lost page names the node of the newest fact (requester.ts), so only
 *   what a node saw happen is a fact: a Redirect only moves the route;
 * - the ROUTE: where this node sends its next request for the page. It is the fact's node, except
 *   after Li & Hudak's compression heuristic: a node that redirects someone's WRITE request
 *   points its route at that requester, which is about to own the page, so chains stay short in
 *   migratory sharing. A guess never becomes a fact, so it never names a lost page's node.
 *
 * Initial state: every page's fact is its initial owner at epoch 0, so a first fault goes
 * straight to the owner (2 messages) in both modes.
 */
export interface OwnerFact {
  readonly node: number;
  readonly epoch: number;
  /**
   * Set when the fact is a transfer an invalidation announced (from owner `via` to `node`): it may
   * never have completed (the grant lost, the old owner dead), so it proves nothing about `node`.
   */
  readonly via?: number;
}

export class OwnerHints {
  readonly #facts = new Map<number, OwnerFact>();
  readonly #routes = new Map<number, number>();
  /** When each guess was made (a counter): a guess made after a hand-off knows more than the hand-off. */
  readonly #guessedAt = new Map<number, number>();
  #clock = 0;
  readonly #initialOwner: (page: number) => number;

  constructor(initialOwner: (page: number) => number) {
    this.#initialOwner = initialOwner;
  }

  /** The newest owner this node learned of (the initial owner at epoch 0 before anything happened). */
  fact(page: number): OwnerFact {
    return this.#facts.get(page) ?? { node: this.#initialOwner(page), epoch: 0 };
  }

  /** Where to send the next request for `page`. */
  route(page: number): number {
    return this.#routes.get(page) ?? this.fact(page).node;
  }

  /** True when the route is a guess (Li & Hudak's heuristic), not the fact. */
  guessed(page: number): boolean {
    return this.#routes.has(page);
  }

  /**
   * A protocol event said `node` owns `page` as of `epoch`. Newer than the fact: it becomes the
   * fact and the route. Not newer: ignored (a late message about the past).
   */
  learn(page: number, node: number, epoch: number, via?: number): void {
    const f = this.fact(page);
    if (epoch < f.epoch || (epoch === f.epoch && (node !== f.node || via !== undefined))) return;
    this.#facts.set(page, via === undefined ? { node, epoch } : { node, epoch, via });
    this.#routes.delete(page);
    this.#guessedAt.delete(page);
  }

  /** Li & Hudak's compression: route the next request to `node` (which asked for the page) without knowing it has it. */
  guess(page: number, node: number): void {
    if (node === this.fact(page).node) {
      this.unguess(page);
      return;
    }
    this.#routes.set(page, node);
    this.#guessedAt.set(page, ++this.#clock);
  }

  /** Forget a guess (it led nowhere): the route is the fact again. */
  unguess(page: number): void {
    this.#routes.delete(page);
    this.#guessedAt.delete(page);
  }

  /** A counter value: what now() returned before a guess, guessAfter(page, it) finds. */
  now(): number {
    return this.#clock;
  }

  /** The guessed route of `page`, if the guess was made after `time` (a now() value). */
  guessAfter(page: number, time: number): number | undefined {
    const at = this.#guessedAt.get(page);
    return at !== undefined && at > time ? this.#routes.get(page) : undefined;
  }
}
