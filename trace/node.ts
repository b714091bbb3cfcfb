/**
 * Publishing trace events: one TraceNode per node (per thread), one diagnostics channel per layer.
 *
 *   const tn = traceNode(endpoint.nodeId);          // once, at construction
 *   ...
 *   if (tn.rpc.on) tn.rpc.emit({ type: 'rpc-executed', call, peer, iface, proc, pool: false });
 *
 * Zero cost when nobody listens: `on` is the channel's `hasSubscribers`, and the event object is
 * only built inside the `if`. Subscribers use node:diagnostics_channel directly
 * (`diagnostics_channel.subscribe('pagewire:rpc', fn)`) or subscribeTrace() below.
 *
 * The Lamport clock. Each TraceNode counts its events (`lc`, +1 per event). A layer that sends
 * messages carries the clock on the wire while the node traces (`active`): it stamps each message
 * with its incarnation and the lc of the send event (the RPC header's trace stamp, the transport's
 * datagram extension). The receiving layer calls `observe(stampLc)` before publishing the receive,
 * so the receive is later than the send in Lamport order, and gives the receive event
 * `cause: TraceNode.remoteKey(inc, lc)`, naming the send: the pair is a message arrow and a
 * happened-before edge for the merger's vector clocks. Each layer links its own messages.
 */
import dc from 'node:diagnostics_channel';
import { randomBytes } from 'node:crypto';
import { installDebugPrinter } from './debug.js';
import { LAYERS, eventKey, type DsmEvent, type Layer, type RpcEvent, type TraceEvent, type TransportEvent } from './events.js';

/** Channel names, one per layer ("undici's way": named channels with typed messages). */
export const CHANNELS: Readonly<Record<Layer, string>> = {
  transport: 'pagewire:transport',
  rpc: 'pagewire:rpc',
  dsm: 'pagewire:dsm',
};

/** Where node incarnations announce themselves (id, incarnation, addresses, peer names) to trace writers. */
export const INFO_CHANNEL = 'pagewire:trace:node';

const channels: Record<Layer, dc.Channel> = {
  transport: dc.channel(CHANNELS.transport),
  rpc: dc.channel(CHANNELS.rpc),
  dsm: dc.channel(CHANNELS.dsm),
};
const infoChannel = dc.channel(INFO_CHANNEL);

/** Largest Lamport value accepted from a peer: a hostile stamp cannot push the clock past 2^48. */
export const MAX_REMOTE_LC = 2 ** 48;

/** What a trace writer needs to know about a node incarnation (the header of its trace segment). */
export interface NodeInfo {
  readonly type: 'node';
  readonly node: string;
  /** This incarnation (random, hex): the first half of every event key. */
  readonly inc: string;
  /** Addresses this node listens on ("host:port"), so other nodes' `peer` fields can be named. */
  readonly addresses: string[];
  /** Names this node gave its peers: address → node id. */
  readonly names: Record<string, string>;
  readonly pid: number;
  /** When this incarnation started, same clock as events' `t`. */
  readonly t: number;
}

/** How a node appears in log lines and diagrams: a numeric id as "node 3", anything else as it is. */
export function nodeLabel(id: string): string {
  return /^\d+$/.test(id) ? `node ${id}` : id;
}

export function traceClock(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

/** The events of one layer of one node. */
export class LayerTrace<E extends { readonly type: string }> {
  constructor(private readonly node: TraceNode, readonly layer: Layer, private readonly channel: dc.Channel) {}

  /** Someone listens on this layer's channel: build and emit the event. */
  get on(): boolean {
    return this.channel.hasSubscribers;
  }

  /** Publish one event; returns its Lamport clock value (its key is node.key(lc)). Call only when `on`. */
  emit(e: E): number {
    const n = this.node;
    const lc = ++n.lc;
    const ev = { node: n.id, t: traceClock(), lc, layer: this.layer, ...e } as unknown as TraceEvent;
    this.channel.publish(ev);
    return lc;
  }
}

export class TraceNode {
  readonly id: string;
  /** Random non-zero 32-bit incarnation: distinguishes a restarted node's events from its old ones. */
  readonly inc: number;
  readonly incHex: string;
  /** The Lamport clock: the lc of the last event published. */
  lc = 0;
  readonly transport: LayerTrace<TransportEvent>;
  readonly rpc: LayerTrace<RpcEvent>;
  readonly dsm: LayerTrace<DsmEvent>;
  readonly startedAt = traceClock();
  private readonly addresses = new Set<string>();
  private readonly names = new Map<string, string>();

  constructor(id: string) {
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('a trace node id must be a non-empty string');
    this.id = id;
    this.inc = randomBytes(4).readUInt32BE(0) || 1;
    this.incHex = this.inc.toString(16).padStart(8, '0');
    this.transport = new LayerTrace(this, 'transport', channels.transport);
    this.rpc = new LayerTrace(this, 'rpc', channels.rpc);
    this.dsm = new LayerTrace(this, 'dsm', channels.dsm);
  }

  /** Anyone listens to any layer: then messages carry the clock on the wire (see the top of this file). */
  get active(): boolean {
    return channels.transport.hasSubscribers || channels.rpc.hasSubscribers || channels.dsm.hasSubscribers;
  }

  /** The key of this node's event with Lamport value `lc`. */
  key(lc: number): string {
    return eventKey(this.incHex, lc);
  }

  /** The key of a peer incarnation's event, from the incarnation and clock it sent. */
  static remoteKey(inc: number, lc: number): string {
    return eventKey(inc.toString(16).padStart(8, '0'), lc);
  }

  /** A datagram or message stamped with the sender's clock arrived: move ours past it. Ignores out-of-range stamps. */
  observe(remoteLc: number): void {
    if (Number.isInteger(remoteLc) && remoteLc >= 0 && remoteLc <= MAX_REMOTE_LC && remoteLc > this.lc) this.lc = remoteLc;
  }

  /** Record an address this node listens on. */
  addAddress(address: string): void {
    if (this.addresses.has(address)) return;
    this.addresses.add(address);
    this.announce();
  }

  /** Name a peer: events about `address` carry `peer: id`. */
  namePeer(address: string, id: string): void {
    if (this.names.get(address) === id) return;
    this.names.set(address, id);
    this.announce();
  }

  /** The peer's node id when known, else its address. */
  peerName(address: string): string {
    return this.names.get(address) ?? address;
  }

  info(): NodeInfo {
    return {
      type: 'node', node: this.id, inc: this.incHex, addresses: [...this.addresses], names: Object.fromEntries(this.names),
      pid: process.pid, t: this.startedAt,
    };
  }

  private announce(): void {
    if (infoChannel.hasSubscribers) infoChannel.publish(this.info());
  }
}

const nodes = new Map<string, TraceNode>();

/**
 * The TraceNode of node `id` in this thread, created on first use. Every layer of one node asks
 * with the same id (the transport endpoint's nodeId) and so shares one clock.
 */
export function traceNode(id: string): TraceNode {
  let n = nodes.get(id);
  if (n === undefined) {
    installDebugPrinter(); // once per thread; subscribes only when DEBUG enables pagewire:trace:*
    n = new TraceNode(id);
    nodes.set(id, n);
    if (infoChannel.hasSubscribers) infoChannel.publish(n.info());
  }
  return n;
}

/** Every TraceNode of this thread (a writer that starts late writes their headers). */
export function traceNodes(): TraceNode[] {
  return [...nodes.values()];
}

/**
 * Forget node `id` (an endpoint closed), so a node started again under the same id in this
 * thread is a new incarnation with a fresh clock, as a restarted process would be.
 */
export function retireTraceNode(id: string, node: TraceNode): void {
  if (nodes.get(id) === node) nodes.delete(id);
}

export type TraceListener = (e: TraceEvent) => void;

/** Subscribe `fn` to the given layers (default all) and node announcements; returns the unsubscribe function. */
export function subscribeTrace(fn: TraceListener, opts: { layers?: readonly Layer[]; onNode?: (info: NodeInfo) => void } = {}): () => void {
  const layers = opts.layers ?? LAYERS;
  const handler = (m: unknown): void => fn(m as TraceEvent);
  const info = opts.onNode === undefined ? undefined : (m: unknown): void => opts.onNode!(m as NodeInfo);
  for (const l of layers) dc.subscribe(CHANNELS[l], handler);
  if (info !== undefined) dc.subscribe(INFO_CHANNEL, info);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const l of layers) dc.unsubscribe(CHANNELS[l], handler);
    if (info !== undefined) dc.unsubscribe(INFO_CHANNEL, info);
  };
}
