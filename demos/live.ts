/**
 * A live view of a cluster of node processes (demos/cluster.ts), for the console and the live page
 * map: what each node says about its peers (membership events), what the processes are doing
 * (running, paused, killed), the partition and loss in force, each node's page table and counters
 * (polled through the control channel's node commands, which answer even while a node is blocked in
 * a fault), and the demo's linked list as the traversals saw it.
 *
 *   const live = new LiveCluster(cluster, { pageSize: 4096, pageCount: 1024 });
 *   live.on('change', () => render(live.snapshot()));
 *   live.watch();                  // poll page tables and counters while someone looks
 *   await live.kill(3); await live.partition([[1, 2], [3]]); await live.heal();
 *
 * Everything it learns it learns from the nodes themselves (the same control channel the tests use):
 * it never computes a page's fate, it reports what the nodes say.
 */
import { EventEmitter } from 'node:events';
import type { Cluster, ControlAnswer, NodeEvent, NodeProc } from './cluster.js';
import type { DsmNodeStats, PageTable } from '../dsm/node/index.js';
import { initialOwner } from '../dsm/node/index.js';
import { managerOf, type ManagerMode } from '../dsm/protocol/index.js';
import { describeMembership } from './membership-events.js';
import type { Traversal } from './list.js';
import { formatMs } from './args.js';

export type ProcessState = 'running' | 'paused' | 'killed' | 'exited';
export type PeerView = 'not-up' | 'up' | 'suspected' | 'dead';
/** A node as the cluster sees it: alive, suspected by someone, declared dead by a majority, or fenced (it learned it was declared dead). */
export type NodeStatus = 'alive' | 'suspected' | 'dead' | 'fenced';

export interface NodeCounters {
  readFaults: number;
  writeFaults: number;
  failedFaults: number;
  invalidationsSent: number;
  invalidationsReceived: number;
  pagesSent: number;
  retransmits: number;
  /** Datagrams dropped by the partition (both directions) and by the loss rule. */
  partitionDrops: number;
  lossDrops: number;
  callsSent: number;
}

export interface LiveNode {
  readonly id: number;
  readonly address: string;
  readonly pid: number | undefined;
  /** Its datagrams are sealed with a cluster key (its ready line said so). */
  readonly keyed: boolean;
  process: ProcessState;
  /** When a paused node resumes (ms since the epoch). */
  pausedUntil: number | undefined;
  /** What this node reported about each peer, from its membership events. */
  readonly sees: Record<number, PeerView>;
  fenced: { by: number; reason: string } | undefined;
  counters: NodeCounters | undefined;
  /** The fault latency histogram (successful and failed faults). */
  latency: { bucketsMs: number[]; counts: number[] } | undefined;
  table: PageTable | undefined;
  /** When the table and counters were last read (ms since the epoch). */
  polledAt: number | undefined;
  /** The peers this node is cut off from. */
  blocked: number[];
}

export interface LiveEvent {
  /** ms since the epoch. */
  readonly t: number;
  readonly kind: 'membership' | 'process' | 'network' | 'command' | 'error' | 'trace';
  readonly node?: number;
  readonly text: string;
}

/** A message between nodes (from the cluster-wide trace), drawn as an arrow. */
export interface Flow {
  readonly t: number;
  readonly from: number;
  readonly to: number;
  /** request, invalidate, locate, owns, propose, grant, ... */
  readonly kind: string;
  readonly page?: number;
  readonly label: string;
}

export interface ListView {
  readonly header: number | undefined;
  /** The list as the longest traversal without an error saw it, newest first. */
  readonly elements: { address: number; page: number; value: number; node: number }[];
  /** The last traversal of each node: how far it got, and where it stopped. */
  readonly walks: Record<number, { at: number; reached: number; error?: { code: string; address?: number; page?: number; node?: number; message: string } }>;
}

export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly unit?: string;
  readonly bars: { label: string; value: number; node?: number }[];
}

export interface LiveOptions {
  readonly pageSize: number;
  readonly pageCount: number;
  /** The page map's poll interval while watched. @default 100 */
  readonly pollMs?: number;
  /** Bound on one node command (stats, page table, network). @default 1_500 */
  readonly commandTimeoutMs?: number;
  /** How the nodes find a page's owner (what they were started with). @default 'fixed' */
  readonly manager?: ManagerMode;
}

/** Events kept for the page and the console. */
const MAX_EVENTS = 200;

export class LiveCluster extends EventEmitter<{ change: []; event: [LiveEvent]; flow: [Flow] }> {
  readonly ids: number[];
  readonly pageSize: number;
  readonly pageCount: number;
  /** fixed: page p's directory is on node ids[p mod N]; dynamic: no manager at all. */
  readonly manager: ManagerMode;
  readonly nodes = new Map<number, LiveNode>();
  readonly events: LiveEvent[] = [];
  /** The groups of the partition in force (undefined: none). */
  groups: number[][] | undefined;
  loss = 0;
  /** When the view last changed (ms since the epoch): the page shows how long ago that reached it. */
  changedAt = Date.now();
  readonly charts = new Map<string, Chart>();
  list: ListView = { header: undefined, elements: [], walks: {} };
  /** Page transfers seen in the nodes' traces (an owner's grant to a requester), per page. */
  readonly transfers = new Map<number, number>();
  /** Addresses handed out by alloc and the list, for the console's map. */
  readonly allocated = new Map<number, { address: number; node: number; bytes: number }>();

  readonly #cluster: Cluster;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #initialOwner: (page: number) => number;
  #watchers = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #polling = new Set<number>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #pauseTimers = new Map<number, NodeJS.Timeout>();
  #closed = false;

  constructor(cluster: Cluster, o: LiveOptions) {
    super();
    this.#cluster = cluster;
    this.ids = cluster.nodes.map((n) => n.id).sort((a, b) => a - b);
    this.pageSize = o.pageSize;
    this.pageCount = o.pageCount;
    this.manager = o.manager ?? 'fixed';
    this.#pollMs = o.pollMs ?? 100;
    this.#timeoutMs = o.commandTimeoutMs ?? 1_500;
    this.#initialOwner = initialOwner(this.ids, this.pageCount);
    for (const p of cluster.nodes) {
      const n: LiveNode = {
        id: p.id, address: p.address, pid: p.child.pid, keyed: p.keyed, process: p.alive ? 'running' : 'exited', pausedUntil: undefined,
        sees: Object.fromEntries(this.ids.filter((i) => i !== p.id).map((i) => [i, 'not-up' as PeerView])),
        fenced: undefined, counters: undefined, latency: undefined, table: undefined, polledAt: undefined, blocked: [],
      };
      this.nodes.set(p.id, n);
      for (const e of p.events) this.#onNodeEvent(n, e, false);
      this.#unsubscribe.push(p.onEvent((e) => this.#onNodeEvent(n, e, true)));
      this.#unsubscribe.push(p.onAnswer((c, a) => this.#onAnswer(p.id, c, a)));
      void p.exited.then(({ code, signal }) => {
        if (n.process === 'killed' || this.#closed) return; // we did it, and said so
        n.process = 'exited';
        this.note({ kind: 'process', node: n.id, text: `node ${n.id} exited on its own (${signal ?? `code ${code}`})` });
      });
    }
  }

  proc(id: number): NodeProc {
    return this.#cluster.node(id);
  }

  /** Nodes whose process runs (not paused, not killed). */
  running(): number[] {
    return this.ids.filter((id) => this.nodes.get(id)!.process === 'running');
  }

  /** Nodes whose process exists (running or paused). */
  present(): number[] {
    return this.ids.filter((id) => ['running', 'paused'].includes(this.nodes.get(id)!.process));
  }

  /** The node's status as the cluster sees it (see NodeStatus). */
  status(id: number): NodeStatus {
    const n = this.nodes.get(id)!;
    if (n.fenced !== undefined) return 'fenced';
    let suspected = false;
    for (const o of this.nodes.values()) {
      if (o.id === id) continue;
      const v = o.sees[id];
      if (v === 'dead') return 'dead';
      // A killed observer's last word is not current: only present nodes' suspicions count.
      if (v === 'suspected' && o.process !== 'killed' && o.process !== 'exited') suspected = true;
    }
    return suspected ? 'suspected' : 'alive';
  }

  /** Record an event (for the console's output and the page's log) and mark the view changed. */
  note(e: Omit<LiveEvent, 't'>): LiveEvent {
    const ev: LiveEvent = { t: Date.now(), ...e };
    this.events.push(ev);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.emit('event', ev);
    this.changed();
    return ev;
  }

  changed(): void {
    this.changedAt = Date.now();
    this.emit('change');
  }

  /** A message between nodes, to draw (from the trace). */
  flow(f: Flow): void {
    this.emit('flow', f);
  }

  setChart(c: Chart): void {
    this.charts.set(c.id, c);
    this.changed();
  }

  // ---------------------------------------------------------------- breaking things

  async kill(id: number): Promise<void> {
    const n = this.nodes.get(id)!;
    const p = this.proc(id);
    this.#clearPause(id);
    n.process = 'killed';
    n.pausedUntil = undefined;
    await p.kill('SIGKILL');
    this.note({ kind: 'process', node: id, text: `node ${id} killed (SIGKILL, pid ${n.pid})` });
  }

  /** SIGSTOP now, SIGCONT after `seconds`. Resolves once stopped; 'resumed' is noted later. */
  pause(id: number, seconds: number): void {
    const n = this.nodes.get(id)!;
    const p = this.proc(id);
    this.#clearPause(id);
    p.child.kill('SIGSTOP');
    n.process = 'paused';
    n.pausedUntil = Date.now() + seconds * 1000;
    this.note({ kind: 'process', node: id, text: `node ${id} paused (SIGSTOP) for ${seconds} s` });
    this.#pauseTimers.set(id, setTimeout(() => this.resume(id), seconds * 1000));
  }

  resume(id: number): void {
    this.#clearPause(id);
    const n = this.nodes.get(id)!;
    if (n.process !== 'paused') return;
    this.proc(id).child.kill('SIGCONT');
    n.process = 'running';
    n.pausedUntil = undefined;
    this.note({ kind: 'process', node: id, text: `node ${id} resumed (SIGCONT)` });
  }

  #clearPause(id: number): void {
    const t = this.#pauseTimers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.#pauseTimers.delete(id);
  }

  /**
   * Cut the network between the groups: each present node blocks every node outside its group.
   * Resolves with the nodes that did not confirm in time (a paused node applies the rule when it
   * resumes; the others already drop its datagrams, so the cut holds).
   */
  async partition(groups: number[][] | undefined): Promise<number[]> {
    this.groups = groups;
    const late: number[] = [];
    await Promise.all(this.present().map(async (id) => {
      const mine = groups?.find((g) => g.includes(id));
      const blocked = groups === undefined || mine === undefined ? [] : this.ids.filter((x) => x !== id && !mine.includes(x));
      this.nodes.get(id)!.blocked = blocked;
      try {
        await this.proc(id).call({ cmd: 'network', blocked, loss: this.loss }, this.#timeoutMs);
      } catch {
        late.push(id);
      }
    }));
    this.note({ kind: 'network', text: groups === undefined ? 'healed: every node hears every node' : `partition ${groups.map((g) => g.join(',')).join(' | ')}` });
    return late.sort((a, b) => a - b);
  }

  heal(): Promise<number[]> {
    return this.partition(undefined);
  }

  /** Every present node drops `p` of what it sends (the partition stays). Resolves with the nodes that did not confirm in time. */
  async setLoss(p: number): Promise<number[]> {
    this.loss = p;
    const late: number[] = [];
    await Promise.all(this.present().map(async (id) => {
      try {
        await this.proc(id).call({ cmd: 'network', blocked: this.nodes.get(id)!.blocked, loss: p }, this.#timeoutMs);
      } catch {
        late.push(id);
      }
    }));
    this.note({ kind: 'network', text: `loss ${p}: every node drops ${Math.round(p * 1000) / 10}% of the datagrams it sends` });
    return late;
  }

  // ---------------------------------------------------------------- reading the nodes

  /** Read page tables and counters of the running nodes now (each bounded); resolves when all answered or gave up. */
  async poll(): Promise<void> {
    await Promise.all(this.running().map((id) => this.#pollNode(id)));
  }

  async #pollNode(id: number): Promise<void> {
    if (this.#polling.has(id)) return;
    this.#polling.add(id);
    const n = this.nodes.get(id)!;
    const p = this.proc(id);
    try {
      const [table, stats] = await Promise.all([
        p.call<PageTable>({ cmd: 'page-table' }, this.#timeoutMs),
        p.call<{ node: DsmNodeStats }>({ cmd: 'stats' }, this.#timeoutMs),
      ]);
      const before = JSON.stringify([n.table, n.counters, n.latency]);
      n.table = table;
      n.counters = counters(stats.node);
      n.latency = { bucketsMs: [...stats.node.ivy.faultLatency.bucketsMs], counts: [...stats.node.ivy.faultLatency.counts] };
      n.polledAt = Date.now();
      if (JSON.stringify([n.table, n.counters, n.latency]) !== before) this.changed();
    } catch {
      // A paused or dying node does not answer: keep what it said last.
    } finally {
      this.#polling.delete(id);
    }
  }

  /**
   * Poll every pollMs, and have the nodes forward their DSM trace events (flows), while at least
   * one watcher (a page) is registered; returns the unwatch.
   */
  watch(): () => void {
    this.#watchers++;
    if (this.#watchers === 1) this.#setWatch(true);
    if (this.#timer === undefined && !this.#closed) {
      const tick = (): void => {
        void this.poll().finally(() => {
          if (this.#watchers > 0 && !this.#closed) this.#timer = setTimeout(tick, this.#pollMs);
          else this.#timer = undefined;
        });
      };
      tick();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#watchers--;
      if (this.#watchers === 0) this.#setWatch(false);
    };
  }

  #setWatch(on: boolean): void {
    for (const id of this.present()) void this.proc(id).call({ cmd: 'watch', on }, this.#timeoutMs).catch(() => undefined);
  }

  // ---------------------------------------------------------------- the page table, assembled

  /** Owner, copies, rights per node and fate of `page`, from what the nodes reported last. */
  page(p: number): PageView {
    const manager = this.manager === 'fixed' ? managerOf(this.ids, p) : undefined;
    const rights: Record<number, string> = {};
    const claims: number[] = [];
    const copies: number[] = [];
    for (const n of this.nodes.values()) {
      const c = n.table?.rights[p];
      if (c === undefined) continue;
      rights[n.id] = c;
      if (c === 'W' || c === 'R' || c === 'o') claims.push(n.id);
      if ((c === 'r' || c === 'R') && n.process !== 'killed') copies.push(n.id);
    }
    const gone = (id: number): boolean => this.nodes.get(id)!.process === 'killed' || this.status(id) === 'dead' || this.status(id) === 'fenced';
    const record = manager === undefined ? undefined : this.nodes.get(manager)!.table?.managed.find((m) => m.page === p);
    // A loss any node knows of (in dynamic mode there is no directory to say so).
    let known: number | undefined;
    for (const n of this.nodes.values()) known ??= n.table?.lost?.[p];
    const recorded = record?.owner ?? known ?? this.#initialOwner(p);
    const live = claims.filter((id) => !gone(id));
    const owner = live.length === 1 ? live[0]! : claims.length === 1 ? claims[0]! : recorded;
    const lost = record?.lost ?? (live.length === 0 ? known : undefined) ?? (gone(owner) && live.length === 0 ? owner : undefined);
    return {
      page: p, manager, owner, recordedOwner: recorded, copies: copies.filter((c) => c !== owner || rights[c] === 'R'), rights, lost,
      pending: record?.pending ?? false, managerGone: manager !== undefined && gone(manager),
    };
  }

  /** Pages whose state differs from the initial placement, or that were handed out by alloc and the list. */
  touchedPages(): number[] {
    const pages = new Set<number>();
    for (const a of this.allocated.values()) {
      const first = Math.floor(a.address / this.pageSize);
      const last = Math.floor((a.address + Math.max(1, a.bytes) - 1) / this.pageSize);
      for (let p = first; p <= last && p < this.pageCount; p++) pages.add(p);
    }
    for (const n of this.nodes.values()) {
      const t = n.table;
      if (t === undefined) continue;
      for (let p = 1; p < t.rights.length; p++) {
        const c = t.rights[p];
        const initial = this.#initialOwner(p) === n.id ? 'W' : '-';
        if (c !== initial) pages.add(p);
      }
      for (const m of t.managed) pages.add(m.page);
    }
    return [...pages].sort((a, b) => a - b);
  }

  // ---------------------------------------------------------------- what the nodes said

  #onNodeEvent(n: LiveNode, e: NodeEvent, live: boolean): void {
    if (e.event === 'trace' && e.trace !== undefined) return this.#onTrace(n, e.trace, e.skipped ?? 0);
    if (e.event !== 'membership' || typeof e.kind !== 'string') return;
    const peer = e.node;
    if (e.kind === 'fenced') n.fenced = { by: peer ?? -1, reason: e.reason ?? '' };
    else if (peer !== undefined && peer in n.sees) {
      if (e.kind === 'up') n.sees[peer] = 'up';
      else if (e.kind === 'suspected') n.sees[peer] = 'suspected';
      else if (e.kind === 'dead') n.sees[peer] = 'dead';
    }
    if (!live) return;
    // Startup chatter (first contacts, a majority up) changes the view but is no news.
    if (e.kind === 'majority-up' || (e.kind === 'up' && e.reason === 'first contact')) {
      this.changed();
      return;
    }
    this.note({ kind: 'membership', node: n.id, text: describeMembership(n.id, e as Parameters<typeof describeMembership>[1]) });
  }

  /**
   * A DSM trace event of node `n` (trace/events.ts): the messages of the protocol become flows,
   * faults go to the log, and anything that moves a page makes the view read the page tables now
   * rather than at the next poll.
   */
  #onTrace(n: LiveNode, e: Record<string, unknown>, skipped: number): void {
    if (skipped > 0) this.#skipped += skipped;
    const page = typeof e.page === 'number' ? e.page : undefined;
    const peer = Number(e.peer);
    const flow = (from: number, to: number, kind: string, label: string): void => {
      if (from === to || !this.nodes.has(from) || !this.nodes.has(to)) return; // a node's call to itself is no message
      this.flow({ t: Date.now(), from, to, kind, page, label });
    };
    const access = typeof e.access === 'string' ? e.access : '';
    switch (e.type) {
      case 'request':
        flow(n.id, peer, 'request', `${access} p${page}`);
        break;
      case 'forward':
        flow(n.id, peer, 'forward', `forward p${page}`);
        break;
      case 'grant':
        // The owner hands the page (a read copy or the page itself) to the requester: one page transfer.
        if (page !== undefined && peer !== n.id) this.transfers.set(page, (this.transfers.get(page) ?? 0) + 1);
        flow(n.id, peer, 'grant', `grant p${page}${access === 'write' ? ' (write)' : ''}`);
        this.#soon();
        break;
      case 'invalidate-sent':
        flow(n.id, peer, 'invalidate', `invalidate p${page}`);
        break;
      case 'invalidate-acked':
        flow(peer, n.id, 'ack', `dropped p${page}`);
        this.#soon();
        break;
      case 'owner-change':
      case 'invalidated':
        this.#soon();
        break;
      case 'fault-end': {
        const ok = e.ok === true;
        const code = typeof e.code === 'string' && e.code !== 'failed' ? ` (${e.code})` : '';
        this.note({ kind: 'trace', node: n.id, text: `node ${n.id}: ${access} fault on page ${page} ${ok ? 'resolved' : `failed${code}`} in ${formatMs(Number(e.ms))}` });
        this.#soon();
        break;
      }
    }
  }

  /** Read the page tables within a few ms (a page moved), coalescing a burst of events into one poll. */
  #soon(): void {
    if (this.#soonTimer !== undefined || this.#watchers === 0 || this.#closed) return;
    this.#soonTimer = setTimeout(() => {
      this.#soonTimer = undefined;
      void this.poll();
    }, 10);
  }

  #soonTimer: NodeJS.Timeout | undefined;
  /** Trace events the nodes did not forward (rate limit). */
  #skipped = 0;

  get skippedTraceEvents(): number {
    return this.#skipped;
  }

  #onAnswer(id: number, c: Record<string, unknown>, a: ControlAnswer): void {
    if (!a.ok) return;
    switch (c.cmd) {
      case 'alloc':
        this.allocated.set(a.value as number, { address: a.value as number, node: id, bytes: c.bytes as number });
        break;
      case 'list-create':
        this.list = { header: a.value as number, elements: [], walks: {} };
        this.allocated.set(a.value as number, { address: a.value as number, node: id, bytes: this.pageSize });
        this.changed();
        break;
      case 'list-prepend':
        for (const addr of a.value as number[]) this.allocated.set(addr, { address: addr, node: id, bytes: 16 });
        break;
      case 'list-traverse': {
        if (c.header !== this.list.header) break;
        const t = a.value as Traversal;
        const walks = { ...this.list.walks, [id]: { at: Date.now(), reached: t.elements.length, ...(t.error ? { error: t.error } : {}) } };
        const elements = t.error === undefined || t.elements.length > this.list.elements.length
          ? t.elements.map((e) => ({ address: e.address, page: e.page, value: e.value, node: e.node }))
          : this.list.elements;
        this.list = { header: this.list.header, elements, walks };
        this.changed();
        break;
      }
    }
  }

  /** Stop polling, resume paused nodes (so they can exit), forget listeners. The cluster is closed by its owner. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#soonTimer !== undefined) clearTimeout(this.#soonTimer);
    for (const id of [...this.#pauseTimers.keys()]) this.resume(id);
    for (const u of this.#unsubscribe) u();
  }
}

export interface PageView {
  readonly page: number;
  /** Its manager (fixed mode); undefined in dynamic mode, which has none. */
  readonly manager: number | undefined;
  /** The owner: the live node holding it as owner, else the manager's record. */
  readonly owner: number;
  readonly recordedOwner: number;
  /** Nodes holding read copies (the owner too, when it kept a read copy). */
  readonly copies: number[];
  /** Each node's character from its page table (PageTable.rights). */
  readonly rights: Record<number, string>;
  /** The dead node the page was lost with. */
  readonly lost: number | undefined;
  /** A transfer of the page is unsettled on its manager. */
  readonly pending: boolean;
  /**
   * Its manager is dead (fixed mode): a fault on it whose probable owner is wrong needs the directory
   * and fails DSM_ERR_MANAGER_DEAD; one whose hint still names the live owner is served.
   */
  readonly managerGone: boolean;
}

function counters(s: DsmNodeStats): NodeCounters {
  const calls = s.ivy.callsSent;
  return {
    readFaults: s.ivy.readFaults, writeFaults: s.ivy.writeFaults, failedFaults: s.ivy.failedFaults,
    invalidationsSent: s.ivy.invalidationsSent, invalidationsReceived: s.ivy.invalidationsReceived, pagesSent: s.ivy.pagesSent,
    retransmits: s.transport.peers.reduce((a, p) => a + p.retransmits, 0),
    partitionDrops: s.network.blockedOut + s.network.blockedIn, lossDrops: s.network.lossDrops,
    callsSent: calls.request + calls.invalidate + calls.locate + calls.owns + calls.propose,
  };
}

