/**
 * A node's control channel: JSON lines on stdin, one JSON line of answer each on stdout, used by
 * the demos and the multi-process tests to drive a node process (`pagewire node --control`).
 *
 *   → {"seq":1,"cmd":"alloc","bytes":16}
 *   ← {"seq":1,"ok":true,"value":8192}
 *   ← {"seq":2,"ok":false,"error":{"code":"DSM_ERR_PAGE_LOST","message":"...","address":12288,"page":3,"node":3}}
 *   ← {"event":"membership","kind":"dead","node":3,"reason":"...","at":5012.3}   (unsolicited, pagewire node)
 *
 * Commands run one at a time on the node's application thread, so a command that touches a
 * remote page blocks in a page fault exactly as application code would.
 */
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { DsmNode } from '../dsm/node/index.js';
import { createLogger } from '../transport/log.js';
import { createList, prepend, stampOwn, traverse, type Alloc } from './list.js';
import { allocAvoidingManager } from './placement.js';
import { jacobiFlag, jacobiInit, jacobiRun, jacobiSetup, jacobiSum, type JacobiGrid, type JacobiRun } from './jacobi.js';

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
  | { cmd: 'jacobi-setup'; rows: number; cols: number; offset: number }
  | { cmd: 'jacobi-flag' }
  | { cmd: 'jacobi-init' | 'jacobi-run'; a: number; b: number; rows: number; cols: number; iterations: number; lo: number; hi: number; flags: number[]; me: number }
  | { cmd: 'jacobi-sum'; a: number; b: number; rows: number; cols: number; iterations: number }
  | { cmd: 'timed-read32'; addr: number }
  | { cmd: 'timed-write32'; addr: number; value: number }
  | { cmd: 'stats' }
  | { cmd: 'exit' };

type Handler = (node: DsmNode, c: any) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

function num(c: Record<string, unknown>, k: string): number {
  const v = c[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw Object.assign(new Error(`${k} must be a non-negative integer, got ${JSON.stringify(v)}`), { code: 'CONTROL_ERR_BAD_COMMAND' });
  return v;
}

/** The list's allocator: the node's own, or one that skips pages managed by `avoidManagedBy` (demos/placement.ts). */
function listAlloc(n: DsmNode, c: Record<string, unknown>): Alloc | undefined {
  return c.avoidManagedBy === undefined ? undefined : allocAvoidingManager(n, n.options.nodes, num(c, 'avoidManagedBy'));
}

const handlers: Record<string, Handler> = {
  alloc: (n, c) => n.alloc(num(c, 'bytes')),
  read32: (n, c) => n.mem.u32[num(c, 'addr') >>> 2],
  read32s: (n, c) => {
    if (!Array.isArray(c.addrs)) throw Object.assign(new Error('addrs must be an array of addresses'), { code: 'CONTROL_ERR_BAD_COMMAND' });
    return (c.addrs as unknown[]).map((a) => {
      const addr = num({ addr: a }, 'addr');
      try {
        return { value: n.mem.u32[addr >>> 2] };
      } catch (e) {
        return { error: errorJson(e) };
      }
    });
  },
  lock: (n, c) => {
    n.mem.lock(num(c, 'addr'), c.timeoutMs === undefined ? undefined : num(c, 'timeoutMs'));
    return null;
  },
  unlock: (n, c) => {
    n.mem.unlock(num(c, 'addr'));
    return null;
  },
  write32: (n, c) => {
    n.mem.u32[num(c, 'addr') >>> 2] = num(c, 'value');
    return null;
  },
  'list-create': (n, c) => createList(n, listAlloc(n, c)),
  'list-prepend': (n, c) => {
    if (!Array.isArray(c.values)) throw Object.assign(new Error('values must be an array of integers'), { code: 'CONTROL_ERR_BAD_COMMAND' });
    const alloc = listAlloc(n, c);
    return (c.values as number[]).map((v) => prepend(n, num(c, 'header'), v >>> 0, n.id, alloc));
  },
  'list-traverse': (n, c) => traverse(n, num(c, 'header')),
  'list-stamp': (n, c) => stampOwn(n, num(c, 'header'), n.id),
  'locked-increment': (n, c) => {
    const lock = num(c, 'lock');
    const counter = num(c, 'counter');
    const times = num(c, 'times');
    const t0 = performance.now();
    for (let i = 0; i < times; i++) {
      n.mem.lock(lock);
      n.mem.u32[counter >>> 2] = n.mem.u32[counter >>> 2]! + 1;
      n.mem.unlock(lock);
    }
    return { ms: performance.now() - t0 };
  },
  'false-share': (n, c) => falseShare(n, num(c, 'base'), num(c, 'words'), num(c, 'threads'), num(c, 'writes')),
  'write-loop': (n, c) => writeLoop(n, num(c, 'addr'), num(c, 'writes'), c.startAt === undefined ? undefined : num(c, 'startAt')),
  'jacobi-setup': (n, c) => jacobiSetup(n, num(c, 'rows'), num(c, 'cols'), num(c, 'offset')),
  'jacobi-flag': (n) => jacobiFlag(n),
  'jacobi-init': (n, c) => jacobiInit(n, jacobiArgs(c)),
  'jacobi-run': (n, c) => jacobiRun(n, jacobiArgs(c)),
  'jacobi-sum': (n, c) => jacobiSum(n, grid(c), num(c, 'iterations')),
  'timed-read32': (n, c) => timedAccess(n, num(c, 'addr'), undefined),
  'timed-write32': (n, c) => timedAccess(n, num(c, 'addr'), num(c, 'value')),
  stats: async (n) => ({ node: await n.stats(), app: n.mem.stats }),
};

function grid(c: Record<string, unknown>): JacobiGrid {
  return { a: num(c, 'a'), b: num(c, 'b'), rows: num(c, 'rows'), cols: num(c, 'cols') };
}

function jacobiArgs(c: Record<string, unknown>): JacobiRun {
  if (!Array.isArray(c.flags)) throw Object.assign(new Error('flags must be an array of addresses'), { code: 'CONTROL_ERR_BAD_COMMAND' });
  const flags = (c.flags as unknown[]).map((f) => num({ f }, 'f'));
  const me = num(c, 'me');
  if (me >= flags.length) throw Object.assign(new Error(`me must index flags (${flags.length})`), { code: 'CONTROL_ERR_BAD_COMMAND' });
  return { ...grid(c), iterations: num(c, 'iterations'), lo: num(c, 'lo'), hi: num(c, 'hi'), flags, me };
}

/**
 * One u32 access (a read, or a write of `value`) timed on the application thread, from just before
 * to just after it, in microseconds; `faulted` says whether it page-faulted. bench:dsm measures
 * fault latency with it, so the control channel's own round trip is never inside the interval.
 */
function timedAccess(n: DsmNode, addr: number, write: number | undefined): { value: number; us: number; faulted: boolean } {
  const stats = n.mem.stats;
  const faults = (): number => (write === undefined ? stats.readFaults : stats.writeFaults);
  const before = faults();
  const u32 = n.mem.u32;
  const i = addr >>> 2;
  let value: number;
  const t0 = process.hrtime.bigint();
  if (write === undefined) value = u32[i]!;
  else u32[i] = value = write;
  const t1 = process.hrtime.bigint();
  return { value, us: Number(t1 - t0) / 1000, faulted: faults() !== before };
}

/**
 * `writes` increments of the u32 word at `addr` on the application thread, each a read then a
 * write, starting when the wall clock (ms since the epoch, same host) reaches `startAt`, so several
 * nodes can start together. Returns the loop's time, when it ran (wall clock, ms since the epoch,
 * so the loops of several nodes on one host can be compared) and the faults it took.
 */
function writeLoop(n: DsmNode, addr: number, writes: number, startAt: number | undefined): { ms: number; startedAt: number; endedAt: number; readFaults: number; writeFaults: number } {
  const wall = (): number => performance.timeOrigin + performance.now();
  if (startAt !== undefined) while (wall() < startAt); // spin: a start line, not a sleep
  const r0 = n.mem.stats.readFaults;
  const w0 = n.mem.stats.writeFaults;
  const u32 = n.mem.u32;
  const w = addr >>> 2;
  const startedAt = wall();
  for (let i = 0; i < writes; i++) u32[w] = u32[w]! + 1;
  const endedAt = wall();
  return { ms: endedAt - startedAt, startedAt, endedAt, readFaults: n.mem.stats.readFaults - r0, writeFaults: n.mem.stats.writeFaults - w0 };
}

/**
 * `threads` worker threads of this node each get their own `words` consecutive u32 words starting
 * at base + k*words*4 and perform `writes` increments spread over them (word = i mod words), each a
 * plain read then write of a word only that thread writes. A lost write (a store landing in a page
 * the runtime already shipped away) would leave a thread's words summing to less than `writes`.
 */
async function falseShare(n: DsmNode, base: number, words: number, threads: number, writes: number): Promise<{ ms: number }> {
  const file = fileURLToPath(new URL('./false-share-worker.js', import.meta.url));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: threads }, (_, k) => new Promise<void>((resolve, reject) => {
    const w = new Worker(file, { workerData: { shared: n.shared, base: base + k * words * 4, words, writes } });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`false-share worker ${k} exited with ${code}`))));
  })));
  return { ms: performance.now() - t0 };
}

function errorJson(e: unknown): Record<string, unknown> {
  const x = e as { code?: unknown; message?: unknown; address?: unknown; page?: unknown; node?: unknown };
  return { code: x?.code ?? 'CONTROL_ERR_INTERNAL', message: String(x?.message ?? e), address: x?.address, page: x?.page, node: x?.node };
}

/** Serve commands from stdin until it ends or an "exit" command; then resolve. */
export async function serveControl(node: DsmNode, out: (line: string) => void): Promise<void> {
  const log = createLogger('control', () => `node${node.id}`);
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    let seq: unknown = null;
    try {
      const c = JSON.parse(line) as { seq?: unknown; cmd?: unknown };
      seq = c.seq ?? null;
      if (c.cmd === 'exit') {
        out(JSON.stringify({ seq, ok: true, value: null }));
        break;
      }
      const h = typeof c.cmd === 'string' ? handlers[c.cmd] : undefined;
      if (h === undefined) throw Object.assign(new Error(`unknown command ${JSON.stringify(c.cmd)}; known: ${Object.keys(handlers).join(', ')}, exit`), { code: 'CONTROL_ERR_BAD_COMMAND' });
      log('%s', line);
      const value = await h(node, c);
      const answer = JSON.stringify({ seq, ok: true, value });
      if (log.enabled) log('→ %s', answer.length > 300 ? `${answer.slice(0, 300)}...` : answer);
      out(answer);
    } catch (e) {
      const answer = JSON.stringify({ seq, ok: false, error: errorJson(e) });
      log('→ %s', answer);
      out(answer);
    }
  }
  rl.close();
}
