/**
 * startDsmNode(): one node of the distributed shared memory, on the calling (application) thread.
 *
 *   const node = await startDsmNode({ id: 1, listen: '127.0.0.1:7001', peers: [{ id: 2, address: '127.0.0.1:7002' }] });
 *   const p = node.alloc(8);               // in a page this node owns
 *   node.mem.u32[p >>> 2] = 42;            // local: no fault
 *   node.mem.u32[q >>> 2];                 // q on another node: blocks until the page arrives
 *   node.mem.u32[node.root(0) >>> 2] = p;  // a well-known word: every node finds p there
 *
 * The node's fault thread (dsm/memory/fault-thread.ts) owns the network (dsm/node/network-side.ts)
 * and keeps serving peers while this thread is blocked in a fault. Other application threads attach with
 * `attachThread(node.shared)` inside a worker_thread.
 */
import { EventEmitter } from 'node:events';
import { AppMemory, createDsmBuffers, startFaultThread, type DsmBuffers, type FaultThread } from '../memory/index.js';
import { DsmError } from '../errors.js';
import { Allocator, createAllocatorState, type AllocatorState } from './allocator.js';
import { allocatableRange, rootPage, resolveDsmNodeOptions, type DsmNodeOptions, type ResolvedDsmNodeOptions } from './options.js';
import type { DsmNodeStats, NetworkRules, NetworkState, PageTable, RuntimeEvent, RuntimeRequest, SecurityEvent, TraceState } from './network-side.js';
import type { TraceEvent } from '../../trace/index.js';
import type { MembershipEvent } from '../protocol/index.js';

/** What another application thread of the same node needs (structured-cloneable). */
export interface DsmShared {
  readonly buffers: DsmBuffers;
  readonly allocator: AllocatorState;
  readonly appFaultTimeoutMs: number;
}

export interface DsmThread {
  readonly mem: AppMemory;
  /** Reserve `bytes` in a page this node owns; returns the block's address (8-aligned). */
  alloc(bytes: number): number;
  /**
   * The address of root word `i` (0 <= i < pageSize / 4): a u32 at the same address on every
   * node, in the root page (the last page, which no allocator hands out). It is how nodes find
   * each other's data: one stores an address there, the others read it (0 until someone does).
   */
  root(i: number): number;
  close(): void;
}

export interface DsmNode extends DsmThread {
  readonly id: number;
  readonly options: ResolvedDsmNodeOptions;
  /** Hand this to worker threads, which call attachThread(shared). */
  readonly shared: DsmShared;
  /** Counters of the fault thread: protocol, membership, page store, transport. */
  stats(): Promise<DsmNodeStats>;
  /**
   * This node's view of the page table (its rights on every page, the copy sets of the pages it
   * owns, its records as manager), read from the fault thread without faulting: for tools that
   * draw the page map. Answers while application threads are blocked in faults.
   */
  pageTable(): Promise<PageTable>;
  /**
   * Fault injection at runtime: cut this node off from `blockedNodes` (datagrams dropped both ways,
   * a partition when set on both sides) and drop `loss` of what it sends. Replaces the previous
   * rules; `{}` heals. Counted in stats().network. Rejects DSM_ERR_INVALID_ARGUMENT.
   */
  setNetwork(rules: NetworkRules): Promise<NetworkState>;
  /**
   * Start writing this node's trace (every layer) to DIR/node-<id>.jsonl, as `--trace DIR` does
   * from the start, or stop (null) and close the file. Read the directory with `pagewire trace DIR`.
   */
  trace(dir: string | null): Promise<TraceState>;
  /**
   * Receive this node's DSM trace events as they happen (fault begin/end, requests to managers,
   * forwards, grants, owner changes, invalidations; trace/README.md), on this thread, at most
   * WATCH_EVENTS_PER_SECOND (`skipped` counts the rest); null stops. For tools that draw the
   * protocol live. While watched the node traces, which costs a little on every message.
   */
  watch(listener: ((event: TraceEvent, skipped: number) => void) | null): Promise<void>;
  /**
   * Resolves once every peer has been heard from (nodes may start in any order; a fault that needs
   * a peer which is not up yet waits for it, up to the fault timeout, so this is a convenience).
   * Rejects with DSM_ERR_NODE_START naming the silent peers after `timeoutMs`. @default 30_000
   */
  waitForPeers(timeoutMs?: number): Promise<void>;
  /**
   * Membership events (peer up / suspected / dead, this node fenced, a majority up, a configuration
   * mismatch). A new listener first receives the events that happened before it was added.
   */
  onMembership(listener: (e: MembershipEvent) => void): void;
  /**
   * Reports, at most once a second, of datagrams the transport dropped as unauthenticated (not
   * sealed with the cluster key: a node with another key, a forgery) or replayed.
   */
  onSecurity(listener: (e: SecurityEvent) => void): void;
  /** Stop serving peers; blocked accesses throw DSM_ERR_CLOSED. */
  close(): Promise<void>;
}

/** Attach an application thread (any worker_thread) to a node started elsewhere in this process. */
export function attachThread(shared: DsmShared): DsmThread {
  const mem = new AppMemory(shared.buffers, { faultTimeoutMs: shared.appFaultTimeoutMs });
  const allocator = new Allocator(shared.allocator);
  const rootBase = rootPage(mem.pageCount) * mem.pageSize;
  const root = (i: number): number => {
    if (!Number.isInteger(i) || i < 0 || i >= mem.pageSize / 4) {
      throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `root(i): i must be an integer in [0, ${mem.pageSize / 4 - 1}] (the root page holds pageSize / 4 words), got ${String(i)}`);
    }
    return rootBase + 4 * i;
  };
  return { mem, alloc: (bytes) => allocator.alloc(bytes), root, close: () => mem.close() };
}

/** How often waitForPeers() looks at the transport's counters. */
const PEER_POLL_MS = 50;

/** The fault thread's handler module: the compiled sibling of this module (vitest sees the same layout). */
const HANDLER_MODULE = new URL('./network-side.js', import.meta.url);

export async function startDsmNode(options: DsmNodeOptions): Promise<DsmNode> {
  const o = resolveDsmNodeOptions(options);
  const buffers = createDsmBuffers({ pageSize: o.pageSize, pageCount: o.pageCount, maxThreads: o.maxThreads, nodeId: o.id });
  const range = allocatableRange(o.nodes, o.pageCount, o.id);
  const shared: DsmShared = {
    buffers, allocator: createAllocatorState(range.first, range.end, o.pageSize), appFaultTimeoutMs: o.appFaultTimeoutMs,
  };
  const events = new EventEmitter<{ membership: [MembershipEvent]; security: [SecurityEvent] }>();
  const past: MembershipEvent[] = [];
  let watcher: ((event: TraceEvent, skipped: number) => void) | null = null;
  const onEvent = (e: unknown): void => {
    const ev = e as RuntimeEvent;
    if (ev?.type === 'trace') {
      watcher?.(ev.event, ev.skipped);
      return;
    }
    if (ev?.type === 'security') {
      events.emit('security', ev.event);
      return;
    }
    if (ev?.type !== 'membership') return;
    if (past.length < 1_000) past.push(ev.event);
    events.emit('membership', ev.event);
  };
  let faultThread: FaultThread;
  try {
    faultThread = await startFaultThread(buffers, { handlerModule: HANDLER_MODULE, handlerOptions: o, onEvent });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    throw new DsmError('DSM_ERR_NODE_START', `node ${o.id} could not start on ${o.host}:${o.port}: ${msg.split('\n')[0]}`, { cause: e });
  }
  const thread = attachThread(shared);
  let closed = false;
  const stats = (): Promise<DsmNodeStats> => faultThread.call<DsmNodeStats>({ type: 'stats' } satisfies RuntimeRequest);
  /** A request the fault thread may refuse: its refusal arrives as a DsmError (DSM_ERR_INVALID_ARGUMENT). */
  const ask = async <T>(request: RuntimeRequest): Promise<T> => {
    try {
      return await faultThread.call<T>(request);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw code === 'DSM_ERR_INVALID_ARGUMENT' ? new DsmError(code, (e as Error).message) : e;
    }
  };
  return {
    id: o.id, options: o, shared, mem: thread.mem, alloc: thread.alloc, root: thread.root, stats,
    pageTable: () => faultThread.call<PageTable>({ type: 'pages' } satisfies RuntimeRequest),
    trace: (dir) => ask<TraceState>({ type: 'trace', dir }),
    watch: async (listener) => {
      watcher = listener;
      await faultThread.call({ type: 'watch', on: listener !== null } satisfies RuntimeRequest);
    },
    setNetwork: (rules) => ask<NetworkState>({ type: 'network', rules }),
    async waitForPeers(timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        // A peer is up once any message of its arrived (a heartbeat at the latest, every
        // heartbeatIntervalMs): the membership's own evidence.
        const { peers } = await stats();
        const notUp = new Set(peers.filter((p) => p.status === 'not-up').map((p) => p.node));
        const silent = o.peers.filter((p) => notUp.has(p.id));
        if (silent.length === 0) return;
        if (performance.now() >= deadline) {
          throw new DsmError('DSM_ERR_NODE_START', `node ${o.id}: no word from ${silent.map((p) => `node ${p.id} (${p.address})`).join(', ')} within ${timeoutMs} ms; is it running, with the same node set?`);
        }
        await new Promise((r) => setTimeout(r, PEER_POLL_MS));
      }
    },
    onMembership(listener) {
      for (const e of past) listener(e);
      events.on('membership', listener);
    },
    onSecurity(listener) {
      events.on('security', listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      thread.close();
      await faultThread.close();
    },
  };
}
