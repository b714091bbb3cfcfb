/**
 * A history checker for the DSM: every application read and write is recorded (node, address,
 * value, invocation and response times) and checked afterwards.
 *
 * - Per-address linearizability (linearizable()): a register model checked with Wing & Gong's
 *   search as improved by Lowe and used by porcupine (a linked list of call/return events, a stack
 *   for backtracking, and a cache of (linearized set, state) pairs already explored).
 *   Linearizability is compositional, so each address is checked alone. An operation that never
 *   returned (its node crashed, or was fenced while it ran) may take effect at any point after its
 *   invocation, or not at all; a write that failed never happened; a failed read returned nothing.
 * - Sequential consistency across pages, on the two classic litmus patterns:
 *   MP (message passing: a writer stores DATA=k then FLAG=k; a reader that loads FLAG=k and then
 *   DATA must see DATA >= k) and SB (store buffering: node i stores X=k then loads Y, node j stores
 *   Y=k then loads X; both loads seeing < k is forbidden).
 *
 * checkHistory() applies them the way the DSM promises: linearizability for the operations of
 * nodes that were never declared dead (and for the others' operations that ended before their
 * death was first decided); the litmus patterns for every node, fenced ones included (a fenced
 * node may read its old copies, which give it a consistent picture of the past, never one that
 * mixes them with anything written after its fence).
 */

export interface Op {
  readonly node: number;
  /** Address key (e.g. "3:8" for page 3, byte 8). */
  readonly addr: string;
  readonly kind: 'read' | 'write';
  /** Write: the value stored. Read: the value loaded (when ok). */
  value: number;
  readonly call: number;
  /** Response time; undefined while (or if forever) pending. */
  ret: number | undefined;
  /** False when the access threw (the error code in `code`). */
  ok: boolean;
  code?: string;
}

// ---------------------------------------------------------------- linearizability (one register)

interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

export interface RegisterOp {
  readonly kind: 'read' | 'write';
  readonly value: number;
  readonly call: number;
  /** Infinity: may take effect at any time after `call`, or never (it is linearized last). */
  readonly ret: number;
}

/**
 * True when the operations on one register (initial value `init`) can be ordered so that each
 * takes effect between its call and its return and every read returns the last write before it.
 * Equal timestamps count as overlapping. `budget` bounds the search (steps); exceeding it throws.
 */
export function linearizable(ops: readonly RegisterOp[], init = 0, budget = 2_000_000): boolean {
  const n = ops.length;
  if (n === 0) return true;
  // Events in time order; at equal times calls come first (so such operations overlap).
  const events: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const c: Entry = { op: i, isCall: true, time: ops[i]!.call, match: undefined, prev: undefined, next: undefined };
    const r: Entry = { op: i, isCall: false, time: ops[i]!.ret, match: undefined, prev: undefined, next: undefined };
    c.match = r;
    r.match = c;
    events.push(c, r);
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Entry = { op: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  const words = Math.ceil(n / 32);
  const linearized = new Uint32Array(words);
  const key = (state: number): string => `${state}|${Array.from(linearized, (w) => w.toString(36)).join(',')}`;
  const cache = new Set<string>();
  const stack: { entry: Entry; state: number }[] = [];
  let state = init;
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > budget) throw new Error(`linearizability search exceeded ${budget} steps on ${n} operations`);
    if (entry === undefined) return false; // cannot happen: a return always ends the scan
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const ok = op.kind === 'write' || op.value === state;
      const next = op.kind === 'write' ? op.value : state;
      if (ok) {
        linearized[entry.op >>> 5]! |= 1 << (entry.op & 31);
        const k = key(next);
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op >>> 5]! &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call is not linearized yet: backtrack.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      linearized[top.entry.op >>> 5]! &= ~(1 << (top.entry.op & 31));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return true;
}

// ---------------------------------------------------------------- litmus patterns

/** An MP round as a reader saw it: it loaded FLAG = flag, then DATA = data. */
export interface MpObservation {
  readonly reader: number;
  readonly flag: number;
  readonly data: number;
}

/** MP violations: a reader that saw FLAG=k and then DATA < k (the writer stores DATA=k before FLAG=k). */
export function mpViolations(obs: readonly MpObservation[]): string[] {
  return obs.filter((o) => o.data < o.flag).map((o) => `MP: node ${o.reader} loaded FLAG=${o.flag} then DATA=${o.data}`);
}

/** One SB round: node i stored X=k then loaded Y=yi; node j stored Y=k then loaded X=xj. */
export interface SbRound {
  readonly k: number;
  readonly i: number;
  readonly j: number;
  readonly yi: number;
  readonly xj: number;
}

/** SB violations: in round k both loads saw values older than k. */
export function sbViolations(rounds: readonly SbRound[]): string[] {
  return rounds.filter((r) => r.yi < r.k && r.xj < r.k).map((r) => `SB: round ${r.k}: node ${r.i} loaded Y=${r.yi} and node ${r.j} loaded X=${r.xj}`);
}

// ---------------------------------------------------------------- the whole history

export interface HistoryCheck {
  readonly violations: string[];
  /** Operations checked for linearizability, and addresses. */
  readonly checkedOps: number;
  readonly addresses: number;
}

/**
 * Checks per-address linearizability of a DSM history. `deadAt` gives, for each node a majority
 * declared dead, the first time any node knew it: that node's operations that had not returned by
 * then are not held to linearizability (its reads are dropped; its writes may or may not have
 * taken effect).
 */
export function checkLinearizability(ops: readonly Op[], deadAt: ReadonlyMap<number, number>, init = 0): HistoryCheck {
  const byAddr = new Map<string, RegisterOp[]>();
  let checked = 0;
  for (const o of ops) {
    const fence = deadAt.get(o.node) ?? Infinity;
    const late = o.ret === undefined || o.ret >= fence;
    let r: RegisterOp | undefined;
    if (o.kind === 'read') {
      if (o.ok && !late) r = { kind: 'read', value: o.value, call: o.call, ret: o.ret! };
    } else if (o.ret === undefined) {
      r = { kind: 'write', value: o.value, call: o.call, ret: Infinity }; // may have happened
    } else if (o.ok) {
      r = { kind: 'write', value: o.value, call: o.call, ret: late ? Infinity : o.ret };
    }
    if (r === undefined) continue;
    checked++;
    let l = byAddr.get(o.addr);
    if (l === undefined) byAddr.set(o.addr, (l = []));
    l.push(r);
  }
  const violations: string[] = [];
  for (const [addr, l] of byAddr) {
    if (!linearizable(l, init)) violations.push(`address ${addr}: ${l.length} operations are not linearizable: ${describe(l)}`);
  }
  return { violations, checkedOps: checked, addresses: byAddr.size };
}

function describe(l: readonly RegisterOp[]): string {
  const s = [...l].sort((a, b) => a.call - b.call).map((o) => `${o.kind === 'write' ? 'W' : 'R'}${o.value}@[${o.call},${o.ret === Infinity ? '∞' : o.ret}]`);
  return s.length > 40 ? `${s.slice(0, 40).join(' ')} ...` : s.join(' ');
}
