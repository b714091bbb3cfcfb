/**
 * The network side of a DSM node, loaded by the node's fault thread (dsm/memory/fault-thread.ts)
 * as its handler module. It binds the node's UDP endpoint, serves the Ivy interface over RPC, keeps
 * one RPC client per peer, and resolves the page store's faults with IvyNode. The worker posts
 * 'ready' only after createFaultHandler() resolves, i.e. after the socket is bound and the server
 * is serving, so the application thread may block in a fault at once.
 *
 * Every message the transport delivers from a configured peer is evidence of life for the
 * membership (IvyNode.heard), page traffic as much as heartbeats; an incoming call's node is the
 * one its transport address belongs to. Membership events go to the application thread
 * (FaultThreadContext.emit), where DsmNode re-emits them.
 */
import { createEndpoint, type UdpEndpoint } from '../../transport/index.js';
import { RpcClient, RpcServer } from '../../rpc/runtime/index.js';
import type { FaultThreadContext, FaultThreadHandler } from '../memory/index.js';
import { IvyClient, IvyDescriptor, IvyNode, type MembershipEvent } from '../protocol/index.js';
import { initialOwner, type ResolvedDsmNodeOptions } from './options.js';
import { startTraceWriter, traceNode, type TraceNode } from '../../trace/index.js';
import type { Access } from '../contract.js';

/** What the application thread can ask the fault thread (FaultThread.call). */
export type RuntimeRequest = { type: 'stats' };

/** An event of the fault thread, posted to the application thread. */
export type RuntimeEvent = { readonly type: 'membership'; readonly event: MembershipEvent };

export interface DsmNodeStats {
  readonly id: number;
  readonly address: string;
  readonly deadNodes: number[];
  /** Set once this node was declared dead by a majority (fenced). */
  readonly evicted: { readonly by: number; readonly reason: string } | null;
  /** Each peer's status as this node sees it. */
  readonly peers: ReturnType<IvyNode['peers']>;
  readonly ivy: IvyNode['stats'];
  readonly store: FaultThreadContext['pages']['stats'];
  readonly transport: ReturnType<UdpEndpoint['stats']>;
}

export async function createFaultHandler(ctx: FaultThreadContext): Promise<FaultThreadHandler> {
  const o = ctx.options as ResolvedDsmNodeOptions;
  // Node ids name the node in logs and traces ("node 1"); peers are named by id, not by port.
  const nodeId = String(o.id);
  const writer = o.traceDir !== undefined ? startTraceWriter(o.traceDir) : undefined;
  const tn = traceNode(nodeId);
  for (const p of o.peers) tn.namePeer(p.address, String(p.id));
  // The cluster's nodes are pinned: strangers flooding the port can never evict their state.
  const pinnedPeers = [...(o.transport?.pinnedPeers ?? []), ...o.peers.map((p) => p.address)];
  const ep = await createEndpoint({ ...o.transport, host: o.host, port: o.port, nodeId, pinnedPeers });
  tn.addAddress(ep.address);
  const server = new RpcServer(ep);
  const addressOf = new Map(o.peers.map((p) => [p.id, p.address]));
  const idOf = new Map(o.peers.map((p) => [p.address, p.id]));
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
    callerOf: (c) => idOf.get(c.peer),
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
    const id = idOf.get(m.peer);
    if (id !== undefined) ivy.heard(id);
  });
  server.serve(IvyDescriptor, ivy.handlers);
  return {
    fault: (page, access) => (tn.dsm.on ? tracedFault(tn, ivy, ctx, page, access) : ivy.fault(page, access)),
    onMessage(msg: unknown): DsmNodeStats {
      const m = msg as RuntimeRequest;
      if (m?.type !== 'stats') throw new Error(`unknown runtime request ${JSON.stringify(msg)}`);
      return {
        id: o.id, address: ep.address, deadNodes: ivy.deadNodes, evicted: ivy.evicted ?? null, peers: ivy.peers(),
        ivy: ivy.stats, store: { ...ctx.pages.stats }, transport: ep.stats(),
      };
    },
    async close(): Promise<void> {
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
