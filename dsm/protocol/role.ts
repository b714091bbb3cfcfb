/**
 * What every role of one node (requester, manager, owner) is given by the IvyNode shell: the node's
 * identity, its page store, its clock, its membership, per-page epochs, counters, the way to call
 * peers, and the view every message carries.
 */
import type { LocalPages } from '../contract.js';
import type { Timers } from '../../rpc/runtime/index.js';
import type { PageEpochs } from './epochs.js';
import type { View } from './ivy.stubs.js';
import type { Membership } from './membership.js';
import type { Peers } from './peers.js';
import type { IvyCounters } from './stats.js';

export interface RoleContext {
  readonly id: number;
  readonly local: LocalPages;
  readonly timers: Timers;
  readonly membership: Membership;
  readonly epochs: PageEpochs;
  readonly counters: IvyCounters;
  readonly peers: Peers;
  /** What this node sends with every message (membership.view()). */
  readonly view: () => View;
  /** Node that owns `page` before anyone touched it. */
  readonly initialOwner: (page: number) => number;
}
