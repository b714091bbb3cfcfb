/**
 * `pagewire trace DIR [options]`: merge the trace files a run wrote with --trace DIR and show them.
 * Called by demos/cli.ts; returns the exit code (0 ok, 1 failure, 2 usage).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isTraceError, TraceError } from './errors.js';
import { LAYERS, type Layer } from './events.js';
import { validateFilter, type TraceFilter } from './filter.js';
import { renderHtml } from './html.js';
import { mergeTrace } from './merge.js';
import { readTraceDir } from './read.js';
import { renderShiviz } from './shiviz.js';
import { renderTimeline } from './timeline.js';

export const TRACE_USAGE = `usage: pagewire trace DIR [options]

Merges the node-<id>.jsonl files a run wrote with --trace DIR into one causal order and shows it:
a terminal timeline (default), an HTML space-time diagram (--html), or a ShiViz log (--shiviz).

  --layer L        only events of layer L: ${LAYERS.join('|')} (repeat or comma-separate for several)
  --page N         only events about DSM page N
  --node ID        only events of node ID and the other ends of its messages (repeatable, comma list)
  --from MS        only events at or after MS milliseconds since the trace's first event
  --to MS          only events at or before MS milliseconds since the trace's first event
  --hide PROC      leave out the events of RPC procedure PROC (e.g. --hide ping: the DSM's heartbeats)
  --html FILE      write a self-contained HTML file with the space-time diagram (zoom and filters in the page)
  --shiviz         print the run in ShiViz's log format (parsing regex on the first line): > run.log
  --max-events N   draw at most N events in the HTML (default 20000)
  --title TEXT     the HTML page's title
  --help           this text
`;

function list(v: string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  return items.length ? items : undefined;
}

function num(v: string | undefined, name: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0 || (integer && !Number.isSafeInteger(x))) {
    throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', `--${name} must be ${integer ? 'an integer' : 'a number'} ≥ 0, got ${JSON.stringify(v)}`);
  }
  return x;
}

export async function runTraceCli(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        layer: { type: 'string', multiple: true }, page: { type: 'string' }, node: { type: 'string', multiple: true },
        from: { type: 'string' }, to: { type: 'string' }, hide: { type: 'string', multiple: true }, html: { type: 'string' }, shiviz: { type: 'boolean' },
        'max-events': { type: 'string' }, title: { type: 'string' }, help: { type: 'boolean' },
      },
      strict: true, allowPositionals: true,
    });
  } catch (e) {
    err(`pagewire trace: ${(e as Error).message}\n(see pagewire trace --help)\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    out(TRACE_USAGE);
    return 0;
  }
  try {
    if (parsed.positionals.length !== 1) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', `give exactly one trace directory, got ${parsed.positionals.length}`);
    if (v.html !== undefined && v.shiviz) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', 'give --html FILE or --shiviz, not both');
    const filter: TraceFilter = validateFilter({
      layers: list(v.layer) as Layer[] | undefined,
      page: num(v.page, 'page', true),
      nodes: list(v.node),
      fromMs: num(v.from, 'from', false),
      toMs: num(v.to, 'to', false),
      hide: list(v.hide),
    });
    const maxEvents = num(v['max-events'], 'max-events', true);
    if (maxEvents === 0) throw new TraceError('TRACE_ERR_INVALID_ARGUMENT', '--max-events must be at least 1');
    const dir = parsed.positionals[0]!;
    const merged = mergeTrace(readTraceDir(dir));
    if (v.shiviz) {
      out(renderShiviz(merged, filter));
      return 0;
    }
    if (v.html !== undefined) {
      const html = renderHtml(merged, { filter, title: v.title ?? `pagewire trace of ${dir}`, maxEvents });
      try {
        writeFileSync(v.html, html);
      } catch (e) {
        throw new TraceError('TRACE_ERR_IO', `cannot write ${v.html}: ${(e as Error).message}`, { cause: e });
      }
      out(`wrote ${v.html}: ${merged.nodes.length} nodes, ${merged.events.length} events (open it in a browser)\n`);
      return 0;
    }
    out(renderTimeline(merged, { filter }).join('\n') + '\n');
    return 0;
  } catch (e) {
    if (isTraceError(e)) {
      err(`pagewire trace: ${e.message} [${e.code}]\n`);
      return e.code === 'TRACE_ERR_INVALID_ARGUMENT' ? 2 : 1;
    }
    throw e;
  }
}
