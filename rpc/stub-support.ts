/**
 * Helpers that generated stubs import from the runtime instead of each stub file carrying its
 * own copy (the compiler emits only what is specific to an interface).
 */
import type { Caller, CallOptions, InterfaceDescriptor, ProcedureDescriptor } from './contract.js';
import { RpcError, ValidationError } from './errors.js';

/** Validates the arguments, makes the call and validates the result, failing with a typed RpcError. */
export async function callChecked(
  caller: Caller, iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts: CallOptions | undefined,
): Promise<unknown> {
  let checked: unknown[];
  try {
    checked = proc.checkArgs(args);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    throw new RpcError('RPC_ERR_INVALID_ARGS', `${iface.name}.${proc.name}: ${e.message}`, { cause: e });
  }
  const result = await caller.call(iface, proc, checked, opts);
  try {
    return proc.checkResult(result);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    throw new RpcError('RPC_ERR_INVALID_RESULT', `${iface.name}.${proc.name}: ${e.message}`, { executed: 'once', cause: e });
  }
}

/** A plain object (not a class instance, array or Map): what a decoded struct must be. */
export function isPlainRecord(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** 64-bit integers arrive as bigint, or as a number when small; both come back as bigint. */
export function toBigint(v: unknown): bigint | undefined {
  return typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v as number) : undefined;
}
