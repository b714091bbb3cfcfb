/**
 * Node processes for the demos: spawn `pagewire node --control` children on loopback, send them
 * JSON-line commands (demos/control.ts) and await the answers, and make sure no child outlives
 * the demo (on normal exit, on an error, on SIGINT/SIGTERM).
 *
 *   const cluster = await startCluster({ ids: [1, 2, 3] });   // sealed with a fresh cluster key
 *   const header = await cluster.node(1).call({ cmd: 'list-create' });
 *   cluster.node(3).kill();             // SIGKILL: no goodbye, the fail-stop model
 *   await cluster.close();              // "exit" to the living, SIGKILL to stragglers
 *
 * A child's stderr (its crash report) passes through to ours. Its DEBUG=pagewire:* log does too,
 * unless the cluster has a debugLog file: then the nodes' debug lines stay out of the demo's story
 * and are written to that file at close(), all nodes merged in time order.
 *
 * Unless told `insecure`, a cluster gets a fresh cluster key (generateClusterKey) in a file of its
 * own (mode 0600, in a private temporary directory), given to every node with --key-file and
 * removed when the cluster closes or this process exits: the demos run the keyed path by default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatClusterKey, generateClusterKey } from '../transport/index.js';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ControlCommand } from './control.js';

/** The compiled CLI, `pagewire`'s bin: this module's compiled sibling (vitest sees the same layout). */
export const CLI = fileURLToPath(new URL('./cli.js', import.meta.url));

/** The error fields of a failed command: a DsmError's (code, address, page, node) or CONTROL_ERR_*. */
export interface ControlErrorFields {
  readonly code: string;
  readonly message: string;
  readonly address?: number;
  readonly page?: number;
  readonly node?: number;
}

/** An unsolicited event line of the control channel (demos/membership-events.ts). */
export interface NodeEvent {
  readonly event: string;
  readonly kind?: string;
  readonly node?: number;
  readonly reason?: string;
  readonly at?: number;
  /** event "trace" (while watched): one of the node's DSM trace events (trace/events.ts), and how many were skipped before it. */
  readonly trace?: Record<string, unknown>;
  readonly skipped?: number;
}

/** One answer line of the control channel. */
export type ControlAnswer =
  | { readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly seq: number; readonly ok: false; readonly error: ControlErrorFields };

/** A failed command, carrying the node's error fields. */
export class ControlError extends Error {
  readonly code: string;
  readonly address: number | undefined;
  readonly page: number | undefined;
  readonly node: number | undefined;

  constructor(readonly from: number, readonly error: ControlErrorFields) {
    super(`node ${from}: ${error.message}`);
    this.name = 'ControlError';
    this.code = error.code;
    this.address = error.address;
    this.page = error.page;
    this.node = error.node;
  }
}

export interface NodeProc {
  readonly id: number;
  readonly address: string;
  /** Page size the node reported in its ready line. */
  readonly pageSize: number;
  /** The node seals its datagrams with a cluster key (its ready line says so). */
  readonly keyed: boolean;
  readonly child: ChildProcess;
  /** Send one command; resolves with the node's answer (ok or not), rejects only on exit or timeout. */
  send(command: ControlCommand | Record<string, unknown>, timeoutMs?: number): Promise<ControlAnswer>;
  /** Send one command; resolves with its value, rejects with a ControlError. */
  call<T = unknown>(command: ControlCommand | Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Resolves when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by default: the node disappears mid-protocol. Resolves once it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly alive: boolean;
  /** The last 2,000 characters the node wrote to stderr. */
  stderr(): string;
  /** Events the node reported so far (membership: peer up / suspected / dead, fenced, majority up). */
  readonly events: readonly NodeEvent[];
  /** Resolves with the first event (past or future) that `match` accepts; rejects after timeoutMs or on exit. */
  waitForEvent(match: (e: NodeEvent) => boolean, timeoutMs: number): Promise<NodeEvent>;
  /** Calls `listener` with every event from now on (the past ones are in `events`); returns the unsubscribe. */
  onEvent(listener: (e: NodeEvent) => void): () => void;
  /** Calls `listener` with every answer from now on and the command it answers (tools that watch a demo); returns the unsubscribe. */
  onAnswer(listener: (command: Record<string, unknown>, answer: ControlAnswer) => void): () => void;
}

export interface StartNodeOptions {
  /** How long the node may take to print its ready line. @default 15_000 */
  readonly readyTimeoutMs?: number;
  /** Copy the node's stderr to this process's stderr (demos do; tests don't). @default true */
  readonly echoStderr?: boolean;
  /** Where the node's `debug` lines (ISO-timestamped) go instead of our stderr. */
  readonly debugSink?: DebugSink;
}

/** The `debug` lines of several node processes, merged in time order when written. */
export class DebugSink {
  private readonly lines: { t: string; seq: number; line: string }[] = [];
  private seq = 0;
  dropped = 0;
  static readonly MAX_LINES = 500_000;
  static readonly LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /;

  /** Keep `line` if it is a debug line (returns true), else leave it to the caller. */
  offer(line: string): boolean {
    const m = DebugSink.LINE.exec(line);
    if (m === null) return false;
    if (this.lines.length >= DebugSink.MAX_LINES) this.dropped++;
    else this.lines.push({ t: m[1]!, seq: this.seq++, line });
    return true;
  }

  get size(): number {
    return this.lines.length;
  }

  /** Write every line, oldest first (lines of one millisecond keep the order they arrived in). */
  write(path: string): void {
    const sorted = [...this.lines].sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.seq - b.seq));
    writeFileSync(path, sorted.map((l) => l.line).join('\n') + (sorted.length ? '\n' : ''));
  }
}

export interface ClusterOptions {
  /** Node ids, e.g. [1, 2, 3]. */
  readonly ids: readonly number[];
  /** Extra `pagewire node` arguments for every node, e.g. ['--loss', '0.2']. */
  readonly args?: readonly string[];
  /** Extra arguments per node id (e.g. a per-node --seed). */
  readonly argsFor?: (id: number) => readonly string[];
  /** How long a node may take to print its ready line. @default 15_000 */
  readonly readyTimeoutMs?: number;
  /** Copy the nodes' stderr to this process's stderr. @default true */
  readonly echoStderr?: boolean;
  /**
   * When DEBUG is set: write the nodes' debug lines to this file at close(), merged in time order,
   * instead of mixing them into our stderr. @default undefined (they pass through)
   */
  readonly debugLog?: string;
  /** No cluster key: the nodes talk in clear text. @default false (a fresh key for this cluster) */
  readonly insecure?: boolean;
  /** Seal the cluster with the key in this file (`pagewire keygen`) instead of a fresh one; it is not removed at close(). */
  readonly keyFile?: string;
}

export interface Cluster {
  readonly nodes: readonly NodeProc[];
  /** The cluster's key file (for a node started later with --key-file), undefined when insecure. */
  readonly keyFile: string | undefined;
  node(id: number): NodeProc;
  /** Ask every living node to exit, SIGKILL whoever has not after a grace period. Idempotent. */
  close(): Promise<void>;
  /** The file the nodes' debug lines were written to at close() (when debugLog was given and DEBUG set). */
  readonly debugLog: string | undefined;
}

/** Every child any cluster of this process started: killed when the process exits, however it exits. */
const children = new Set<ChildProcess>();
/** Directories holding key files of this process's clusters: removed when the process exits. */
const keyDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of keyDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\ninterrupted (${sig}): stopping node processes\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143); // the 'exit' hook kills the children
    });
  }
}

/**
 * A fresh cluster key in a new private directory (mode 0700), as the file `cluster.key` (mode
 * 0600); removed when this process exits, or earlier by removeKeyFile().
 */
export function createKeyFile(): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'pagewire-key-'));
  keyDirs.add(dir);
  const file = join(dir, 'cluster.key');
  writeFileSync(file, formatClusterKey(generateClusterKey()), { mode: 0o600, flag: 'wx' });
  return file;
}

export function removeKeyFile(file: string): void {
  const dir = join(file, '..');
  if (!keyDirs.delete(dir)) return;
  rmSync(dir, { recursive: true, force: true });
}

/** n distinct UDP ports that were free a moment ago on 127.0.0.1. */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise<dgram.Socket>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Kill every node process this process started (tests call it after each test). */
export async function killAllNodes(): Promise<void> {
  await Promise.all([...children].map((c) => new Promise<void>((r) => {
    c.once('exit', () => r());
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    else r();
  })));
}

/**
 * Start one `pagewire node --control` process with `args` (--listen, --peers, ...) and resolve once
 * it printed its ready line; reject if it exits first or takes longer than readyTimeoutMs.
 */
export function startNode(id: number, args: readonly string[], o: StartNodeOptions = {}): Promise<NodeProc> {
  const readyTimeoutMs = o.readyTimeoutMs ?? 15_000;
  const echo = o.echoStderr ?? true;
  const child = spawn(process.execPath, [CLI, 'node', '--id', String(id), ...args, '--control'], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stderrTail = '';
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    stderrTail = (stderrTail + text).slice(-2000);
    if (o.debugSink === undefined) {
      if (echo) process.stderr.write(d);
      return;
    }
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (!o.debugSink.offer(line) && echo) process.stderr.write(`${line}\n`);
  });
  child.stdin!.on('error', () => undefined); // EPIPE after a kill: the exit handler reports it
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const pending = new Map<number, { command: Record<string, unknown>; resolve: (a: ControlAnswer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const answerListeners = new Set<(command: Record<string, unknown>, answer: ControlAnswer) => void>();
  let seq = 0;
  let address = '';
  let pageSize = 0;
  let keyed = false;
  let onReady: ((line: Record<string, unknown>) => void) | undefined;
  const events: NodeEvent[] = [];
  const eventWaiters = new Set<(e: NodeEvent) => void>();

  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      process.stderr.write(`[node ${id}] ${line}\n`);
      return;
    }
    if (msg.event === 'ready') {
      onReady?.(msg);
      return;
    }
    if (typeof msg.event === 'string') {
      const e = msg as unknown as NodeEvent;
      // Trace events (the `watch` command) go to listeners only: they would crowd out the rest.
      if (e.event !== 'trace' && events.length < 10_000) events.push(e);
      for (const w of [...eventWaiters]) w(e);
      return;
    }
    const p = pending.get(msg.seq as number);
    if (p === undefined) return;
    pending.delete(msg.seq as number);
    clearTimeout(p.timer);
    p.resolve(msg as unknown as ControlAnswer);
    for (const l of [...answerListeners]) l(p.command, msg as unknown as ControlAnswer);
  });
  void exited.then(({ code, signal }) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ControlError(id, { code: 'CONTROL_ERR_EXITED', message: `exited (${signal ?? `code ${code}`}) before answering; stderr: ${stderrTail}` }));
    }
    pending.clear();
  });

  const send = (command: Record<string, unknown>, timeoutMs = 60_000): Promise<ControlAnswer> => {
    if (!proc.alive) return Promise.reject(new ControlError(id, { code: 'CONTROL_ERR_EXITED', message: 'not running' }));
    const s = ++seq;
    return new Promise<ControlAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(s);
        reject(new ControlError(id, { code: 'CONTROL_ERR_TIMEOUT', message: `did not answer ${String(command.cmd)} within ${timeoutMs} ms` }));
      }, timeoutMs);
      pending.set(s, { command, resolve, reject, timer });
      child.stdin!.write(JSON.stringify({ seq: s, ...command }) + '\n');
    });
  };
  const proc: NodeProc = {
    id, child, exited, send,
    get address() {
      return address;
    },
    get pageSize() {
      return pageSize;
    },
    get keyed() {
      return keyed;
    },
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    async call<T>(command: Record<string, unknown>, timeoutMs?: number): Promise<T> {
      const a = await send(command, timeoutMs);
      if (!a.ok) throw new ControlError(id, a.error);
      return a.value as T;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.alive) child.kill(signal);
      await exited;
    },
    stderr: () => stderrTail,
    events,
    onEvent(listener) {
      eventWaiters.add(listener);
      return () => eventWaiters.delete(listener);
    },
    onAnswer(listener) {
      answerListeners.add(listener);
      return () => answerListeners.delete(listener);
    },
    waitForEvent(match, timeoutMs) {
      const past = events.find(match);
      if (past !== undefined) return Promise.resolve(past);
      return new Promise<NodeEvent>((resolve, reject) => {
        const done = (f: () => void): void => {
          clearTimeout(timer);
          eventWaiters.delete(onEvent);
          f();
        };
        const onEvent = (e: NodeEvent): void => {
          if (match(e)) done(() => resolve(e));
        };
        const timer = setTimeout(() => done(() => reject(new ControlError(id, { code: 'CONTROL_ERR_TIMEOUT', message: `no matching event within ${timeoutMs} ms; events so far: ${JSON.stringify(events.slice(-10))}` }))), timeoutMs);
        eventWaiters.add(onEvent);
        void exited.then(() => done(() => reject(new ControlError(id, { code: 'CONTROL_ERR_EXITED', message: `exited before a matching event; stderr: ${stderrTail}` }))));
      });
    },
  };

  return new Promise<NodeProc>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${id} did not become ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    onReady = (msg) => {
      clearTimeout(timer);
      address = String(msg.address);
      pageSize = Number(msg.pageSize);
      keyed = msg.keyed === true;
      resolve(proc);
    };
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      const last = stderrTail.trim().split('\n').at(-1) ?? '';
      reject(Object.assign(new Error(`node ${id} exited (${signal ?? `code ${code}`}) before it was ready${last ? `: ${last}` : ''}`), { stderr: stderrTail }));
    });
  });
}

/**
 * Start one `pagewire node --control` process per id, on free loopback ports, each told about all
 * the others. If a port was taken between probing and binding, start over once with new ports.
 */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  installExitHook();
  const sink = o.debugLog !== undefined && process.env.DEBUG ? new DebugSink() : undefined;
  if (o.insecure === true && o.keyFile !== undefined) throw new Error('startCluster: insecure and keyFile exclude each other');
  const keyFile = o.insecure === true ? undefined : o.keyFile ?? createKeyFile();
  const keyArgs = keyFile === undefined ? [] : ['--key-file', keyFile];
  for (let attempt = 1; ; attempt++) {
    const ports = await freeUdpPorts(o.ids.length);
    const addr = (i: number) => `127.0.0.1:${ports[i]}`;
    const started = o.ids.map((id, i) => startNode(id, [
      '--listen', addr(i),
      '--peers', o.ids.map((p, j) => `${p}@${addr(j)}`).filter((_, j) => j !== i).join(','),
      ...keyArgs, ...(o.args ?? []), ...(o.argsFor?.(id) ?? []),
    ], { ...o, debugSink: sink }));
    const results = await Promise.allSettled(started);
    const nodes = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return makeCluster(nodes, sink && o.debugLog !== undefined ? { sink, path: o.debugLog } : undefined, keyFile);
    await Promise.all(nodes.map((n) => n.kill()));
    const stderr = String((failed.reason as { stderr?: unknown }).stderr ?? '');
    if (attempt < 2 && /EADDRINUSE|already in use/.test(stderr)) continue; // a port taken since it was probed
    if (keyFile !== undefined) removeKeyFile(keyFile);
    throw failed.reason;
  }
}

/** What a demo says about its cluster's traffic: sealed with this run's key, or clear text. */
export function securityLine(c: Cluster): string {
  const keyed = c.nodes.every((n) => n.keyed);
  if (keyed && c.keyFile !== undefined) {
    return `every datagram sealed (AES-256-GCM) with a fresh cluster key for this run (${c.keyFile}); --insecure for clear text`;
  }
  return 'clear text, no cluster key (--insecure): anyone on the network could read and forge this traffic';
}

function makeCluster(nodes: NodeProc[], debug: { sink: DebugSink; path: string } | undefined, keyFile: string | undefined): Cluster {
  let closing: Promise<void> | undefined;
  return {
    nodes,
    keyFile,
    debugLog: debug?.path,
    node(id) {
      const n = nodes.find((x) => x.id === id);
      if (n === undefined) throw new Error(`no node ${id} in this cluster`);
      return n;
    },
    close() {
      closing ??= Promise.all(nodes.map(async (n) => {
        if (!n.alive) return;
        n.call({ cmd: 'exit' }, 2_000).catch(() => undefined);
        n.child.stdin!.end();
        const t = setTimeout(() => n.kill('SIGKILL'), 3_000);
        await n.exited;
        clearTimeout(t);
      })).then(() => {
        if (keyFile !== undefined) removeKeyFile(keyFile);
        debug?.sink.write(debug.path);
      });
      return closing;
    },
  };
}
