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
import { initialOwner, transportNodeId, WATCH_EVENTS_PER_SECOND, type ResolvedDsmNodeOptions } from './options.js';
import { DsmError } from '../errors.js';
import { startTraceWriter, subscribeTrace, traceNode, type TraceEvent, type TraceNode, type TraceWriter } from '../../trace/index.js';
import type { Access } from '../contract.js';

/** What the application thread can ask the fault thread (FaultThread.call). */
export type RuntimeRequest =
  | { type: 'stats' }
  | { type: 'pages' }
  | { type: 'network'; rules: NetworkRules }
  /** Start writing this node's trace to `dir` (DIR/node-<id>.jsonl), or stop (dir null). */
  | { type: 'trace'; dir: string | null }
  /** Start or stop forwarding this node's DSM trace events to the application thread (RuntimeEvent 'trace'). */
  | { type: 'watch'; on: boolean };

/** What DsmNode.trace() reports: where the trace goes (null: not tracing) and what was written. */
export interface TraceState {
  readonly dir: string | null;
  readonly events: number;
  readonly dropped: number;
}


/**
 * Network faults set while the node runs (DsmNode.setNetwork), for tools that break a live cluster:
 * the transport's link rules (transport/link-rules.ts) with peers named by node id.
 */
export interface NetworkRules {
  /** Nodes this node can no longer exchange datagrams with (both directions). @default [] */
  readonly blockedNodes?: readonly number[];
  /** Probability each datagram this node sends is dropped, in [0, 1]. @default 0 */
  readonly loss?: number;
  /** Seed of the loss decisions. @default the node id */
  readonly seed?: number;
}

/** The network rules in force and what they dropped (peers by node id). */
export interface NetworkState {
  readonly blockedNodes: number[];
  readonly loss: number;
  /** Datagrams to / from a blocked node dropped, and datagrams dropped by the loss rule. */
  readonly blockedOut: number;
  readonly blockedIn: number;
  readonly lossDrops: number;
}

/**
 * This node's view of the page table (DsmNode.pageTable), compact: one character per page, and the
 * few pages where more is known. Assembled from IvyNode.inspect(), read-only.
 */
export interface PageTable {
  readonly node: number;
  readonly pageCount: number;
  /**
   * Character p is page p as this node holds it: 'W' owner with write rights, 'R' owner with a read
   * copy (others may hold copies), 'r' a read copy, 'o' owner holding no rights (handing the page over, or fenced), '-'
   * nothing; page 0 (null) is '.'.
   */
  readonly rights: string;
  /** Pages this node owns that have copy holders: page → holders. */
  readonly copysets: Record<number, number[]>;
  /** Records this node keeps as manager that differ from the initial placement, are unsettled or lost. */
  readonly managed: { readonly page: number; readonly owner: number; readonly pending: boolean; readonly lost?: number }[];
  /** Pages this node knows were lost, and the dead node each was lost with (in either manager mode). */
  readonly lost: Record<number, number>;
}

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
  /** A DSM trace event (trace/events.ts DsmEvent) while watched; `skipped`: events not forwarded since the last one (rate limit). */
  | { readonly type: 'trace'; readonly event: TraceEvent; readonly skipped: number }
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
  /** Runtime network rules (DsmNode.setNetwork) and what they dropped. */
  readonly network: NetworkState;
  /** The node's RPC server: calls refused as unauthenticated among them. */
  readonly rpc: RpcServerStats;
}

export async function createFaultHandler(ctx: FaultThreadContext): Promise<FaultThreadHandler> {
  const o = ctx.options as ResolvedDsmNodeOptions;
  // Node ids name the node in logs and traces ("node 1"); peers are named by id, not by port.
  // With a cluster key it is also the identity the key authenticates (transportNodeId).
  const nodeId = transportNodeId(o.id);
  let writer: TraceWriter | undefined = o.traceDir !== undefined ? startTraceWriter(o.traceDir) : undefined;
  let unwatch: (() => void) | undefined;
  const tn = traceNode(nodeId);
  for (const p of o.peers) tn.namePeer(p.address, String(p.id));
  // The cluster's nodes are pinned: strangers flooding the port can never evict their state.
  const pinnedPeers = [...(o.transport?.pinnedPeers ?? []), ...o.peers.map((p) => p.address)];
  const ep = await createEndpoint({ ...o.transport, host: o.host, port: o.port, nodeId, pinnedPeers, key: o.key });
  tn.addAddress(ep.address);
  const server = new RpcServer(ep);
  const addressOf = new Map(o.peers.map((p) => [p.id, p.address]));
  /** Per peer address: its node id, and the transport id its key must prove (built once, not per message). */
  const idOf = new Map(o.peers.map((p) => [p.address, { id: p.id, proves: transportNodeId(p.id) }]));
  const keyed = o.key !== undefined;
  /** The peer at `address`, if the transport vouches for it: keyed, its key must prove that node. */
  const nodeAt = (address: string, peerId: string | undefined): number | undefined => {
    const p = idOf.get(address);
    return p !== undefined && (!keyed || peerId === p.proves) ? p.id : undefined;
  };
  /** Why a keyed call is refused: the node its key proves is not the node its address stands for. */
  const unauthenticated = (ctx: CallContext): string | undefined => {
    if (!keyed || nodeAt(ctx.peer, ctx.peerId) !== undefined) return undefined;
    const claimed = /^(\d+)$/.exec(ctx.peerId ?? '');
    const proven = claimed !== null && o.peers.some((p) => p.id === Number(claimed[1])) ? `node ${claimed[1]}` : undefined;
    const at = idOf.get(ctx.peer)?.id;
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
      const rpc = new RpcClient(ep, { server: addressOf.get(n)!, ackDelayMs: o.replyAckDelayMs });
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
  const network = (): NetworkState => {
    const l = ep.linkRuleStats();
    return { blockedNodes: l.blocked.map((a) => idOf.get(a)?.id).filter((n) => n !== undefined), loss: l.loss, blockedOut: l.blockedOut, blockedIn: l.blockedIn, lossDrops: l.lossDrops };
  };
  return {
    fault: (page, access) => (tn.dsm.on ? tracedFault(tn, ivy, ctx, page, access) : ivy.fault(page, access)),
    onMessage(msg: unknown): DsmNodeStats | PageTable | NetworkState | TraceState | { watching: boolean } {
      const m = msg as RuntimeRequest;
      switch (m?.type) {
        case 'stats':
          return {
            id: o.id, address: ep.address, manager: ivy.mode, deadNodes: ivy.deadNodes, evicted: ivy.evicted ?? null, peers: ivy.peers(),
            ivy: ivy.stats, store: { ...ctx.pages.stats }, transport: ep.stats(), rpc: server.stats(), network: network(),
          };
        case 'pages':
          return pageTable(ivy, o.id, o.pageCount);
        case 'network': {
          const r = m.rules ?? {};
          const blocked = r.blockedNodes ?? [];
          if (!Array.isArray(blocked)) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'blockedNodes must be a list of node ids');
          const addresses = blocked.map((n) => {
            const a = addressOf.get(n);
            if (a === undefined) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', `blockedNodes: ${JSON.stringify(n)} is not a peer of node ${o.id} (peers: ${[...addressOf.keys()].join(', ')})`);
            return a;
          });
          try {
            ep.setLinkRules({ blocked: addresses, loss: r.loss, seed: r.seed ?? o.id });
          } catch (e) {
            throw new DsmError('DSM_ERR_INVALID_ARGUMENT', (e as Error).message, { cause: e });
          }
          return network();
        }
        case 'trace': {
          if (m.dir !== null && (typeof m.dir !== 'string' || m.dir.length === 0)) throw new DsmError('DSM_ERR_INVALID_ARGUMENT', 'trace: dir must be a non-empty directory path, or null to stop');
          if (writer !== undefined && (m.dir === null || m.dir !== writer.dir)) {
            const done = writer.stats();
            writer.close();
            writer = undefined;
            if (m.dir === null) return { dir: null, events: done.events, dropped: done.dropped } satisfies TraceState;
          }
          if (m.dir !== null && writer === undefined) {
            try {
              writer = startTraceWriter(m.dir);
            } catch (e) {
              throw new DsmError('DSM_ERR_INVALID_ARGUMENT', (e as Error).message, { cause: e });
            }
          }
          const st = writer?.stats();
          return { dir: writer?.dir ?? null, events: st?.events ?? 0, dropped: st?.dropped ?? 0 } satisfies TraceState;
        }
        case 'watch':
          if (m.on && unwatch === undefined) unwatch = watchDsm(ctx.emit);
          if (!m.on && unwatch !== undefined) {
            unwatch();
            unwatch = undefined;
          }
          return { watching: unwatch !== undefined };
        default:
          throw new Error(`unknown runtime request ${JSON.stringify(msg)}`);
      }
    },
    async close(): Promise<void> {
      clearInterval(security);
      ivy.close();
      await Promise.allSettled(rpcClients.map((c) => c.close()));
      await server.close();
      await ep.close();
      unwatch?.();
      writer?.close();
    },
  };
}

/** The page table as this node sees it (PageTable), from IvyNode.inspect over every page. */
function pageTable(ivy: IvyNode, node: number, pageCount: number): PageTable {
  const chars: string[] = ['.'];
  const copysets: Record<number, number[]> = {};
  const managed: PageTable['managed'] = [];
  const lost: Record<number, number> = {};
  const initial = initialOwner(ivy.nodes, pageCount);
  for (let p = 1; p < pageCount; p++) {
    const i = ivy.inspect(p);
    const owns = i.copyset !== null;
    chars.push(owns ? (i.rights === 'write' ? 'W' : i.rights === 'read' ? 'R' : 'o') : i.rights === 'read' ? 'r' : i.rights === 'write' ? 'W' : '-');
    if (i.copyset !== null && i.copyset.length > 0) copysets[p] = [...i.copyset];
    if (i.lostWith !== undefined) lost[p] = i.lostWith;
    const m = i.manager;
    if (m !== undefined && (m.owner !== initial(p) || m.pending || m.lost !== undefined)) {
      managed.push(m.lost === undefined ? { page: p, owner: m.owner, pending: m.pending } : { page: p, owner: m.owner, pending: m.pending, lost: m.lost });
    }
  }
  return { node, pageCount, rights: chars.join(''), copysets, managed, lost };
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

/** Forward the DSM layer's trace events to the application thread, at most WATCH_EVENTS_PER_SECOND. */
function watchDsm(emit: (e: unknown) => void): () => void {
  let windowStart = performance.now();
  let sent = 0;
  let skipped = 0;
  return subscribeTrace((event) => {
    const now = performance.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      sent = 0;
    }
    if (sent >= WATCH_EVENTS_PER_SECOND) {
      skipped++;
      return;
    }
    sent++;
    emit({ type: 'trace', event, skipped } satisfies RuntimeEvent);
    skipped = 0;
  }, { layers: ['dsm'] });
}
