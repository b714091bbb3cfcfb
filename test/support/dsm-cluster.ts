/**
 * A deterministic in-memory cluster for the coherence protocol: N IvyNodes in one process, a
 * logical clock, and a network that delivers every RPC request and reply as a scheduled event
 * (delay = baseDelayMs + seeded jitter, so deliveries reorder), through the generated stubs'
 * Caller contract (arguments and results round-trip through the RPC codec and validators).
 * A killed node drops everything it would send or receive; calls to it reject with
 * RPC_ERR_UNREACHABLE (executed 'maybe') giveUpMs after they were sent or it died.
 * Each node's LocalPages is a FakePages: a Map of page -> {rights, bytes}.
 */
import { seededRandom } from '../../transport/random.js';
import type { Access, LocalPages, PageFailure } from '../../dsm/contract.js';
import { IvyNode, type IvyOptions } from '../../dsm/protocol/index.js';
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
    return this.#later(() => {
      const e = this.#entry(page);
      if (e.bytes === null) throw new Error(`downgrade of page ${page} that is not present`);
      if (e.rights === 'write') e.rights = 'read';
      return new Uint8Array(e.bytes);
    });
  }

  invalidate(page: number): Promise<Uint8Array> {
    return this.#later(() => {
      const e = this.#entry(page);
      const copy = new Uint8Array(e.bytes ?? new Uint8Array(this.pageSize));
      e.rights = 'none';
      e.bytes = null;
      return copy;
    });
  }

  rights(page: number): Access | 'none' {
    return this.pages.get(page)?.rights ?? 'none';
  }

  fail(page: number, failure: PageFailure): void {
    this.failures.set(page, failure);
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
  /** Delay of LocalPages.downgrade/invalidate: fixed or random in [0, n). @default 0 */
  readonly pageOpDelayMs?: number;
  readonly randomPageOpDelay?: boolean;
  /** How long after a send (or a death) a call to a dead node rejects unreachable. @default 500 */
  readonly giveUpMs?: number;
  readonly initialOwner?: (page: number) => number;
  readonly ivy?: IvyOptions;
}

export class Cluster {
  readonly sched: Scheduler;
  readonly ids: number[];
  readonly nodes: IvyNode[] = [];
  readonly pages: FakePages[] = [];
  readonly messages: MessageRecord[] = [];
  readonly killed = new Set<number>();
  readonly #handlers = new Map<number, IvyHandlers>();
  readonly #pending = new Map<number, Set<(e: RpcError) => void>>();
  readonly #opts: Required<Omit<ClusterOptions, 'initialOwner' | 'ivy' | 'seed'>>;

  constructor(o: ClusterOptions) {
    this.sched = new Scheduler(o.seed ?? 1);
    this.#opts = {
      nodes: o.nodes,
      pageSize: o.pageSize ?? 64,
      pageCount: o.pageCount ?? 16,
      baseDelayMs: o.baseDelayMs ?? 1,
      jitterMs: o.jitterMs ?? 0,
      pageOpDelayMs: o.pageOpDelayMs ?? 0,
      randomPageOpDelay: o.randomPageOpDelay ?? false,
      giveUpMs: o.giveUpMs ?? 500,
    };
    this.ids = Array.from({ length: o.nodes }, (_, i) => i);
    for (const id of this.ids) {
      const d = this.#opts.pageOpDelayMs;
      const opDelay = this.#opts.randomPageOpDelay ? () => Math.floor(this.sched.random() * d) : () => d;
      const pages = new FakePages(this.#opts.pageSize, this.#opts.pageCount, this.sched, opDelay);
      const node = new IvyNode({
        id,
        nodes: this.ids,
        local: pages,
        peer: (to) => new IvyClient(this.callerFor(id, to)),
        ...(o.initialOwner === undefined ? {} : { initialOwner: o.initialOwner }),
        options: { heartbeat: false, ...o.ivy, timers: this.sched.timers },
      });
      this.pages.push(pages);
      this.nodes.push(node);
      this.#handlers.set(id, node.handlers);
    }
  }

  #delay(): number {
    return this.#opts.baseDelayMs + (this.#opts.jitterMs > 0 ? Math.floor(this.sched.random() * this.#opts.jitterMs) : 0);
  }

  /** Schedules one message; it is dropped if either end is dead when it would arrive. */
  #send(rec: Omit<MessageRecord, 'time'>, onArrive: () => void): void {
    if (this.killed.has(rec.from)) return;
    this.sched.at(this.sched.now + this.#delay(), () => {
      if (this.killed.has(rec.from) || this.killed.has(rec.to)) return;
      this.messages.push({ ...rec, time: this.sched.now });
      onArrive();
    });
  }

  callerFor(from: number, to: number): Caller {
    return {
      call: (iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts?: CallOptions) =>
        new Promise<unknown>((resolve, reject) => {
          if (this.killed.has(from)) return; // a dead process's calls never settle
          let settled = false;
          let deadline: unknown;
          const unreachable = (e: RpcError) => finish(() => reject(e));
          const finish = (f: () => void) => {
            if (settled) return;
            settled = true;
            this.sched.timers.clearTimeout(deadline);
            this.#pending.get(to)?.delete(unreachable);
            f();
          };
          if (opts?.timeoutMs !== undefined) {
            deadline = this.sched.timers.setTimeout(
              () => finish(() => reject(new RpcError('RPC_ERR_DEADLINE', `${iface.name}.${proc.name} to node ${to}: no reply within ${opts.timeoutMs} ms`, { executed: 'maybe' }))),
              opts.timeoutMs,
            );
          }
          let set = this.#pending.get(to);
          if (set === undefined) this.#pending.set(to, (set = new Set()));
          set.add(unreachable);
          if (this.killed.has(to)) this.#rejectLater(to, unreachable);
          const wireArgs = decode(encode(args));
          this.#send({ from, to, proc: proc.name, kind: 'request', args }, () => {
            const handler = (this.#handlers.get(to) as unknown as Record<string, (...a: unknown[]) => unknown>)[proc.name]!;
            const ctx = { peer: `node${from}`, callId: `${from}/${this.sched.steps}` };
            Promise.resolve()
              .then(() => handler(...proc.checkArgs(wireArgs), ctx))
              .then(
                (result) => {
                  const wire = decode(encode(proc.checkResult(result) ?? null));
                  this.#send({ from: to, to: from, proc: proc.name, kind: 'reply', args }, () => finish(() => resolve(wire)));
                },
                (err: unknown) => {
                  const e = err as { message?: string; code?: string };
                  const remote = new RpcError('RPC_ERR_REMOTE', `${iface.name}.${proc.name} on node ${to}: ${e?.message ?? String(err)}`, {
                    executed: 'once',
                    ...(typeof e?.code === 'string' ? { remoteCode: e.code } : {}),
                  });
                  this.#send({ from: to, to: from, proc: proc.name, kind: 'reply', args }, () => finish(() => reject(remote)));
                },
              );
          });
        }),
    };
  }

  #rejectLater(to: number, reject: (e: RpcError) => void): void {
    this.sched.at(this.sched.now + this.#opts.giveUpMs, () =>
      reject(new RpcError('RPC_ERR_UNREACHABLE', `node ${to} stopped answering`, { executed: 'maybe' })),
    );
  }

  /** SIGKILL: the node stops sending, receiving and ticking; calls to it fail unreachable after giveUpMs. */
  kill(id: number): void {
    if (this.killed.has(id)) return;
    this.killed.add(id);
    this.nodes[id]!.close();
    for (const reject of this.#pending.get(id) ?? []) this.#rejectLater(id, reject);
  }

  /** Counts of delivered messages by procedure since index `from` of `messages`. */
  countSince(from: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.messages.slice(from)) out[m.proc] = (out[m.proc] ?? 0) + 1;
    return out;
  }

  /** Single writer XOR many readers, over live nodes; returns a description of the violation. */
  coherenceViolation(): string | undefined {
    for (let page = 1; page < this.#opts.pageCount; page++) {
      const holders: string[] = [];
      let writers = 0;
      for (const id of this.ids) {
        if (this.killed.has(id)) continue;
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
