/**
 * startDsmNode(): one node of the distributed shared memory, on the calling (application) thread.
 *
 *   const node = await startDsmNode({ id: 1, listen: '127.0.0.1:7001', peers: [{ id: 2, address: '127.0.0.1:7002' }] });
 *   const p = node.alloc(8);               // in a page this node owns
 *   node.mem.u32[p >>> 2] = 42;            // local: no fault
 *   node.mem.u32[q >>> 2];                 // q on another node: blocks until the page arrives
 *
 * The node's fault thread (dsm/memory/fault-thread.ts) owns the network (dsm/node/runtime-handler.ts)
 * and keeps serving peers while this thread is blocked in a fault. Other application threads attach with
 * `attachThread(node.shared)` inside a worker_thread.
 */
import { AppMemory, createDsmBuffers, startFaultThread, type DsmBuffers, type FaultThread } from '../memory/index.js';
import { DsmError } from '../errors.js';
import { Allocator, createAllocatorState, type AllocatorState } from './allocator.js';
import { ownedRange, resolveDsmNodeOptions, type DsmNodeOptions, type ResolvedDsmNodeOptions } from './options.js';
import type { DsmNodeStats, RuntimeRequest } from './runtime-handler.js';

/** What another application thread of the same node needs (structured-cloneable). */
export interface DsmShared {
  readonly buffers: DsmBuffers;
  readonly allocator: AllocatorState;
  readonly appFaultTimeoutMs: number;
}

export interface DsmThread {
  readonly mem: AppMemory;
  alloc(bytes: number): number;
  close(): void;
}

export interface DsmNode extends DsmThread {
  readonly id: number;
  readonly options: ResolvedDsmNodeOptions;
  /** Hand this to worker threads, which call attachThread(shared). */
  readonly shared: DsmShared;
  /** Counters of the fault thread: protocol, page store, transport. */
  stats(): Promise<DsmNodeStats>;
  /** Stop serving peers; blocked accesses throw DSM_ERR_CLOSED. */
  close(): Promise<void>;
}

/** Attach an application thread (any worker_thread) to a node started elsewhere in this process. */
export function attachThread(shared: DsmShared): DsmThread {
  const mem = new AppMemory(shared.buffers, { faultTimeoutMs: shared.appFaultTimeoutMs });
  const allocator = new Allocator(shared.allocator);
  return { mem, alloc: (bytes) => allocator.alloc(bytes), close: () => mem.close() };
}

/** The fault thread's handler module: the compiled sibling of this module (vitest sees the same layout). */
const HANDLER_MODULE = new URL('./runtime-handler.js', import.meta.url);

export async function startDsmNode(options: DsmNodeOptions): Promise<DsmNode> {
  const o = resolveDsmNodeOptions(options);
  const buffers = createDsmBuffers({ pageSize: o.pageSize, pageCount: o.pageCount, maxThreads: o.maxThreads });
  const range = ownedRange(o.nodes, o.pageCount, o.id);
  const shared: DsmShared = {
    buffers, allocator: createAllocatorState(range.first, range.end, o.pageSize), appFaultTimeoutMs: o.appFaultTimeoutMs,
  };
  let faultThread: FaultThread;
  try {
    faultThread = await startFaultThread(buffers, { handlerModule: HANDLER_MODULE, handlerOptions: o });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    throw new DsmError('DSM_ERR_NODE_START', `node ${o.id} could not start on ${o.host}:${o.port}: ${msg.split('\n')[0]}`, { cause: e });
  }
  const thread = attachThread(shared);
  let closed = false;
  return {
    id: o.id, options: o, shared, mem: thread.mem, alloc: thread.alloc,
    stats: () => faultThread.call<DsmNodeStats>({ type: 'stats' } satisfies RuntimeRequest),
    async close() {
      if (closed) return;
      closed = true;
      thread.close();
      await faultThread.close();
    },
  };
}
