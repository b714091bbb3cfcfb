/**
 * Entry file of the fault thread started by startFaultThread() (fault-thread.ts), run as compiled
 * JS. It owns the PageStore, imports the handler module named in workerData, and
 * serves the parent over parentPort:
 *
 *   parent → worker: { type: 'call', id, msg } | { type: 'close' }
 *   worker → parent: { type: 'ready' } | { type: 'error', message } | { type: 'result', id, ok, value | error }
 *                  | { type: 'event', event } | { type: 'closed' }
 *
 * 'ready' is posted only once the store is serving, so the parent may block in a fault right after.
 * The parentPort listener is a ref'd handle: it keeps this thread alive while its only other work
 * is the store's Atomics.waitAsync (which is not a libuv handle; a thread with only that exits).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FaultThreadHandler, FaultThreadWorkerData, FaultThreadToParent, ParentToFaultThread } from './fault-thread.js';
import { PageStore } from './store.js';

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('fault-thread-worker.js must run as a worker thread');
  const data = workerData as FaultThreadWorkerData;
  const send = (m: FaultThreadToParent): void => port.postMessage(m);
  let store: PageStore;
  let handler: FaultThreadHandler;
  try {
    store = new PageStore(data.buffers, data.storeOptions);
    const mod = (await import(data.handlerModule)) as { createFaultHandler?: unknown };
    if (typeof mod.createFaultHandler !== 'function') throw new Error(`${data.handlerModule} does not export createFaultHandler()`);
    handler = (await (mod.createFaultHandler as (ctx: unknown) => unknown)({ pages: store, options: data.handlerOptions, emit: (event: unknown) => send({ type: 'event', event }) })) as FaultThreadHandler;
    if (typeof handler?.fault !== 'function') throw new Error('createFaultHandler() did not return a PageFaultHandler');
    store.setHandler(handler);
    store.serve();
  } catch (e) {
    send({ type: 'error', message: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
    port.close();
    return;
  }
  port.on('message', (m: ParentToFaultThread) => {
    if (m.type === 'call') {
      Promise.resolve()
        .then(() => (handler.onMessage ? handler.onMessage(m.msg) : Promise.reject(new Error('the handler has no onMessage()'))))
        .then(
          (value) => send({ type: 'result', id: m.id, ok: true, value }),
          (e: unknown) =>
            send({
              type: 'result',
              id: m.id,
              ok: false,
              error: { message: e instanceof Error ? e.message : String(e), code: (e as { code?: unknown })?.code },
            }),
        );
    } else if (m.type === 'close') {
      store.close();
      Promise.resolve(handler.close?.())
        .catch(() => undefined)
        .then(() => {
          send({ type: 'closed' });
          port.close();
        });
    }
  });
  send({ type: 'ready' });
}

void main();
