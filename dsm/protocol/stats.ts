/** Counters of one node's coherence protocol. Read with IvyNode.stats (a snapshot). */

/** Procedures of ivy.rpc, for per-type message counts. */
export type IvyProcedure = 'acquire' | 'serve' | 'invalidate' | 'abort' | 'ping' | 'propose';
const PROCEDURES: readonly IvyProcedure[] = ['acquire', 'serve', 'invalidate', 'abort', 'ping', 'propose'];

export interface LatencyHistogram {
  /** Upper bounds in ms; counts has one more element, for latencies above the last bound. */
  readonly bucketsMs: readonly number[];
  readonly counts: readonly number[];
}

export interface IvyStats {
  readonly readFaults: number;
  readonly writeFaults: number;
  /** Faults that ended with LocalPages.fail (lost page, dead manager, timeout, closed). */
  readonly failedFaults: number;
  /** Invalidate calls this node sent as an owner (remote ones; an owner never invalidates itself by message). */
  readonly invalidationsSent: number;
  readonly invalidationsReceived: number;
  /** Pages handed over by this node as an owner (read copies and ownership transfers). */
  readonly pagesSent: number;
  /** Grants discarded because something newer about the page arrived first (the fault is retried). */
  readonly staleGrants: number;
  /** Busy answers from managers (the fault is retried). */
  readonly busyRetries: number;
  /** Peers this node knows a majority declared dead (decided here or learned from a view). */
  readonly nodesDeclaredDead: number;
  /** Copy holders skipped by an invalidation because a majority had declared them dead. */
  readonly copiesSkipped: number;
  /** Ownership transfers this node (as manager) aborted: their outcome was unknown or the new owner never installed them. */
  readonly transfersAborted: number;
  /** Pages this node (as previous owner) took back when a manager aborted their transfer. */
  readonly pagesTakenBack: number;
  /** Messages that contradicted this node's state (a peer's bug, or a hostile peer): counted and answered with an error. */
  readonly protocolErrors: number;
  /** Requests refused because their sender was declared dead (each told it was fenced). */
  readonly refusedFenced: number;
  /** Calls sent to other nodes, by procedure; each is two messages (request and reply). */
  readonly callsSent: Readonly<Record<IvyProcedure, number>>;
  /** Calls received from other nodes, by procedure. */
  readonly callsReceived: Readonly<Record<IvyProcedure, number>>;
  /** Latency of faults that had to ask the manager (both successful and failed). */
  readonly faultLatency: LatencyHistogram;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function zeroByProc(): Record<IvyProcedure, number> {
  return { acquire: 0, serve: 0, invalidate: 0, abort: 0, ping: 0, propose: 0 };
}

export class IvyCounters {
  readonly c: Mutable<Omit<IvyStats, 'callsSent' | 'callsReceived' | 'faultLatency'>> = {
    readFaults: 0, writeFaults: 0, failedFaults: 0, invalidationsSent: 0, invalidationsReceived: 0,
    pagesSent: 0, staleGrants: 0, busyRetries: 0, nodesDeclaredDead: 0, copiesSkipped: 0, transfersAborted: 0,
    pagesTakenBack: 0, protocolErrors: 0, refusedFenced: 0,
  };
  readonly sent = zeroByProc();
  readonly received = zeroByProc();
  readonly #bounds: readonly number[];
  readonly #hist: number[];

  constructor(bucketsMs: readonly number[]) {
    this.#bounds = bucketsMs;
    this.#hist = new Array<number>(bucketsMs.length + 1).fill(0);
  }

  latency(ms: number): void {
    let i = 0;
    while (i < this.#bounds.length && ms > this.#bounds[i]!) i++;
    this.#hist[i]!++;
  }

  snapshot(): IvyStats {
    return {
      ...this.c,
      callsSent: { ...this.sent },
      callsReceived: { ...this.received },
      faultLatency: { bucketsMs: [...this.#bounds], counts: [...this.#hist] },
    };
  }
}

export { PROCEDURES };
