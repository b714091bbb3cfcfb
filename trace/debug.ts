/**
 * DEBUG=pagewire:* prints the trace events as they happen, one line each, through `debug`
 * namespaces pagewire:trace:transport, pagewire:trace:rpc and pagewire:trace:dsm: sends as well
 * as receipts, peers by node id, page-level lines (faults, grants, invalidations). Installed once
 * per thread when the first TraceNode is made; it subscribes only when one of those namespaces is
 * enabled, so without DEBUG it costs nothing.
 */
import createDebug from 'debug';
import { LAYERS } from './events.js';
import { describeRaw } from './filter.js';
import { nodeLabel, subscribeTrace } from './node.js';

let installed = false;

export function installDebugPrinter(): void {
  if (installed) return;
  installed = true;
  const loggers = Object.fromEntries(LAYERS.map((l) => [l, createDebug(`pagewire:trace:${l}`)]));
  const layers = LAYERS.filter((l) => loggers[l]!.enabled);
  if (layers.length === 0) return;
  subscribeTrace((e) => loggers[e.layer]!('[%s] %s', nodeLabel(e.node), describeRaw(e)), { layers });
}
