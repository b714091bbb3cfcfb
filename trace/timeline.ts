/**
 * The terminal timeline: one line per event in causal order, with the time since the trace's first
 * event, a lane per node (● marks the node the event happened on), the node, the layer and what
 * happened. Long quiet stretches (a timer's wait) are shown as their own line.
 */
import { describeEvent, selectEvents, type TraceFilter } from './filter.js';
import { causalViolations, type Merged } from './merge.js';

export interface TimelineOptions {
  readonly filter?: TraceFilter;
  /** Show a gap line for quiet stretches at least this long. @default 5 */
  readonly gapMs?: number;
  /** Lane columns are drawn for at most this many nodes. @default 8 */
  readonly maxLanes?: number;
}

function ms(x: number): string {
  return x.toFixed(3).padStart(10);
}

/** The timeline as lines of text (header first). */
export function renderTimeline(m: Merged, o: TimelineOptions = {}): string[] {
  const events = selectEvents(m, o.filter ?? {});
  const gapMs = o.gapMs ?? 5;
  const laneCols = m.nodes.length <= (o.maxLanes ?? 8);
  const nodeWidth = Math.max(4, ...m.nodes.map((n) => n.length));
  const out: string[] = [];
  const span = m.end - m.start;
  out.push(`${m.nodes.length} node${m.nodes.length === 1 ? '' : 's'} (${m.nodes.join(', ')}), ${events.length} of ${m.events.length} events over ${span.toFixed(1)} ms, in causal order`);
  if (m.unmatched > 0) out.push(`note: ${m.unmatched} received message(s) whose send is not in the trace (a node's file missing, or cut short by a kill)`);
  const bad = causalViolations(m, 1).filter((v) => !v.includes('merge step'));
  if (m.forced > 0) out.push(`note: ${m.forced} step(s) had no causally ready event (inconsistent trace); the earliest was taken`);
  if (bad.length > 0) out.push(`note: ${bad.length} receive(s) not after their send by clock (first: ${bad[0]}); the hosts' clocks may disagree`);
  if (m.skippedLines > 0) out.push(`note: ${m.skippedLines} line(s) skipped: ${m.reasons.slice(0, 3).join('; ')}`);
  const lanes = (node: string): string => m.nodes.map((n) => (n === node ? '●' : '│')).join(' ');
  out.push(`${'time (ms)'.padStart(10)}  ${laneCols ? `${m.nodes.map(() => ' ').join(' ')}  ` : ''}${'node'.padEnd(nodeWidth)}  ${'layer'.padEnd(9)}  event`);
  let prevT: number | undefined;
  for (const e of events) {
    const t = e.ev.t - m.start;
    if (prevT !== undefined && t - prevT >= gapMs) {
      out.push(`${''.padStart(10)}  ${laneCols ? `${m.nodes.map(() => '┆').join(' ')}  ` : ''}… ${(t - prevT).toFixed(1)} ms …`);
    }
    prevT = t;
    out.push(`${ms(t)}  ${laneCols ? `${lanes(e.node)}  ` : ''}${e.node.padEnd(nodeWidth)}  ${e.ev.layer.padEnd(9)}  ${describeEvent(e)}`);
  }
  return out;
}
