/**
 * The manager of Li & Hudak's FIXED distributed manager, as a directory: page p's manager is
 * sorted(nodes)[p mod N] (the paper's H(p)); it knows who owns each page it manages and tells a
 * requester whose probable-owner hint was wrong (requester.ts).
 *
 * It no longer sits on the path of a fault. The owner serves its page itself (owner.ts), so a
 * fault whose hint is right costs 2 messages whoever manages the page, and ownership moves
 * without the manager. The manager learns of every move from the new owner's `owns` call, sent
 * as the grant is installed, off the fault's path (piggybacked on the heartbeat, `owns` in ping,
 * when that call fails), so its record can lag behind a move; a
 * requester sent to a previous owner is redirected onwards by it (it knows where it handed the
 * page), and a record that names a dead node makes the requester ask every live node (locate).
 * So the directory is never needed for safety, only to find the owner:
 * - when the directory's node is dead, a fault that needs it (a wrong hint) fails
 *   DSM_ERR_MANAGER_DEAD naming it: the fixed manager's weakness, kept on purpose, because it is the
 *   chapter's point and what the dynamic mode removes; a fault whose hint still names the live owner
 *   is served, and an owner always reaches its own page.
 */
import type { OwnerHints, OwnerFact } from './hints.js';

export interface ManagerInit {
  readonly id: number;
  readonly hints: OwnerHints;
  readonly managerOf: (page: number) => number;
}

export class Manager {
  readonly #i: ManagerInit;

  constructor(init: ManagerInit) {
    this.#i = init;
  }

  /** True when this node is `page`'s manager. */
  manages(page: number): boolean {
    return this.#i.managerOf(page) === this.#i.id;
  }

  /** `from` confirmed that it owns `page` since `epoch` (piggybacked on its heartbeat). */
  owns(from: number, page: number, epoch: number): void {
    if (this.manages(page)) this.#i.hints.learn(page, from, epoch);
  }

  /** The directory record of a page this node manages (undefined for other pages). */
  record(page: number): OwnerFact | undefined {
    return this.manages(page) ? this.#i.hints.fact(page) : undefined;
  }
}
