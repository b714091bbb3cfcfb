/**
 * One seeded simulation run of the DSM's failure model (test/dsm-sim.test.ts runs hundreds):
 * a cluster of 3 to 5 nodes (test/support/dsm-cluster.ts) under a fault schedule drawn from the
 * seed, an application workload on every node, and the checks afterwards:
 *
 * - schedule: message delays and reordering, message loss (the transport giving up), a pause
 *   (SIGSTOP) of a victim longer or shorter than deadAfterMs, a short pause of any node, a
 *   partition that cuts the victims off and heals, a slow node, a kill at a random time or in the
 *   middle of an ownership transfer, a late start. Victims are at most a minority, so a majority
 *   stays able to decide;
 * - workload: every node reads and writes shared registers (unique values) and runs the MP and SB
 *   litmus patterns across pages; every access is recorded (test/support/history.ts);
 * - checks: single writer XOR readers among nodes never declared dead, after every step; per-address
 *   linearizability for nodes never declared dead; MP and SB for every node, fenced ones included;
 *   no access hangs past its bound; at the end (network healed) every page is readable from every
 *   live node or reported lost naming a node a majority declared dead: no page is orphaned.
 *
 * Everything random comes from the seed: a failing seed replays exactly (SIM_SEED=n).
 */
import { prng, Cluster } from './dsm-cluster.js';
import { checkLinearizability, mpViolations, sbViolations, type MpObservation, type Op, type SbRound } from './history.js';
import { IVY_DEFAULTS, type ManagerMode } from '../../dsm/protocol/index.js';

export interface SimReport {
  readonly seed: number;
  readonly nodes: number;
  /** How owners are found: odd seeds run the fixed manager, even ones the dynamic manager (unless forced). */
  readonly manager: ManagerMode;
  /** The fault schedule, in words. */
  readonly schedule: string[];
  readonly ops: number;
  readonly checkedOps: number;
  readonly violations: string[];
  readonly hangs: string[];
  readonly orphans: string[];
  /** Nodes a majority declared dead, and when first. */
  readonly dead: [number, number][];
  readonly killed: number[];
  readonly evicted: number[];
  /** Logical ms from each kill to the decision that the node is dead. */
  readonly killToDeathMs: number[];
  /** For accesses blocked on a killed node's page at the kill: logical ms from the kill to their typed error. */
  readonly killToErrorMs: number[];
  /** Logical ms from the start of a pause to the fence (first 'dead' decision), when one followed. */
  readonly pauseToFenceMs: number[];
  readonly messages: number;
}

const PAGE_SIZE = 64;
const REG_PAGES = [1, 2, 3, 4];
const MP_DATA = 5;
const MP_FLAG = 6;
const SB_X = 7;
const SB_Y = 8;
const PAGE_COUNT = 9;
const FAULT_TIMEOUT_MS = IVY_DEFAULTS.faultTimeoutMs;
/**
 * An access's bound: a node resolves one fault per page at a time, so an access may wait for the
 * fault in flight on its page (a write behind another thread's read) and then for its own, each
 * bounded by faultTimeoutMs; plus slack for a re-fault when the rights moved right after the
 * install. (On a real node the application thread's own bound, faultTimeoutMs + 2 s, cuts it
 * shorter with DSM_ERR_FAULT_TIMEOUT.)
 */
const OP_BOUND_MS = 2 * FAULT_TIMEOUT_MS + 2_000;

export interface SimTrace {
  /** Page to trace (its messages and local page operations on every node). */
  readonly page: number;
  readonly out: (line: string) => void;
}

/** The manager mode a seed runs when none is forced: odd seeds fixed, even seeds dynamic. */
export function simManager(seed: number): ManagerMode {
  return seed % 2 === 0 ? 'dynamic' : 'fixed';
}

/**
 * `breakIt`, when given, damages the cluster before the run (a known-bad protocol, to show the
 * checks catch it: test/dsm-sim-1.test.ts).
 */
export async function runSim(seed: number, durationMs = 10_000, trace?: SimTrace, manager: ManagerMode = simManager(seed), breakIt?: (c: Cluster) => void): Promise<SimReport> {
  const rnd = prng((seed * 0x9e3779b1) >>> 0 || 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const between = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const n = between(3, 5);
  const ids = Array.from({ length: n }, (_, i) => i);
  const owners = Array.from({ length: PAGE_COUNT }, () => between(0, n - 1));
  const victims = [...ids].sort(() => rnd() - 0.5).slice(0, between(0, Math.floor((n - 1) / 2)));
  const schedule: string[] = [];
  const lateStart = victims.length > 0 && rnd() < 0.25 ? { id: victims[0]!, at: between(300, 3_000) } : undefined;
  const jitterMs = pick([0, 3, 10, 20]);
  const dropRate = pick([0, 0, 0.005, 0.02]);
  // How long the transport tries before it reports a peer unreachable: the default users get
  // (2 s, past the RPC call timeout) or a quarter of it (before it), for half the seeds each, and
  // independent of the manager mode (the seed's parity). Not drawn from rnd: the schedule stays the seed's.
  const giveUpMs = (seed >>> 1) % 2 === 0 ? 500 : 2_000;
  schedule.push(`${n} nodes, ${manager} manager, victims [${victims.join(', ')}], jitter ${jitterMs} ms, loss ${dropRate}, give-up ${giveUpMs} ms`);
  if (lateStart) schedule.push(`node ${lateStart.id} starts at ${lateStart.at} ms`);
  const c = new Cluster({
    nodes: n, seed, pageSize: PAGE_SIZE, pageCount: PAGE_COUNT, jitterMs, dropRate, pageOpDelayMs: 3, randomPageOpDelay: true,
    giveUpMs, initialOwner: (p) => owners[p]!, ivy: { heartbeat: true, manager },
    ...(lateStart ? { start: { [lateStart.id]: lateStart.at } } : {}),
  });
  breakIt?.(c);
  if (trace !== undefined) {
    const t = trace;
    c.onMessage = (m, phase) => {
      if (m.args[1] === t.page) t.out(`${c.sched.now} ${phase} ${m.kind} ${m.proc} ${m.from}->${m.to} ${JSON.stringify(m.args.slice(1))}`);
    };
    for (const id of c.ids) {
      const fp = c.pages[id]! as unknown as Record<string, (...a: unknown[]) => unknown>;
      for (const m of ['install', 'downgrade', 'invalidate', 'fail']) {
        const orig = fp[m]!.bind(fp);
        fp[m] = (pg: unknown, ...a: unknown[]) => {
          if (pg === t.page) t.out(`${c.sched.now} node ${id}: ${m}(${a.map((x) => (x instanceof Uint8Array ? 'data' : JSON.stringify(x))).join(', ')}) rights were ${c.pages[id]!.rights(t.page)}`);
          return orig(pg, ...a);
        };
      }
    }
  }
  const violations: string[] = [];
  c.sched.afterStep = () => {
    const v = c.coherenceViolation();
    if (v !== undefined && violations.length < 5) violations.push(`coherence at t=${c.sched.now}: ${v}`);
  };

  // ---- the fault schedule (over at the heal: a kill armed for a transfer that never came must
  // not fire during the checks below, whose own reads send grants)
  let faultsOver = false;
  const paused = new Map<number, [number, number][]>(); // node -> intervals
  /** Pauses of victims (the ones that may end in a fence), for the pause-to-fence figure. */
  const pauseStarts: { id: number; at: number; ms: number }[] = [];
  const killAt = new Map<number, number>();
  const pause = (id: number, at: number, ms: number, victim: boolean): void => {
    c.sched.at(at, () => {
      if (c.state(id) !== 'up') return;
      c.pause(id, ms);
      const l = paused.get(id) ?? [];
      l.push([at, at + ms]);
      paused.set(id, l);
      if (victim) pauseStarts.push({ id, at, ms });
    });
  };
  const end = durationMs - 1_000;
  for (const v of victims) {
    const r = rnd();
    if (r < 0.3) {
      const at = between(500, end - 4_000);
      const ms = pick([600, 1_300, 1_900, 2_600, 3_500]);
      schedule.push(`pause node ${v} at ${at} for ${ms} ms`);
      pause(v, at, ms, true);
    } else if (r < 0.5) {
      const at = between(500, end - 5_000);
      const ms = between(800, 4_500);
      schedule.push(`partition [${v}] | rest at ${at} for ${ms} ms`);
      c.sched.at(at, () => c.partition([[v]]));
      c.sched.at(at + ms, () => c.heal());
    } else if (r < 0.7) {
      // Not before it started: a node that never came up is not up yet, not dead (membership.ts).
      const at = between(Math.max(500, lateStart?.id === v ? lateStart.at + 200 : 0), end);
      schedule.push(`kill node ${v} at ${at}`);
      c.sched.at(at, () => {
        if (!c.killed.has(v)) {
          c.kill(v);
          killAt.set(v, c.sched.now);
        }
      });
    } else if (r < 0.9) {
      const at = between(500, end - 2_000);
      // As the owner sending a grant (its transfer unconfirmed), as the requester receiving one
      // (it may have installed it), as a copy holder receiving an invalidation.
      const what = pick(['grant it sends', 'grant it receives', 'invalidation it receives']);
      schedule.push(`kill node ${v} mid-transfer (the next ${what}) after ${at}`);
      const prev = c.onMessage; // the trace, if any
      c.onMessage = (m, phase) => {
        const out = prev?.(m, phase);
        const hit = what === 'grant it sends' ? m.proc === 'request' && m.kind === 'reply' && phase === 'send' && m.from === v
          : what === 'grant it receives' ? m.proc === 'request' && m.kind === 'reply' && phase === 'deliver' && m.to === v
            : m.proc === 'invalidate' && m.kind === 'request' && phase === 'deliver' && m.to === v;
        if (!faultsOver && c.sched.now >= at && !c.killed.has(v) && hit) {
          c.kill(v);
          killAt.set(v, c.sched.now);
        }
        return out;
      };
    } else {
      schedule.push(`node ${v} undisturbed`);
    }
  }
  if (rnd() < 0.4) {
    const id = pick(ids);
    const at = between(500, end - 1_000);
    const ms = between(100, 700);
    schedule.push(`short pause of node ${id} at ${at} for ${ms} ms`);
    pause(id, at, ms, false);
  }
  if (rnd() < 0.4) {
    const id = pick(ids);
    const at = between(500, end - 3_000);
    const ms = pick([300, 800, 1_500]);
    const dur = between(1_000, 3_000);
    schedule.push(`node ${id} slow (+${ms} ms per message) at ${at} for ${dur} ms`);
    c.sched.at(at, () => c.slow(id, ms));
    c.sched.at(at + dur, () => c.slow(id, 0));
  }

  // ---- the workload
  const ops: Op[] = [];
  /** The node a failed access's typed error names as the dead holder or manager. */
  const failedOn = new Map<Op, number>();
  const lostWith = (o: Op): number | undefined => failedOn.get(o);
  let nextValue = 1_000;
  const mpObs: MpObservation[] = [];
  const sbSeen = new Map<string, { yi?: number; xj?: number }>();
  const [mpWriter, sbI, sbJ] = [...ids].sort(() => rnd() - 0.5) as [number, number, number];
  const pausedFor = (id: number, from: number, to: number): number =>
    (paused.get(id) ?? []).reduce((s, [a, b]) => s + Math.max(0, Math.min(b, to) - Math.max(a, from)), 0);

  const sleep = (id: number, ms: number): Promise<void> => new Promise((r) => c.clock(id).setTimeout(r, ms));
  /** One access on node `id`; resolves with the op (never rejects). */
  const access = async (id: number, page: number, off: number, kind: 'read' | 'write', value = 0): Promise<Op> => {
    const op: Op = { node: id, addr: `${page}:${off}`, kind, value, call: c.sched.now, ret: undefined, ok: false };
    ops.push(op);
    const want = kind === 'write' ? 'write' : 'read';
    for (let i = 0; i < 50; i++) {
      try {
        await c.nodes[id]!.fault(page, want);
      } catch (e) {
        op.code = (e as { code?: string }).code ?? 'ERROR';
        op.ret = c.sched.now;
        return op;
      }
      const f = c.pages[id]!.failures.get(page);
      if (f !== undefined) {
        op.code = f.code;
        op.ret = c.sched.now;
        if ((f.code === 'DSM_ERR_PAGE_LOST' || f.code === 'DSM_ERR_MANAGER_DEAD') && f.node !== undefined) failedOn.set(op, f.node);
        return op;
      }
      const r = c.pages[id]!.rights(page);
      if (kind === 'write' ? r === 'write' : r !== 'none') {
        if (kind === 'write') c.pages[id]!.writeU32(page, off, value);
        else op.value = c.pages[id]!.readU32(page, off);
        op.ok = true;
        op.ret = c.sched.now;
        return op;
      }
    }
    op.code = 'RIGHTS_NEVER_ARRIVED';
    op.ret = c.sched.now;
    return op;
  };

  const running = new Map<number, number>(); // node -> threads not finished
  const threads: Promise<void>[] = [];
  const thread = (id: number, body: () => Promise<void>): void => {
    running.set(id, (running.get(id) ?? 0) + 1);
    threads.push(new Promise<void>((resolve) => c.clock(id).run(() => resolve())).then(body).then(() => {
      running.set(id, running.get(id)! - 1);
    }));
  };
  for (const id of ids) {
    thread(id, async () => {
      while (c.sched.now < durationMs) {
        const page = pick(REG_PAGES);
        const off = pick([0, 4]);
        if (rnd() < 0.4) await access(id, page, off, 'write', nextValue++);
        else await access(id, page, off, 'read');
        await sleep(id, between(5, 250));
      }
    });
    thread(id, async () => {
      let mpOk = true;
      let sbOk = true;
      for (let k = 1; c.sched.now < durationMs; k++) {
        if (id === mpWriter) {
          if (mpOk) mpOk = (await access(id, MP_DATA, 0, 'write', k)).ok && (await access(id, MP_FLAG, 0, 'write', k)).ok;
        } else {
          const f = await access(id, MP_FLAG, 0, 'read');
          const d = f.ok ? await access(id, MP_DATA, 0, 'read') : undefined;
          if (f.ok && d?.ok) mpObs.push({ reader: id, flag: f.value, data: d.value });
        }
        if ((id === sbI || id === sbJ) && sbOk) {
          const mine = id === sbI ? SB_X : SB_Y;
          const theirs = id === sbI ? SB_Y : SB_X;
          const w = await access(id, mine, 0, 'write', k);
          const r = w.ok ? await access(id, theirs, 0, 'read') : undefined;
          if (!w.ok || !r?.ok) sbOk = false;
          else {
            const s = sbSeen.get(String(k)) ?? {};
            if (id === sbI) s.yi = r.value;
            else s.xj = r.value;
            sbSeen.set(String(k), s);
          }
        }
        await sleep(id, between(5, 250));
      }
    });
  }
  // Quiesce: everything healed by durationMs (pauses and partitions end before `end`); threads of
  // killed nodes never finish, so wait for the others only.
  const liveThreadsDone = (): boolean => [...running].every(([id, k]) => k === 0 || c.killed.has(id));
  await c.sched.run(() => c.sched.now >= durationMs && liveThreadsDone(), durationMs + 4 * OP_BOUND_MS);
  c.heal();
  faultsOver = true;
  // Let late deaths be decided and learned.
  await c.sched.run(() => false, c.sched.now + IVY_DEFAULTS.deadAfterMs + 2 * IVY_DEFAULTS.heartbeatIntervalMs + 500);

  // ---- no access hangs past its bound
  const hangs: string[] = [];
  for (const o of ops) {
    if (c.killed.has(o.node)) continue;
    const dur = (o.ret ?? c.sched.now) - o.call - pausedFor(o.node, o.call, o.ret ?? c.sched.now);
    if (o.ret === undefined || dur > OP_BOUND_MS) {
      hangs.push(`node ${o.node} ${o.kind} ${o.addr} at ${o.call}: ${o.ret === undefined ? 'never returned' : `took ${dur} ms`}`);
    }
  }

  // ---- no page is orphaned: every live node reads every page, or is told it is lost with a dead node
  const orphans: string[] = [];
  const liveNodes = c.live().filter((id) => c.state(id) === 'up');
  for (let page = 1; page < PAGE_COUNT; page++) {
    for (const id of liveNodes) {
      const o = await c.sched.settle(access(id, page, 0, 'read'), c.sched.now + OP_BOUND_MS);
      if (o.ok) continue;
      const f = c.pages[id]!.failures.get(page);
      const lostWithDead = (o.code === 'DSM_ERR_PAGE_LOST' || o.code === 'DSM_ERR_MANAGER_DEAD') && f?.node !== undefined && c.deadAt.has(f.node);
      if (!lostWithDead) orphans.push(`page ${page} on node ${id}: ${o.code}: ${f?.message ?? ''}`);
    }
  }

  // ---- consistency
  const lin = checkLinearizability(ops, c.deadAt);
  violations.push(...lin.violations, ...mpViolations(mpObs));
  const rounds: SbRound[] = [];
  for (const [k, s] of sbSeen) if (s.yi !== undefined && s.xj !== undefined) rounds.push({ k: Number(k), i: sbI, j: sbJ, yi: s.yi, xj: s.xj });
  violations.push(...sbViolations(rounds));

  // ---- figures
  const killToDeathMs: number[] = [];
  const killToErrorMs: number[] = [];
  for (const [v, t] of killAt) {
    const decided = c.deadAt.get(v);
    if (decided !== undefined) killToDeathMs.push(decided - t);
    for (const o of ops) {
      if (o.call <= t && o.ret !== undefined && o.ret > t && !o.ok && lostWith(o) === v) killToErrorMs.push(o.ret - t);
    }
  }
  const pauseToFenceMs = pauseStarts.filter((p) => c.deadAt.has(p.id) && c.deadAt.get(p.id)! >= p.at && c.deadAt.get(p.id)! < p.at + p.ms).map((p) => c.deadAt.get(p.id)! - p.at);
  return {
    seed, nodes: n, manager, schedule, ops: ops.length, checkedOps: lin.checkedOps, violations, hangs, orphans,
    dead: [...c.deadAt], killed: [...c.killed], evicted: c.ids.filter((id) => c.nodes[id]!.evicted !== undefined),
    killToDeathMs, killToErrorMs, pauseToFenceMs, messages: c.messages.length,
  };
}
