/**
 * The trace tools on a fixture trace (test/fixtures/trace/figures: Figure 47.4's dropped request,
 * an RPC call about page 684 inside a write fault, a call never answered, and two malformed lines):
 * the HTML diagram's SVG structure against a golden file, the ShiViz export checked as ShiViz
 * checks it, the terminal timeline's filters, and the CLI's errors.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeTrace, readTraceDir, renderHtml, renderShiviz, renderSvg, renderTimeline, runTraceCli, SHIVIZ_REGEX } from '../trace/index.js';
import { checkShivizClocks, happenedBefore, parseShiviz } from './support/shiviz-check.js';
import { runNode } from './support/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/trace/figures', import.meta.url));
const GOLDEN = fileURLToPath(new URL('./fixtures/trace/figures.svg-structure.txt', import.meta.url));

function merged() {
  return mergeTrace(readTraceDir(FIXTURE));
}

/** The SVG's structure: one line per classed element, with the data attributes that place it. */
export function svgStructure(svg: string): string[] {
  const out: string[] = [];
  for (const m of svg.matchAll(/<(\w+) class="([^"]*)"([^>]*)>/g)) {
    const attrs = [...m[3]!.matchAll(/data-(layer|node|peer|page|r|r2|to)="([^"]*)"/g)].map((a) => `${a[1]}=${a[2]}`);
    out.push(`${m[1]}.${m[2]!.replace(/ /g, '.')}${attrs.length ? ` ${attrs.join(' ')}` : ''}`);
  }
  return out;
}

const count = (s: string, re: RegExp): number => [...s.matchAll(re)].length;

describe('HTML space-time diagram', () => {
  it('draws a line per node, an arrow per message, a cross on the dropped one, marks and a fault bar (golden structure)', () => {
    const { svg } = renderSvg(merged());
    expect(count(svg, /<line class="node-line"/g)).toBe(2);
    expect(count(svg, /<g class="arrow"/g)).toBe(4); // retransmitted DATA, its ack, acquire, grant
    expect(count(svg, /<g class="arrow drop"/g)).toBe(1);
    expect(count(svg, /<path class="cross"/g)).toBe(1);
    expect(count(svg, /<g class="arrow lost"/g)).toBe(1); // the call never answered
    expect(count(svg, /<g class="bar"/g)).toBe(1);
    expect(count(svg, /class="ev [^"]*retransmit/g)).toBe(1);
    expect(count(svg, /class="ev [^"]*timer/g)).toBe(1);
    expect(count(svg, /<g class="gap"/g)).toBe(3);
    const structure = svgStructure(svg).join('\n') + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, structure);
    expect(structure).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('writes one self-contained page: no external reference, a policy that forbids fetching', () => {
    const html = renderHtml(merged(), { title: 'fixture <&>' });
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:|\/\/)/);
    expect(html).toContain('fixture &lt;&amp;&gt;');
    expect(html).toContain('2 malformed line(s) skipped');
  });

  it('cuts a big trace at maxEvents and says so', () => {
    const r = renderSvg(merged(), { maxEvents: 5 });
    expect(r).toMatchObject({ drawn: 5, total: 17, truncated: true });
    expect(renderHtml(merged(), { maxEvents: 5 })).toContain('only the first 5 of 17 events are drawn');
  });
});

describe('ShiViz export', () => {
  it('parses with its own first-line regex and every clock passes ShiViz\'s checks and happened-before', () => {
    const m = merged();
    const text = renderShiviz(m);
    const { events, regex, unmatchedLines } = parseShiviz(text);
    expect(regex).toBe(SHIVIZ_REGEX);
    expect(unmatchedLines).toBe(0);
    expect(events).toHaveLength(m.events.length);
    expect(checkShivizClocks(events)).toEqual([]);
    // Every message edge of the trace: the send happened before the receive, by the clocks.
    const clockOf = new Map(m.events.map((e, i) => [e, events[i]!.clock]));
    let edges = 0;
    for (const e of m.events) {
      if (e.cause === undefined) continue;
      edges++;
      expect(happenedBefore(clockOf.get(e.cause)!, clockOf.get(e)!)).toBe(true);
      expect(happenedBefore(clockOf.get(e)!, clockOf.get(e.cause)!)).toBe(false);
    }
    expect(edges).toBe(4);
    // Concurrent events stay concurrent: node 2's ack send does not happen before node 1's RTO.
    const rto = m.events.findIndex((e) => e.ev.type === 'rto-fired');
    const lostSend = m.events.findIndex((e) => e.ev.label === 'acquire p12 read');
    expect(happenedBefore(events[lostSend]!.clock, events[rto]!.clock)).toBe(false);
  });

  it('the checkers reject known-bad logs: clocks ShiViz refuses, and a receive that forgot its send', () => {
    const lines = renderShiviz(merged()).split('\n');
    const tamper = (pred: (l: string) => boolean, from: RegExp | string, to: string): string => {
      const copy = [...lines];
      const i = copy.findIndex(pred);
      expect(i).toBeGreaterThan(1);
      copy[i] = copy[i]!.replace(from, to);
      return copy.join('\n');
    };
    // An entry naming an event host 1 never had.
    expect(checkShivizClocks(parseShiviz(tamper((l) => l.startsWith('2 {"1":5,"2":1}'), '{"1":5,"2":1}', '{"1":99,"2":1}')).events)).not.toEqual([]);
    // A clock that goes back on what its host's previous event had seen.
    expect(checkShivizClocks(parseShiviz(tamper((l) => l.startsWith('2 {"1":5,"2":2}'), '{"1":5,"2":2}', '{"1":4,"2":2}')).events)).not.toEqual([]);
    // A host whose clock skips a value.
    expect(checkShivizClocks(parseShiviz(tamper((l) => l.startsWith('1 {"1":3}'), '{"1":3}', '{"1":4}')).events)).not.toEqual([]);
    // A receive whose clock forgot its sender: ShiViz accepts it, but it is not consistent with
    // happened-before, which the export test checks edge by edge.
    const forgot = parseShiviz(tamper((l) => l.startsWith('2 {"1":5,"2":1}'), '{"1":5,"2":1}', '{"2":1}')).events;
    const send = forgot.find((e) => e.host === '1' && e.clock['1'] === 5)!;
    const recv = forgot.find((e) => e.host === '2' && e.clock['2'] === 1)!;
    expect(happenedBefore(send.clock, recv.clock)).toBe(false);
  });

  it('computes clocks over the exported events only when filtered, still accepted', () => {
    const { events } = parseShiviz(renderShiviz(merged(), { layers: ['rpc'] }));
    expect(events).toHaveLength(5);
    expect(checkShivizClocks(events)).toEqual([]);
  });
});

describe('terminal timeline and pagewire trace', () => {
  it('lists every event in causal order, node-labelled, with the quiet stretches', () => {
    const lines = renderTimeline(merged());
    expect(lines[0]).toBe('2 nodes (1, 2), 17 of 17 events over 300.0 ms, in causal order');
    expect(lines.some((l) => /… 100\.2 ms …/.test(l))).toBe(true);
    const recv = lines.findIndex((l) => /2 +transport +← 1 datagram-received/.test(l));
    const send = lines.findIndex((l) => /1 +transport +→ 2 datagram-sent: DATA seq=100 tx=2/.test(l));
    expect(send).toBeGreaterThan(0);
    expect(recv).toBeGreaterThan(send);
  });

  it('filters by layer, page, node and time', () => {
    const m = merged();
    const body = (f: Parameters<typeof renderTimeline>[1]) => renderTimeline(m, f).filter((l) => /^ +\d+\.\d{3} /.test(l));
    expect(body({ filter: { layers: ['dsm'] } })).toHaveLength(2);
    expect(body({ filter: { page: 684 } })).toHaveLength(6);
    expect(body({ filter: { nodes: ['2'] } }).length).toBeGreaterThan(0);
    expect(body({ filter: { nodes: ['2'] } }).every((l) => /[●│] [●│] {2}(2 |1 .*[←→] 2)/.test(l) || /peer=2/.test(l))).toBe(true);
    expect(body({ filter: { fromMs: 100, toMs: 102 } })).toHaveLength(7);
  });

  it('pagewire trace: prints the timeline, writes HTML, exports ShiViz, and rejects bad arguments with a code', async () => {
    const run = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const code = await runTraceCli(argv, (s) => void (out += s), (s) => void (err += s));
      return { code, out, err };
    };
    expect((await run(FIXTURE, '--layer', 'rpc')).out).toMatch(/rpc-sent: acquire p684 write/);
    const dir = mkdtempSync(join(tmpdir(), 'pagewire-trace-'));
    const html = join(dir, 'x.html');
    const w = await run(FIXTURE, '--html', html, '--page', '684');
    expect(w.code).toBe(0);
    expect(w.out).toContain(`wrote ${html}`);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
    expect((await run(FIXTURE, '--shiviz')).out.split('\n')[0]).toBe(SHIVIZ_REGEX);
    expect(await run(FIXTURE, '--layer', 'disk')).toMatchObject({ code: 2, err: expect.stringMatching(/--layer must be one of transport\|rpc\|dsm.*TRACE_ERR_INVALID_ARGUMENT/) });
    expect(await run(FIXTURE, '--from', '5', '--to', '1')).toMatchObject({ code: 2, err: expect.stringContaining('--from (5) is after --to (1)') });
    expect(await run(FIXTURE, '--page', '-1')).toMatchObject({ code: 2 });
    expect(await run(join(dir, 'missing'))).toMatchObject({ code: 1, err: expect.stringContaining('TRACE_ERR_IO') });
    expect(await run(dir)).toMatchObject({ code: 1, err: expect.stringContaining('TRACE_ERR_NO_TRACE') });
    expect(await run()).toMatchObject({ code: 2, err: expect.stringContaining('exactly one trace directory') });
    expect(await run(FIXTURE, '--bogus')).toMatchObject({ code: 2 });
    expect((await run('--help')).out).toContain('usage: pagewire trace DIR');
  });

  it('npx pagewire trace runs the same from the real binary', async () => {
    const r = await runNode('demos/cli.js', ['trace', FIXTURE, '--layer', 'dsm']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fault-end: write fault p684 ok=true ms=0\.6/);
    const bad = await runNode('demos/cli.js', ['trace', FIXTURE, '--node']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/pagewire trace: .*--node/);
  });

  it('skips malformed lines of a trace file, counts them and says which', () => {
    const t = readTraceDir(FIXTURE);
    expect(t.skipped).toBe(2);
    expect(t.reasons).toEqual(['node-2.jsonl:7: not JSON', 'node-2.jsonl:8: lc is not a non-negative integer']);
  });
});
