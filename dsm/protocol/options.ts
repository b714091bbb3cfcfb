/**
 * Options of the coherence protocol, their defaults (one place) and validation.
 *
 * Bounds, so that nothing hangs (see ivy-node.ts, "Bounds"):
 *   a serve (manager -> owner) takes at most installWaitMs + callTimeoutMs + local downgrade;
 *   the manager gives it serveTimeoutMs = installWaitMs + 2 * callTimeoutMs;
 *   a request waits at most queueWaitMs in the manager's per-page queue before it is answered Busy;
 *   so an acquire normally answers within queueWaitMs + serveTimeoutMs + a message round trip,
 *   and faultTimeoutMs must be larger than that.
 */
import { DsmError } from '../errors.js';
import { realTimers, type Timers } from '../../rpc/runtime/index.js';

export interface IvyOptions {
  /** Clock and timers (tests pass a logical clock). @default real timers */
  readonly timers?: Timers;
  /** A fault that has not resolved after this long fails with DSM_ERR_FAULT_TIMEOUT. @default 10_000 */
  readonly faultTimeoutMs?: number;
  /**
   * Deadline of invalidate calls; a copy holder that does not answer an invalidation in time is
   * declared dead (fail-stop assumption). @default 1_000
   */
  readonly callTimeoutMs?: number;
  /**
   * How long an owner or copy holder waits for a grant still in flight to it; must be less than
   * callTimeoutMs, so a holder answers an invalidation before the owner gives up on it. @default 500
   */
  readonly installWaitMs?: number;
  /** A request that waited longer than this in a manager's page queue is answered Busy (and retried). @default 3_000 */
  readonly queueWaitMs?: number;
  /** Send heartbeat pings. @default true */
  readonly heartbeat?: boolean;
  /** Interval between heartbeat rounds. @default 500 */
  readonly heartbeatIntervalMs?: number;
  /** A peer not heard from (no successful ping) for this long is declared dead. @default 2_000 */
  readonly deadAfterMs?: number;
  /** Upper bounds (ms) of the fault latency histogram buckets; a last bucket catches the rest. */
  readonly latencyBucketsMs?: readonly number[];
}

export interface ResolvedIvyOptions {
  readonly timers: Timers;
  readonly faultTimeoutMs: number;
  readonly callTimeoutMs: number;
  readonly installWaitMs: number;
  readonly queueWaitMs: number;
  readonly serveTimeoutMs: number;
  readonly heartbeat: boolean;
  readonly heartbeatIntervalMs: number;
  readonly deadAfterMs: number;
  readonly latencyBucketsMs: readonly number[];
}

export const IVY_DEFAULTS = {
  faultTimeoutMs: 10_000,
  callTimeoutMs: 1_000,
  installWaitMs: 500,
  queueWaitMs: 3_000,
  heartbeat: true,
  heartbeatIntervalMs: 500,
  deadAfterMs: 2_000,
  latencyBucketsMs: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000] as readonly number[],
} as const;

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `${name} must be a positive finite number of milliseconds, got ${String(v)}`);
  }
  return v;
}

export function resolveIvyOptions(o: IvyOptions = {}): ResolvedIvyOptions {
  const callTimeoutMs = positive('callTimeoutMs', o.callTimeoutMs ?? IVY_DEFAULTS.callTimeoutMs);
  const installWaitMs = positive('installWaitMs', o.installWaitMs ?? IVY_DEFAULTS.installWaitMs);
  const queueWaitMs = positive('queueWaitMs', o.queueWaitMs ?? IVY_DEFAULTS.queueWaitMs);
  const faultTimeoutMs = positive('faultTimeoutMs', o.faultTimeoutMs ?? IVY_DEFAULTS.faultTimeoutMs);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', o.heartbeatIntervalMs ?? IVY_DEFAULTS.heartbeatIntervalMs);
  const deadAfterMs = positive('deadAfterMs', o.deadAfterMs ?? IVY_DEFAULTS.deadAfterMs);
  if (installWaitMs >= callTimeoutMs) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `installWaitMs (${installWaitMs}) must be less than callTimeoutMs (${callTimeoutMs})`);
  }
  const serveTimeoutMs = installWaitMs + 2 * callTimeoutMs;
  if (faultTimeoutMs <= queueWaitMs + serveTimeoutMs) {
    throw new DsmError(
      'DSM_ERR_INVALID_ARGUMENT',
      `faultTimeoutMs (${faultTimeoutMs}) must exceed queueWaitMs + installWaitMs + 2 * callTimeoutMs (${queueWaitMs + serveTimeoutMs})`,
    );
  }
  if (deadAfterMs < heartbeatIntervalMs) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `deadAfterMs (${deadAfterMs}) must be at least heartbeatIntervalMs (${heartbeatIntervalMs})`);
  }
  const buckets = o.latencyBucketsMs ?? IVY_DEFAULTS.latencyBucketsMs;
  for (let i = 0; i < buckets.length; i++) {
    if (!(buckets[i]! > 0) || (i > 0 && buckets[i]! <= buckets[i - 1]!)) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'latencyBucketsMs must be positive and strictly increasing');
    }
  }
  return {
    timers: o.timers ?? realTimers,
    faultTimeoutMs,
    callTimeoutMs,
    installWaitMs,
    queueWaitMs,
    serveTimeoutMs,
    heartbeat: o.heartbeat ?? IVY_DEFAULTS.heartbeat,
    heartbeatIntervalMs,
    deadAfterMs,
    latencyBucketsMs: [...buckets],
  };
}
