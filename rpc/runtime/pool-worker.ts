/**
 * Worker entry of the server's thread pool (piscina). Functions cannot cross threads, so the
 * server sends the URL of a module that exports the handler table, and this worker imports it
 * (once per module) and calls the named handler. The outcome is returned as a plain object:
 * structured clone keeps an Error's message but not its `code`, so errors are flattened here.
 *
 * Imports nothing from the project, so the compiled file works from dist/ on its own.
 */
export interface PoolTask {
  /** file: URL of the handler module. */
  readonly module: string;
  /** Export holding the handler table (falls back to the default export). */
  readonly exportName: string;
  readonly proc: string;
  readonly args: unknown[];
  readonly ctx: { readonly peer: string; readonly peerId: string | undefined; readonly callId: string };
}

export type PoolOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string; readonly code: string | undefined; readonly setup: boolean };

const modules = new Map<string, Promise<Record<string, unknown>>>();

function errorCode(e: unknown): string | undefined {
  const c = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof c === 'string' ? c : typeof c === 'number' ? String(c) : undefined;
}

export default async function runPoolTask(task: PoolTask): Promise<PoolOutcome> {
  let table: Record<string, unknown>;
  try {
    let m = modules.get(task.module);
    if (m === undefined) {
      m = import(task.module) as Promise<Record<string, unknown>>;
      modules.set(task.module, m);
    }
    const mod = await m;
    const t = mod[task.exportName] ?? mod['default'];
    if (typeof t !== 'object' || t === null) throw new Error(`${task.module} exports no handler table "${task.exportName}"`);
    table = t as Record<string, unknown>;
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e), code: errorCode(e), setup: true };
  }
  const fn = table[task.proc];
  if (typeof fn !== 'function') {
    return { ok: false, message: `handler module ${task.module} has no handler "${task.proc}"`, code: undefined, setup: true };
  }
  try {
    const value: unknown = await (fn as (...a: unknown[]) => unknown)(...task.args, task.ctx);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e), code: errorCode(e), setup: false };
  }
}
