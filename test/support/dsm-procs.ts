/**
 * A cluster of real DSM node processes for the multi-process tests, on the same launcher code the
 * demos use (demos/cluster.ts): each node is `pagewire node --id N --listen ... --peers ... --control`
 * run from dist/, driven over its JSON-line control channel (demos/control.ts).
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
import { existsSync } from 'node:fs';
import {
  CLI, freeUdpPorts, killAllNodes, startCluster, startNode, type ControlErrorFields, type NodeProc,
} from '../../demos/cluster.js';

export { managerOf } from '../../dsm/protocol/index.js';
export { ControlError as ControlFailure } from '../../demos/cluster.js';
export { freeUdpPorts as freePorts, killAllNodes };
export type DsmProc = NodeProc;
export type ControlError = ControlErrorFields;

/** Default bound on one command's answer. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 20_000;

export interface StartOptions {
  /** Node ids. @default 1..n */
  readonly ids?: readonly number[];
  readonly pageSize?: number;
  readonly pages?: number;
  /** Extra CLI arguments for every node (e.g. ['--dead-after-ms', '1000']). */
  readonly args?: readonly string[];
  /** Bound on each node's ready line. @default 15_000 */
  readonly readyTimeoutMs?: number;
  /**
   * Wait until every node has heard from every other one (its "peer N up" events), so a test that
   * kills a node right away kills one the others know is up (a node nobody ever heard from is
   * "not up yet", never declared dead). @default true
   */
  readonly allUp?: boolean;
}

function nodeArgs(o: StartOptions): string[] {
  return [
    ...(o.pageSize !== undefined ? ['--page-size', String(o.pageSize)] : []),
    ...(o.pages !== undefined ? ['--pages', String(o.pages)] : []),
    ...(o.args ?? []),
  ];
}

/** Commands answered within DEFAULT_COMMAND_TIMEOUT_MS unless a test says otherwise. */
function bounded(p: NodeProc): DsmProc {
  const send = p.send.bind(p);
  const call = p.call.bind(p);
  return Object.assign(p, {
    send: (c: Record<string, unknown>, t = DEFAULT_COMMAND_TIMEOUT_MS) => send(c, t),
    call: <T>(c: Record<string, unknown>, t = DEFAULT_COMMAND_TIMEOUT_MS) => call<T>(c, t),
  });
}

/** Start `n` node processes on free loopback ports and wait for every ready line. */
export async function startNodes(n: number, o: StartOptions = {}): Promise<DsmProc[]> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p .\` first`);
  const ids = o.ids ?? Array.from({ length: n }, (_, i) => i + 1);
  if (ids.length !== n) throw new Error(`startNodes(${n}): ${ids.length} ids given`);
  const c = await startCluster({ ids, args: nodeArgs(o), readyTimeoutMs: o.readyTimeoutMs, echoStderr: false });
  if (o.allUp ?? true) {
    await Promise.all(c.nodes.flatMap((n) => ids.filter((j) => j !== n.id).map((j) =>
      n.waitForEvent((e) => e.event === 'membership' && e.kind === 'up' && e.node === j, o.readyTimeoutMs ?? 15_000))));
  }
  return c.nodes.map(bounded);
}

/** Start one node on `port` that knows `peers` ("2@127.0.0.1:7002,..."), e.g. to start a cluster node by node. */
export async function spawnNode(id: number, port: number, peers: string, o: StartOptions = {}): Promise<DsmProc> {
  const p = await startNode(id, ['--listen', `127.0.0.1:${port}`, '--peers', peers, ...nodeArgs(o)], { readyTimeoutMs: o.readyTimeoutMs, echoStderr: false });
  return bounded(p);
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
