/**
 * npm run demo:figures — pictures from the chapter, drawn from real runs of this code.
 *
 * Every figure is a space-time diagram (trace/html.ts) of events that node processes really
 * published while doing what the figure shows; nothing is drawn by hand:
 *  - the chapter's Figures 47.3, 47.4 and 47.5: a message and its ack, a dropped request, a
 *    dropped reply, between two processes over UDP, the fault injector dropping exactly the datagram
 *    each figure drops (demos/figures-transport.ts);
 *  - DSM false sharing: two nodes write their own words of one page in turn, and the page
 *    ping-pongs between them, a write fault (acquire, serve, grant) per write;
 *  - DSM write-invalidate: three nodes hold read copies of a page; a fourth writes it, and the
 *    page's owner invalidates the three copies in parallel before handing it over.
 * Each figure is an HTML file in --out (and an index.html); the terminal shows each figure's
 * message sequence as a timeline. Exits 0 when every figure shows what it should.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startCluster, type Cluster } from './cluster.js';
import { parseDemoArgs, runMain, UsageError } from './args.js';
import { mergeTrace, readTraceDir, renderHtml, renderTimeline, selectEvents, type MEvent, type Merged, type TraceFilter } from '../trace/index.js';
import { receiverMain, transportFigures, type Figure } from './figures-transport.js';

const USAGE = `usage: npm run demo:figures [-- options]      (or: node dist/demos/figures-demo.js [options])

Draws space-time diagrams of the chapter's mechanisms from real runs of node processes:
Figures 47.3 (message and ack), 47.4 (dropped request) and 47.5 (dropped reply) between two
processes over UDP, and the DSM's false-sharing ping-pong and write-invalidate of three readers.

  --out DIR   where the HTML figures go (default ./pagewire-figures; its trace-* folders are replaced)
  --insecure  the DSM figures' nodes without a cluster key (default: a fresh key for the run; the
              transport figures are clear text either way: they pick the datagram to drop by reading it)
  --help      this text
`;

const say = (s = ''): void => void process.stdout.write(s + '\n');

/**
 * A figure's events: those about its page, from the first event that matches `first` on. Pages are
 * used by one figure each, so no clock of this process has to agree with the nodes' clocks.
 */
function figureFilter(m: Merged, page: number, first: (e: MEvent) => boolean, extra: TraceFilter = {}): TraceFilter {
  const start = m.events.find((e) => e.ev.page === page && first(e));
  return { ...extra, page, hide: ['ping'], ...(start !== undefined ? { fromIndex: start.i } : {}) };
}

async function dsmFigures(out: string, insecure: boolean): Promise<Figure[]> {
  const traceDir = join(out, 'trace-dsm');
  rmSync(traceDir, { recursive: true, force: true });
  const cluster: Cluster = await startCluster({ ids: [1, 2, 3, 4, 5], args: ['--trace', traceDir, '--pages', '64'], insecure });
  let pp: number;
  let inv: number;
  try {
    const n = (id: number) => cluster.node(id);
    // False sharing: node 1 owns the page; words 64 bytes apart, one per writer.
    const a = await n(1).call<number>({ cmd: 'alloc', bytes: 4096 });
    pp = Math.floor(a / 4096);
    await n(1).call({ cmd: 'write32', addr: a, value: 0 });
    for (let round = 1; round <= 3; round++) {
      await n(2).call({ cmd: 'write32', addr: a + 64, value: round });
      await n(1).call({ cmd: 'write32', addr: a, value: round });
    }
    // Write-invalidate: three readers take copies, then node 5 writes.
    const b = await n(1).call<number>({ cmd: 'alloc', bytes: 4096 });
    inv = Math.floor(b / 4096);
    await n(1).call({ cmd: 'write32', addr: b, value: 41 });
    for (const r of [2, 3, 4]) await n(r).call({ cmd: 'read32', addr: b });
    await n(5).call({ cmd: 'write32', addr: b, value: 42 });
  } finally {
    await cluster.close();
  }
  const m = mergeTrace(readTraceDir(traceDir));
  const figures: Figure[] = [];
  {
    const filter = figureFilter(m, pp, () => true, { nodes: ['1', '2'] });
    const ev = selectEvents(m, filter);
    const faults = ev.filter((e) => e.ev.type === 'fault-end' && e.ev.ok === true);
    const problems: string[] = [];
    if (faults.length !== 6) problems.push(`expected 6 write faults (3 rounds, 2 writers), saw ${faults.length}`);
    if (!faults.every((f, i) => f.node === (i % 2 === 0 ? '2' : '1'))) problems.push('the faults did not alternate between node 2 and node 1');
    figures.push({
      file: 'dsm-false-sharing.html', trace: traceDir, filter, problems,
      title: `False sharing: page ${pp} ping-pongs between node 1 and node 2`,
      caption: `Node 1 and node 2 each write their own word of page ${pp} (64 bytes apart), in turn, three times. No word is shared, ` +
        'but the page is: under single-writer Ivy every write needs the page, so each one is a write fault (a bar on the writer\'s line, ' +
        'with its latency) that asks the page\'s manager (acquire), which forwards to the owner (serve), which hands the page over.',
    });
  }
  {
    const filter = figureFilter(m, inv, (e) => e.node === '5' && e.ev.type === 'fault-begin');
    const ev = selectEvents(m, filter);
    const invs = ev.filter((e) => e.ev.type === 'rpc-sent' && e.ev.proc === 'invalidate' && e.ev.kind === 'request');
    const holders = new Set(invs.map((e) => e.peer));
    const problems: string[] = [];
    for (const r of ['2', '3', '4']) if (!holders.has(r)) problems.push(`no invalidation of node ${r}'s copy`);
    const acks = ev.filter((e) => e.ev.type === 'rpc-received' && e.ev.proc === 'invalidate' && e.ev.kind === 'reply');
    if (acks.length < 3) problems.push(`expected the 3 invalidations acknowledged, saw ${acks.length}`);
    // In parallel: all three invalidations leave before the first acknowledgement comes back.
    if (invs.length >= 3 && acks.length > 0 && !invs.slice(0, 3).every((s) => s.i < acks[0]!.i)) problems.push('the invalidations did not go out in parallel');
    figures.push({
      file: 'dsm-write-invalidate.html', trace: traceDir, filter, problems,
      title: `Write-invalidate: node 5 writes page ${inv}, which nodes 2, 3 and 4 hold read copies of`,
      caption: 'The page\'s owner (node 1) invalidates the three read copies in parallel, waits for the three acknowledgements, ' +
        'and only then hands the page to the writer: one writer XOR many readers, at every moment.',
    });
  }
  return figures;
}

async function main(): Promise<number> {
  const { values: v, flags, help } = parseDemoArgs(process.argv.slice(2), ['out'], ['receiver', 'insecure']);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.has('receiver')) {
    await receiverMain(); // the child of transportFigures()
    return 0;
  }
  if (v.out !== undefined && v.out.trim() === '') throw new UsageError('--out needs a directory');
  const out = resolve(v.out ?? 'pagewire-figures');
  mkdirSync(out, { recursive: true });
  say('pagewire figures: the chapter\'s mechanisms drawn from real runs');
  const figures = [...await transportFigures(out), ...await dsmFigures(out, flags.has('insecure'))];
  let failed = 0;
  for (const f of figures) {
    const m = mergeTrace(readTraceDir(f.trace));
    const path = join(out, f.file);
    writeFileSync(path, renderHtml(m, { title: f.title, caption: f.caption, filter: f.filter }));
    say('');
    say(`${f.title}`);
    say(`  ${path}`);
    for (const line of renderTimeline(m, { filter: f.filter }).slice(1)) say(`  ${line}`);
    for (const p of f.problems) say(`  NOT as expected: ${p}`);
    if (f.problems.length) failed++;
  }
  const index = join(out, 'index.html');
  writeFileSync(index, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pagewire figures</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2em;max-width:60em}</style></head><body>
<h1>pagewire: the chapter's figures, drawn from real runs</h1><ul>
${figures.map((f) => `<li><a href="${f.file}">${f.title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</a></li>`).join('\n')}
</ul></body></html>\n`);
  say('');
  say(`all figures: ${index}`);
  return failed === 0 ? 0 : 1;
}

runMain('pagewire demo:figures', USAGE, main);
