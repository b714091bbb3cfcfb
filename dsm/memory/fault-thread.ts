/**
 * The fault thread: the worker thread that resolves the application threads' page faults.
 * startFaultThread() launches it over the given buffers (it owns the PageStore, and resolves faults
 * with a handler module) and waits for its ready handshake before returning, so the caller may
 * block in a page fault immediately afterwards (DESIGN.md: a fault thread that finished setting up
 * only after the app thread blocked hung every time).
 *
 * The handler module (compiled JS, given as path or URL) exports
 *     createFaultHandler({ pages, options, emit }): FaultThreadHandler | Promise<FaultThreadHandler>
 * which runs on the fault thread. onMessage() lets the parent drive it (stats, tests, benches);
 * emit() sends it events (StartFaultThreadOptions.onEvent).
 *
 * The worker entry is fault-thread-worker.ts compiled to JS, the sibling of this module's own
 * compiled file (the tests see the same layout: vitest.config.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PageFaultHandler } from '../contract.js';
import { DsmError } from '../errors.js';
import type { DsmBuffers } from './layout.js';
import type { PageStore, PageStoreOptions } from './store.js';

/** What a handler module's createFaultHandler() returns. */
export interface FaultThreadHandler extends PageFaultHandler {
  /** Answer a parent's FaultThread.call(msg) (runs on the fault thread). */
  onMessage?(msg: unknown): unknown;
  close?(): void | Promise<void>;
}
/** What createFaultHandler() is given. */
export interface FaultThreadContext {
  readonly pages: PageStore;
  readonly options: unknown;
  /** Sends an event (structured-cloneable) to the parent thread: StartFaultThreadOptions.onEvent. */
  readonly emit: (event: unknown) => void;
}

export interface StartFaultThreadOptions {
  /** Compiled JS module exporting createFaultHandler(ctx). Path, file: URL string or URL. */
  handlerModule: string | URL;
  /** Structured-cloneable options passed to createFaultHandler as ctx.options. */
  handlerOptions?: unknown;
  /** PageStore options (the handler cannot be given here: it comes from handlerModule). */
  storeOptions?: Omit<PageStoreOptions, 'handler'>;
  /** Longest to wait for the ready handshake. @default 10_000 */
  readyTimeoutMs?: number;
  /** Receives the events the handler emits (FaultThreadContext.emit), on the parent thread. */
  onEvent?: (event: unknown) => void;
}

export interface FaultThreadWorkerData {
  buffers: DsmBuffers;
  handlerModule: string;
  handlerOptions: unknown;
  storeOptions: Omit<PageStoreOptions, 'handler'> | undefined;
}
export type ParentToFaultThread = { type: 'call'; id: number; msg: unknown } | { type: 'close' };
export type FaultThreadToParent =
  | { type: 'ready' }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: { message: string; code: unknown } }
  | { type: 'event'; event: unknown }
  | { type: 'closed' };

export interface FaultThread {
  readonly worker: Worker;
  /** Send `msg` to the handler's onMessage() and resolve with its answer. */
  call<T = unknown>(msg: unknown): Promise<T>;
  /** Close the store (blocked app threads throw DSM_ERR_CLOSED) and end the worker. Bounded. */
  close(): Promise<void>;
}

function toUrl(u: string | URL): URL {
  if (u instanceof URL) return u;
  return u.startsWith('file:') ? new URL(u) : pathToFileURL(u);
}

const WORKER_FILE = new URL('./fault-thread-worker.js', import.meta.url);

export async function startFaultThread(buffers: DsmBuffers, opts: StartFaultThreadOptions): Promise<FaultThread> {
  const handlerUrl = toUrl(opts.handlerModule);
  if (!existsSync(fileURLToPath(handlerUrl))) {
    throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `handlerModule ${fileURLToPath(handlerUrl)} does not exist (is it compiled?)`);
  }
  const data: FaultThreadWorkerData = {
    buffers,
    handlerModule: handlerUrl.href,
    handlerOptions: opts.handlerOptions,
    storeOptions: opts.storeOptions,
  };
  const worker = new Worker(WORKER_FILE, { workerData: data });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let exited = false;
  let onClosed: (() => void) | undefined;

  const failAll = (why: string): void => {
    for (const p of pending.values()) p.reject(new DsmError('DSM_ERR_CLOSED', why));
    pending.clear();
  };

  // Events the handler emits while starting arrive before 'ready'.
  const onEarlyEvent = (m: FaultThreadToParent): void => {
    if (m.type === 'event') opts.onEvent?.(m.event);
  };
  worker.on('message', onEarlyEvent);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new DsmError('DSM_ERR_FAULT_TIMEOUT', `fault thread not ready within ${opts.readyTimeoutMs ?? 10_000} ms`));
    }, opts.readyTimeoutMs ?? 10_000);
    const onEarlyExit = (code: number): void => {
      clearTimeout(timer);
      reject(new DsmError('DSM_ERR_CLOSED', `fault thread exited (code ${code}) before it was ready`));
    };
    const onError = (e: unknown): void => {
      clearTimeout(timer);
      reject(new DsmError('DSM_ERR_CLOSED', `fault thread failed to start: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    };
    worker.once('exit', onEarlyExit);
    worker.once('error', onError);
    const onFirst = (m: FaultThreadToParent): void => {
      if (m.type === 'event') return;
      worker.off('message', onFirst);
      clearTimeout(timer);
      worker.off('exit', onEarlyExit);
      worker.off('error', onError);
      if (m.type === 'ready') resolve();
      else {
        void worker.terminate();
        reject(new DsmError('DSM_ERR_INVALID_ARGUMENT', `fault thread failed to start: ${m.type === 'error' ? m.message : m.type}`));
      }
    };
    worker.on('message', onFirst);
  }).finally(() => worker.off('message', onEarlyEvent));

  worker.on('message', (m: FaultThreadToParent) => {
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
    failAll(`fault thread exited (code ${code})`);
    onClosed?.();
  });

  return {
    worker,
    call<T>(msg: unknown): Promise<T> {
      if (exited) return Promise.reject(new DsmError('DSM_ERR_CLOSED', 'fault thread has exited'));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        worker.postMessage({ type: 'call', id, msg } satisfies ParentToFaultThread);
      });
    },
    async close(): Promise<void> {
      if (exited) return;
      const done = new Promise<void>((r) => (onClosed = r));
      worker.postMessage({ type: 'close' } satisfies ParentToFaultThread);
      const timer = setTimeout(() => void worker.terminate(), 2_000);
      await done;
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
