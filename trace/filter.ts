/**
 * Filters shared by the timeline, the HTML diagram and the ShiViz export, and the one-line text
 * of an event. Filters select events; a message is shown when both of its ends are selected.
 */
import { LAYERS, type Layer, type TraceEvent } from './events.js';
import type { MEvent, Merged } from './merge.js';
import { TraceError } from './errors.js';

export interface TraceFilter {
  /** Only these layers. */
  readonly layers?: readonly Layer[];
  /** Only events about this page (DSM events, and RPC calls whose label names the page). */
  readonly page?: number;
  /** Only events of these nodes, and the other end of their messages. */
  readonly nodes?: readonly string[];
  /** Only events at or after this many ms since the first event of the trace. */
  readonly fromMs?: number;
  /** Only events at or before this many ms since the first event. */
  readonly toMs?: number;
  /** Leave out events of these RPC procedures (their `proc`), e.g. ["ping"] for the DSM's heartbeats. */
  readonly hide?: readonly string[];
  /** Only events at or after this position of the merged (causal) order: "from this event on", whatever the clocks say. */
  readonly fromIndex?: number;
}

export function validateFilter(f: TraceFilter): TraceFilter {
  for (const l of f.layers ?? []) {
    if (!(LAYERS as readonly string[]).includes(l)) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', `--layer must be one of ${LAYERS.join('|')}, got ${JSON.stringify(l)}`);
  }
  if (f.page !== undefined && !(Number.isSafeInteger(f.page) && f.page >= 0)) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', `--page must be a page number ≥ 0, got ${String(f.page)}`);
  for (const k of ['fromMs', 'toMs'] as const) {
    const v = f[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', `--${k === 'fromMs' ? 'from' : 'to'} must be milliseconds ≥ 0 since the trace's first event, got ${String(v)}`);
  }
  if (f.fromMs !== undefined && f.toMs !== undefined && f.fromMs > f.toMs) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', `--from (${f.fromMs}) is after --to (${f.toMs})`);
  return f;
}

/** Does `m` pass the filter? (Messages: see selectEvents, which keeps both ends.) */
export function matchesFilter(m: MEvent, f: TraceFilter, start: number): boolean {
  if (f.layers !== undefined && !f.layers.includes(m.ev.layer)) return false;
  if (f.page !== undefined && m.ev.page !== f.page) return false;
  if (f.hide !== undefined && typeof m.ev.proc === 'string' && f.hide.includes(m.ev.proc)) return false;
  if (f.nodes !== undefined && !f.nodes.includes(m.node) && !(m.peer !== undefined && f.nodes.includes(m.peer))) return false;
  if (f.fromIndex !== undefined && m.i < f.fromIndex) return false;
  const rel = m.ev.t - start;
  if (f.fromMs !== undefined && rel < f.fromMs) return false;
  if (f.toMs !== undefined && rel > f.toMs) return false;
  return true;
}

/** The events passing the filter, in causal order. */
export function selectEvents(merged: Merged, f: TraceFilter): MEvent[] {
  return merged.events.filter((m) => matchesFilter(m, f, merged.start));
}

const BASE = new Set(['node', 't', 'lc', 'layer', 'type', 'peer', 'cause', 'msg', 'page', 'label', 'dir', 'of']);
/** Fields left out of the one-line text when a label already says it. */
const SAID_BY_LABEL = new Set(['iface', 'proc']);

function value(v: unknown): string {
  if (typeof v === 'string') return v.length > 40 ? `${v.slice(0, 39)}…` : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/** A call id "clientId/inc/seq" shortened to its sequence number ("#12") for display. */
function shortCall(v: unknown): string | undefined {
  return typeof v === 'string' && /^[0-9a-f]+\/[0-9a-f]+\/\d+$/.test(v) ? `#${v.split('/')[2]}` : undefined;
}

/** One line describing a merged event: direction and peer (named by node id when the trace can), label or type, then its other fields. */
export function describeEvent(m: MEvent): string {
  return describeRaw(m.ev, m.peer);
}

/** describeEvent for an event as published (its `peer` as the node named it). */
export function describeRaw(e: TraceEvent, peer: string | undefined = typeof e.peer === 'string' ? e.peer : undefined): string {
  const parts: string[] = [];
  if (e.dir === 'send' && peer !== undefined) parts.push(`→ ${peer}`);
  else if (e.dir === 'recv' && peer !== undefined) parts.push(`← ${peer}`);
  parts.push(typeof e.label === 'string' ? `${e.type}: ${e.label}` : e.type);
  if (e.dir === undefined && peer !== undefined) parts.push(`peer=${peer}`);
  if (typeof e.page === 'number' && !(typeof e.label === 'string' && e.label.includes(`p${e.page}`))) parts.push(`page=${e.page}`);
  for (const [k, v] of Object.entries(e)) {
    if (BASE.has(k) || v === undefined) continue;
    if (typeof e.label === 'string' && SAID_BY_LABEL.has(k)) continue;
    const sc = k === 'call' ? shortCall(v) : undefined;
    const text = sc !== undefined ? `call ${sc}` : `${k}=${value(v)}`;
    if (typeof e.label === 'string' && (e.label.includes(text) || (typeof v === 'string' && v.length > 3 && e.label.includes(v)))) continue;
    parts.push(text);
  }
  return parts.join(' ');
}
