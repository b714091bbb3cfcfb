/**
 * Jacobi relaxation over a shared grid: the classic DSM application benchmark (Li & Hudak and
 * TreadMarks report it). Two rows × cols grids of f64 (src and dst, swapped every iteration) live in
 * the DSM; each node computes one band of rows,
 *
 *     dst[i][j] = (src[i-1][j] + src[i+1][j] + src[i][j-1] + src[i][j+1]) / 4   (interior cells)
 *
 * and the nodes meet at a barrier after every iteration. A node's band rows are written only by it;
 * the rows just above and below its band are read from its neighbours' bands: that is all the
 * sharing, so with page-aligned rows a node read-faults two neighbour pages per iteration (and its
 * own boundary pages are invalidated when the neighbours read them... once per iteration each).
 * Shift the grid by half a page and every band boundary falls inside a page that two nodes write:
 * false sharing, and the page ping-pongs.
 *
 * The barrier: node k stores the iteration number in its own flag word (on a page it owns) and reads
 * the others' flags until each reached it (a read fault each time a flag moved), sleeping between
 * looks so the fault thread gets the CPU.
 *
 * Run through the control channel (demos/control.ts: jacobi-setup, jacobi-flag, jacobi-init,
 * jacobi-run, jacobi-sum) by bench/dsm-app-bench.ts; jacobiReference() is the same computation on plain arrays.
 */
import type { DsmThread } from '../dsm/node/index.js';

export interface JacobiGrid {
  /** Byte addresses of the two grids (row-major f64). */
  readonly a: number;
  readonly b: number;
  readonly rows: number;
  readonly cols: number;
}

export interface JacobiRun extends JacobiGrid {
  readonly iterations: number;
  /** This node's band: rows [lo, hi). */
  readonly lo: number;
  readonly hi: number;
  /** Every node's flag word, this node's included (index: its place in the band order). */
  readonly flags: readonly number[];
  readonly me: number;
}

export interface JacobiResult {
  /** Time of the iterations (after the first barrier), ms. */
  readonly ms: number;
  readonly readFaults: number;
  readonly writeFaults: number;
}

/** The fixed boundary: 1.0 along row 0, 0 elsewhere (before relaxation). */
function initial(i: number): number {
  return i === 0 ? 1 : 0;
}

/**
 * Allocates the two grids from this node's pages, `offset` bytes past a page boundary (0: rows start
 * on pages; pageSize / 2: every row and every band boundary straddles a page).
 */
export function jacobiSetup(t: DsmThread, rows: number, cols: number, offset: number): JacobiGrid {
  const bytes = rows * cols * 8;
  const page = t.mem.pageSize;
  const base = (n: number): number => {
    const at = t.alloc(n + 2 * page);
    return Math.ceil(at / page) * page + offset;
  };
  return { a: base(bytes), b: base(bytes), rows, cols };
}

/** A flag word in a page of its own (nothing else on it can be falsely shared with it). */
export function jacobiFlag(t: DsmThread): number {
  const page = t.mem.pageSize;
  const at = t.alloc(2 * page);
  const flag = Math.ceil(at / page) * page;
  t.mem.storeU32(flag, 0);
  return flag;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function barrier(t: DsmThread, r: JacobiRun, step: number): void {
  const mem = t.mem;
  mem.storeU32(r.flags[r.me]!, step);
  for (let k = 0; k < r.flags.length; k++) {
    if (k === r.me) continue;
    let sleepMs = 0.02;
    while (mem.loadU32(r.flags[k]!) < step) {
      Atomics.wait(sleeper, 0, 0, sleepMs);
      sleepMs = Math.min(sleepMs * 2, 1);
    }
  }
}

/** `body`'s time and the faults this thread took during it. */
function measured(t: DsmThread, body: () => void): JacobiResult {
  const s = t.mem.stats;
  const [r0, w0, t0] = [s.readFaults, s.writeFaults, performance.now()];
  body();
  return { ms: performance.now() - t0, readFaults: s.readFaults - r0, writeFaults: s.writeFaults - w0 };
}

/** Initialise this node's band of both grids (first touch: the pages come here) and meet the others. */
export function jacobiInit(t: DsmThread, r: JacobiRun): JacobiResult {
  const mem = t.mem;
  const row = r.cols * 8;
  return measured(t, () => {
    for (let i = r.lo; i < r.hi; i++) {
      const v = initial(i);
      for (let j = 0; j < r.cols; j++) {
        mem.storeF64(r.a + i * row + j * 8, v);
        mem.storeF64(r.b + i * row + j * 8, v);
      }
    }
    barrier(t, r, 1);
  });
}

/** The iterations, each ended by a barrier (after jacobiInit on every node). */
export function jacobiRun(t: DsmThread, r: JacobiRun): JacobiResult {
  const mem = t.mem;
  const row = r.cols * 8;
  return measured(t, () => {
    let src = r.a;
    let dst = r.b;
    const first = Math.max(r.lo, 1);
    const last = Math.min(r.hi, r.rows - 1);
    for (let it = 0; it < r.iterations; it++) {
      for (let i = first; i < last; i++) {
        const up = src + (i - 1) * row;
        const mid = src + i * row;
        const down = src + (i + 1) * row;
        const out = dst + i * row;
        for (let j = 1; j < r.cols - 1; j++) {
          const o = j * 8;
          mem.storeF64(out + o, 0.25 * (mem.loadF64(up + o) + mem.loadF64(down + o) + mem.loadF64(mid + o - 8) + mem.loadF64(mid + o + 8)));
        }
      }
      barrier(t, r, it + 2);
      [src, dst] = [dst, src];
    }
  });
}

/** Sum of the grid the last iteration wrote (read from wherever its pages are now). */
export function jacobiSum(t: DsmThread, g: JacobiGrid, iterations: number): number {
  const mem = t.mem;
  const grid = iterations % 2 === 0 ? g.a : g.b;
  let s = 0;
  for (let i = 0; i < g.rows * g.cols; i++) s += mem.loadF64(grid + i * 8);
  return s;
}

/** The same computation on plain Float64Arrays in one thread: its sum and its time (ms). */
export function jacobiReference(rows: number, cols: number, iterations: number): { sum: number; ms: number } {
  let src = new Float64Array(rows * cols);
  let dst = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      src[i * cols + j] = initial(i);
      dst[i * cols + j] = initial(i);
    }
  }
  const t0 = performance.now();
  for (let it = 0; it < iterations; it++) {
    for (let i = 1; i < rows - 1; i++) {
      for (let j = 1; j < cols - 1; j++) {
        const k = i * cols + j;
        dst[k] = 0.25 * (src[k - cols]! + src[k + cols]! + src[k - 1]! + src[k + 1]!);
      }
    }
    [src, dst] = [dst, src];
  }
  const ms = performance.now() - t0;
  let sum = 0;
  for (let k = 0; k < rows * cols; k++) sum += src[k]!;
  return { sum, ms };
}
