/**
 * The network side of a DSM node, loaded by the node's fault thread (dsm/memory/fault-thread.ts)
 * as its handler module. It binds the node's UDP endpoint, serves the Ivy interface over RPC, keeps
 * one RPC client per peer, and resolves the page store's faults with IvyNode. The worker posts
 * 'ready' only after createFaultHandler() resolves, i.e. after the socket is bound and the server
 * is serving, so the application thread may block in a fault at once.
 *
 * Every message the transport delivers from a configured peer is evidence of life for the
 * membership (IvyNode.heard), page traffic as much as heartbeats; an incoming call's node is the
 * one its transport address belongs to. With a cluster key that node must also be the one the
 * key authenticates (node N seals as "N", MessageEvent.peerId): a call whose key proves
 * another node, or none of the cluster's, is refused before Ivy sees it (RPC_ERR_UNAUTHENTICATED,
 * counted in stats().rpc.unauthenticated), and its messages are no evidence of anyone's life.
 * Membership events go to the application thread (FaultThreadContext.emit), where DsmNode
 * re-emits them, and so do reports of datagrams the transport dropped as unauthenticated or
 * replayed (at most one a second).
 */
import { createEndpoint, type UdpEndpoint } from '../../transport/index.js';
import { RpcClient, RpcServer, type RpcServerStats } from '../../rpc/runtime/index.js';
import type { CallContext } from '../../rpc/index.js';
import type { FaultThreadContext, FaultThreadHandler } from '../memory/index.js';
import { IvyClient, IvyDescriptor, IvyNode, type MembershipEvent } from '../protocol/index.js';
import { initialOwner, transportNodeId, type ResolvedDsmNodeOptions } from './options.js';
import { startTraceWriter, traceNode, type TraceNode } from '../../trace/index.js';
import type { Access } from '../contract.js';

/** What the application thread can ask the fault thread (FaultThread.call). */
export type RuntimeRequest = { type: 'stats' };

/**
 * Datagrams the node's transport dropped because they did not authenticate under the cluster key
 * (a node with another key, a forgery, clear text) or replayed authentic ones, since the last report.
 */
export interface SecurityEvent {
  readonly kind: 'dropped';
  readonly auth: number;
  readonly replay: number;
  /** The last unauthenticated datagram: its sender's address and why it failed. */
  readonly lastFrom: string | undefined;
  readonly lastReason: string | undefined;
}

/** An event of the fault thread, posted to the application thread. */
export type RuntimeEvent =
  | { readonly type: 'membership'; readonly event: MembershipEvent }
  | { readonly type: 'security'; readonly event: SecurityEvent };

/** How often the fault thread looks for (and reports) unauthenticated or replayed datagrams. */
const SECURITY_REPORT_MS = 1_000;


export interface DsmNodeStats {
  readonly id: number;
  readonly address: string;
  /** How owners are found: Li & Hudak's fixed or dynamic distributed manager. */
  readonly manager: IvyNode['mode'];
  readonly deadNodes: number[];
  /** Set once this node was declared dead by a majority (fenced). */
  readonly evicted: { readonly by: number; readonly reason: string } | null;
  /** Each peer's status as this node sees it. */
  readonly peers: ReturnType<IvyNode['peers']>;
  readonly ivy: IvyNode['stats'];
  readonly store: FaultThreadContext['pages']['stats'];
  readonly transport: ReturnType<UdpEndpoint['stats']>;
  /** The node's RPC server: calls refused as unauthenticated among them. */
  readonly rpc: RpcServerStats;
}

export async function createFaultHandler(ctx: FaultThreadContext): Promise<FaultThreadHandler> {
  const o = ctx.options as ResolvedDsmNodeOptions;
  // Node ids name the node in logs and traces ("node 1"); peers are named by id, not by port.
  // With a cluster key it is also the identity the key authenticates (transportNodeId).
  const nodeId = transportNodeId(o.id);
  const writer = o.traceDir !== undefined ? startTraceWriter(o.traceDir) : undefined;
  const tn = traceNode(nodeId);
  for (const p of o.peers) tn.namePeer(p.address, String(p.id));
  // The cluster's nodes are pinned: strangers flooding the port can never evict their state.
  const pinnedPeers = [...(o.transport?.pinnedPeers ?? []), ...o.peers.map((p) => p.address)];
  const ep = await createEndpoint({ ...o.transport, host: o.host, port: o.port, nodeId, pinnedPeers, key: o.key });
  tn.addAddress(ep.address);
  const server = new RpcServer(ep);
  const addressOf = new Map(o.peers.map((p) => [p.id, p.address]));
  const idOf = new Map(o.peers.map((p) => [p.address, p.id]));
  const keyed = o.key !== undefined;
  /** The peer at `address`, if the transport vouches for it: keyed, its key must prove that node. */
  const nodeAt = (address: string, peerId: string | undefined): number | undefined => {
    const id = idOf.get(address);
    return id !== undefined && (!keyed || peerId === transportNodeId(id)) ? id : undefined;
  };
  /** Why a keyed call is refused: the node its key proves is not the node its address stands for. */
  const unauthenticated = (ctx: CallContext): string | undefined => {
    if (!keyed || nodeAt(ctx.peer, ctx.peerId) !== undefined) return undefined;
    const claimed = /^(\d+)$/.exec(ctx.peerId ?? '');
    const proven = claimed !== null && o.peers.some((p) => p.id === Number(claimed[1])) ? `node ${claimed[1]}` : undefined;
    const at = idOf.get(ctx.peer);
    const where = at === undefined ? `${ctx.peer}, which is no node's address` : `${ctx.peer}, the address of node ${at}`;
    return proven === undefined
      ? `the caller's key proves ${JSON.stringify(ctx.peerId ?? '')}, which is not a node of this cluster; it calls from ${where}`
      : `the caller's key proves it is ${proven}, but it calls from ${where}: a node cannot speak for another`;
  };
  const rpcClients: RpcClient[] = [];
  const stubs = new Map<number, IvyClient>();
  const peer = (n: number): IvyClient => {
    let c = stubs.get(n);
    if (c === undefined) {
      const rpc = new RpcClient(ep, { server: addressOf.get(n)! });
      rpcClients.push(rpc);
      c = new IvyClient(rpc);
      stubs.set(n, c);
    }
    return c;
  };
  const ivy = new IvyNode({
    id: o.id, nodes: o.nodes, local: ctx.pages, peer,
    callerOf: (c) => nodeAt(c.peer, c.peerId),
    initialOwner: initialOwner(o.nodes, o.pageCount),
    onEvent: (event) => {
      if (tn.dsm.on) {
        const type = event.kind === 'majority-up' ? 'majority-up' : event.kind === 'mismatch' ? 'config-mismatch' : (`peer-${event.kind}` as const);
        tn.dsm.emit({ type, peer: String(event.node), reason: event.reason, label: `${event.kind === 'fenced' ? `fenced by node ${event.node}` : `node ${event.node} ${event.kind}`}: ${event.reason}` });
      }
      ctx.emit({ type: 'membership', event } satisfies RuntimeEvent);
    },
    options: o.ivy,
  });
  ep.on('message', (m) => {
    const id = nodeAt(m.peer, m.peerId);
    if (id !== undefined) ivy.heard(id);
  });
  server.serve(IvyDescriptor, ivy.handlers, { authorize: ({ ctx }) => unauthenticated(ctx) });
  let seen = { auth: 0, replay: 0 };
  const security = setInterval(() => {
    const s = ep.stats();
    const auth = s.bad.auth - seen.auth;
    const replay = s.bad.replay - seen.replay;
    if (auth + replay === 0) return;
    seen = { auth: s.bad.auth, replay: s.bad.replay };
    ctx.emit({
      type: 'security',
      event: { kind: 'dropped', auth, replay, lastFrom: s.lastAuthFailure?.from, lastReason: s.lastAuthFailure?.reason },
    } satisfies RuntimeEvent);
  }, SECURITY_REPORT_MS);
  security.unref();
  return {
    fault: (page, access) => (tn.dsm.on ? tracedFault(tn, ivy, ctx, page, access) : ivy.fault(page, access)),
    onMessage(msg: unknown): DsmNodeStats {
      const m = msg as RuntimeRequest;
      if (m?.type !== 'stats') throw new Error(`unknown runtime request ${JSON.stringify(msg)}`);
      return {
        id: o.id, address: ep.address, manager: ivy.mode, deadNodes: ivy.deadNodes, evicted: ivy.evicted ?? null, peers: ivy.peers(),
        ivy: ivy.stats, store: { ...ctx.pages.stats }, transport: ep.stats(), rpc: server.stats(),
      };
    },
    async close(): Promise<void> {
      clearInterval(security);
      ivy.close();
      await Promise.allSettled(rpcClients.map((c) => c.close()));
      await server.close();
      await ep.close();
      writer?.close();
    },
  };
}

/** A fault as the trace shows it: a fault-begin, the protocol's messages, a fault-end with its latency. */
async function tracedFault(tn: TraceNode, ivy: IvyNode, ctx: FaultThreadContext, page: number, access: Access): Promise<void> {
  const t0 = performance.now();
  const begin = tn.dsm.emit({ type: 'fault-begin', page, access, label: `${access} fault p${page}` });
  let code: string | undefined;
  try {
    await ivy.fault(page, access);
  } catch (e) {
    code = (e as { code?: string }).code ?? 'error';
    throw e;
  } finally {
    const rights = ctx.pages.rights(page);
    const ok = code === undefined && (rights === 'write' || (rights === 'read' && access === 'read'));
    if (tn.dsm.on) {
      tn.dsm.emit({
        type: 'fault-end', page, access, of: tn.key(begin), ok, ms: Math.round((performance.now() - t0) * 1000) / 1000,
        ...(ok ? {} : { code: code ?? 'failed' }), label: `${access} fault p${page}${ok ? '' : ' failed'}`,
      });
    }
  }
}
