/**
 * startRuntime(): launch a runtime worker thread that owns a PageStore over the given buffers and
 * resolves faults with a handler module, and wait for its ready handshake before returning, so the
 * caller may block in a page fault immediately afterwards (DESIGN.md: a runtime that finished
 * setting up only after the app thread blocked hung every time).
 *
 * The handler module (compiled JS, given as path or URL) exports
 *     createFaultHandler({ pages, options }): RuntimeHandler | Promise<RuntimeHandler>
 * which runs on the runtime thread. onMessage() lets the parent drive it (tests, benches).
 *
 * The worker entry is runtime-worker.ts compiled to JS: found next to this module when running
 * from dist/, else (vitest, tsx running TS sources) in <repo>/dist/dsm/memory/.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PageFaultHandler } from '../contract.js';
import { DsmError } from '../errors.js';
import type { DsmBuffers } from './layout.js';
import type { PageStore, PageStoreOptions } from './store.js';

/** What a handler module's createFaultHandler() returns. */
export interface RuntimeHandler extends PageFaultHandler {
  /** Answer a parent's RuntimeHandle.call(msg) (runs on the runtime thread). */
  onMessage?(msg: unknown): unknown;
  close?(): void | Promise<void>;
}
export interface RuntimeHandlerContext {
  readonly pages: PageStore;
  readonly options: unknown;
  /** Sends an event (structured-cloneable) to the parent thread: StartRuntimeOptions.onEvent. */
  readonly emit: (event: unknown) => void;
}

export interface StartRuntimeOptions {
  /** Compiled JS module exporting createFaultHandler(ctx). Path, file: URL string or URL. */
  handlerModule: string | URL;
  /** Structured-cloneable options passed to createFaultHandler as ctx.options. */
  handlerOptions?: unknown;
  /** PageStore options (the handler cannot be given here: it comes from handlerModule). */
  storeOptions?: Omit<PageStoreOptions, 'handler'>;
  /** Longest to wait for the ready handshake. @default 10_000 */
  readyTimeoutMs?: number;
  /** Override the compiled runtime-worker.js location. */
  workerFile?: string | URL;
  /** Receives the events the handler emits (RuntimeHandlerContext.emit), on the parent thread. */
  onEvent?: (event: unknown) => void;
}

export interface RuntimeWorkerData {
  buffers: DsmBuffers;
  handlerModule: string;
  handlerOptions: unknown;
  storeOptions: Omit<PageStoreOptions, 'handler'> | undefined;
}
export type ParentToRuntime = { type: 'call'; id: number; msg: unknown } | { type: 'close' };
export type RuntimeToParent =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: { message: string; code: unknown } }
  | { type: 'event'; event: unknown }
  | { type: 'closed' };

export interface RuntimeHandle {
  readonly worker: Worker;
  /** Send `msg` to the handler's onMessage() and resolve with its answer. */
  call<T = unknown>(msg: unknown): Promise<T>;
  /** Close the store (blocked app threads throw DSM_ERR_CLOSED) and end the worker. Bounded. */
  close(): Promise<void>;
}

export function locateRuntimeWorker(explicit?: string | URL): string {
  const candidates = explicit !== undefined ? [toUrl(explicit)] : [new URL('./runtime-worker.js', import.meta.url), new URL('../../dist/dsm/memory/runtime-worker.js', import.meta.url)];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(p)) return p;
  }
  throw new DsmError(
    'DSM_ERR_INVALID_ARGUMENT',
    `compiled runtime worker not found (looked for ${candidates.map((c) => fileURLToPath(c)).join(', ')}); run \`npx tsc -p .\` first`,
  );
}

function toUrl(u: string | URL): URL {
  if (u instanceof URL) return u;
  return u.startsWith('file:') ? new URL(u) : pathToFileURL(u);
}

export async function startRuntime(buffers: DsmBuffers, opts: StartRuntimeOptions): Promise<RuntimeHandle> {
  const file = locateRuntimeWorker(opts.workerFile);
  const handlerUrl = toUrl(opts.handlerModule);
  if (!existsSync(fileURLToPath(handlerUrl))) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `handlerModule ${fileURLToPath(handlerUrl)} does not exist (is it compiled?)`);
  }
  const data: RuntimeWorkerData = {
    buffers,
    handlerModule: handlerUrl.href,
    handlerOptions: opts.handlerOptions,
    storeOptions: opts.storeOptions,
  };
  const worker = new Worker(file, { workerData: data });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let exited = false;
  let onClosed: (() => void) | undefined;

  const failAll = (why: string): void => {
    for (const p of pending.values()) p.reject(new DsmError('DSM_ERR_CLOSED', why));
    pending.clear();
  };

  // Events the handler emits while starting arrive before 'ready'.
  const onEarlyEvent = (m: RuntimeToParent): void => {
    if (m.type === 'event') opts.onEvent?.(m.event);
  };
  worker.on('message', onEarlyEvent);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new DsmError('DSM_ERR_FAULT_TIMEOUT', `runtime worker not ready within ${opts.readyTimeoutMs ?? 10_000} ms`));
    }, opts.readyTimeoutMs ?? 10_000);
    const onEarlyExit = (code: number): void => {
      clearTimeout(timer);
      reject(new DsmError('DSM_ERR_CLOSED', `runtime worker exited (code ${code}) before it was ready`));
    };
    const onError = (e: unknown): void => {
      clearTimeout(timer);
      reject(new DsmError('DSM_ERR_CLOSED', `runtime worker failed to start: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    };
    worker.once('exit', onEarlyExit);
    worker.once('error', onError);
    const onFirst = (m: RuntimeToParent): void => {
      if (m.type === 'event') return;
      worker.off('message', onFirst);
      clearTimeout(timer);
      worker.off('exit', onEarlyExit);
      worker.off('error', onError);
      if (m.type === 'ready') resolve();
      else {
        void worker.terminate();
        reject(new DsmError('DSM_ERR_INVALID_ARGUMENT', `runtime worker failed to start: ${m.type === 'error' ? m.message : m.type}`));
      }
    };
    worker.on('message', onFirst);
  }).finally(() => worker.off('message', onEarlyEvent));

  worker.on('message', (m: RuntimeToParent) => {
    if (m.type === 'event') {
      opts.onEvent?.(m.event);
    } else if (m.type === 'result') {
      const p = pending.get(m.id);
      if (p === undefined) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    } else if (m.type === 'closed') {
      onClosed?.();
    }
  });
  worker.on('error', () => undefined); // reported through 'exit' and failAll
  worker.on('exit', (code) => {
    exited = true;
    failAll(`runtime worker exited (code ${code})`);
    onClosed?.();
  });

  return {
    worker,
    call<T>(msg: unknown): Promise<T> {
      if (exited) return Promise.reject(new DsmError('DSM_ERR_CLOSED', 'runtime worker has exited'));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        worker.postMessage({ type: 'call', id, msg } satisfies ParentToRuntime);
      });
    },
    async close(): Promise<void> {
      if (exited) return;
      const done = new Promise<void>((r) => (onClosed = r));
      worker.postMessage({ type: 'close' } satisfies ParentToRuntime);
      const timer = setTimeout(() => void worker.terminate(), 2_000);
      await done;
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
