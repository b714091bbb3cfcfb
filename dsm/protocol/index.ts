/**
 * Front door of the coherence protocol: Ivy (Li & Hudak 1989), owners found through probable-owner
 * hints and the fixed or the dynamic distributed manager, with deaths decided by a majority and
 * the dead fenced. Protocol reasoning and message counts: ivy-node.ts; the failure model:
 * membership.ts; atomic ownership transfer: owner.ts; finding owners: requester.ts, hints.ts.
 *
 *   const node = new IvyNode({ id, nodes, local, peer: (n) => new IvyClient(callerFor(n)), callerOf: (ctx) => idOf(ctx.peer) });
 *   server.serve(IvyDescriptor, node.handlers);
 *   await node.fault(page, 'write');
 */
import './trace-labels.js'; // how Ivy's messages are labelled in traces
export { IvyNode, managerOf, MAX_NODES } from './ivy-node.js';
export type { IvyNodeInit, IvyNodeStats, PageInspection } from './ivy-node.js';
export { IVY_DEFAULTS, MANAGER_MODES, resolveIvyOptions } from './options.js';
export type { IvyOptions, ManagerMode, ResolvedIvyOptions } from './options.js';
export type { IvyStats, IvyProcedure, LatencyHistogram } from './stats.js';
export type { MembershipEvent, MembershipStats, PeerStatus } from './membership.js';
export { IvyClient, IvyDescriptor, Want, Outcome, Holding, ManagerMode as ManagerModeCode } from './ivy.stubs.js';
export type { IvyHandlers, Grant, Claim, Where, View, Config, Vote, Ack, Transfer } from './ivy.stubs.js';
