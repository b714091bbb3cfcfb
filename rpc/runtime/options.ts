/** Option validation helpers: validate at construction, with messages that say what is allowed. */
import { RpcError } from '../errors.js';

function invalid(msg: string): RpcError {
  return new RpcError('RPC_ERR_INVALID_ARGUMENT', msg);
}

export function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

export function nonNegativeInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) throw invalid(`${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}

/** A duration in ms: a finite number ≥ 0. */
export function durationMs(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`${name} must be a finite number of milliseconds ≥ 0, got ${String(v)}`);
  return v;
}

export { invalid as invalidArgument };
