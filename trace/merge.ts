/**
 * Merging the lanes of a trace into one causal order, and vector clocks over it.
 *
 * Happened-before edges: each event follows the previous event of its lane (program order), and
 * an event with `cause` or a remote `msg` follows the event that key names (a message's send). The
 * merge is a topological order of that graph which, among the events ready at each step, takes the
 * one with the smallest timestamp: so the order is causal always, and also in time order whenever
 * that does not contradict causality (different hosts' clocks may disagree a little).
 */
import type { TraceEvent } from './events.js';
import type { Lane, LoadedTrace } from './read.js';

export interface MEvent {
  readonly ev: TraceEvent;
  /** Position in the merged (causal) order. */
  i: number;
  /** Index into Merged.lanes. */
  readonly lane: number;
  /** The event's key, "inc:lc". */
  readonly key: string;
  /** The node id (lane's node). */
  readonly node: string;
  /** The peer as a node id when the trace could name it (addresses resolved through the headers). */
  peer: string | undefined;
  /** The remote send this event receives (its `cause`), when that event is in the trace. */
  cause: MEvent | undefined;
  /** The event its `msg` names, when in the trace and not this event. */
  msg: MEvent | undefined;
  /** The earlier event its `of` names. */
  of: MEvent | undefined;
  /** Receive-side events whose cause is this one. */
  readonly receivers: MEvent[];
  /** Events whose `of` names this one (e.g. its drop by the injector). */
  readonly about: MEvent[];
}

export interface MergedLane {
  readonly node: string;
  readonly inc: string;
  readonly addresses: readonly string[];
  readonly events: MEvent[];
}

export interface Merged {
  /** Every event, in causal order. */
  readonly events: MEvent[];
  /** Node ids, sorted (numbers numerically). */
  readonly nodes: string[];
  readonly lanes: MergedLane[];
  readonly byKey: ReadonlyMap<string, MEvent>;
  /** Earliest timestamp (the zero of relative times). */
  readonly start: number;
  readonly end: number;
  /** Receive-side events whose cause or msg is not in the trace (its sender's file is missing or was cut short). */
  readonly unmatched: number;
  /** Steps where no event was causally ready (an inconsistent trace); the earliest head was taken. */
  readonly forced: number;
  readonly skippedLines: number;
  readonly reasons: readonly string[];
}

/** Compare node ids: numeric ids numerically, then the rest by string. */
export function compareNodes(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : NaN;
  const nb = /^\d+$/.test(b) ? Number(b) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  if (!Number.isNaN(na)) return -1;
  if (!Number.isNaN(nb)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function mergeTrace(t: LoadedTrace): Merged {
  const lanes0: Lane[] = [...t.lanes].sort((a, b) => compareNodes(a.node, b.node) || (a.events[0]!.t - b.events[0]!.t));
  // Addresses → node ids, from every header (a node's own addresses, and the names it gave peers).
  const nameOf = new Map<string, string>();
  for (const l of lanes0) for (const [addr, id] of Object.entries(l.info?.names ?? {})) nameOf.set(addr, id);
  for (const l of lanes0) for (const a of l.info?.addresses ?? []) nameOf.set(a, l.node);
  const byKey = new Map<string, MEvent>();
  const lanes: MergedLane[] = lanes0.map((l, li) => {
    const events = l.events.map((ev): MEvent => {
      const key = `${l.inc}:${ev.lc}`;
      const m: MEvent = {
        ev, i: -1, lane: li, key, node: l.node,
        peer: typeof ev.peer === 'string' ? nameOf.get(ev.peer) ?? ev.peer : undefined,
        cause: undefined, msg: undefined, of: undefined, receivers: [], about: [],
      };
      byKey.set(key, m);
      return m;
    });
    return { node: l.node, inc: l.inc, addresses: l.info?.addresses ?? [], events };
  });
  let unmatched = 0;
  for (const l of lanes) {
    for (const m of l.events) {
      const e = m.ev;
      if (typeof e.cause === 'string') {
        m.cause = byKey.get(e.cause);
        if (m.cause === undefined) unmatched++;
        else m.cause.receivers.push(m);
      }
      if (typeof e.msg === 'string' && e.msg !== m.key) {
        m.msg = byKey.get(e.msg);
        if (m.msg === undefined && e.dir === 'recv' && e.cause === undefined) unmatched++;
      }
      if (typeof e.of === 'string') {
        m.of = byKey.get(e.of);
        m.of?.about.push(m);
      }
    }
  }
  // Topological merge, earliest ready head first.
  const heads = lanes.map(() => 0);
  const done = new Set<MEvent>();
  const events: MEvent[] = [];
  const total = lanes.reduce((a, l) => a + l.events.length, 0);
  let forced = 0;
  const ready = (m: MEvent): boolean =>
    (m.cause === undefined || m.cause.lane === m.lane || done.has(m.cause)) && (m.msg === undefined || m.msg.lane === m.lane || done.has(m.msg));
  while (events.length < total) {
    let best = -1;
    let bestAny = -1;
    for (let li = 0; li < lanes.length; li++) {
      const m = lanes[li]!.events[heads[li]!];
      if (m === undefined) continue;
      if (bestAny < 0 || m.ev.t < lanes[bestAny]!.events[heads[bestAny]!]!.ev.t) bestAny = li;
      if (ready(m) && (best < 0 || m.ev.t < lanes[best]!.events[heads[best]!]!.ev.t)) best = li;
    }
    if (best < 0) {
      forced++;
      best = bestAny;
    }
    const m = lanes[best]!.events[heads[best]!++]!;
    m.i = events.length;
    events.push(m);
    done.add(m);
  }
  // Numeric ids in order; named nodes in the order they first appear (a sender before its receiver).
  const firstAt = new Map<string, number>();
  for (const e of events) if (!firstAt.has(e.node)) firstAt.set(e.node, e.i);
  const nodes = [...new Set(lanes.map((l) => l.node))].sort((a, b) => {
    const numeric = /^\d+$/.test(a) && /^\d+$/.test(b);
    return numeric || /^\d+$/.test(a) !== /^\d+$/.test(b) ? compareNodes(a, b) : firstAt.get(a)! - firstAt.get(b)!;
  });
  let start = Infinity;
  let end = -Infinity;
  for (const e of events) {
    if (e.ev.t < start) start = e.ev.t;
    if (e.ev.t > end) end = e.ev.t;
  }
  return {
    events, nodes, lanes, byKey, start, end, unmatched, forced,
    skippedLines: t.skipped, reasons: t.reasons,
  };
}

/** Host name for ShiViz and vector clocks: the node id, or node.k when a node has several incarnations. */
export function hostNames(m: Merged): string[] {
  const count = new Map<string, number>();
  for (const l of m.lanes) count.set(l.node, (count.get(l.node) ?? 0) + 1);
  const seen = new Map<string, number>();
  return m.lanes.map((l) => {
    const safe = l.node.replace(/\s/g, '_');
    if (count.get(l.node) === 1) return safe;
    const k = (seen.get(l.node) ?? 0) + 1;
    seen.set(l.node, k);
    return `${safe}.${k}`;
  });
}

/**
 * Vector clocks of `subset` (events of one merged trace, in causal order): per host, the number of
 * events of that host in the subset that happened before or at the event. Edges are program order
 * within a lane and cause/msg edges whose both ends are in the subset.
 */
export function vectorClocks(m: Merged, subset: readonly MEvent[]): Map<MEvent, Record<string, number>> {
  const hosts = hostNames(m);
  const inSubset = new Set(subset);
  const last = new Map<number, Record<string, number>>();
  const out = new Map<MEvent, Record<string, number>>();
  for (const e of subset) {
    const host = hosts[e.lane]!;
    const prev = last.get(e.lane);
    const vc: Record<string, number> = prev === undefined ? {} : { ...prev };
    for (const p of [e.cause, e.msg]) {
      if (p === undefined || !inSubset.has(p)) continue;
      const pv = out.get(p);
      if (pv === undefined) continue;
      for (const [h, v] of Object.entries(pv)) if ((vc[h] ?? 0) < v) vc[h] = v;
    }
    vc[host] = (prev?.[host] ?? 0) + 1;
    out.set(e, vc);
    last.set(e.lane, vc);
  }
  return out;
}

/**
 * Receives that are not after their sends: for every event whose `cause` is in the trace, the
 * send must come first in the merged order, have a smaller Lamport clock (the clock travelled
 * with the message), and, within `slackMs`, a timestamp no later than the receive's (processes of
 * one host share a clock; across hosts, pass a slack as large as their clocks may disagree).
 * Returns one sentence per violation; empty when the trace is causally consistent.
 */
export function causalViolations(m: Merged, slackMs = 0.5): string[] {
  const out: string[] = [];
  for (const e of m.events) {
    const s = e.cause;
    if (s === undefined) continue;
    const what = `${e.node} ${e.ev.type} (lc ${e.ev.lc}) after ${s.node} ${s.ev.type} (lc ${s.ev.lc})`;
    if (s.i >= e.i) out.push(`${what}: merged before its send`);
    if (s.ev.lc >= e.ev.lc) out.push(`${what}: Lamport clock not greater than the send's`);
    if (s.ev.t > e.ev.t + slackMs) out.push(`${what}: received ${(s.ev.t - e.ev.t).toFixed(3)} ms before it was sent`);
  }
  if (m.forced > 0) out.push(`${m.forced} merge step(s) found no causally ready event`);
  return out;
}
