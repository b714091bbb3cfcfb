/**
 * The control channel's commands that touch shared memory (demos/control.ts), run on an
 * application thread of the node: the control worker (demos/control-worker.ts), so a command that
 * touches a remote page blocks in a page fault exactly as application code would, while the
 * node's main thread keeps answering the commands that only ask the fault thread (stats, the page
 * table, the network rules) and printing membership events.
 *
 * Every command arrives validated (control.ts checks fields, ranges and alignment), so the
 * handlers only do the work; what they throw (a DsmError) is the answer's error.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { DsmShared, DsmThread } from '../dsm/node/index.js';
import { createList, prepend, stampOwn, traverse, type Alloc } from './list.js';
import { allocAvoidingManager } from './placement.js';
import { jacobiFlag, jacobiInit, jacobiRun, jacobiSetup, jacobiSum, type JacobiGrid, type JacobiRun } from './jacobi.js';

/** What an app-thread command may use: the thread, and who the node is. */
export interface AppContext {
  readonly thread: DsmThread;
  readonly id: number;
  readonly nodes: readonly number[];
  readonly shared: DsmShared;
}

type Command = Record<string, unknown>;
type AppHandler = (x: AppContext, c: Command) => unknown;

const n = (c: Command, k: string): number => c[k] as number;
const opt = (c: Command, k: string): number | undefined => c[k] as number | undefined;

/** The list's allocator: the node's own, or one that skips pages managed by `avoidManagedBy` (demos/placement.ts). */
function listAlloc(x: AppContext, c: Command): Alloc | undefined {
  const avoid = opt(c, 'avoidManagedBy');
  return avoid === undefined ? undefined : allocAvoidingManager(x.thread, x.nodes, avoid);
}

export const APP_HANDLERS: Readonly<Record<string, AppHandler>> = {
  alloc: (x, c) => x.thread.alloc(n(c, 'bytes')),
  read32: (x, c) => x.thread.mem.u32[n(c, 'addr') >>> 2],
  read32s: (x, c) => (c.addrs as number[]).map((addr) => {
    try {
      return { value: x.thread.mem.u32[addr >>> 2] };
    } catch (e) {
      return { error: errorJson(e) };
    }
  }),
  lock: (x, c) => {
    x.thread.mem.lock(n(c, 'addr'), opt(c, 'timeoutMs'));
    return null;
  },
  unlock: (x, c) => {
    x.thread.mem.unlock(n(c, 'addr'));
    return null;
  },
  write32: (x, c) => {
    x.thread.mem.u32[n(c, 'addr') >>> 2] = n(c, 'value');
    return null;
  },
  'list-create': (x, c) => createList(x.thread, listAlloc(x, c)),
  'list-prepend': (x, c) => {
    const alloc = listAlloc(x, c);
    return (c.values as number[]).map((v) => prepend(x.thread, n(c, 'header'), v, x.id, alloc));
  },
  'list-traverse': (x, c) => traverse(x.thread, n(c, 'header')),
  'list-stamp': (x, c) => stampOwn(x.thread, n(c, 'header'), x.id),
  'locked-increment': (x, c) => {
    const mem = x.thread.mem;
    const lock = n(c, 'lock');
    const counter = n(c, 'counter');
    const t0 = performance.now();
    for (let i = 0, times = n(c, 'times'); i < times; i++) {
      mem.lock(lock);
      mem.u32[counter >>> 2] = mem.u32[counter >>> 2]! + 1;
      mem.unlock(lock);
    }
    return { ms: performance.now() - t0 };
  },
  'false-share': (x, c) => falseShare(x, n(c, 'base'), n(c, 'words'), n(c, 'threads'), n(c, 'writes')),
  'write-loop': (x, c) => writeLoop(x.thread, n(c, 'addr'), n(c, 'writes'), opt(c, 'startAt')),
  'jacobi-setup': (x, c) => jacobiSetup(x.thread, n(c, 'rows'), n(c, 'cols'), n(c, 'offset')),
  'jacobi-flag': (x) => jacobiFlag(x.thread),
  'jacobi-init': (x, c) => jacobiInit(x.thread, jacobiArgs(c)),
  'jacobi-run': (x, c) => jacobiRun(x.thread, jacobiArgs(c)),
  'jacobi-sum': (x, c) => jacobiSum(x.thread, grid(c), n(c, 'iterations')),
  'timed-read32': (x, c) => timedAccess(x.thread, n(c, 'addr'), undefined),
  'timed-write32': (x, c) => timedAccess(x.thread, n(c, 'addr'), n(c, 'value')),
};

function grid(c: Command): JacobiGrid {
  return { a: n(c, 'a'), b: n(c, 'b'), rows: n(c, 'rows'), cols: n(c, 'cols') };
}

function jacobiArgs(c: Command): JacobiRun {
  const flags = c.flags as number[];
  const me = n(c, 'me');
  if (me >= flags.length) throw Object.assign(new Error(`me must index flags (${flags.length})`), { code: 'CONTROL_ERR_BAD_COMMAND' });
  return { ...grid(c), iterations: n(c, 'iterations'), lo: n(c, 'lo'), hi: n(c, 'hi'), flags, me };
}

/**
 * One u32 access (a read, or a write of `value`) timed on the application thread, from just before
 * to just after it, in microseconds; `faulted` says whether it page-faulted. bench:dsm measures
 * fault latency with it, so the control channel's own round trip is never inside the interval.
 */
function timedAccess(t: DsmThread, addr: number, write: number | undefined): { value: number; us: number; faulted: boolean } {
  const stats = t.mem.stats;
  const faults = (): number => (write === undefined ? stats.readFaults : stats.writeFaults);
  const before = faults();
  const u32 = t.mem.u32;
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
function writeLoop(t: DsmThread, addr: number, writes: number, startAt: number | undefined): { ms: number; startedAt: number; endedAt: number; readFaults: number; writeFaults: number } {
  const wall = (): number => performance.timeOrigin + performance.now();
  if (startAt !== undefined) while (wall() < startAt); // spin: a start line, not a sleep (control.ts bounds startAt)
  const s = t.mem.stats;
  const r0 = s.readFaults;
  const w0 = s.writeFaults;
  const u32 = t.mem.u32;
  const w = addr >>> 2;
  const startedAt = wall();
  for (let i = 0; i < writes; i++) u32[w] = u32[w]! + 1;
  const endedAt = wall();
  return { ms: endedAt - startedAt, startedAt, endedAt, readFaults: s.readFaults - r0, writeFaults: s.writeFaults - w0 };
}

/**
 * `threads` worker threads of this node each get their own `words` consecutive u32 words starting
 * at base + k*words*4 and perform `writes` increments spread over them (word = i mod words), each a
 * plain read then write of a word only that thread writes. A lost write (a store landing in a page
 * the runtime already shipped away) would leave a thread's words summing to less than `writes`.
 */
async function falseShare(x: AppContext, base: number, words: number, threads: number, writes: number): Promise<{ ms: number }> {
  const file = fileURLToPath(new URL('./false-share-worker.js', import.meta.url));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: threads }, (_, k) => new Promise<void>((resolve, reject) => {
    const w = new Worker(file, { workerData: { shared: x.shared, base: base + k * words * 4, words, writes } });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`false-share worker ${k} exited with ${code}`))));
  })));
  return { ms: performance.now() - t0 };
}

/** An error as the control channel answers it: a DsmError's code, address, page and node, or CONTROL_ERR_INTERNAL. */
export function errorJson(e: unknown): { code: string; message: string; address?: number; page?: number; node?: number } {
  const x = e as { code?: unknown; message?: unknown; address?: unknown; page?: unknown; node?: unknown };
  const out: { code: string; message: string; address?: number; page?: number; node?: number } = {
    code: typeof x?.code === 'string' ? x.code : 'CONTROL_ERR_INTERNAL',
    message: String(x?.message ?? e),
  };
  for (const k of ['address', 'page', 'node'] as const) if (typeof x?.[k] === 'number') out[k] = x[k] as number;
  return out;
}
