/**
 * Checks a ShiViz log the way ShiViz reads it (DistributedClocks/shiviz: js/shiviz.js takes the first
 * line as the parsing regex and wraps it in ^...$ with the m flag, the second as the executions
 * delimiter; js/model/modelGraph.js then requires, per host, own clock values 1, 2, 3, ...; other
 * hosts' entries naming existing events; and each clock equal to the one rebuilt from its host's
 * previous event and the events its entries point at).
 */

export interface ShivizEvent {
  readonly host: string;
  readonly clock: Record<string, number>;
  readonly event: string;
  readonly fields: Record<string, string>;
  readonly line: number;
}

export function parseShiviz(text: string): { events: ShivizEvent[]; regex: string; unmatchedLines: number } {
  const [regexLine = '', delimiter = '', ...rest] = text.split('\n');
  if (delimiter.trim() !== '') throw new Error(`expected an empty delimiter line, got ${JSON.stringify(delimiter)}`);
  const log = rest.join('\n');
  const re = new RegExp(`^${regexLine}$`, 'gm');
  const events: ShivizEvent[] = [];
  let matchedLines = 0;
  for (const m of log.matchAll(re)) {
    const g = m.groups ?? {};
    if (g.host === undefined || g.clock === undefined || g.event === undefined) throw new Error('the regex lacks host, clock or event groups');
    const line = log.slice(0, m.index).split('\n').length + 2;
    const clock = JSON.parse(g.clock) as Record<string, number>;
    const { host, event, clock: _c, ...fields } = g;
    events.push({ host, clock, event, fields, line });
    matchedLines++;
  }
  const nonEmpty = rest.filter((l) => l.trim() !== '').length;
  return { events, regex: regexLine, unmatchedLines: nonEmpty - matchedLines };
}

/** ShiViz's model checks. Returns the problems found (empty: the log is accepted). */
export function checkShivizClocks(events: readonly ShivizEvent[]): string[] {
  const problems: string[] = [];
  const byHost = new Map<string, ShivizEvent[]>();
  for (const e of events) {
    if (!(e.host in e.clock)) problems.push(`line ${e.line}: host ${e.host} missing from its own clock`);
    const list = byHost.get(e.host) ?? [];
    list.push(e);
    byHost.set(e.host, list);
  }
  for (const [host, list] of byHost) {
    const sorted = [...list].sort((a, b) => a.clock[host]! - b.clock[host]!);
    sorted.forEach((e, i) => {
      if (e.clock[host] !== i + 1) problems.push(`line ${e.line}: host ${host}'s clock is ${e.clock[host]}, expected ${i + 1}`);
    });
    byHost.set(host, sorted);
  }
  if (problems.length) return problems;
  const at = (h: string, v: number): ShivizEvent | undefined => byHost.get(h)?.[v - 1];
  for (const e of events) {
    const own = e.clock[e.host]!;
    const rebuilt: Record<string, number> = {};
    const merge = (c: Record<string, number>): void => {
      for (const [h, v] of Object.entries(c)) if ((rebuilt[h] ?? 0) < v) rebuilt[h] = v;
    };
    if (own > 1) merge(at(e.host, own - 1)!.clock);
    for (const [h, v] of Object.entries(e.clock)) {
      if (h === e.host || v === 0) continue;
      const other = at(h, v);
      if (other === undefined) {
        problems.push(`line ${e.line}: entry ${h}:${v} names no event`);
        continue;
      }
      merge(other.clock);
    }
    rebuilt[e.host] = own;
    const a = JSON.stringify(Object.entries(rebuilt).filter(([, v]) => v > 0).sort());
    const b = JSON.stringify(Object.entries(e.clock).filter(([, v]) => v > 0).sort());
    if (a !== b) problems.push(`line ${e.line}: clock ${b} is not the one its predecessors give, ${a}`);
  }
  return problems;
}

/** a happened before b by their clocks: a ≤ b componentwise and a ≠ b. */
export function happenedBefore(a: Record<string, number>, b: Record<string, number>): boolean {
  let strict = false;
  for (const h of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[h] ?? 0;
    const y = b[h] ?? 0;
    if (x > y) return false;
    if (x < y) strict = true;
  }
  return strict;
}
