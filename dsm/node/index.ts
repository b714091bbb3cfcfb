/** A DSM node: the page store and the Ivy protocol joined over the UDP transport and RPC. */
export { startDsmNode, attachThread } from './node.js';
export type { DsmNode, DsmShared, DsmThread } from './node.js';
export { DSM_NODE_DEFAULTS, WATCH_EVENTS_PER_SECOND, resolveDsmNodeOptions, ownedRange, allocatableRange, initialOwner, rootPage, transportNodeId } from './options.js';
export type { DsmNodeOptions, DsmPeer, ResolvedDsmNodeOptions } from './options.js';
export type { DsmNodeStats, NetworkRules, NetworkState, PageTable, RuntimeEvent, SecurityEvent, TraceState } from './network-side.js';
export type { MembershipEvent } from '../protocol/index.js';
export { Allocator } from './allocator.js';
