/**
 * The network side of a DSM node, loaded by the runtime worker thread (dsm/memory/runtime.ts) as
 * its handler module. It binds the node's UDP endpoint, serves the Ivy interface over RPC, keeps
 * one RPC client per peer, and resolves the page store's faults with IvyNode. The worker posts
 * 'ready' only after createFaultHandler() resolves, i.e. after the socket is bound and the server
 * is serving, so the application thread may block in a fault at once.
 */
import { createEndpoint, type UdpEndpoint } from '../../transport/index.js';
import { RpcClient, RpcServer } from '../../rpc/runtime/index.js';
import type { RuntimeHandler, RuntimeHandlerContext } from '../memory/index.js';
import { IvyClient, IvyDescriptor, IvyNode } from '../protocol/index.js';
import { initialOwner, type ResolvedDsmNodeOptions } from './options.js';
import { startTraceWriter, traceNode, type TraceNode } from '../../trace/index.js';
import type { Access } from '../contract.js';

/** What the application thread can ask the runtime thread (RuntimeHandle.call). */
export type RuntimeRequest = { type: 'stats' };

export interface DsmNodeStats {
  readonly id: number;
  readonly address: string;
  readonly deadNodes: number[];
  readonly ivy: IvyNode['stats'];
  readonly store: RuntimeHandlerContext['pages']['stats'];
  readonly transport: ReturnType<UdpEndpoint['stats']>;
}

export async function createFaultHandler(ctx: RuntimeHandlerContext): Promise<RuntimeHandler> {
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
    initialOwner: initialOwner(o.nodes, o.pageCount),
    options: o.ivy,
  });
  server.serve(IvyDescriptor, ivy.handlers);
  // Peers are declared dead by IvyNode's failure detector: heartbeats, and calls that fail
  // RPC_ERR_UNREACHABLE when the transport gives up. (Not by every transport give-up: a peer that
  // was never up yet, e.g. started later by hand, is not a peer that died.)
  return {
    fault: (page, access) => (tn.dsm.on ? tracedFault(tn, ivy, ctx, page, access) : ivy.fault(page, access)),
    onMessage(msg: unknown): DsmNodeStats {
      const m = msg as RuntimeRequest;
      if (m?.type !== 'stats') throw new Error(`unknown runtime request ${JSON.stringify(msg)}`);
      return { id: o.id, address: ep.address, deadNodes: ivy.deadNodes, ivy: ivy.stats, store: { ...ctx.pages.stats }, transport: ep.stats() };
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
async function tracedFault(tn: TraceNode, ivy: IvyNode, ctx: RuntimeHandlerContext, page: number, access: Access): Promise<void> {
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
