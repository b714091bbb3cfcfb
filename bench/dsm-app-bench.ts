/**
 * DSM application benchmark (issue 14): Jacobi relaxation over a shared grid (demos/jacobi.ts) on
 * 1, 2, 3 and 4 DSM nodes, each in its own process, with rows on page boundaries and with every
 * row (and every band boundary) straddling two pages (false sharing). Reports per run the time of
 * the iterations, and per node the faults, messages and bytes sent, next to the same computation
 * on plain Float64Arrays in this process (the baseline of this run) and on one DSM node.
 * The result of every run is checked against the plain computation.
 */
import { availableParallelism } from 'node:os';
import { startCluster, type NodeProc } from '../demos/cluster.js';
import { jacobiReference, type JacobiGrid, type JacobiResult } from '../demos/jacobi.js';
import type { DsmNodeStats } from '../dsm/node/index.js';
import type { ManagerMode } from '../dsm/protocol/index.js';
import { parseBenchArgs, round, pad, lpad } from './stats.js';

const USAGE = `usage: node dist/bench/dsm-app-bench.js [--quick] [--json] [--nodes 1,2,3,4] [--manager fixed|dynamic]
       (or: npm run bench:dsm-app -- [flags])

Jacobi relaxation of a rows x cols grid of f64 (two grids, swapped every iteration), each node
computing one band of rows and meeting the others at a barrier after every iteration, on 1..4
DSM nodes in their own processes (loopback UDP, 4 KiB pages), twice: rows on page boundaries
("aligned": a node reads its neighbours' boundary rows, nothing is written by two nodes) and
shifted by half a page ("straddling": every band boundary inside a page two nodes write: false
sharing). Per run: the iterations' time (the slowest node), its ratio to the same computation on
plain Float64Arrays in one thread (measured in this run) and to the run on 1 DSM node; per node:
read and write faults, protocol messages (calls x 2) and UDP bytes sent during the iterations.

  --quick      a small grid and 3 iterations, for a smoke test (numbers are not meaningful)
  --json       print one JSON object as the last line (the table goes to stderr)
  --nodes L    node counts to run, e.g. 1,2,4 (default 1,2,3,4)
  --manager M  fixed or dynamic (default fixed)
  --help       this text
`;

const args = parseBenchArgs(process.argv.slice(2), { quick: 'flag', json: 'flag', nodes: 'value', manager: 'value' }, USAGE);
const QUICK = args['quick'] === true;
const JSON_OUT = args['json'] === true;
const MANAGER = ((args['manager'] as string | undefined) ?? 'fixed') as ManagerMode;
if (MANAGER !== 'fixed' && MANAGER !== 'dynamic') usage(`--manager must be fixed or dynamic, got ${JSON.stringify(MANAGER)}`);
const COUNTS = ((args['nodes'] as string | undefined) ?? '1,2,3,4').split(',').map((x) => Number(x.trim()));
if (COUNTS.length === 0 || COUNTS.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) usage(`--nodes must be a list of node counts from 1 to 8, got ${JSON.stringify(args['nodes'])}`);

function usage(msg: string): never {
  process.stderr.write(`dsm-app-bench: ${msg}\nRun \`node dist/bench/dsm-app-bench.js --help\` for the options.\n`);
  process.exit(2);
}

const PAGE = 4096;
const G = QUICK ? { rows: 32, cols: 512, iterations: 3 } : { rows: 128, cols: 512, iterations: 20 };
const PAGES = 2048; // node 1's share (2047 / n pages) holds both grids (2 x 128 pages) and a flag page
const COMMAND_TIMEOUT_MS = 120_000;
const LAYOUTS = [{ name: 'aligned', offset: 0 }, { name: 'straddling', offset: PAGE / 2 }] as const;

function log(line: string): void {
  (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);
}

interface PerNode { readFaults: number; writeFaults: number; messages: number; bytes: number; datagrams: number }
interface RunResult { layout: string; nodes: number; ms: number; init: PerNode[]; iter: PerNode[]; sumError: number }

async function stats(p: NodeProc): Promise<DsmNodeStats> {
  return (await p.call<{ node: DsmNodeStats }>({ cmd: 'stats' }, COMMAND_TIMEOUT_MS)).node;
}

function delta(a: DsmNodeStats, b: DsmNodeStats, r: JacobiResult): PerNode {
  const calls = (s: DsmNodeStats): number => Object.entries(s.ivy.callsSent).filter(([k]) => k !== 'ping' && k !== 'propose').reduce((x, [, n]) => x + n, 0);
  return {
    readFaults: r.readFaults, writeFaults: r.writeFaults, messages: 2 * (calls(b) - calls(a)),
    bytes: b.transport.bytesSent - a.transport.bytesSent, datagrams: b.transport.datagramsSent - a.transport.datagramsSent,
  };
}

async function run(n: number, layout: (typeof LAYOUTS)[number], reference: number): Promise<RunResult> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const cluster = await startCluster({ ids, args: ['--page-size', String(PAGE), '--pages', String(PAGES), '--manager', MANAGER], readyTimeoutMs: 30_000 });
  try {
    const nodes = cluster.nodes;
    const grid = await nodes[0]!.call<JacobiGrid>({ cmd: 'jacobi-setup', rows: G.rows, cols: G.cols, offset: layout.offset }, COMMAND_TIMEOUT_MS);
    const flags = await Promise.all(nodes.map((p) => p.call<number>({ cmd: 'jacobi-flag' }, COMMAND_TIMEOUT_MS)));
    const band = (k: number): { lo: number; hi: number } => ({ lo: Math.floor((k * G.rows) / n), hi: Math.floor(((k + 1) * G.rows) / n) });
    const cmd = (c: string, k: number) => ({ cmd: c, ...grid, iterations: G.iterations, ...band(k), flags, me: k });
    const s0 = await Promise.all(nodes.map(stats));
    const init = await Promise.all(nodes.map((p, k) => p.call<JacobiResult>(cmd('jacobi-init', k), COMMAND_TIMEOUT_MS)));
    const s1 = await Promise.all(nodes.map(stats));
    const iter = await Promise.all(nodes.map((p, k) => p.call<JacobiResult>(cmd('jacobi-run', k), COMMAND_TIMEOUT_MS)));
    const s2 = await Promise.all(nodes.map(stats));
    const sum = await nodes[0]!.call<number>({ cmd: 'jacobi-sum', ...grid, iterations: G.iterations }, COMMAND_TIMEOUT_MS);
    const sumError = Math.abs(sum - reference) / Math.max(1, Math.abs(reference));
    if (sumError > 1e-9) throw new Error(`${n} nodes, ${layout.name}: the grid sums to ${sum}, the plain computation to ${reference}: the DSM computed something else`);
    for (const s of s2) if (s.ivy.failedFaults > 0 || s.ivy.nodesDeclaredDead > 0) throw new Error(`${n} nodes, ${layout.name}: faults failed or a node was declared dead; the numbers would be meaningless`);
    return {
      layout: layout.name, nodes: n, ms: Math.max(...iter.map((r) => r.ms)),
      init: init.map((r, k) => delta(s0[k]!, s1[k]!, r)), iter: iter.map((r, k) => delta(s1[k]!, s2[k]!, r)), sumError,
    };
  } finally {
    await cluster.close();
  }
}

function avg(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  log(`pagewire DSM application benchmark${QUICK ? ' (--quick: numbers not meaningful)' : ''}: Jacobi relaxation, ${G.rows} x ${G.cols} f64 grid, ` +
    `${G.iterations} iterations, ${MANAGER} manager; node ${process.version}, ${availableParallelism()} CPUs, every DSM node in its own process`);
  let ref = jacobiReference(G.rows, G.cols, G.iterations);
  for (let i = 0; i < 4; i++) {
    const r = jacobiReference(G.rows, G.cols, G.iterations);
    if (r.ms < ref.ms) ref = r;
  }
  const cells = (G.rows - 2) * (G.cols - 2) * G.iterations;
  log(`  plain Float64Array, one thread (the baseline): ${round(ref.ms, 2)} ms, ${round((ref.ms * 1e6) / cells, 2)} ns per cell update`);
  const results: RunResult[] = [];
  for (const layout of LAYOUTS) {
    log('');
    log(`${layout.name} rows${layout.offset === 0 ? ' (each row is one page)' : ` (shifted ${layout.offset} B: every row and band boundary straddles two pages)`}; per node, averaged over the nodes, during the iterations`);
    log(`  ${pad('nodes', 7)}${lpad('time ms', 10)}${lpad('/ plain', 9)}${lpad('/ 1 node', 10)}${lpad('read f.', 9)}${lpad('write f.', 10)}${lpad('messages', 10)}${lpad('KiB sent', 10)}${lpad('datagrams', 11)}`);
    let one: number | undefined;
    for (const n of COUNTS) {
      const r = await run(n, layout, ref.sum);
      results.push(r);
      one ??= n === 1 ? r.ms : undefined;
      const it = r.iter;
      log(`  ${pad(String(n), 7)}${lpad(round(r.ms, 1).toFixed(1), 10)}${lpad(`${round(r.ms / ref.ms, 1)}x`, 9)}${lpad(one === undefined ? '-' : `${round(r.ms / one, 2).toFixed(2)}x`, 10)}` +
        `${lpad(round(avg(it.map((x) => x.readFaults)), 1).toFixed(1), 9)}${lpad(round(avg(it.map((x) => x.writeFaults)), 1).toFixed(1), 10)}` +
        `${lpad(round(avg(it.map((x) => x.messages)), 0).toFixed(0), 10)}${lpad(round(avg(it.map((x) => x.bytes)) / 1024, 1).toFixed(1), 10)}${lpad(round(avg(it.map((x) => x.datagrams)), 0).toFixed(0), 11)}`);
    }
  }
  log('');
  log(`(every result checked against the plain computation: the grid sums agree to ${Math.max(...results.map((r) => r.sumError)).toExponential(1)} relative)`);
  log(`On ${availableParallelism()} CPU${availableParallelism() === 1 ? '' : 's'}, n nodes are n processes of 2 threads each (application and fault thread) taking turns: past ${availableParallelism()} nodes` +
    ' a node waits for a core as well as for pages, so the time cannot fall with more nodes here; the faults, messages and bytes per node are what a machine with a core per node would pay.');
  log(`total ${round((performance.now() - t0) / 1000, 1)} s`);
  if (JSON_OUT) {
    const out = {
      quick: QUICK, manager: MANAGER, rows: G.rows, cols: G.cols, iterations: G.iterations, cpus: availableParallelism(),
      plain_ms: round(ref.ms, 3),
      runs: results.map((r) => ({
        layout: r.layout, nodes: r.nodes, ms: round(r.ms, 2), over_plain: round(r.ms / ref.ms, 2),
        read_faults_per_node: round(avg(r.iter.map((x) => x.readFaults)), 2), write_faults_per_node: round(avg(r.iter.map((x) => x.writeFaults)), 2),
        messages_per_node: round(avg(r.iter.map((x) => x.messages)), 1), bytes_per_node: Math.round(avg(r.iter.map((x) => x.bytes))),
      })),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

try {
  await main();
} catch (e) {
  process.stderr.write(`dsm-app-bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
}
