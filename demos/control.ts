/**
 * A node's control channel: JSON lines on stdin, one JSON line of answer each on stdout, used by
 * the demos, the console and the multi-process tests to drive a node process (`pagewire node
 * --control`).
 *
 *   → {"seq":1,"cmd":"alloc","bytes":16}
 *   ← {"seq":1,"ok":true,"value":8192}
 *   ← {"seq":2,"ok":false,"error":{"code":"DSM_ERR_PAGE_LOST","message":"...","address":12288,"page":3,"node":3}}
 *   ← {"event":"membership","kind":"dead","node":3,"reason":"...","at":5012.3}   (unsolicited, pagewire node)
 *
 * Two kinds of command:
 * - memory commands (alloc, read32, write32, the list, ...) run one at a time, in arrival order, on
 *   an application thread of the node (demos/control-worker.ts, control-app.ts), so one that
 *   touches a remote page blocks in a page fault exactly as application code would;
 * - node commands (stats, page-table, network, trace, watch, exit) are answered by the main thread at once, even
 *   while a memory command is blocked in a fault, as are membership events: a tool watching the
 *   cluster is never stuck behind a fault.
 * Answers carry the command's `seq`; a node command may overtake a blocked memory command.
 *
 * The channel is strict: a line that is not JSON answers CONTROL_ERR_BAD_JSON, a line longer than
 * MAX_LINE_BYTES CONTROL_ERR_LINE_TOO_LONG, and anything but an object with a known `cmd`, the
 * command's fields and nothing else CONTROL_ERR_BAD_COMMAND (with `seq` null when the seq itself is
 * bad). Fields are checked before anything runs: addresses are integers, u32-aligned where a u32
 * is accessed (DSM_ERR_BAD_ADDRESS past the address space), values are u32s (never wrapped), counts
 * are bounded. Nothing is rounded.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { DsmNode } from '../dsm/node/index.js';
import { createLogger } from '../transport/log.js';
import type { ControlWorkerData, FromWorker, ToWorker } from './control-worker.js';
import { errorJson } from './control-app.js';

export type ControlCommand =
  | { cmd: 'alloc'; bytes: number }
  | { cmd: 'read32'; addr: number }
  /** Several loads back to back on the application thread; each answers a value or its error. */
  | { cmd: 'read32s'; addrs: number[] }
  /** Take the DSM lock at `addr` (and keep it until 'unlock'); fails like lock() does. */
  | { cmd: 'lock'; addr: number; timeoutMs?: number }
  | { cmd: 'unlock'; addr: number }
  | { cmd: 'write32'; addr: number; value: number }
  | { cmd: 'list-create'; avoidManagedBy?: number }
  | { cmd: 'list-prepend'; header: number; values: number[]; avoidManagedBy?: number }
  | { cmd: 'list-traverse'; header: number }
  | { cmd: 'list-stamp'; header: number }
  | { cmd: 'locked-increment'; lock: number; counter: number; times: number }
  | { cmd: 'false-share'; base: number; words: number; threads: number; writes: number }
  | { cmd: 'write-loop'; addr: number; writes: number; startAt?: number }
  /** Jacobi relaxation (demos/jacobi.ts, bench:dsm-app): allocate the two grids, `offset` bytes past a page boundary. */
  | { cmd: 'jacobi-setup'; rows: number; cols: number; offset: number }
  /** A barrier flag word on a page of this node's own. */
  | { cmd: 'jacobi-flag' }
  | { cmd: 'jacobi-init' | 'jacobi-run'; a: number; b: number; rows: number; cols: number; iterations: number; lo: number; hi: number; flags: number[]; me: number }
  /** The sum over the grid the last iteration wrote. */
  | { cmd: 'jacobi-sum'; a: number; b: number; rows: number; cols: number; iterations: number }
  | { cmd: 'timed-read32'; addr: number }
  | { cmd: 'timed-write32'; addr: number; value: number }
  /** The node's counters (DsmNodeStats) and the control thread's fault counters. */
  | { cmd: 'stats' }
  /** The page table as this node sees it (PageTable: rights per page, copy sets, manager records). */
  | { cmd: 'page-table' }
  /** Runtime fault injection: cut this node off from `blocked` node ids, drop `loss` of what it sends; {} heals. */
  | { cmd: 'network'; blocked?: number[]; loss?: number; seed?: number }
  /** Start writing this node's trace to `dir` (as --trace DIR does), or stop without `dir`; answers TraceState. */
  | { cmd: 'trace'; dir?: string }
  /** Print this node's DSM trace events as {"event":"trace","trace":{...},"skipped":n} lines (on), or stop. */
  | { cmd: 'watch'; on: boolean }
  | { cmd: 'exit' };

/** The longest command line accepted; longer ones are answered CONTROL_ERR_LINE_TOO_LONG and skipped. */
export const MAX_LINE_BYTES = 1 << 20;
/** Bounds of the counts commands take (each a loop on the node). */
const MAX_ITEMS = 100_000;
const MAX_LOOP = 100_000_000;
const MAX_TIMEOUT_MS = 3_600_000;
/** How far ahead a write-loop's startAt may be: the loop spins until then. */
const MAX_START_AHEAD_MS = 60_000;

class BadCommand extends Error {
  readonly code = 'CONTROL_ERR_BAD_COMMAND';
}

/** How one field is checked. */
type Field =
  | { kind: 'u32addr' } // an address a u32 is read or written at: 4-aligned, inside the space
  | { kind: 'addr' } // any byte address inside the space (a list header)
  | { kind: 'u32' }
  | { kind: 'int'; lo: number; hi: (n: DsmNode) => number }
  | { kind: 'node' }
  | { kind: 'u32addrs' }
  | { kind: 'u32s' }
  | { kind: 'nodes' }
  | { kind: 'probability' }
  | { kind: 'startAt' }
  | { kind: 'path' }
  | { kind: 'bool' };

interface Spec {
  /** Runs on the application thread (queued), or on the main thread at once. */
  readonly on: 'app' | 'main';
  readonly required: Readonly<Record<string, Field>>;
  readonly optional?: Readonly<Record<string, Field>>;
}

const U32ADDR: Field = { kind: 'u32addr' };
const int = (lo: number, hi: number | ((n: DsmNode) => number)): Field => ({ kind: 'int', lo, hi: typeof hi === 'number' ? () => hi : hi });
const space = (n: DsmNode): number => n.options.pageSize * n.options.pageCount;

const JACOBI_GRID: Readonly<Record<string, Field>> = { a: U32ADDR, b: U32ADDR, rows: int(3, MAX_ITEMS), cols: int(3, MAX_ITEMS) };
const JACOBI_RUN: Readonly<Record<string, Field>> = {
  ...JACOBI_GRID, iterations: int(0, MAX_LOOP), lo: int(0, MAX_ITEMS), hi: int(0, MAX_ITEMS), flags: { kind: 'u32addrs' }, me: int(0, MAX_ITEMS),
};

const SPECS: Readonly<Record<string, Spec>> = {
  alloc: { on: 'app', required: { bytes: int(1, space) } },
  read32: { on: 'app', required: { addr: U32ADDR } },
  read32s: { on: 'app', required: { addrs: { kind: 'u32addrs' } } },
  lock: { on: 'app', required: { addr: U32ADDR }, optional: { timeoutMs: int(0, MAX_TIMEOUT_MS) } },
  unlock: { on: 'app', required: { addr: U32ADDR } },
  write32: { on: 'app', required: { addr: U32ADDR, value: { kind: 'u32' } } },
  'list-create': { on: 'app', required: {}, optional: { avoidManagedBy: { kind: 'node' } } },
  'list-prepend': { on: 'app', required: { header: U32ADDR, values: { kind: 'u32s' } }, optional: { avoidManagedBy: { kind: 'node' } } },
  'list-traverse': { on: 'app', required: { header: U32ADDR } },
  'list-stamp': { on: 'app', required: { header: U32ADDR } },
  'locked-increment': { on: 'app', required: { lock: U32ADDR, counter: U32ADDR, times: int(0, MAX_LOOP) } },
  // Two of the node's maxThreads thread slots are taken: the main thread and the control thread.
  'false-share': { on: 'app', required: { base: U32ADDR, words: int(1, (n) => n.options.pageSize / 4), threads: int(1, (n) => n.options.maxThreads - 2), writes: int(0, MAX_LOOP) } },
  'write-loop': { on: 'app', required: { addr: U32ADDR, writes: int(0, MAX_LOOP) }, optional: { startAt: { kind: 'startAt' } } },
  'jacobi-setup': { on: 'app', required: { rows: int(3, MAX_ITEMS), cols: int(3, MAX_ITEMS), offset: int(0, (n) => n.options.pageSize - 8) } },
  'jacobi-flag': { on: 'app', required: {} },
  'jacobi-init': { on: 'app', required: JACOBI_RUN },
  'jacobi-run': { on: 'app', required: JACOBI_RUN },
  'jacobi-sum': { on: 'app', required: { ...JACOBI_GRID, iterations: int(0, MAX_LOOP) } },
  'timed-read32': { on: 'app', required: { addr: U32ADDR } },
  'timed-write32': { on: 'app', required: { addr: U32ADDR, value: { kind: 'u32' } } },
  stats: { on: 'main', required: {} },
  'page-table': { on: 'main', required: {} },
  network: { on: 'main', required: {}, optional: { blocked: { kind: 'nodes' }, loss: { kind: 'probability' }, seed: { kind: 'u32' } } },
  trace: { on: 'main', required: {}, optional: { dir: { kind: 'path' } } },
  watch: { on: 'main', required: { on: { kind: 'bool' } } },
  exit: { on: 'main', required: {} },
};

/** The commands the channel knows, for messages and tools. */
export const CONTROL_COMMANDS: readonly string[] = Object.keys(SPECS);

const hex = (a: number): string => `0x${a.toString(16)}`;
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function checkAddress(node: DsmNode, name: string, v: unknown, align: number): void {
  if (!isInt(v) || v < 0) throw new BadCommand(`${name} must be a non-negative integer byte address, got ${show(v)}`);
  const size = space(node);
  if (v > size - align) {
    throw Object.assign(new Error(`${name} ${hex(v)} is outside the address space (0..${hex(size - 1)}: ${node.options.pageCount} pages of ${node.options.pageSize} bytes)`), { code: 'DSM_ERR_BAD_ADDRESS', address: v });
  }
  if (v % align !== 0) throw new BadCommand(`${name} must be a multiple of ${align} (a u32 access), got ${v} (${hex(v)})`);
}

function checkField(node: DsmNode, name: string, f: Field, v: unknown): void {
  switch (f.kind) {
    case 'u32addr':
      return checkAddress(node, name, v, 4);
    case 'addr':
      return checkAddress(node, name, v, 1);
    case 'u32':
      if (!isInt(v) || v < 0 || v > 0xffffffff) throw new BadCommand(`${name} must be an integer in [0, 4294967295] (a u32), got ${show(v)}`);
      return;
    case 'int': {
      const hi = f.hi(node);
      if (!isInt(v) || v < f.lo || v > hi) throw new BadCommand(`${name} must be an integer in [${f.lo}, ${hi}], got ${show(v)}`);
      return;
    }
    case 'node':
      if (!isInt(v) || !node.options.nodes.includes(v)) throw new BadCommand(`${name} must be a node of the cluster (${node.options.nodes.join(', ')}), got ${show(v)}`);
      return;
    case 'nodes':
      if (!Array.isArray(v) || v.length > node.options.nodes.length) throw new BadCommand(`${name} must be a list of node ids, got ${show(v)}`);
      v.forEach((x, i) => {
        if (!isInt(x) || x === node.id || !node.options.nodes.includes(x)) throw new BadCommand(`${name}[${i}] must be another node of the cluster (${node.options.nodes.filter((k) => k !== node.id).join(', ')}), got ${show(x)}`);
      });
      return;
    case 'u32addrs':
    case 'u32s':
      if (!Array.isArray(v) || v.length > MAX_ITEMS) throw new BadCommand(`${name} must be a list of at most ${MAX_ITEMS} ${f.kind === 'u32s' ? 'u32 values' : 'addresses'}, got ${show(v)}`);
      v.forEach((x, i) => checkField(node, `${name}[${i}]`, f.kind === 'u32s' ? { kind: 'u32' } : U32ADDR, x));
      return;
    case 'probability':
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new BadCommand(`${name} must be a probability in [0, 1], got ${show(v)}`);
      return;
    case 'path':
      if (typeof v !== 'string' || v.trim() === '' || v.length > 4096 || v.includes('\0')) throw new BadCommand(`${name} must be a directory path (a non-empty string of at most 4096 characters), got ${show(v)}`);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new BadCommand(`${name} must be true or false, got ${show(v)}`);
      return;
    case 'startAt': {
      const now = performance.timeOrigin + performance.now();
      if (typeof v !== 'number' || !Number.isFinite(v) || v > now + MAX_START_AHEAD_MS) throw new BadCommand(`${name} must be a wall-clock time (ms since the epoch) at most ${MAX_START_AHEAD_MS} ms ahead, got ${show(v)}`);
      return;
    }
  }
}

/**
 * Parse and check one line. Returns the command and its seq, or throws the error to answer
 * (with the seq, when the seq itself was fine).
 */
export function parseCommand(node: DsmNode, line: string): { seq: number | null; command: Record<string, unknown> & { cmd: string }; spec: Spec } {
  let c: unknown;
  try {
    c = JSON.parse(line);
  } catch (e) {
    throw Object.assign(new Error(`not JSON: ${(e as Error).message}`), { code: 'CONTROL_ERR_BAD_JSON' });
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new BadCommand(`a command must be a JSON object like {"seq":1,"cmd":"stats"}, got ${show(c)}`);
  }
  const o = c as Record<string, unknown>;
  if (o.seq !== undefined && (!isInt(o.seq) || o.seq < 0)) throw new BadCommand(`seq must be a non-negative integer, got ${show(o.seq)}`);
  const seq = (o.seq as number | undefined) ?? null;
  try {
    const spec = typeof o.cmd === 'string' && Object.prototype.hasOwnProperty.call(SPECS, o.cmd) ? SPECS[o.cmd]! : undefined;
    if (spec === undefined) throw new BadCommand(`unknown command ${show(o.cmd)}; known: ${CONTROL_COMMANDS.join(', ')}`);
    for (const k of Object.keys(o)) {
      if (k !== 'seq' && k !== 'cmd' && !(k in spec.required) && !(spec.optional !== undefined && k in spec.optional)) {
        const known = [...Object.keys(spec.required), ...Object.keys(spec.optional ?? {})];
        throw new BadCommand(`${o.cmd as string}: unknown field ${show(k)}${known.length > 0 ? `; its fields: ${known.join(', ')}` : ' (it takes none)'}`);
      }
    }
    for (const [k, f] of Object.entries(spec.required)) {
      if (o[k] === undefined) throw new BadCommand(`${o.cmd as string}: ${k} is required`);
      checkField(node, k, f, o[k]);
    }
    for (const [k, f] of Object.entries(spec.optional ?? {})) if (o[k] !== undefined) checkField(node, k, f, o[k]);
    return { seq, command: o as Record<string, unknown> & { cmd: string }, spec };
  } catch (e) {
    throw Object.assign(e as Error, { seq });
  }
}

/**
 * Split a byte stream into lines of at most `maxBytes`; a longer line is reported once (onTooLong)
 * and skipped up to its newline, so memory stays bounded whatever the writer sends.
 */
export function splitLines(maxBytes: number, onLine: (line: string) => void, onTooLong: () => void): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  return (chunk) => {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        if (size + (end - from) > maxBytes) {
          skipping = true;
          parts = [];
          size = 0;
          onTooLong();
        } else if (end > from) {
          parts.push(chunk.subarray(from, end));
          size += end - from;
        }
      }
      if (nl < 0) return;
      if (!skipping) {
        const line = Buffer.concat(parts).toString('utf8');
        onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      }
      parts = [];
      size = 0;
      skipping = false;
      from = nl + 1;
    }
  };
}

/** Serve commands from stdin until it ends or an "exit" command; then resolve (the caller closes the node). */
export async function serveControl(node: DsmNode, out: (line: string) => void): Promise<void> {
  const log = createLogger('control', () => `node${node.id}`);
  const answer = (a: Record<string, unknown>): void => {
    const text = JSON.stringify(a);
    if (log.enabled) log('→ %s', text.length > 300 ? `${text.slice(0, 300)}...` : text);
    out(text);
  };
  const fail = (seq: unknown, e: unknown): void => answer({ seq: seq ?? null, ok: false, error: errorJson(e) });

  const workerData: ControlWorkerData = { shared: node.shared, id: node.id, nodes: node.options.nodes };
  const worker = new Worker(fileURLToPath(new URL('./control-worker.js', import.meta.url)), { workerData });
  /** The control thread's fault counters, as of its last answer (it cannot be asked while blocked in a fault). */
  let app = { readFaults: 0, writeFaults: 0, faultWaitUs: 0 };
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let done = false;
  const end = (): void => {
    if (done) return;
    done = true;
    process.stdin.off('data', onData);
    process.stdin.off('end', end);
    process.stdin.pause();
    finish();
  };
  worker.on('message', (m: FromWorker) => {
    app = m.app;
    answer(m.ok ? { seq: m.seq, ok: true, value: m.value } : { seq: m.seq, ok: false, error: m.error });
  });
  worker.on('error', (e) => {
    process.stderr.write(`pagewire node ${node.id}: the control thread failed: ${e.stack ?? e.message}\n`);
    end();
  });

  const onLine = (line: string): void => {
    if (done || line.trim() === '') return;
    log('%s', line);
    let parsed: ReturnType<typeof parseCommand>;
    try {
      parsed = parseCommand(node, line);
    } catch (e) {
      fail((e as { seq?: unknown }).seq, e);
      return;
    }
    const { seq, command, spec } = parsed;
    if (spec.on === 'app') {
      worker.postMessage({ seq, command } satisfies ToWorker);
      return;
    }
    if (command.cmd === 'exit') {
      answer({ seq, ok: true, value: null });
      end();
      return;
    }
    void runOnMain(node, command, () => app, out).then((value) => answer({ seq, ok: true, value: value ?? null }), (e: unknown) => fail(seq, e));
  };
  const onData = splitLines(MAX_LINE_BYTES, onLine, () => fail(null, Object.assign(new Error(`a command line longer than ${MAX_LINE_BYTES} bytes was skipped`), { code: 'CONTROL_ERR_LINE_TOO_LONG' })));
  process.stdin.on('data', onData);
  process.stdin.on('end', end);
  await finished;
  await worker.terminate();
}

function runOnMain(node: DsmNode, c: Record<string, unknown>, app: () => unknown, out: (line: string) => void): Promise<unknown> {
  switch (c.cmd) {
    case 'trace':
      return node.trace((c.dir as string | undefined) ?? null);
    case 'watch':
      return node.watch(c.on === true ? (event, skipped) => out(JSON.stringify({ event: 'trace', trace: event, skipped })) : null).then(() => ({ watching: c.on === true }));
    case 'stats':
      return node.stats().then((s) => ({ node: s, app: app() }));
    case 'page-table':
      return node.pageTable();
    case 'network':
      return node.setNetwork({ blockedNodes: c.blocked as number[] | undefined, loss: c.loss as number | undefined, seed: c.seed as number | undefined });
    default:
      return Promise.reject(new Error(`no main-thread handler for ${String(c.cmd)}`));
  }
}
