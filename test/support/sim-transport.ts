/**
 * A simulated network of transport endpoints on a virtual clock: the real TransportCore (peer
 * table, sessions, streams, handshake) with the socket and the timers replaced, so a test can
 * partition, pause, restart and forge for seconds of virtual time in milliseconds of real time,
 * and replay the same run exactly.
 *
 * Every datagram takes `latencyMs` (plus `jitterMs` at random, seeded). `drop(from, to, bytes)`
 * decides losses (a partition is a drop that returns true). A paused node receives nothing and
 * runs no timers; what is sent to it waits in its socket buffer (the newest `socketBuffer`
 * datagrams, like a kernel queue that overflows) until resume(), as for a SIGSTOPped process.
 */
import { TransportCore } from '../../transport/core.js';
import { TransportError } from '../../transport/errors.js';
import { resolveOptions, type EndpointOptions } from '../../transport/options.js';
import { seededRandom } from '../../transport/random.js';
import type { MessageEvent, PeerRestartedEvent, PeerUnreachableEvent } from '../../transport/types.js';

interface Flight {
  at: number;
  order: number;
  from: string;
  to: string;
  bytes: Uint8Array;
}

export interface SendOutcome {
  settled: boolean;
  /** The error code, if it failed. */
  error: string | undefined;
  at: number;
}

export class SimNode {
  core: TransportCore;
  readonly delivered: (MessageEvent & { at: number })[] = [];
  readonly restarts: (PeerRestartedEvent & { at: number })[] = [];
  readonly unreachable: (PeerUnreachableEvent & { at: number })[] = [];
  readonly outcomes: SendOutcome[] = [];
  paused = false;
  readonly inbox: { from: string; bytes: Uint8Array }[] = [];
  /** Called for every delivered message (after it is recorded), e.g. to echo it back. */
  onMessage: ((m: MessageEvent) => void) | undefined;

  constructor(readonly net: SimNet, readonly address: string, private readonly opts: EndpointOptions, seed: number) {
    this.core = this.makeCore(seed);
  }

  get host(): string {
    return this.address.slice(0, this.address.lastIndexOf(':'));
  }

  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(':') + 1));
  }

  /** The same address, a new endpoint: new secret, no state (a process restart). */
  restart(seed: number): void {
    this.core.close(new TransportError('TRANSPORT_ERR_CLOSED', `${this.address} restarted`));
    this.core = this.makeCore(seed);
  }

  send(peer: string, data: Uint8Array): SendOutcome {
    const o: SendOutcome = { settled: false, error: undefined, at: -1 };
    this.outcomes.push(o);
    const now = this.net.now;
    this.core.sessionFor(peer, now).send(data, now).then(
      () => Object.assign(o, { settled: true, at: this.net.now }),
      (e: { code?: string }) => Object.assign(o, { settled: true, error: e.code ?? String(e), at: this.net.now }),
    );
    return o;
  }

  nextDeadline(): number {
    let t = Infinity;
    for (const s of this.core.sessions.values()) {
      const d = s.nextDeadline();
      if (d < t) t = d;
    }
    return t;
  }

  fireTimers(now: number): void {
    for (const s of [...this.core.sessions.values()]) if (s.nextDeadline() <= now) s.onTimer(now);
  }

  private makeCore(seed: number): TransportCore {
    // (A keyed node's identity is its nodeId, so every node has one: its address unless given.)
    const opts = resolveOptions({ nodeId: this.address, ...this.opts, now: () => this.net.now, random: seededRandom(seed) });
    return new TransportCore(opts, {
      transmit: (bytes, to) => this.net.transmit(this.address, `${to.host}:${to.port}`, bytes),
      message: (ev) => {
        this.delivered.push({ ...ev, data: Buffer.from(ev.data), at: this.net.now });
        this.onMessage?.(ev);
      },
      restarted: (ev) => void this.restarts.push({ ...ev, at: this.net.now }),
      unreachable: (ev) => void this.unreachable.push({ ...ev, at: this.net.now }),
      evicted: () => undefined,
    });
  }
}

export class SimNet {
  now = 0;
  latencyMs = 0.05;
  jitterMs = 0;
  socketBuffer = 256;
  /** Return true to drop the datagram. */
  drop: (from: string, to: string, bytes: Uint8Array) => boolean = () => false;
  readonly nodes = new Map<string, SimNode>();
  /** Every datagram sent, for tests that inspect the conversation. */
  readonly log: { at: number; from: string; to: string; bytes: Uint8Array; dropped: boolean }[] = [];
  recordLog = false;
  private queue: Flight[] = [];
  private order = 0;
  private readonly rand;
  private seeds = 1;

  constructor(seed = 1) {
    this.rand = seededRandom(seed);
  }

  node(address: string, opts: EndpointOptions = {}): SimNode {
    const n = new SimNode(this, address, opts, this.seeds++ * 7919);
    this.nodes.set(address, n);
    return n;
  }

  restart(address: string): SimNode {
    const n = this.nodes.get(address)!;
    n.inbox.length = 0;
    n.restart(this.seeds++ * 7919);
    return n;
  }

  pause(address: string): void {
    this.nodes.get(address)!.paused = true;
  }

  resume(address: string): void {
    const n = this.nodes.get(address)!;
    n.paused = false;
    for (const m of n.inbox.splice(0)) n.core.receive(m.bytes, host(m.from), port(m.from), this.now);
  }

  /** Deliver raw bytes to `to` as if `from` had sent them (a forged source address). */
  inject(from: string, to: string, bytes: Uint8Array): void {
    this.enqueue(from, to, bytes);
  }

  transmit(from: string, to: string, bytes: Uint8Array): void {
    const dropped = this.drop(from, to, bytes);
    if (this.recordLog) this.log.push({ at: this.now, from, to, bytes, dropped });
    if (!dropped) this.enqueue(from, to, bytes);
  }

  /**
   * Advance virtual time to `untilMs`, delivering datagrams and firing timers in time order. Yields
   * to the microtask queue after every step, so send() outcomes settle at the virtual time they
   * happen.
   */
  async run(untilMs: number): Promise<void> {
    for (let steps = 0; ; steps++) {
      await Promise.resolve();
      if (steps > 5_000_000) throw new Error('simulation did not settle (runaway loop?)');
      const nextPacket = this.queue.length ? this.queue[0]!.at : Infinity;
      let nextTimer = Infinity;
      for (const n of this.nodes.values()) if (!n.paused) nextTimer = Math.min(nextTimer, n.nextDeadline());
      const t = Math.min(nextPacket, nextTimer);
      if (t > untilMs) {
        this.now = untilMs;
        return;
      }
      this.now = Math.max(this.now, t);
      if (nextPacket <= nextTimer) {
        const p = this.queue.shift()!;
        const n = this.nodes.get(p.to);
        if (n === undefined) continue;
        if (n.paused) {
          n.inbox.push({ from: p.from, bytes: p.bytes });
          if (n.inbox.length > this.socketBuffer) n.inbox.shift();
          continue;
        }
        n.core.receive(p.bytes, host(p.from), port(p.from), this.now);
      } else {
        for (const n of this.nodes.values()) if (!n.paused && n.nextDeadline() <= this.now) n.fireTimers(this.now);
      }
    }
  }

  /** Run until `cond` holds (checked after every step of 1 ms), failing after `maxMs` of virtual time. */
  async runUntil(cond: () => boolean, maxMs: number, what: string): Promise<number> {
    const end = this.now + maxMs;
    while (!cond()) {
      if (this.now >= end) throw new Error(`virtual ${maxMs} ms passed without ${what}`);
      await this.run(Math.min(end, this.now + 1));
    }
    return this.now;
  }

  private enqueue(from: string, to: string, bytes: Uint8Array): void {
    const at = this.now + this.latencyMs + (this.jitterMs ? this.rand() * this.jitterMs : 0);
    const f: Flight = { at, order: this.order++, from, to, bytes: Uint8Array.from(bytes) };
    // Keep the queue sorted by (at, order): binary search for the insertion point.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const q = this.queue[mid]!;
      if (q.at < at || (q.at === at && q.order < f.order)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, f);
  }
}

function host(addr: string): string {
  return addr.slice(0, addr.lastIndexOf(':'));
}

function port(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}
