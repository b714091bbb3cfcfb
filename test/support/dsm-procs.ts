/**
 * A cluster of real DSM node processes for the multi-process tests: each node is
 * `node dist/demos/cli.js node --id N --listen 127.0.0.1:PORT --peers ... --control`, driven over
 * its JSON-line control channel (demos/control.ts).
 *
 *   const [a, b] = await startNodes(2);
 *   const p = await a.call<number>({ cmd: 'alloc', bytes: 16 });
 *   await a.call({ cmd: 'write32', addr: p, value: 42 });
 *   expect(await b.call({ cmd: 'read32', addr: p })).toBe(42);
 *   ...
 *   afterEach(killAllNodes);
 *
 * Every answer is awaited with a bound (a hang fails the test, naming the command and the node's
 * stderr). Every process started here is SIGKILLed by killAllNodes().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const CLI_JS = resolve(process.cwd(), 'dist/demos/cli.js');

/** The sorted node ids' manager of a page, as IvyNode.managerOf computes it. */
export function managerOf(nodes: readonly number[], page: number): number {
  const sorted = [...nodes].sort((a, b) => a - b);
  return sorted[page % sorted.length]!;
}

/** An error answer of the control channel (a DsmError's fields, or CONTROL_ERR_*). */
export interface ControlError {
  readonly code: string;
  readonly message: string;
  readonly address?: number;
  readonly page?: number;
  readonly node?: number;
}

export type ControlAnswer =
  | { readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly seq: number; readonly ok: false; readonly error: ControlError };

/** Thrown by DsmProc.call() when the node answered ok:false; carries the node's error fields. */
export class ControlFailure extends Error {
  readonly code: string;
  readonly address: number | undefined;
  readonly page: number | undefined;
  readonly node: number | undefined;
  constructor(readonly from: number, readonly error: ControlError) {
    super(`node ${from}: ${error.code}: ${error.message}`);
    this.code = error.code;
    this.address = error.address;
    this.page = error.page;
    this.node = error.node;
  }
}

export interface DsmProc {
  readonly id: number;
  readonly address: string;
  readonly pageSize: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal name once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Send one command; resolves with the node's answer line (ok or not) within `timeoutMs`. */
  send(command: Record<string, unknown>, timeoutMs?: number): Promise<ControlAnswer>;
  /** send(), resolving with `value` when ok, rejecting with a ControlFailure otherwise. */
  call<T = unknown>(command: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** What the process wrote to stderr so far. */
  stderr(): string;
}

export interface StartOptions {
  /** Node ids. @default 1..n */
  readonly ids?: readonly number[];
  readonly pageSize?: number;
  readonly pages?: number;
  /** Extra CLI arguments for every node (e.g. ['--dead-after-ms', '1000']). */
  readonly args?: readonly string[];
  /** Bound on each node's ready line. @default 15_000 */
  readonly readyTimeoutMs?: number;
}

/** Default bound on one command's answer. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 20_000;

const live = new Set<ChildProcess>();

/** Free UDP ports on 127.0.0.1: bound all at once (so they are distinct), then released. */
export async function freePorts(n: number): Promise<number[]> {
  const socks: Socket[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createSocket('udp4');
      socks.push(s);
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(0, '127.0.0.1', () => res());
      });
    }
    return socks.map((s) => s.address().port);
  } finally {
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export function spawnNode(id: number, port: number, peers: string, o: StartOptions): { proc: DsmProc; ready: Promise<void> } {
  const args = [CLI_JS, 'node', '--id', String(id), '--listen', `127.0.0.1:${port}`, '--peers', peers, '--control'];
  if (o.pageSize !== undefined) args.push('--page-size', String(o.pageSize));
  if (o.pages !== undefined) args.push('--pages', String(o.pages));
  args.push(...(o.args ?? []));
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  child.stdin!.on('error', () => undefined); // EPIPE after a kill: the pending answers fail below
  // 'close', not 'exit': it comes after stdout has been read to the end, so a line printed just
  // before the process exited is never lost.
  const exited = new Promise<number | string>((r) => child.once('close', (code, signal) => {
    live.delete(child);
    r(code ?? signal ?? 'unknown');
  }));
  const pending = new Map<number, { resolve: (a: ControlAnswer) => void; reject: (e: Error) => void }>();
  let nextSeq = 1;
  let pageSize = 0;
  let out = '';
  let transcript = ''; // stdout so far, for failure messages
  let onReady: (() => void) | undefined;
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    if (transcript.length < 4096) transcript += b.toString().slice(0, 4096);
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      let m: { event?: string; pageSize?: number; seq?: number };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        continue; // not a control line
      }
      if (m.event === 'ready') {
        pageSize = m.pageSize ?? 0;
        onReady?.();
      } else if (typeof m.seq === 'number') {
        const p = pending.get(m.seq);
        pending.delete(m.seq);
        p?.resolve(m as ControlAnswer);
      }
    }
  });
  void exited.then((how) => {
    for (const p of pending.values()) p.reject(new Error(`node ${id} exited (${how}) before answering; stderr: ${err}`));
    pending.clear();
  });
  const ready = new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`node ${id} did not print its ready line within ${o.readyTimeoutMs ?? 15_000} ms; stderr: ${err}`)), o.readyTimeoutMs ?? 15_000);
    onReady = () => {
      clearTimeout(t);
      res();
    };
    void exited.then((how) => {
      clearTimeout(t);
      rej(Object.assign(new Error(`node ${id} exited (${how}) before it was ready; stdout: ${transcript}; stderr: ${err}`), { stderr: err }));
    });
  });
  const send = (command: Record<string, unknown>, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<ControlAnswer> => {
    const seq = nextSeq++;
    return new Promise<ControlAnswer>((res, rej) => {
      const t = setTimeout(() => {
        pending.delete(seq);
        rej(new Error(`node ${id} did not answer ${JSON.stringify(command)} within ${timeoutMs} ms; stderr: ${err}`));
      }, timeoutMs);
      pending.set(seq, {
        resolve: (a) => {
          clearTimeout(t);
          res(a);
        },
        reject: (e) => {
          clearTimeout(t);
          rej(e);
        },
      });
      child.stdin!.write(JSON.stringify({ seq, ...command }) + '\n');
    });
  };
  const proc: DsmProc = {
    id,
    address: `127.0.0.1:${port}`,
    get pageSize() {
      return pageSize;
    },
    child,
    exited,
    send,
    async call<T>(command: Record<string, unknown>, timeoutMs?: number): Promise<T> {
      const a = await send(command, timeoutMs);
      if (!a.ok) throw new ControlFailure(id, a.error);
      return a.value as T;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stderr: () => err,
  };
  return { proc, ready };
}

/**
 * Start `n` node processes on free loopback ports and wait for every ready line. Retries (a few
 * times) when a port picked as free was taken meanwhile by someone else.
 */
export async function startNodes(n: number, o: StartOptions = {}): Promise<DsmProc[]> {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run \`npx tsc -p .\` first`);
  const ids = o.ids ?? Array.from({ length: n }, (_, i) => i + 1);
  if (ids.length !== n) throw new Error(`startNodes(${n}): ${ids.length} ids given`);
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(n);
    const started = ids.map((id, i) => {
      const peers = ids.map((p, j) => (j === i ? '' : `${p}@127.0.0.1:${ports[j]}`)).filter((s) => s !== '').join(',');
      return spawnNode(id, ports[i]!, peers, o);
    });
    const results = await Promise.allSettled(started.map((s) => s.ready));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return started.map((s) => s.proc);
    await Promise.all(started.map((s) => s.proc.kill()));
    const addrInUse = /EADDRINUSE/.test(String((failed.reason as Error)?.message));
    if (!addrInUse || attempt >= 3) throw failed.reason;
  }
}

/** SIGKILL every node process started by startNodes() and wait until all are gone. */
export async function killAllNodes(): Promise<void> {
  await Promise.all([...live].map((c) => new Promise<void>((r) => {
    c.once('close', () => r());
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  })));
}

/** Poll `probe` until it returns a non-undefined value; fail after `timeoutMs` naming `what`. */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
