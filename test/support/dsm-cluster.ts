/**
 * A deterministic simulation of a cluster of IvyNodes in one process: a logical clock, and a
 * network that delivers every RPC request and reply as a scheduled event, through the generated
 * stubs' Caller contract (arguments and results round-trip through the RPC codec and validators).
 * Everything random comes from one seed, so a failing seed replays exactly.
 *
 * What the network and the nodes can be made to do (all as scheduled events):
 * - delay: every message takes baseDelayMs + seeded jitter (messages reorder freely, as an RPC
 *   reply re-sent after a probe can overtake later messages);
 * - drop: `dropRate` of the messages are lost as if the transport had given up on them: the call
 *   they belong to fails RPC_ERR_UNREACHABLE (executed 'maybe') giveUpMs after the send;
 * - hold (partition): partition(groups) parks every message between groups; heal() delivers the
 *   parked ones; a message parked for giveUpMs is dropped as above, and a call left waiting across
 *   the cut for giveUpMs fails unreachable (the RPC layer's probes would fail too);
 * - pause(id, ms): SIGSTOP. The node's timers and deliveries wait until it resumes; calls to it
 *   that wait for giveUpMs fail unreachable; its application ops stall too;
 * - slow(id, ms): every message to or from the node takes `ms` longer, and its page operations too;
 * - kill(id): SIGKILL. It stops sending, receiving and ticking; calls to it fail unreachable
 *   giveUpMs after they were sent or it died;
 * - late start: `start: { id: t }` keeps a node down (messages to it are lost) until logical time t;
 * - restart(id): after a kill, a new process with the same id (a new incarnation, fresh pages);
 * - onMessage: a hook called at every send and delivery (a test kills a node mid-transfer with
 *   it); returning 'drop' at a send loses that message.
 * Each node's LocalPages is a FakePages: a Map of page -> {rights, bytes}.
 */
import { seededRandom } from '../../transport/random.js';
import type { Access, LocalPages, PageFailure } from '../../dsm/contract.js';
import { IvyNode, type IvyOptions, type MembershipEvent } from '../../dsm/protocol/index.js';
import { IvyClient, type IvyHandlers } from '../../dsm/protocol/ivy.stubs.js';
import { RpcError, decode, encode, type Caller, type CallOptions, type InterfaceDescriptor, type ProcedureDescriptor } from '../../rpc/index.js';
import type { Timers } from '../../rpc/runtime/index.js';

/** mulberry32: a small seeded PRNG (the transport's). */
export const prng = seededRandom;

interface Event {
  readonly time: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Logical time: events run in (time, insertion) order; microtasks drain between events. */
export class Scheduler {
  now = 0;
  #seq = 0;
  #events: Event[] = [];
  readonly random: () => number;
  /** Called after every event once microtasks have drained (invariant checks). */
  afterStep: (() => void) | undefined;
  steps = 0;

  constructor(seed: number) {
    this.random = prng(seed);
  }

  at(time: number, fn: () => void): Event {
    const ev: Event = { time: Math.max(time, this.now), seq: this.#seq++, fn, cancelled: false };
    // Binary insertion keeps the queue sorted by (time, seq).
    let lo = 0;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.#events[mid]!;
      if (m.time < ev.time || (m.time === ev.time && m.seq < ev.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.#events.splice(lo, 0, ev);
    return ev;
  }

  readonly timers: Timers = {
    now: () => this.now,
    setTimeout: (fn, ms) => this.at(this.now + ms, fn),
    clearTimeout: (h) => {
      if (h !== undefined && h !== null) (h as Event).cancelled = true;
    },
  };

  get pending(): number {
    return this.#events.filter((e) => !e.cancelled).length;
  }

  /**
   * Runs events until `done()` holds, the queue is empty, or logical time passes `maxTime`.
   * Returns true when `done()` held.
   */
  async run(done: () => boolean, maxTime = 60_000): Promise<boolean> {
    for (;;) {
      await drain();
      this.afterStep?.();
      if (done()) return true;
      let ev = this.#events.shift();
      while (ev !== undefined && ev.cancelled) ev = this.#events.shift();
      if (ev === undefined || ev.time > maxTime) {
        if (ev !== undefined) this.#events.unshift(ev);
        return done();
      }
      this.now = ev.time;
      this.steps++;
      ev.fn();
    }
  }

  /** Runs until `p` settles (or maxTime); returns its value or throws its error. */
  async settle<T>(p: Promise<T>, maxTime = this.now + 60_000): Promise<T> {
    let state: { ok: true; v: T } | { ok: false; e: unknown } | undefined;
    p.then((v) => (state = { ok: true, v }), (e: unknown) => (state = { ok: false, e }));
    await this.run(() => state !== undefined, maxTime);
    if (state === undefined) throw new Error(`promise did not settle by logical time ${maxTime}`);
    if (!state.ok) throw state.e;
    return state.v;
  }
}

async function drain(): Promise<void> {
  // setImmediate runs after the whole microtask queue (including microtasks queued by microtasks).
  await new Promise<void>((r) => setImmediate(r));
}

/** The local page store as a Map: rights and bytes per page; downgrade/invalidate after a delay. */
export class FakePages implements LocalPages {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly pages = new Map<number, { rights: Access | 'none'; bytes: Uint8Array | null }>();
  readonly failures = new Map<number, PageFailure>();
  /** Nodes the protocol told the app threads are dead. */
  readonly dead = new Set<number>();
  readonly #sched: Scheduler;
  readonly #opDelay: () => number;

  constructor(pageSize: number, pageCount: number, sched: Scheduler, opDelay: () => number = () => 0) {
    this.pageSize = pageSize;
    this.pageCount = pageCount;
    this.#sched = sched;
    this.#opDelay = opDelay;
  }

  #entry(page: number) {
    let e = this.pages.get(page);
    if (e === undefined) {
      e = { rights: 'none', bytes: null };
      this.pages.set(page, e);
    }
    return e;
  }

  install(page: number, data: Uint8Array | null, rights: Access): void {
    const e = this.#entry(page);
    if (data !== null) {
      if (data.length !== this.pageSize) throw new Error(`install: ${data.length} bytes, expected ${this.pageSize}`);
      if (e.rights === 'write') throw new Error(`install(page ${page}) with data over a page held for write would drop local writes`);
      e.bytes = new Uint8Array(data);
    } else if (e.bytes === null) {
      e.bytes = new Uint8Array(this.pageSize);
    }
    e.rights = rights;
    this.failures.delete(page);
  }

  #later<T>(fn: () => T): Promise<T> {
    const d = this.#opDelay();
    if (d <= 0) return Promise.resolve().then(fn);
    return new Promise((resolve) => this.#sched.at(this.#sched.now + d, () => resolve(fn())));
  }

  downgrade(page: number): Promise<Uint8Array> {
    // Rights drop at once (as PageStore stores the lower STATE first), the copy after the delay.
    const e = this.#entry(page);
    if (e.bytes === null) return Promise.reject(new Error(`downgrade of page ${page} that is not present`));
    if (e.rights === 'write') e.rights = 'read';
    return this.#later(() => new Uint8Array(e.bytes ?? new Uint8Array(this.pageSize)));
  }

  invalidate(page: number): Promise<Uint8Array> {
    const e = this.#entry(page);
    e.rights = 'none';
    return this.#later(() => {
      const copy = new Uint8Array(e.bytes ?? new Uint8Array(this.pageSize));
      if (e.rights === 'none') e.bytes = null;
      return copy;
    });
  }

  discard(page: number): boolean {
    const e = this.pages.get(page);
    if (e?.rights !== 'read') return false;
    e.rights = 'none';
    e.bytes = null;
    return true;
  }

  rights(page: number): Access | 'none' {
    return this.pages.get(page)?.rights ?? 'none';
  }

  fail(page: number, failure: PageFailure): void {
    this.failures.set(page, failure);
  }

  noteDead(node: number): void {
    this.dead.add(node);
  }

  /** An application load of a u32 (requires rights). */
  readU32(page: number, offset: number): number {
    const e = this.pages.get(page);
    if (e === undefined || e.rights === 'none' || e.bytes === null) throw new Error(`load from page ${page} without rights`);
    return new DataView(e.bytes.buffer).getUint32(offset, true);
  }

  /** An application store of a u32 (requires write rights). */
  writeU32(page: number, offset: number, value: number): void {
    const e = this.pages.get(page);
    if (e === undefined || e.rights !== 'write' || e.bytes === null) throw new Error(`store to page ${page} without write rights`);
    new DataView(e.bytes.buffer).setUint32(offset, value, true);
  }
}

export interface MessageRecord {
  readonly time: number;
  readonly from: number;
  readonly to: number;
  readonly proc: string;
  readonly kind: 'request' | 'reply';
  /** Request arguments (replies: the call's arguments too), for readable traces. */
  readonly args: readonly unknown[];
  /** Replies: the result as it travelled (absent for an error). */
  readonly result?: unknown;
}

export interface ClusterOptions {
  readonly nodes: number;
  readonly seed?: number;
  readonly pageSize?: number;
  readonly pageCount?: number;
  /** Fixed part of every delivery delay. @default 1 */
  readonly baseDelayMs?: number;
  /** Random extra delay in [0, jitterMs). @default 0 */
  readonly jitterMs?: number;
  /** Fraction of messages lost (the transport gave up on them). @default 0 */
  readonly dropRate?: number;
  /** Delay of LocalPages.downgrade/invalidate: fixed or random in [0, n). @default 0 */
  readonly pageOpDelayMs?: number;
  readonly randomPageOpDelay?: boolean;
  /** How long after a send (or a death) a call to a dead node rejects unreachable. @default 500 */
  readonly giveUpMs?: number;
  /** Nodes that start late: id -> logical start time. */
  readonly start?: Readonly<Record<number, number>>;
  readonly initialOwner?: (page: number) => number;
  readonly ivy?: IvyOptions;
}

type NodeState = 'up' | 'paused' | 'killed' | 'unstarted';

interface Deferred {
  readonly fn: () => void;
}

/** One node's clock: timers do not fire while the node is paused or not started, never once it is killed. */
class NodeClock implements Timers {
  readonly #sched: Scheduler;
  readonly #state: () => NodeState;
  readonly #deferred: Deferred[] = [];
  /** Set when this clock's process was killed (a restarted node gets a new clock). */
  killed = false;

  constructor(sched: Scheduler, state: () => NodeState) {
    this.#sched = sched;
    this.#state = state;
  }

  now = (): number => this.#sched.now;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const h = { cancelled: false };
    this.#sched.at(this.#sched.now + ms, () => {
      if (!h.cancelled) this.run(() => {
        if (!h.cancelled) fn();
      });
    });
    return h;
  };

  clearTimeout = (h: unknown): void => {
    if (h !== undefined && h !== null) (h as { cancelled: boolean }).cancelled = true;
  };

  /** Runs `fn` now if the node runs, later if it is paused or not started, never if it was killed. */
  run(fn: () => void): void {
    const s = this.#state();
    if (s === 'killed' || this.killed) return;
    if (s === 'up') fn();
    else this.#deferred.push({ fn });
  }

  resume(): void {
    const ds = this.#deferred.splice(0);
    for (const d of ds) this.#sched.at(this.#sched.now, () => this.run(d.fn));
  }
}

interface PendingCall {
  readonly from: number;
  readonly to: number;
  readonly fail: (e: RpcError) => void;
}

export class Cluster {
  readonly sched: Scheduler;
  readonly ids: number[];
  readonly nodes: IvyNode[] = [];
  readonly pages: FakePages[] = [];
  readonly clocks: NodeClock[] = [];
  readonly messages: MessageRecord[] = [];
  readonly killed = new Set<number>();
  /** Membership events of every node, in order. */
  readonly events: { readonly at: number; readonly node: number; readonly e: MembershipEvent }[] = [];
  /** Earliest logical time any node knew that `id` had been declared dead. */
  readonly deadAt = new Map<number, number>();
  /** Called at every send (before the fate is decided; 'drop' loses the message) and every delivery. */
  onMessage: ((rec: Omit<MessageRecord, 'time'>, phase: 'send' | 'deliver') => 'drop' | void) | undefined;

  readonly #state = new Map<number, NodeState>();
  readonly #handlers = new Map<number, IvyHandlers>();
  readonly #pending = new Set<PendingCall>();
  readonly #slow = new Map<number, number>();
  #groups: number[][] | undefined;
  readonly #parked: { readonly from: number; readonly to: number; readonly deliver: () => void; readonly lose: () => void; done: boolean }[] = [];
  readonly #opts: Required<Omit<ClusterOptions, 'initialOwner' | 'ivy' | 'seed' | 'start'>>;

  constructor(o: ClusterOptions) {
    this.sched = new Scheduler(o.seed ?? 1);
    this.#opts = {
      nodes: o.nodes,
      pageSize: o.pageSize ?? 64,
      pageCount: o.pageCount ?? 16,
      baseDelayMs: o.baseDelayMs ?? 1,
      jitterMs: o.jitterMs ?? 0,
      dropRate: o.dropRate ?? 0,
      pageOpDelayMs: o.pageOpDelayMs ?? 0,
      randomPageOpDelay: o.randomPageOpDelay ?? false,
      giveUpMs: o.giveUpMs ?? 500,
    };
    this.ids = Array.from({ length: o.nodes }, (_, i) => i);
    this.#o = o;
    for (const id of this.ids) {
      const startAt = o.start?.[id];
      this.#state.set(id, startAt !== undefined && startAt > 0 ? 'unstarted' : 'up');
      this.#create(id, 0);
      if (startAt !== undefined && startAt > 0) this.sched.at(startAt, () => this.#setState(id, 'up'));
    }
  }

  readonly #restarts = new Map<number, number>();
  #o!: ClusterOptions;

  #create(id: number, restarts: number): void {
    const o = this.#o;
    const clock = new NodeClock(this.sched, () => this.#state.get(id)!);
    const d = this.#opts.pageOpDelayMs;
    const opDelay = () => (this.#opts.randomPageOpDelay ? Math.floor(this.sched.random() * d) : d) + (this.#slow.get(id) ?? 0);
    const pages = new FakePages(this.#opts.pageSize, this.#opts.pageCount, this.sched, opDelay);
    const node = new IvyNode({
      id,
      nodes: this.ids,
      local: pages,
      peer: (to) => new IvyClient(this.callerFor(id, to)),
      callerOf: (ctx) => (/^node\d+$/.test(ctx.peer) ? Number(ctx.peer.slice(4)) : undefined),
      onEvent: (e) => {
        this.events.push({ at: this.sched.now, node: id, e });
        if (e.kind === 'dead' && !this.deadAt.has(e.node)) this.deadAt.set(e.node, this.sched.now);
      },
      ...(o.initialOwner === undefined ? {} : { initialOwner: o.initialOwner }),
      incarnation: Cluster.incarnation(id, restarts),
      options: { heartbeat: false, ...o.ivy, timers: clock },
    });
    this.pages[id] = pages;
    this.nodes[id] = node;
    this.clocks[id] = clock;
    this.#handlers.set(id, node.handlers);
  }

  /** After kill(id): a new process with the same id, a new incarnation and fresh pages. */
  restart(id: number): void {
    if (!this.killed.has(id)) throw new Error(`restart(${id}): kill it first`);
    const n = (this.#restarts.get(id) ?? 0) + 1;
    this.#restarts.set(id, n);
    this.killed.delete(id);
    this.#state.set(id, 'up');
    this.#create(id, n);
  }

  /** The incarnation the cluster gives node `id` (restart() gives another). */
  static incarnation(id: number, restarts = 0): number {
    return 1_000 + id + 100 * restarts;
  }

  state(id: number): NodeState {
    return this.#state.get(id)!;
  }

  /** The node's clock: run application code through it so a paused node's application stalls too. */
  clock(id: number): NodeClock {
    return this.clocks[id]!;
  }

  #setState(id: number, s: NodeState): void {
    const was = this.#state.get(id);
    if (was === 'killed') return;
    this.#state.set(id, s);
    if (s === 'up' && (was === 'paused' || was === 'unstarted')) this.clocks[id]!.resume();
  }

  #delay(from: number, to: number): number {
    return this.#opts.baseDelayMs + (this.#opts.jitterMs > 0 ? Math.floor(this.sched.random() * this.#opts.jitterMs) : 0) +
      (this.#slow.get(from) ?? 0) + (this.#slow.get(to) ?? 0);
  }

  #blocked(from: number, to: number): boolean {
    if (this.#groups === undefined) return false;
    const g = (n: number) => this.#groups!.findIndex((x) => x.includes(n));
    return g(from) !== g(to);
  }

  /**
   * Schedules one message. `lose` runs (at most once, giveUpMs after the send at the earliest) if
   * it never arrives: dropped, parked past giveUpMs, or sent to a node that is down.
   */
  #send(rec: Omit<MessageRecord, 'time'>, onArrive: () => void, lose: () => void): void {
    if (this.killed.has(rec.from)) return;
    const verdict = this.onMessage?.(rec, 'send');
    const sentAt = this.sched.now;
    const loseAt = (): void => {
      this.sched.at(Math.max(this.sched.now, sentAt + this.#opts.giveUpMs), lose);
    };
    if (verdict === 'drop') return loseAt();
    if (this.#opts.dropRate > 0 && this.sched.random() < this.#opts.dropRate) return loseAt();
    const arrive = (): void => {
      const to = this.#state.get(rec.to)!;
      if (this.killed.has(rec.from) || to === 'killed' || to === 'unstarted') return loseAt();
      if (this.#blocked(rec.from, rec.to)) return park();
      this.clocks[rec.to]!.run(() => {
        if (this.killed.has(rec.to)) return;
        this.messages.push({ ...rec, time: this.sched.now });
        this.onMessage?.(rec, 'deliver');
        this.nodes[rec.to]!.heard(rec.from);
        onArrive();
      });
    };
    const park = (): void => {
      const p = {
        from: rec.from, to: rec.to, done: false,
        deliver: () => this.sched.at(this.sched.now + this.#delay(rec.from, rec.to), arrive),
        lose: loseAt,
      };
      this.#parked.push(p);
      this.sched.at(sentAt + this.#opts.giveUpMs, () => {
        if (p.done) return;
        p.done = true;
        this.#parked.splice(this.#parked.indexOf(p), 1);
        loseAt();
      });
    };
    if (this.#blocked(rec.from, rec.to)) return park();
    this.sched.at(this.sched.now + this.#delay(rec.from, rec.to), arrive);
  }

  callerFor(from: number, to: number): Caller {
    return {
      call: (iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts?: CallOptions) =>
        new Promise<unknown>((resolve, reject) => {
          if (this.killed.has(from)) return; // a dead process's calls never settle
          const clock = this.clocks[from]!;
          let settled = false;
          let deadline: unknown;
          const pc: PendingCall = { from, to, fail: (e) => finish(() => reject(e)) };
          const finish = (f: () => void) => {
            if (settled) return;
            settled = true;
            clock.clearTimeout(deadline);
            this.#pending.delete(pc);
            opts?.signal?.removeEventListener('abort', onAbort);
            // The caller's continuation runs on the caller's clock (not while it is paused).
            clock.run(f);
          };
          const onAbort = (): void => finish(() => reject(new RpcError('RPC_ERR_ABORTED', `${iface.name}.${proc.name} to node ${to}: aborted`, { executed: 'maybe' })));
          if (opts?.signal?.aborted) return onAbort();
          opts?.signal?.addEventListener('abort', onAbort);
          if (opts?.timeoutMs !== undefined) {
            deadline = clock.setTimeout(
              () => finish(() => reject(new RpcError('RPC_ERR_DEADLINE', `${iface.name}.${proc.name} to node ${to}: no reply within ${opts.timeoutMs} ms`, { executed: 'maybe' }))),
              opts.timeoutMs,
            );
          }
          this.#pending.add(pc);
          const unreachable = () => pc.fail(new RpcError('RPC_ERR_UNREACHABLE', `${iface.name}.${proc.name}: node ${to} stopped answering`, { executed: 'maybe' }));
          if (this.killed.has(to)) this.sched.at(this.sched.now + this.#opts.giveUpMs, unreachable);
          const wireArgs = decode(encode(args));
          this.#send({ from, to, proc: proc.name, kind: 'request', args }, () => {
            const handler = (this.#handlers.get(to) as unknown as Record<string, (...a: unknown[]) => unknown>)[proc.name]!;
            const ctx = { peer: `node${from}`, callId: `${from}/${this.sched.steps}` };
            Promise.resolve()
              .then(() => handler(...proc.checkArgs(wireArgs), ctx))
              .then(
                (result) => {
                  const wire = decode(encode(proc.checkResult(result) ?? null));
                  this.#send({ from: to, to: from, proc: proc.name, kind: 'reply', args, result: wire }, () => finish(() => resolve(wire)), unreachable);
                },
                (err: unknown) => {
                  const e = err as { message?: string; code?: string };
                  const remote = new RpcError('RPC_ERR_REMOTE', `${iface.name}.${proc.name} on node ${to}: ${e?.message ?? String(err)}`, {
                    executed: 'once',
                    ...(typeof e?.code === 'string' ? { remoteCode: e.code } : {}),
                  });
                  this.#send({ from: to, to: from, proc: proc.name, kind: 'reply', args }, () => finish(() => reject(remote)), unreachable);
                },
              );
          }, unreachable);
        }),
    };
  }

  /** Calls waiting for `to` fail unreachable giveUpMs from now if `still()` holds then (RPC probes going unanswered). */
  #failWaitingCalls(still: (pc: PendingCall) => boolean): void {
    const now = [...this.#pending];
    this.sched.at(this.sched.now + this.#opts.giveUpMs, () => {
      for (const pc of now) {
        if (this.#pending.has(pc) && still(pc)) pc.fail(new RpcError('RPC_ERR_UNREACHABLE', `node ${pc.to} stopped answering`, { executed: 'maybe' }));
      }
    });
  }

  /** SIGKILL: the node stops sending, receiving and ticking; calls to it fail unreachable after giveUpMs. */
  kill(id: number): void {
    if (this.killed.has(id)) return;
    this.killed.add(id);
    this.#state.set(id, 'killed');
    this.clocks[id]!.killed = true;
    this.nodes[id]!.close();
    this.#failWaitingCalls((pc) => pc.to === id);
  }

  /** SIGSTOP for `ms` (then SIGCONT). */
  pause(id: number, ms: number): void {
    if (this.#state.get(id) !== 'up') return;
    this.#setState(id, 'paused');
    this.#failWaitingCalls((pc) => pc.to === id && this.#state.get(id) === 'paused');
    this.sched.at(this.sched.now + ms, () => this.#setState(id, 'up'));
  }

  /** Makes every message to or from `id` (and its page operations) `ms` slower; 0 ends it. */
  slow(id: number, ms: number): void {
    if (ms > 0) this.#slow.set(id, ms);
    else this.#slow.delete(id);
  }

  /** Cuts the network into `groups` (nodes in no group form one more group). */
  partition(groups: number[][]): void {
    const listed = new Set(groups.flat());
    const rest = this.ids.filter((i) => !listed.has(i));
    this.#groups = rest.length > 0 ? [...groups, rest] : groups.map((g) => [...g]);
    this.#failWaitingCalls((pc) => this.#blocked(pc.from, pc.to));
  }

  /** Ends the partition; parked messages continue. */
  heal(): void {
    this.#groups = undefined;
    for (const p of this.#parked.splice(0)) {
      if (p.done) continue;
      p.done = true;
      p.deliver();
    }
  }

  /** Counts of delivered messages by procedure since index `from` of `messages`. */
  countSince(from: number, skip: readonly string[] = []): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.messages.slice(from)) if (!skip.includes(m.proc)) out[m.proc] = (out[m.proc] ?? 0) + 1;
    return out;
  }

  /** Nodes that are running: not killed, not (yet) fenced. */
  live(): number[] {
    return this.ids.filter((id) => !this.killed.has(id) && this.nodes[id]!.evicted === undefined && !this.deadAt.has(id));
  }

  /** Single writer XOR many readers, over nodes that were never declared dead; returns a description of the violation. */
  coherenceViolation(): string | undefined {
    for (let page = 1; page < this.#opts.pageCount; page++) {
      const holders: string[] = [];
      let writers = 0;
      for (const id of this.ids) {
        if (this.killed.has(id) || this.deadAt.has(id)) continue;
        const r = this.pages[id]!.rights(page);
        if (r !== 'none') holders.push(`${id}:${r}`);
        if (r === 'write') writers++;
      }
      if (writers > 1 || (writers === 1 && holders.length > 1)) return `page ${page}: ${holders.join(' ')}`;
    }
    return undefined;
  }

  /** Checks coherence after every scheduler step; throws from the step on a violation. */
  checkInvariantEachStep(): void {
    this.sched.afterStep = () => {
      const v = this.coherenceViolation();
      if (v !== undefined) throw new Error(`coherence violated at t=${this.sched.now}: ${v}`);
    };
  }

  /** Writes `value` at `offset` of `page` on node `id`, faulting as the page store would (re-check after wake). */
  async write(id: number, page: number, offset: number, value: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await this.nodes[id]!.fault(page, 'write');
      const f = this.pages[id]!.failures.get(page);
      if (f !== undefined) throw failureError(f);
      if (this.pages[id]!.rights(page) === 'write') {
        this.pages[id]!.writeU32(page, offset, value);
        return;
      }
    }
    throw new Error(`write to page ${page} on node ${id}: rights never arrived`);
  }

  /** Reads a u32 on node `id`, faulting as needed. */
  async read(id: number, page: number, offset: number): Promise<number> {
    for (let i = 0; i < 100; i++) {
      await this.nodes[id]!.fault(page, 'read');
      const f = this.pages[id]!.failures.get(page);
      if (f !== undefined) throw failureError(f);
      if (this.pages[id]!.rights(page) !== 'none') return this.pages[id]!.readU32(page, offset);
    }
    throw new Error(`read of page ${page} on node ${id}: rights never arrived`);
  }
}

/** What the page store would throw to the application: an Error carrying the failure's code and node. */
export function failureError(f: PageFailure): Error & PageFailure {
  return Object.assign(new Error(f.message), { code: f.code, node: f.node }) as Error & PageFailure;
}
