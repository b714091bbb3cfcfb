/**
 * The control channel's application thread (demos/control.ts): attaches to the node started by
 * the main thread, runs the memory commands one at a time in arrival order (demos/control-app.ts)
 * and posts each answer with its thread's fault counters.
 *
 *   main → worker: { seq, command }          worker → main: { seq, ok, value | error, app }
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attachThread, type DsmShared } from '../dsm/node/index.js';
import { APP_HANDLERS, errorJson, type AppContext } from './control-app.js';

export interface ControlWorkerData {
  readonly shared: DsmShared;
  readonly id: number;
  readonly nodes: readonly number[];
}

export interface ToWorker {
  readonly seq: unknown;
  readonly command: Record<string, unknown> & { cmd: string };
}

export type FromWorker = {
  readonly seq: unknown;
  readonly app: { readFaults: number; writeFaults: number; faultWaitUs: number };
} & ({ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ReturnType<typeof errorJson> });

const data = workerData as ControlWorkerData;
const thread = attachThread(data.shared);
const ctx: AppContext = { thread, id: data.id, nodes: data.nodes, shared: data.shared };
const port = parentPort!;

let queue: Promise<void> = Promise.resolve();
port.on('message', (m: ToWorker) => {
  // One at a time, in order, even for commands that await (false-share).
  queue = queue.then(async () => {
    let answer: FromWorker;
    try {
      const value = await APP_HANDLERS[m.command.cmd]!(ctx, m.command);
      answer = { seq: m.seq, ok: true, value: value ?? null, app: { ...thread.mem.stats } };
    } catch (e) {
      answer = { seq: m.seq, ok: false, error: errorJson(e), app: { ...thread.mem.stats } };
    }
    port.postMessage(answer);
  });
});
