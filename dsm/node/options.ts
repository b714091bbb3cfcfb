/**
 * Options of a DSM node, their defaults and validation, and the placement of pages: which node
 * owns each page before anyone touched it. Everything here is plain data, because the resolved
 * options travel to the fault thread by structured clone.
 */
import type { EndpointOptions } from '../../transport/index.js';
import { isTransportError, parsePeer } from '../../transport/index.js';
import { checkClusterKey } from '../../transport/cluster-key.js';
import { RPC_CLIENT_DEFAULTS } from '../../rpc/runtime/index.js';
import { DsmError } from '../errors.js';
import { resolveIvyOptions, type IvyOptions, type ManagerMode } from '../protocol/index.js';

export interface DsmPeer {
  /** Node id (uint16), unique in the cluster. */
  readonly id: number;
  /** The peer's UDP address, "host:port". */
  readonly address: string;
}

export interface DsmNodeOptions {
  /** This node's id (uint16). */
  readonly id: number;
  /** Address to bind, "host:port". */
  readonly listen: string;
  /** Every other node of the cluster; all nodes must be given the same set. */
  readonly peers: readonly DsmPeer[];
  /** Bytes per page, a power of two from 64 to 65536. @default 4096 */
  readonly pageSize?: number;
  /** Pages in the address space, page 0 (null) included. @default 1024 */
  readonly pageCount?: number;
  /** Application threads that may attach at once. @default 16 */
  readonly maxThreads?: number;
  /**
   * How a page's owner is found, the same on every node (dsm/protocol/ivy-node.ts): 'fixed' (Li &
   * Hudak's fixed distributed manager: a directory on node p mod N, asked when a probable-owner
   * hint is wrong) or 'dynamic' (no directory: probable-owner chains). The same as ivy.manager.
   * @default 'fixed'
   */
  readonly manager?: ManagerMode;
  /**
   * The cluster key (32 random bytes; `pagewire keygen`, parseClusterKey): every datagram sealed
   * and authenticated, a peer's node id proven by its key (node N seals as "N"), and calls
   * from a node whose key proves another id than its address stands for refused. Every node of
   * the cluster needs the same key. @default none: clear text, every address believed
   */
  readonly key?: Uint8Array;
  /**
   * Transport options (plain data only: faults, giveUpMs, windows, RTO bounds). On loopback the
   * transport's datagrams grow to loopbackDatagramBytes by itself (transport/README.md), so a page
   * travels in one datagram and a read fault costs two datagrams, like a null RPC.
   */
  readonly transport?: Omit<EndpointOptions, 'host' | 'port' | 'nodeId' | 'now' | 'random' | 'key'>;
  /** Coherence-protocol options (timeouts, heartbeat). */
  readonly ivy?: Omit<IvyOptions, 'timers'>;
  /** Write this node's trace events (every layer) to DIR/node-<id>.jsonl (`pagewire trace DIR` reads them). @default off */
  readonly traceDir?: string;
}

export interface ResolvedDsmNodeOptions {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly peers: readonly DsmPeer[];
  readonly nodes: readonly number[];
  readonly pageSize: number;
  readonly pageCount: number;
  readonly maxThreads: number;
  readonly key: Uint8Array | undefined;
  readonly transport: DsmNodeOptions['transport'];
  readonly ivy: DsmNodeOptions['ivy'];
  readonly traceDir: string | undefined;
  /** Bound of one blocked access on the app thread: the protocol's fault timeout plus slack. */
  readonly appFaultTimeoutMs: number;
  /** How long the node's RPC clients wait before acknowledging a reply with a message of its own (replyAckDelayMs). */
  readonly replyAckDelayMs: number;
}

/**
 * The most DSM trace events DsmNode.watch() forwards per second (the rest are counted as
 * `skipped`): a page ping-ponging between two nodes produces tens of thousands a second, more than
 * anyone can look at, and the feed must cost the node neither its speed nor its memory.
 */
export const WATCH_EVENTS_PER_SECOND = 2000;

export const DSM_NODE_DEFAULTS = { pageSize: 4096, pageCount: 1024, maxThreads: 16 } as const;

function bad(message: string): DsmError {
  return new DsmError('DSM_ERR_INVALID_ARGUMENT', message);
}

function nodeId(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) throw bad(`${what} must be an integer node id in [0, 65535], got ${String(v)}`);
  return v as number;
}

function address(v: unknown, what: string): { host: string; port: number; key: string } {
  try {
    return parsePeer(v as string);
  } catch (e) {
    throw bad(`${what}: ${(e as Error).message.replace(/^peer /, '')}`); // the transport's message says "peer"
  }
}

export function resolveDsmNodeOptions(o: DsmNodeOptions): ResolvedDsmNodeOptions {
  if (typeof o !== 'object' || o === null) throw bad('options must be an object');
  const id = nodeId(o.id, 'id');
  const listen = address(o.listen, 'listen');
  if (!Array.isArray(o.peers)) throw bad('peers must be an array of { id, address }');
  const peers = o.peers.map((p, i) => ({ id: nodeId(p?.id, `peers[${i}].id`), address: address(p?.address, `peers[${i}].address`).key }));
  const nodes = [id, ...peers.map((p) => p.id)].sort((a, b) => a - b);
  if (new Set(nodes).size !== nodes.length) throw bad(`node ids must be distinct, got [${nodes.join(', ')}]`);
  const addrs = [listen.key, ...peers.map((p) => p.address)];
  if (new Set(addrs).size !== addrs.length) throw bad(`node addresses must be distinct, got [${addrs.join(', ')}]`);
  const pageSize = o.pageSize ?? DSM_NODE_DEFAULTS.pageSize;
  const pageCount = o.pageCount ?? DSM_NODE_DEFAULTS.pageCount;
  if (!Number.isInteger(pageCount) || pageCount - 2 < nodes.length) {
    throw bad(`pageCount must leave at least one page per node besides the null page and the root page: ${nodes.length} node${nodes.length === 1 ? '' : 's'} need pageCount >= ${nodes.length + 2}, got ${String(pageCount)}`);
  }
  if (o.traceDir !== undefined && (typeof o.traceDir !== 'string' || o.traceDir.length === 0)) throw bad('traceDir must be a non-empty directory path');
  if (o.manager !== undefined && o.ivy?.manager !== undefined && o.manager !== o.ivy.manager) {
    throw bad(`manager ('${String(o.manager)}') and ivy.manager ('${String(o.ivy.manager)}') disagree; give one`);
  }
  const ivy = o.manager === undefined ? o.ivy : { ...o.ivy, manager: o.manager };
  const resolvedIvy = resolveIvyOptions(ivy);
  const protocolTimeout = resolvedIvy.faultTimeoutMs;
  if (o.key !== undefined) {
    try {
      checkClusterKey(o.key, 'key');
    } catch (e) {
      throw isTransportError(e) ? bad((e as Error).message) : e;
    }
  }
  if ((o.transport as { key?: unknown } | undefined)?.key !== undefined) throw bad('give the cluster key as the node\'s `key` option, not transport.key');
  const transport = o.transport;
  return {
    id, host: listen.host, port: listen.port, peers, nodes, pageSize, pageCount,
    maxThreads: o.maxThreads ?? DSM_NODE_DEFAULTS.maxThreads,
    key: o.key === undefined ? undefined : Uint8Array.from(o.key),
    transport, ivy, traceDir: o.traceDir,
    appFaultTimeoutMs: protocolTimeout + 2_000,
    replyAckDelayMs: replyAckDelayMs(resolvedIvy),
  };
}

/**
 * How long a node's RPC client waits before it sends a reply's acknowledgement as a message of its
 * own (RpcClientOptions.ackDelayMs). Every request and probe already carries the acknowledgement
 * (its ackBelow watermark), and a node calls every peer at least once a heartbeat interval (the
 * heartbeat ping), so waiting two intervals lets the next call carry it. With the RPC default
 * (50 ms) a coherence call that was not followed by another to the same peer within 50 ms cost a
 * standalone ACK and the transport's pure ack of it: in bench:dsm's 6-node rounds (a reader's read
 * fault and its invalidation) 1.4 ACK messages and 12.8 datagrams per reader, now 0.1 and 10.3
 * (counted by hand from the nodes' stats; test/dsm-node-api.test.ts asserts the ACKs are gone).
 * A server's saved reply waits that much longer for its acknowledgement (its reply cache is
 * bounded either way). Without heartbeats, the RPC default.
 */
export function replyAckDelayMs(ivy: { readonly heartbeat: boolean; readonly heartbeatIntervalMs: number }): number {
  return ivy.heartbeat ? 2 * ivy.heartbeatIntervalMs : RPC_CLIENT_DEFAULTS.ackDelayMs;
}

/** The transport identity of node `id`: its nodeId ("3"), which names it in logs and traces and which a cluster key authenticates. */
export function transportNodeId(id: number): string {
  return String(id);
}

/**
 * The root page: the last page of the address space. Its words are the cluster's well-known
 * addresses (DsmThread.root(i)): the same on every node, never handed out by an allocator, so one
 * node can store the address of a shared structure there and every other node can find it.
 */
export function rootPage(pageCount: number): number {
  return pageCount - 1;
}

/**
 * Initial placement: pages 1..pageCount-1 split into one contiguous range per node, in node-id
 * order, so each node allocates from pages it owns and data lives where its creator lives. The last
 * node's range ends with the root page, which its allocator skips (allocatableRange).
 */
export function ownedRange(nodes: readonly number[], pageCount: number, node: number): { first: number; end: number } {
  const k = nodes.indexOf(node);
  const per = Math.floor((pageCount - 1) / nodes.length);
  const first = 1 + k * per;
  return { first, end: k === nodes.length - 1 ? pageCount : first + per };
}

/** The pages of ownedRange() the node's allocator hands out: all but the root page. */
export function allocatableRange(nodes: readonly number[], pageCount: number, node: number): { first: number; end: number } {
  const r = ownedRange(nodes, pageCount, node);
  return { first: r.first, end: Math.min(r.end, rootPage(pageCount)) };
}

export function initialOwner(nodes: readonly number[], pageCount: number): (page: number) => number {
  const per = Math.floor((pageCount - 1) / nodes.length);
  return (page) => nodes[Math.min(nodes.length - 1, Math.floor((page - 1) / per))]!;
}
