/**
 * Front door of the coherence protocol: Ivy (Li & Hudak 1989), fixed distributed manager.
 * Protocol reasoning, message counts and failure semantics: ivy-node.ts.
 *
 *   const node = new IvyNode({ id, nodes, local, peer: (n) => new IvyClient(callerFor(n)) });
 *   server.serve(IvyDescriptor, node.handlers);
 *   await node.fault(page, 'write');
 */
import './trace-labels.js'; // how Ivy's messages are labelled in traces
export { IvyNode, managerOf } from './ivy-node.js';
export type { IvyNodeInit } from './ivy-node.js';
export { IVY_DEFAULTS, resolveIvyOptions } from './options.js';
export type { IvyOptions, ResolvedIvyOptions } from './options.js';
export type { IvyStats, IvyProcedure, LatencyHistogram } from './stats.js';
export type { NodeDeadEvent } from './failure-detector.js';
export { IvyClient, IvyDescriptor, Want, Outcome } from './ivy.stubs.js';
export type { IvyHandlers, Grant, Handoff } from './ivy.stubs.js';
