/**
 * `pagewire trace DIR --shiviz`: the run as a ShiViz log (https://github.com/DistributedClocks/shiviz).
 *
 * ShiViz's file format: the first line is the log-parsing regular expression (ShiViz adds ^ and $
 * and matches with the m flag), the second line the delimiter of multiple executions (empty: one
 * execution), then the log. Each event here is one line:
 *
 *   <host> <vector clock as JSON> <layer> <what happened>
 *
 * The host is the node id (node.k when a node ran several incarnations). Vector clocks are computed
 * over the exported events only (program order plus the message edges among them), so each host's
 * own entry counts 1, 2, 3, ... as ShiViz requires, and every clock is consistent with
 * happened-before among the exported events.
 */
import { describeEvent, selectEvents, type TraceFilter } from './filter.js';
import { hostNames, vectorClocks, type Merged } from './merge.js';

/** The parsing regex on the first line of the export. */
export const SHIVIZ_REGEX = String.raw`(?<host>\S+) (?<clock>\{[^}]*\}) (?<layer>\w+) (?<event>.*)`;

export function renderShiviz(m: Merged, filter: TraceFilter = {}): string {
  const events = selectEvents(m, filter);
  const hosts = hostNames(m);
  const vcs = vectorClocks(m, events);
  const lines = [SHIVIZ_REGEX, ''];
  for (const e of events) {
    const text = describeEvent(e).replace(/[\r\n]+/g, ' ');
    lines.push(`${hosts[e.lane]} ${JSON.stringify(vcs.get(e))} ${e.ev.layer} ${text}`);
  }
  return lines.join('\n') + '\n';
}
