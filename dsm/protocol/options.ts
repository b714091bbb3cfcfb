/**
 * Options of the coherence protocol and its membership, their defaults (one place) and validation.
 *
 * Bounds, so that nothing hangs and no legitimate run is cut short (ivy-node.ts, "Bounds"):
 * - a copy holder that does not answer an invalidation within callTimeoutMs is suspected; the
 *   owner keeps asking until it answers or a majority declares it dead, which takes at most about
 *   deadAfterMs + heartbeatIntervalMs + callTimeoutMs (silence noticed, then one proposal round);
 * - so the longest legitimate serve (an owner invalidating its copies before it grants) is
 *     serveTimeoutMs = deadAfterMs + heartbeatIntervalMs + 2 * callTimeoutMs,
 *   and an owner runs a serve that long at most (derived, not an option);
 * - a request waits at most queueWaitMs in an owner's per-page queue before it is answered Busy;
 * - a fault ends (installed, or failed with a typed error) within faultTimeoutMs, which by default
 *   is max(10 s, queueWaitMs + serveTimeoutMs + 2 * callTimeoutMs) and, when given, must exceed
 *   queueWaitMs + serveTimeoutMs.
 */
import { DsmError } from '../errors.js';
import { realTimers, type Timers } from '../../rpc/runtime/index.js';

/** How the owner of a page is found: Li & Hudak's fixed or dynamic distributed manager (ivy-node.ts). */
export type ManagerMode = 'fixed' | 'dynamic';
export const MANAGER_MODES: readonly ManagerMode[] = ['fixed', 'dynamic'];

export interface IvyOptions {
  /** Clock and timers (tests pass a logical clock). @default real timers */
  readonly timers?: Timers;
  /**
   * 'fixed': page p's directory is on node p mod N, asked when a probable-owner hint is wrong (a
   * dead manager makes those faults fail DSM_ERR_MANAGER_DEAD). 'dynamic': no directory; requests
   * follow probable-owner chains. Must be the same on every node (part of the configuration).
   * @default 'fixed'
   */
  readonly manager?: ManagerMode;
  /**
   * A fault that has not resolved after this long fails (DSM_ERR_FAULT_TIMEOUT, or DSM_ERR_NO_QUORUM
   * when it waited for a suspect nobody could declare dead).
   * @default max(10_000, queueWaitMs + serveTimeoutMs + 2 * callTimeoutMs)
   */
  readonly faultTimeoutMs?: number;
  /**
   * Deadline of one invalidate, abort or proposal call. A peer that misses it is suspected (not
   * declared dead: only a majority decides that). @default 1_000
   */
  readonly callTimeoutMs?: number;
  /** A request that waited longer than this in a manager's page queue is answered Busy (and retried). @default 3_000 */
  readonly queueWaitMs?: number;
  /** Send heartbeat pings (they also carry the confirmations of ownership transfers). @default true */
  readonly heartbeat?: boolean;
  /** Interval between heartbeat rounds. @default min(500, deadAfterMs / 4) */
  readonly heartbeatIntervalMs?: number;
  /**
   * A peer not heard from (no message of any kind) for this long is suspected, and this node asks
   * the others to declare it dead; a voter agrees only if it has not heard from it for this long
   * either, and a majority must agree. @default 2_000
   */
  readonly deadAfterMs?: number;
  /** Upper bounds (ms) of the fault latency histogram buckets; a last bucket catches the rest. */
  readonly latencyBucketsMs?: readonly number[];
}

export interface ResolvedIvyOptions {
  readonly timers: Timers;
  readonly manager: ManagerMode;
  readonly faultTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly queueWaitMs: number;
  /** Derived: the longest legitimate serve (see the top of this file). */
  readonly serveTimeoutMs: number;
  readonly heartbeat: boolean;
  readonly heartbeatIntervalMs: number;
  readonly deadAfterMs: number;
  readonly latencyBucketsMs: readonly number[];
}

export const IVY_DEFAULTS = {
  manager: 'fixed' as ManagerMode,
  faultTimeoutMs: 10_000,
  callTimeoutMs: 1_000,
  queueWaitMs: 3_000,
  heartbeat: true,
  heartbeatIntervalMs: 500,
  deadAfterMs: 2_000,
  latencyBucketsMs: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000] as readonly number[],
} as const;

function positive(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `${name} must be a positive finite number of milliseconds, got ${String(v)}`);
  }
  return v;
}

export function resolveIvyOptions(o: IvyOptions = {}): ResolvedIvyOptions {
  const manager = o.manager ?? IVY_DEFAULTS.manager;
  if (!MANAGER_MODES.includes(manager)) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `manager must be ${MANAGER_MODES.map((m) => `'${m}'`).join(' or ')}, got ${JSON.stringify(manager)}`);
  }
  const callTimeoutMs = positive('callTimeoutMs', o.callTimeoutMs ?? IVY_DEFAULTS.callTimeoutMs);
  const queueWaitMs = positive('queueWaitMs', o.queueWaitMs ?? IVY_DEFAULTS.queueWaitMs);
  const deadAfterMs = positive('deadAfterMs', o.deadAfterMs ?? IVY_DEFAULTS.deadAfterMs);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', o.heartbeatIntervalMs ?? Math.min(IVY_DEFAULTS.heartbeatIntervalMs, deadAfterMs / 4));
  if (deadAfterMs < 2 * heartbeatIntervalMs) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `deadAfterMs (${deadAfterMs}) must be at least 2 * heartbeatIntervalMs (${2 * heartbeatIntervalMs}), so a missed heartbeat is not a death`);
  }
  const serveTimeoutMs = deadAfterMs + heartbeatIntervalMs + 2 * callTimeoutMs;
  let faultTimeoutMs: number;
  if (o.faultTimeoutMs === undefined) {
    faultTimeoutMs = Math.max(IVY_DEFAULTS.faultTimeoutMs, queueWaitMs + serveTimeoutMs + 2 * callTimeoutMs);
  } else {
    faultTimeoutMs = positive('faultTimeoutMs', o.faultTimeoutMs);
    if (faultTimeoutMs <= queueWaitMs + serveTimeoutMs) {
      throw new DsmError(
        'DSM_ERR_INVALID_ARGUMENT',
        `faultTimeoutMs (${faultTimeoutMs}) must exceed queueWaitMs + deadAfterMs + heartbeatIntervalMs + 2 * callTimeoutMs (${queueWaitMs + serveTimeoutMs})`,
      );
    }
  }
  const buckets = o.latencyBucketsMs ?? IVY_DEFAULTS.latencyBucketsMs;
  for (let i = 0; i < buckets.length; i++) {
    if (!(buckets[i]! > 0) || (i > 0 && buckets[i]! <= buckets[i - 1]!)) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'latencyBucketsMs must be positive and strictly increasing');
    }
  }
  return {
    timers: o.timers ?? realTimers,
    manager,
    faultTimeoutMs,
    callTimeoutMs,
    queueWaitMs,
    serveTimeoutMs,
    heartbeat: o.heartbeat ?? IVY_DEFAULTS.heartbeat,
    heartbeatIntervalMs,
    deadAfterMs,
    latencyBucketsMs: [...buckets],
  };
}
