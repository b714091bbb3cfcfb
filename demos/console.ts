/**
 * `pagewire console`: a local cluster you can poke. Starts node processes on loopback (the same
 * `pagewire node --control` processes the demos and tests drive, demos/cluster.ts), then reads
 * commands (demos/console-commands.ts) from a prompt with history, help and tab completion, or
 * from a script (`--script FILE`, or stdin when it is not a terminal), and answers each one:
 *
 *   pagewire> read 0x2ac000 on 1
 *   node 1: read 0x002ac000 = 7 (0x7)
 *     read fault on page 684: 0.41 ms; messages: request 1→3 (2 messages)
 *   pagewire> kill 3
 *   * node 1: peer 3 dead: silent for 2004 ms; declared dead by a majority: nodes 1, 2; refused from now on
 *
 * Every command answers within a bound (a memory command: the node's fault bound plus slack; a
 * node command: 1.5 s) or says why it could not; errors print with their code and node, never a
 * stack trace. Lines starting with `*` are events the nodes reported while the console ran.
 * `--web` (or the `web` command) serves the live page map (demos/web.ts).
 */
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { startCluster, type ControlErrorFields, type NodeProc } from './cluster.js';
import { ControlError } from './cluster.js';
import { initialOwner } from '../dsm/node/index.js';
import type { DsmNodeStats } from '../dsm/node/index.js';
import { managerOf, type ManagerMode } from '../dsm/protocol/index.js';
import { formatMs, hex, histogramP50, intArg, MAX_LOSS, parseCommandLine, probabilityArg, table, usageFailure, UsageError, type OptionSpec } from './args.js';
import { complete, ConsoleError, helpText, parseLine, type ClusterShape, type Command, type Parsed, type WaitState } from './console-commands.js';
import { LiveCluster, type LiveEvent, type NodeStatus } from './live.js';
import type { Traversal } from './list.js';
import { startWebServer, type WebServer } from './web.js';
import { writeTraceHtml } from './trace-output.js';
import { resolve } from 'node:path';

export const CONSOLE_USAGE = `usage: pagewire console [options]

Starts a cluster of DSM node processes on loopback and a prompt to poke it:
read and write shared memory on any node, build the chapter's linked list,
kill, pause and partition nodes, and watch the failure model answer.

  --nodes N      node processes (2..7, default 3; 3 or more survive a death)
  --loss P       every node drops each datagram it sends with probability P (0..${MAX_LOSS}, default 0)
  --seed N       seed of the loss decisions (default 1)
  --manager M    how the nodes find a page's owner: fixed (default; page p's directory is on
                 node p mod N) or dynamic (no manager: probable-owner chains), as pagewire node
  --key-file F   seal every datagram with the cluster key in F (pagewire keygen); default: a fresh key
                 for this session, removed when it ends
  --insecure     no cluster key: the nodes talk in clear text
  --script FILE  run the commands in FILE (one per line, # comments) instead of a prompt, then exit
  --web          serve the live page map on loopback and print its URL (also: the web command)
  --web-port N   the page's port (default: any free port)
  --help         this text

Type help at the prompt for the commands. Without a terminal, commands are read from stdin.
`;

const HELP_HINT = 'pagewire console --help';
const OPTIONS = {
  nodes: { type: 'string', value: 'N' }, loss: { type: 'string', value: 'P' }, seed: { type: 'string', value: 'N' },
  script: { type: 'string', value: 'FILE' }, web: { type: 'boolean' }, 'web-port': { type: 'string', value: 'N' },
  'key-file': { type: 'string', value: 'FILE' }, insecure: { type: 'boolean' }, manager: { type: 'string', value: 'M' },
} as const satisfies Record<string, OptionSpec>;

const PAGE_SIZE = 4096;
const PAGE_COUNT = 1024;
/** A memory command may block in a fault for the node's bound (10 s, + 2 s on the app thread); plus slack. */
const MEMORY_TIMEOUT_MS = 15_000;
/** A list walk or stamp may fault once per element. */
const LIST_TIMEOUT_MS = 60_000;
/** Node commands answer at once, unless the node is paused or gone. */
const NODE_TIMEOUT_MS = 1_500;

type Calls = Record<string, { sent: number; received: number }>;
const PROCS = ['request', 'invalidate', 'locate', 'owns', 'propose'] as const;

/** One console session: runs parsed commands against a live cluster and prints what happened. */
export class ConsoleSession {
  readonly shape: ClusterShape;
  #push = 0;
  readonly #jobs = new Set<Promise<void>>();
  #web: WebServer | undefined;
  #unwatchWeb: (() => void) | undefined;
  readonly #initialOwner: (page: number) => number;

  constructor(readonly live: LiveCluster, private readonly print: (text: string) => void, private readonly o: { webPort?: number } = {}) {
    this.shape = { ids: live.ids, pageSize: live.pageSize, pageCount: live.pageCount };
    this.#initialOwner = initialOwner(live.ids, live.pageCount);
  }

  /** Parse and run one line; never throws (errors are printed). Returns false when the session should end, 'bad' for an unparsable line. */
  async line(text: string): Promise<boolean | 'bad'> {
    let parsed: Parsed | null;
    try {
      parsed = parseLine(this.shape, text);
    } catch (e) {
      this.#consoleError(e);
      return 'bad';
    }
    if (parsed === null) return true;
    if (parsed.command.kind === 'exit') return false;
    if (parsed.background) {
      const label = text.trim().replace(/\s*&$/, '');
      this.print(`[background] ${label}`);
      // In the background other commands run meanwhile: the nodes' counters would count their messages too.
      const job = this.run(parsed.command, (s) => this.print(`[${label}] ${s}`), { count: false }).finally(() => this.#jobs.delete(job));
      this.#jobs.add(job);
      return true;
    }
    await this.run(parsed.command, this.print);
    return true;
  }

  /** Treat a command already running as a background one (the prompt's Ctrl-C). */
  adopt(job: Promise<void>): void {
    const j = job.finally(() => this.#jobs.delete(j));
    this.#jobs.add(j);
  }

  /** Background commands still running. */
  get jobs(): number {
    return this.#jobs.size;
  }

  async waitForJobs(): Promise<void> {
    while (this.#jobs.size > 0) await Promise.allSettled([...this.#jobs]);
  }

  /** Run one command, printing with `out`; `count: false` leaves out the messages a fault cost. */
  async run(c: Command, out: (s: string) => void, o: { count?: boolean } = {}): Promise<void> {
    try {
      await this.#run(c, out, o.count ?? true);
    } catch (e) {
      if (e instanceof ConsoleError) out(`error ${e.code}: ${e.message}`);
      else if (e instanceof ControlError) out(describeError(e.from, e.error));
      else out(`error CONSOLE_ERR_INTERNAL: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  async #run(c: Command, out: (s: string) => void, count: boolean): Promise<void> {
    const live = this.live;
    switch (c.kind) {
      case 'help':
        out(helpText(c.topic));
        return;
      case 'alloc': {
        const id = this.#target(c.on);
        const addr = await this.#call<number>(id, { cmd: 'alloc', bytes: c.bytes }, MEMORY_TIMEOUT_MS);
        const page = Math.floor(addr / live.pageSize);
        const pages = Math.ceil(c.bytes / live.pageSize);
        out(`node ${id}: allocated ${c.bytes} bytes at ${hex(addr)} (page ${page}${pages > 1 ? `..${page + pages - 1}` : ''}: owned by node ${this.#initialOwner(page)}, ${this.#managedBy(page)})`);
        return;
      }
      case 'read':
      case 'write':
        return this.#access(c.kind, this.#target(c.on), c.addr, c.kind === 'write' ? c.value : undefined, out, count);
      case 'list':
        return this.#list(c, out);
      case 'owner': {
        await live.poll();
        out(this.#describePage(c.page));
        return;
      }
      case 'map':
        await live.poll();
        return this.#map(c.all, out);
      case 'stats':
        await live.poll();
        return this.#stats(out);
      case 'kill': {
        const n = live.nodes.get(c.node)!;
        if (n.process === 'killed' || n.process === 'exited') throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `node ${c.node} is not running (${n.process})`);
        await live.kill(c.node);
        out(`node ${c.node} killed (SIGKILL, pid ${n.pid}): no goodbye. The others suspect it after 2000 ms of silence and declare it dead once a majority agrees.`);
        return;
      }
      case 'pause': {
        const n = live.nodes.get(c.node)!;
        if (n.process === 'killed' || n.process === 'exited') throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `node ${c.node} is not running (${n.process})`);
        live.pause(c.node, c.seconds);
        out(`node ${c.node} paused (SIGSTOP) for ${c.seconds} s, then SIGCONT. ${c.seconds * 1000 < 2000
          ? 'Shorter than deadAfterMs (2000 ms): the others wait for it; nobody is declared dead.'
          : 'Longer than deadAfterMs (2000 ms): a majority will declare it dead, and when it wakes it learns it is fenced (DSM_ERR_EVICTED).'}`);
        return;
      }
      case 'partition': {
        const present = live.present();
        const listed = c.groups.flat();
        const missing = present.filter((id) => !listed.includes(id));
        if (missing.length > 0) throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `every running node must be in a group: ${missing.map((id) => `node ${id}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
        const late = await live.partition(c.groups.map((g) => [...g]));
        const majority = Math.floor(live.ids.length / 2) + 1;
        const sides = c.groups.map((g) => `${g.join(',')} (${g.length >= majority ? 'a majority: can declare the others dead' : `a minority: cannot decide anything; its writes that need the others fail DSM_ERR_NO_QUORUM`})`);
        out(`partition: ${sides.join(' | ')}. A majority is ${majority} of ${live.ids.length}.`);
        if (late.length > 0) out(`  (${late.map((id) => `node ${id}`).join(', ')} did not confirm yet (paused?): the others drop its datagrams already)`);
        return;
      }
      case 'heal': {
        const late = await live.heal();
        const dead = live.ids.filter((id) => live.status(id) === 'dead' && live.present().includes(id));
        out(`healed: every node hears every node again.${dead.length > 0 ? ` ${dead.map((id) => `Node ${id}`).join(', ')} was declared dead meanwhile: it learns it is fenced at its next contact (DSM_ERR_EVICTED).` : ''}`);
        if (late.length > 0) out(`  (${late.map((id) => `node ${id}`).join(', ')} did not confirm yet)`);
        return;
      }
      case 'loss': {
        const late = await live.setLoss(c.p);
        out(`loss ${c.p}: every node drops ${Math.round(c.p * 1000) / 10}% of the datagrams it sends; the transport retransmits (see stats)`);
        if (late.length > 0) out(`  (${late.map((id) => `node ${id}`).join(', ')} did not confirm yet)`);
        return;
      }
      case 'trace':
        return c.on ? this.#traceOn(c.dir, out) : this.#traceOff(out);
      case 'web': {
        const url = await this.startWeb();
        out(`live page map: ${url}`);
        return;
      }
      case 'wait':
        return c.node === undefined ? this.#waitJobs(out) : this.#waitState(c.node, c.state!, c.seconds, out);
      case 'sleep':
        await new Promise((r) => setTimeout(r, c.seconds * 1000));
        return;
      case 'exit':
        return;
    }
  }

  /** Serve the live page map (once) and return its URL. */
  async startWeb(): Promise<string> {
    if (this.#web === undefined) {
      this.#web = await startWebServer(this.live, { port: this.o.webPort, controls: (line) => this.#webCommand(line) });
      this.#unwatchWeb = this.live.watch();
    }
    return this.#web.url;
  }

  /** A button of the page: the same commands, printed here too. */
  async #webCommand(line: string): Promise<string> {
    const lines: string[] = [];
    let parsed: Parsed | null;
    try {
      parsed = parseLine(this.shape, line);
    } catch (e) {
      return `error ${(e as ConsoleError).code}: ${(e as Error).message}`;
    }
    const allowed = ['kill', 'pause', 'partition', 'heal', 'loss'];
    if (parsed === null || !allowed.includes(parsed.command.kind) || parsed.background) return `error CONSOLE_ERR_BAD_ARGUMENT: the page's buttons run ${allowed.join(', ')} only`;
    this.print(`[web] ${line}`);
    await this.run(parsed.command, (s) => {
      lines.push(s);
      this.print(s);
    });
    return lines.join('\n');
  }

  async close(): Promise<void> {
    if (this.#traceDir !== undefined) await this.#traceOff(this.print);
    this.#unwatchWeb?.();
    await this.#web?.close();
  }

  // ---------------------------------------------------------------- memory

  #target(on: number | undefined): number {
    const id = on ?? this.live.running()[0] ?? this.live.ids[0]!;
    const n = this.live.nodes.get(id)!;
    if (n.process === 'killed' || n.process === 'exited') throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `node ${id} is not running (${n.process}); running: ${this.live.running().join(', ') || 'none'}`);
    return id;
  }

  async #call<T>(id: number, command: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const n = this.live.nodes.get(id)!;
    if (n.process === 'paused') this.print(`  (node ${id} is paused for ${((n.pausedUntil! - Date.now()) / 1000).toFixed(1)} s more: it answers when it resumes)`);
    return this.live.proc(id).call<T>(command, timeoutMs);
  }

  /** Every running node's Ivy calls sent and received, to count what a command cost. */
  async #calls(): Promise<Map<number, Calls>> {
    const out = new Map<number, Calls>();
    await Promise.all(this.live.running().map(async (id) => {
      try {
        const s = await this.live.proc(id).call<{ node: DsmNodeStats }>({ cmd: 'stats' }, NODE_TIMEOUT_MS);
        out.set(id, Object.fromEntries(PROCS.map((p) => [p, { sent: s.node.ivy.callsSent[p], received: s.node.ivy.callsReceived[p] }])));
      } catch {
        // not counted
      }
    }));
    return out;
  }

  async #access(kind: 'read' | 'write', id: number, addr: number, value: number | undefined, out: (s: string) => void, count: boolean): Promise<void> {
    const page = Math.floor(addr / this.live.pageSize);
    const before = count ? await this.#calls() : undefined;
    const messages = async (failed = false): Promise<string> => (before === undefined ? '' : this.#messages(before, failed));
    const t0 = performance.now();
    let r: { value: number; us: number; faulted: boolean };
    try {
      r = await this.#call(id, kind === 'read' ? { cmd: 'timed-read32', addr } : { cmd: 'timed-write32', addr, value }, MEMORY_TIMEOUT_MS);
    } catch (e) {
      const ms = performance.now() - t0;
      if (!(e instanceof ControlError)) throw e;
      out(describeError(id, e.error));
      out(`  after ${formatMs(ms)}${e.code.startsWith('DSM_') ? await messages(true) : ''}`);
      return;
    }
    out(kind === 'read' ? `node ${id}: read ${hex(addr)} = ${r.value} (0x${r.value.toString(16)})` : `node ${id}: wrote ${r.value} (0x${r.value.toString(16)}) at ${hex(addr)}`);
    if (r.faulted) out(`  ${kind} fault on page ${page}: ${formatMs(r.us / 1000)}${await messages()}`);
    else out(`  no fault: node ${id} already held page ${page} (${kind === 'read' ? 'read or write' : 'write'} rights), ${formatMs(r.us / 1000)}`);
  }

  /** "; messages: request 1→2, invalidate 2→3 (4 messages)" from the nodes' counters before and now. */
  async #messages(before: Map<number, Calls>, failed = false): Promise<string> {
    const after = await this.#calls();
    const parts: string[] = [];
    let calls = 0;
    for (const p of PROCS) {
      const senders: string[] = [];
      const receivers: string[] = [];
      let sent = 0;
      for (const [id, a] of after) {
        const b = before.get(id);
        if (b === undefined) continue;
        const s = a[p]!.sent - b[p]!.sent;
        const r = a[p]!.received - b[p]!.received;
        if (s > 0) senders.push(s > 1 ? `${id}(×${s})` : String(id));
        if (r > 0) receivers.push(r > 1 ? `${id}(×${r})` : String(id));
        sent += s;
      }
      if (sent === 0) continue;
      calls += sent;
      parts.push(`${p} ${senders.join(',')}→${receivers.join(',') || '(not received)'}`);
    }
    // Nodes whose process exists but could not be asked (paused): their calls are not in the count.
    const missing = this.live.present().filter((id) => !after.has(id) || !before.has(id));
    const note = missing.length > 0 ? ` (not counted: node ${missing.join(', ')}, paused or not answering)` : '';
    if (calls === 0) {
      return failed ? `; no message between nodes (this node already knew the answer)${note}`
        : `; no message between nodes (this node owned the page and had no copy holder to invalidate)${note}`;
    }
    return `; messages: ${parts.join(', ')} (${2 * calls} messages: each call a request and a reply)${note}`;
  }

  async #list(c: Extract<Command, { kind: 'list' }>, out: (s: string) => void): Promise<void> {
    const live = this.live;
    const header = live.list.header;
    if (c.op === 'new') {
      if (c.avoid !== undefined && live.manager === 'dynamic') {
        throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `avoid ${c.avoid} keeps the list off the pages node ${c.avoid} manages, and in dynamic mode no node manages any`);
      }
      const id = this.#target(c.on);
      const h = await this.#call<number>(id, c.avoid === undefined ? { cmd: 'list-create' } : { cmd: 'list-create', avoidManagedBy: c.avoid }, MEMORY_TIMEOUT_MS);
      this.#avoid = c.avoid;
      const page = Math.floor(h / live.pageSize);
      out(`node ${id}: list header at ${hex(h)} (page ${page}, ${this.#managedBy(page)})${c.avoid === undefined ? '' : `; the list keeps off pages node ${c.avoid} manages`}`);
      return;
    }
    if (header === undefined) throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', 'no list yet: list new first');
    if (c.op === 'push') {
      for (const v of c.values) {
        const running = live.running();
        if (running.length === 0) throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', 'no node is running');
        const id = c.on !== undefined ? this.#target(c.on) : running[this.#push++ % running.length]!;
        const cmd: Record<string, unknown> = { cmd: 'list-prepend', header, values: [v] };
        if (this.#avoid !== undefined) cmd.avoidManagedBy = this.#avoid;
        const [addr] = await this.#call<number[]>(id, cmd, MEMORY_TIMEOUT_MS);
        out(`node ${id}: pushed ${v} at ${hex(addr)} (page ${Math.floor(addr! / live.pageSize)}, node ${id}'s)`);
      }
      return;
    }
    const ids = c.on !== undefined ? [this.#target(c.on)] : live.running();
    if (c.op === 'walk') {
      // All at once, as the demo does: a death shows on every survivor at the same moment.
      const walks = await Promise.all(ids.map(async (id) => {
        const t0 = performance.now();
        const t = await this.#call<Traversal>(id, { cmd: 'list-traverse', header }, LIST_TIMEOUT_MS).catch((e: unknown) => e as Error);
        return { id, t, ms: performance.now() - t0 };
      }));
      for (const { id, t, ms } of walks) {
        if (t instanceof ControlError) out(describeError(id, t.error));
        else if (t instanceof Error) throw t;
        else {
          const shown = t.elements.slice(0, 12).map((e) => `${e.value}@n${e.node}`).join(' → ');
          const more = t.elements.length > 12 ? ` → … (${t.elements.length - 12} more)` : '';
          if (t.error === undefined) out(`node ${id}: ${t.elements.length} elements in ${formatMs(t.ms)}: ${shown || '(empty)'}${more}`);
          else out(`node ${id}: reached ${t.elements.length} element${t.elements.length === 1 ? '' : 's'} (${shown || 'none'}${more}), then ${describeError(id, t.error).replace(`node ${id}: `, '')}; after ${formatMs(ms)}`);
        }
      }
      return;
    }
    for (const id of ids) {
      const n = await this.#call<number>(id, { cmd: 'list-stamp', header }, LIST_TIMEOUT_MS);
      out(`node ${id}: stamped (wrote) its ${n} element${n === 1 ? '' : 's'}: the other nodes' read copies of those pages are invalidated`);
    }
  }

  #avoid: number | undefined;

  /** "managed by node M" (fixed mode), or that no node manages it (dynamic mode). */
  #managedBy(page: number): string {
    return this.live.manager === 'fixed' ? `managed by node ${managerOf(this.live.ids, page)}` : 'no manager: dynamic mode';
  }

  // ---------------------------------------------------------------- the page table

  #rightsCell(id: number, c: string | undefined): string {
    const n = this.live.nodes.get(id)!;
    if (n.process === 'killed' || n.process === 'exited') return 'x';
    return c ?? '?';
  }

  #describePage(p: number): string {
    const v = this.live.page(p);
    const size = this.live.pageSize;
    const rights = this.live.ids.map((id) => `${id}:${this.#rightsCell(id, v.rights[id])}`).join(' ');
    const fate = v.lost !== undefined ? `LOST with node ${v.lost} (declared dead): every access fails DSM_ERR_PAGE_LOST` : v.pending ? 'a transfer is unsettled on its manager' : '';
    return [
      `page ${p} (${hex(p * size)}..${hex((p + 1) * size - 1)}): owner node ${v.owner}, ${v.manager === undefined ? 'no manager (dynamic mode)' : `manager node ${v.manager}`}${v.managerGone ? ' (dead: a fault on this page that needs its directory fails DSM_ERR_MANAGER_DEAD)' : ''}`,
      `  copies: ${v.copies.length > 0 ? v.copies.map((c) => `node ${c}`).join(', ') : 'none'}; rights ${rights}${fate ? `; ${fate}` : ''}`,
    ].join('\n');
  }

  #map(all: boolean, out: (s: string) => void): void {
    const live = this.live;
    const pages = all ? Array.from({ length: live.pageCount - 1 }, (_, i) => i + 1) : live.touchedPages();
    const rows: string[][] = [['page', 'address', 'manager', 'owner', 'copies', `rights (${live.ids.join(' ')})`, '']];
    const LIMIT = all ? Infinity : 60;
    for (const p of pages.slice(0, LIMIT)) {
      const v = live.page(p);
      const notes: string[] = [];
      if (v.lost !== undefined) notes.push(`LOST (node ${v.lost} dead)`);
      if (v.pending) notes.push('transfer unsettled');
      if (v.managerGone && v.lost === undefined) notes.push(`manager ${v.manager} dead: faults that need its directory fail DSM_ERR_MANAGER_DEAD`);
      if (p === live.pageCount - 1) notes.push('root page');
      rows.push([String(p), hex(p * live.pageSize), v.manager === undefined ? '-' : String(v.manager), String(v.owner), v.copies.join(',') || '-',
        live.ids.map((id) => this.#rightsCell(id, v.rights[id])).join(' '), notes.join('; ')]);
    }
    if (pages.length === 0) out('no page touched yet: every page is at its initial owner (map all shows them)');
    else out(table(rows, ''));
    if (pages.length > LIMIT) out(`… ${pages.length - LIMIT} more pages (map all lists every page)`);
    const untouched = live.pageCount - 1 - pages.length;
    if (!all && untouched > 0) out(`${untouched} other pages are untouched, each at its initial owner. rights: W owner with write, R owner with a read copy, r read copy, o owner holding no rights (handing the page over, or fenced), - none, x not running`);
  }

  #stats(out: (s: string) => void): void {
    const live = this.live;
    const rows: string[][] = [['node', 'process', 'status', 'read faults', 'write faults', 'failed', 'inval sent/recv', 'pages sent', 'retransmits', 'dropped (partition/loss)', 'fault p50']];
    for (const id of live.ids) {
      const n = live.nodes.get(id)!;
      const c = n.counters;
      const stale = n.process !== 'running' ? ' (last read)' : '';
      rows.push([String(id), n.process, live.status(id),
        ...(c === undefined ? ['?', '?', '?', '?', '?', '?', '?'] : [String(c.readFaults), String(c.writeFaults), String(c.failedFaults), `${c.invalidationsSent}/${c.invalidationsReceived}`, String(c.pagesSent), String(c.retransmits), `${c.partitionDrops}/${c.lossDrops}`]),
        (n.latency === undefined ? '?' : histogramP50(n.latency)) + stale]);
    }
    out(table(rows, ''));
    if (live.groups !== undefined || live.loss > 0) out(`network: ${live.groups !== undefined ? `partition ${live.groups.map((g) => g.join(',')).join(' | ')}` : 'no partition'}; loss ${live.loss}`);
  }

  // ---------------------------------------------------------------- tracing

  #traceDir: string | undefined;

  async #traceOn(dir: string | undefined, out: (s: string) => void): Promise<void> {
    if (this.#traceDir !== undefined) throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `already tracing to ${this.#traceDir} (trace off first)`);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
    const target = resolve(dir ?? `pagewire-trace-${stamp}`);
    const late = await this.#everyNode({ cmd: 'trace', dir: target });
    this.#traceDir = target;
    out(`tracing: every node writes its events (transport, RPC, DSM) to ${target}/node-<id>.jsonl; trace off draws the diagram`);
    if (late.length > 0) out(`  (${late.join('; ')})`);
  }

  async #traceOff(out: (s: string) => void): Promise<void> {
    const dir = this.#traceDir;
    if (dir === undefined) throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', 'not tracing (trace on first)');
    const late = await this.#everyNode({ cmd: 'trace' });
    this.#traceDir = undefined;
    if (late.length > 0) out(`  (${late.join('; ')})`);
    try {
      out(writeTraceHtml(dir, { title: `pagewire console: ${this.live.ids.length} nodes` }).summary);
    } catch (e) {
      out(`error ${(e as { code?: string }).code ?? 'TRACE_ERR_IO'}: the trace in ${dir} could not be drawn: ${(e as Error).message}`);
    }
  }

  /** Send a node command to every present node; returns what went wrong, per node. */
  async #everyNode(command: Record<string, unknown>): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(this.live.present().map(async (id) => {
      try {
        await this.live.proc(id).call(command, NODE_TIMEOUT_MS);
      } catch (e) {
        problems.push(e instanceof ControlError ? describeError(id, e.error) : `node ${id}: ${(e as Error).message}`);
      }
    }));
    return problems.sort();
  }

  // ---------------------------------------------------------------- waiting

  async #waitJobs(out: (s: string) => void): Promise<void> {
    if (this.#jobs.size === 0) return out('no background command is running');
    const n = this.#jobs.size;
    await this.waitForJobs();
    out(`${n} background command${n === 1 ? '' : 's'} finished`);
  }

  async #waitState(node: number, state: WaitState, seconds: number, out: (s: string) => void): Promise<void> {
    const live = this.live;
    const t0 = Date.now();
    const holds = (): boolean => {
      const s: NodeStatus = live.status(node);
      if (state === 'up') return s === 'alive' && live.present().filter((id) => id !== node).every((id) => live.nodes.get(id)!.sees[node] === 'up');
      if (state === 'suspected') return s === 'suspected' || s === 'dead' || s === 'fenced';
      if (state === 'dead') return s === 'dead' || s === 'fenced';
      return s === 'fenced';
    };
    if (!holds()) {
      await new Promise<void>((resolve, reject) => {
        const onChange = (): void => {
          if (!holds()) return;
          clearTimeout(timer);
          live.off('change', onChange);
          resolve();
        };
        const timer = setTimeout(() => {
          live.off('change', onChange);
          reject(new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `node ${node} was not ${state} within ${seconds} s (it is ${live.status(node)})`));
        }, seconds * 1000);
        live.on('change', onChange);
      });
    }
    const waited = Date.now() - t0;
    out(`node ${node} is ${state}${waited > 0 ? ` (waited ${formatMs(waited)})` : ''}`);
  }

  #consoleError(e: unknown): void {
    if (e instanceof ConsoleError) this.print(`error ${e.code}: ${e.message}`);
    else this.print(`error CONSOLE_ERR_INTERNAL: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** An error the way the console prints it: the code, the node that reported it, where, and why. */
export function describeError(id: number, e: Pick<ControlErrorFields, 'code' | 'message'> & Partial<ControlErrorFields>): string {
  const where: string[] = [];
  if (e.page !== undefined) where.push(`page ${e.page}`);
  if (e.node !== undefined) where.push(`node ${e.node}`);
  const at = e.address !== undefined ? ` at ${hex(e.address)}` : '';
  // A node process that went away: its stderr (a crash report) is not for this screen.
  const message = e.message.replace(/^node \d+: /, '').replace(/; stderr: [\s\S]*$/, '');
  return `node ${id}: ${e.code}${at}${where.length > 0 ? ` (${where.join(', ')})` : ''}: ${message}`;
}


/** The console's command line, as runConsole reads it. */
function consoleOptions(argv: string[]): { nodes: number; loss: number; seed: number; script?: string; web: boolean; webPort?: number; keyFile?: string; insecure: boolean; manager: ManagerMode } | 'help' {
  const { values, flags, help } = parseCommandLine(argv, OPTIONS);
  if (help) return 'help';
  if (values['key-file'] !== undefined && flags.has('insecure')) throw new UsageError('give either --key-file or --insecure, not both');
  if (values['key-file'] !== undefined && values['key-file'].trim() === '') throw new UsageError('--key-file needs a file (pagewire keygen --out cluster.key makes one)');
  const manager = values.manager ?? 'fixed';
  if (manager !== 'fixed' && manager !== 'dynamic') throw new UsageError(`--manager must be fixed or dynamic, got ${JSON.stringify(manager)}`);
  return {
    manager,
    keyFile: values['key-file'],
    insecure: flags.has('insecure'),
    nodes: intArg(values.nodes, 'nodes', 2, 7, 3),
    loss: probabilityArg(values.loss, 'loss', MAX_LOSS, 0),
    seed: intArg(values.seed, 'seed', 0, 2 ** 31, 1),
    script: values.script,
    web: flags.has('web'),
    webPort: values['web-port'] === undefined ? undefined : intArg(values['web-port'], 'web-port', 1, 65535, 0),
  };
}

/** `pagewire console ...`: returns the exit code (2 bad usage, 1 the cluster did not start or a script line was not understood). */
export async function runConsole(argv: string[]): Promise<number> {
  let o: Exclude<ReturnType<typeof consoleOptions>, 'help'>;
  try {
    const parsed = consoleOptions(argv);
    if (parsed === 'help') {
      process.stdout.write(CONSOLE_USAGE);
      return 0;
    }
    o = parsed;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageFailure('pagewire console', e.message, HELP_HINT));
    return 2;
  }
  let script: string[] | undefined;
  if (o.script !== undefined) {
    try {
      script = readFileSync(o.script, 'utf8').split(/\r?\n/);
    } catch (e) {
      process.stderr.write(usageFailure('pagewire console', `cannot read --script ${o.script}: ${(e as Error).message}`, HELP_HINT));
      return 2;
    }
  }
  const interactive = script === undefined && process.stdin.isTTY === true && process.stdout.isTTY === true;
  const say = (s: string): void => void process.stdout.write(s + '\n');

  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  say(`pagewire console: starting ${o.nodes} node processes on loopback...`);
  let cluster;
  try {
    cluster = await startCluster({
      ids, echoStderr: !!process.env.DEBUG, insecure: o.insecure, keyFile: o.keyFile === undefined ? undefined : resolve(o.keyFile),
      args: ['--page-size', String(PAGE_SIZE), '--pages', String(PAGE_COUNT), '--manager', o.manager],
    });
  } catch (e) {
    process.stderr.write(`pagewire console: the cluster did not start: ${(e as Error).message}\n`);
    return 1;
  }
  const live = new LiveCluster(cluster, { pageSize: PAGE_SIZE, pageCount: PAGE_COUNT, manager: o.manager });
  let rl: Interface | undefined;
  let busy = false;
  const print = (s: string): void => {
    if (rl !== undefined && !busy) {
      process.stdout.write(`\r\x1b[K${s}\n`);
      rl.prompt(true);
    } else say(s);
  };
  const session = new ConsoleSession(live, print, { webPort: o.webPort });
  const onEvent = (e: LiveEvent): void => {
    if (e.kind === 'membership' || (e.kind === 'process' && /resumed|exited/.test(e.text) && !/killed/.test(e.text))) print(`* ${e.text}`);
  };
  let bad = 0;
  try {
    await Promise.all(cluster.nodes.map((n: NodeProc) => Promise.all(ids.filter((j) => j !== n.id).map((j) =>
      n.waitForEvent((e) => e.event === 'membership' && e.kind === 'up' && e.node === j, 15_000)))));
    say(`  ${cluster.nodes.map((n) => `node ${n.id} ${n.address} (pid ${n.child.pid})`).join(', ')}; every node is up`);
    say(`  ${!cluster.nodes.every((n) => n.keyed) ? 'clear text, no cluster key (--insecure): anyone on the network could read and forge this traffic'
      : o.keyFile !== undefined ? `every datagram sealed (AES-256-GCM) with the cluster key in ${o.keyFile}`
        : `every datagram sealed (AES-256-GCM) with a fresh cluster key for this session (${cluster.keyFile}, removed at exit); --insecure for clear text`}`);
    say(`  ${PAGE_COUNT} pages of ${PAGE_SIZE} bytes; ${ids.map((id) => {
      const owner = initialOwner(ids, PAGE_COUNT);
      const pages = Array.from({ length: PAGE_COUNT - 1 }, (_, i) => i + 1).filter((p) => owner(p) === id);
      return `node ${id} owns ${pages[0]}..${pages.at(-1)}`;
    }).join(', ')}; ${o.manager === 'fixed' ? `page p is managed by node [${ids.join(', ')}][p mod ${ids.length}] (--manager fixed)` : 'no managers: faults follow probable-owner chains (--manager dynamic)'}`);
    if (o.nodes === 2) say('  2 nodes: a majority of 2 is 2, so neither can ever declare the other dead; after a kill, faults on its pages fail DSM_ERR_NO_QUORUM (use 3 or more nodes to see DSM_ERR_PAGE_LOST)');
    if (o.loss > 0) await live.setLoss(o.loss);
    live.on('event', onEvent);
    if (o.web) say(`live page map: ${await session.startWeb()}`);
    if (script !== undefined) {
      for (const line of script) {
        if (line.trim() === '' || line.trim().startsWith('#')) continue;
        say(`> ${line.trim()}`);
        const r = await session.line(line);
        if (r === 'bad') bad++;
        if (r === false) break;
      }
    } else if (interactive) {
      say('Type help for the commands, Tab to complete, Ctrl-D or exit to leave.');
      rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'pagewire> ', historySize: 1000, completer: (line: string) => complete(session.shape, line), terminal: true });
      rl.prompt();
      await new Promise<void>((resolve) => {
        const queue: string[] = [];
        let interrupt: (() => void) | undefined;
        let closing = false;
        const pump = (): void => {
          if (busy || closing) return;
          const line = queue.shift();
          if (line === undefined) return;
          busy = true;
          const run = session.line(line);
          const interrupted = new Promise<'interrupted'>((r) => (interrupt = () => r('interrupted')));
          void Promise.race([run, interrupted]).then((r) => {
            interrupt = undefined;
            busy = false;
            if (r === 'interrupted') {
              session.adopt(run.then(() => undefined));
              process.stdout.write('\n(it goes on in the background: its answer is printed when it comes; wait waits for it)\n');
            }
            if (r === false) {
              closing = true;
              rl!.close();
              return;
            }
            rl!.prompt();
            pump();
          });
        };
        rl!.on('SIGINT', () => {
          if (interrupt !== undefined) interrupt();
          else {
            process.stdout.write('\n(exit or Ctrl-D to leave)\n');
            rl!.prompt();
          }
        });
        rl!.on('close', () => {
          closing = true;
          resolve();
        });
        rl!.on('line', (line) => {
          queue.push(line);
          pump();
        });
      });
    } else {
      const lines = createInterface({ input: process.stdin });
      for await (const line of lines) {
        if (line.trim() === '' || line.trim().startsWith('#')) continue;
        say(`> ${line.trim()}`);
        const r = await session.line(line);
        if (r === 'bad') bad++;
        if (r === false) break;
      }
    }
    if (session.jobs > 0) {
      say(`waiting for ${session.jobs} background command${session.jobs === 1 ? '' : 's'}...`);
      await session.waitForJobs();
    }
  } finally {
    live.off('event', onEvent);
    await session.close();
    live.close();
    await cluster.close();
  }
  if (bad > 0) {
    say(`${bad} line${bad === 1 ? ' was' : 's were'} not understood`);
    return 1;
  }
  return 0;
}
