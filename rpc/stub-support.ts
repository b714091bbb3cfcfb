/**
 * Helpers that generated stubs import from the runtime instead of each stub file carrying its
 * own copy (the compiler emits only what is specific to an interface).
 */
import type { Caller, CallOptions, InterfaceDescriptor, ProcedureDescriptor } from './contract.js';
import { RpcError, ValidationError } from './errors.js';

/** The keys a CallOptions may have (contract.ts). */
const CALL_OPTION_KEYS: ReadonlySet<string> = new Set(['timeoutMs', 'signal'] satisfies (keyof CallOptions)[]);

/**
 * Validates the arguments, makes the call and validates the result, failing with a typed RpcError.
 * `opts` is the stub method's last parameter, so an extra positional argument lands there: anything
 * but undefined or an object of CallOptions keys is refused (RPC_ERR_INVALID_ARGS), never taken as
 * options.
 */
export async function callChecked(
  caller: Caller, iface: InterfaceDescriptor, proc: ProcedureDescriptor, args: unknown[], opts: CallOptions | undefined,
): Promise<unknown> {
  if (opts !== undefined) {
    let extra: string | undefined = isPlainRecord(opts) ? undefined : 'it is not an object';
    if (extra === undefined) {
      for (const k in opts) {
        if (Object.hasOwn(opts, k) && !CALL_OPTION_KEYS.has(k)) {
          extra = `it has no option '${k}'`;
          break;
        }
      }
    }
    if (extra !== undefined) {
      const n = args.length;
      throw new RpcError('RPC_ERR_INVALID_ARGS', `${iface.name}.${proc.name} takes ${n} argument${n === 1 ? '' : 's'}, then optional call options { timeoutMs, signal }; ` +
        `got ${describeExtra(opts)} after them, and ${extra}`);
    }
  }
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

/** Whether `s` has no lone UTF-16 surrogate (which UTF-8 cannot encode: it would arrive as U+FFFD). */
export function isWellFormedString(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

function describeExtra(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? `an array(${v.length})` : 'an object';
}
