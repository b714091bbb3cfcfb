/**
 * An in-memory trace of this thread: every event and node announcement since start(), in the shape
 * readTraceDir() returns, so one process's run can be merged and drawn without files (tests, and
 * tools that trace an in-process cluster). Bounded: past maxEvents, events are counted, not kept.
 */
import type { TraceEvent } from './events.js';
import { subscribeTrace, traceNodes, type NodeInfo } from './node.js';
import type { Lane, LoadedTrace } from './read.js';

export interface TraceCollector {
  /** Events kept so far (live array). */
  readonly events: readonly TraceEvent[];
  /** Events not kept because maxEvents was reached. */
  readonly dropped: number;
  /** The trace so far, as lanes (one per node incarnation seen). */
  snapshot(): LoadedTrace;
  /** Stop listening and return the trace. */
  stop(): LoadedTrace;
}

export function startTraceCollector(opts: { maxEvents?: number } = {}): TraceCollector {
  const max = opts.maxEvents ?? 1_000_000;
  const events: TraceEvent[] = [];
  const infos = new Map<string, NodeInfo>(); // by node id: the current incarnation
  const laneOf = new Map<TraceEvent, string>(); // event → inc
  const allInfos = new Map<string, NodeInfo>(); // by incarnation
  let dropped = 0;
  const onNode = (i: NodeInfo): void => {
    infos.set(i.node, i);
    allInfos.set(i.inc, i);
  };
  for (const n of traceNodes()) onNode(n.info());
  const unsubscribe = subscribeTrace((e) => {
    if (events.length >= max) {
      dropped++;
      return;
    }
    events.push(e);
    const inc = infos.get(e.node)?.inc;
    if (inc !== undefined) laneOf.set(e, inc);
  }, { onNode });
  const snapshot = (): LoadedTrace => {
    const lanes = new Map<string, Lane>();
    for (const e of events) {
      const inc = laneOf.get(e) ?? `?${e.node}`;
      let lane = lanes.get(inc);
      if (lane === undefined) {
        lane = { node: e.node, inc, info: allInfos.get(inc), events: [], file: '(memory)' };
        lanes.set(inc, lane);
      }
      lane.events.push(e);
    }
    return { lanes: [...lanes.values()], files: [], skipped: 0, reasons: [] };
  };
  const c: TraceCollector = {
    events,
    get dropped() {
      return dropped;
    },
    snapshot,
    stop() {
      unsubscribe();
      return snapshot();
    },
  };
  return c;
}
