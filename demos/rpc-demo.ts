/**
 * npm run demo:rpc — the chapter's RPC example, run: the interface
 *
 *   interface { int func1(int arg1); int func2(int arg1, int arg2); };     (rpc/examples/chapter.rpc)
 *
 * compiled by the stub generator into rpc/examples/chapter.stubs.ts, with the server in a child
 * process and the client here, over the UDP transport. Prints each call and its result, the
 * datagrams a call costs (the chapter's case for RPC over an unreliable layer: a request and a
 * reply, with the acks riding on them), what the stubs do with bad arguments and results, and,
 * with --loss, that every call still ran exactly once on the server. Exits 0 only if all of that held.
 *
 *   npm run demo:rpc -- --loss 0.2 --calls 500
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEndpoint, type EndpointOptions, type UdpEndpoint } from '../transport/index.js';
import { RpcClient, RpcServer, type RpcServerStats } from '../rpc/runtime/index.js';
import { isRpcError } from '../rpc/index.js';
import { ChapterClient, ChapterDescriptor, type ChapterHandlers } from '../rpc/examples/chapter.stubs.js';
import { demoKey, demoKeyFromEnv, helpCommand, intArg, keyLine, MAX_LOSS, parseDemoArgs, probabilityArg, runMain } from './args.js';
import { startTraceWriter, type TraceWriter } from '../trace/index.js';
import { traceDirArg, writeTraceHtml } from './trace-output.js';

const USAGE = `usage: npm run demo:rpc [-- options]      (or: node dist/demos/rpc-demo.js [options])

The chapter's interface { int func1(int arg1); int func2(int arg1, int arg2); }, client here,
server in a child process, over UDP. The server computes func1(x) = x * x and func2(a, b) = a + b.

  --calls N   sequential calls measured for datagrams per call (10..100000, default 200)
  --loss P    both processes drop each datagram they send with probability P (0..${MAX_LOSS}, default 0)
  --seed N    fault-injection seed (default 1)
  --trace DIR both processes write their trace to DIR; the demo draws DIR/trace.html
  --insecure  no cluster key: clear text (default: a fresh key for this run, every datagram sealed)
  --help      this text

DEBUG=pagewire:* shows every RPC message and transport datagram (decoded, after decryption).
`;

interface ServerReport {
  datagramsSent: number;
  retransmits: number;
  rpc: RpcServerStats;
}

const handlers: ChapterHandlers = {
  func1: (x) => x * x,
  func2: (a, b) => a + b,
};

function transportOptions(loss: number, seed: number, key: Uint8Array | undefined): Omit<EndpointOptions, 'nodeId'> {
  return { key, ...(loss > 0 ? { faults: { seed, outbound: { drop: loss } }, minCwnd: 16, giveUpMs: 10_000 } : {}) };
}

/** The child: serve Chapter, print the address, answer "stats" lines, exit when stdin ends. */
async function serve(loss: number, seed: number, traceDir: string | undefined): Promise<number> {
  const writer = traceDir !== undefined ? startTraceWriter(traceDir) : undefined;
  const ep = await createEndpoint({ nodeId: 'server', ...transportOptions(loss, seed + 1, demoKeyFromEnv()) });
  const server = new RpcServer(ep);
  server.serve(ChapterDescriptor, handlers);
  process.stdout.write(`${ep.address}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'stats') process.stdout.write(JSON.stringify({
      datagramsSent: ep.stats().datagramsSent, retransmits: ep.stats().peers.reduce((a, p) => a + p.retransmits, 0), rpc: server.stats(),
    } satisfies ServerReport) + '\n');
  }
  await server.close();
  await ep.close();
  writer?.close();
  return 0;
}

const say = (s = ''): void => void process.stdout.write(s + '\n');

async function main(): Promise<number> {
  const { values: v, flags, help } = parseDemoArgs(process.argv.slice(2), ['calls', 'loss', 'seed', 'trace'], ['server', 'insecure']);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const calls = intArg(v.calls, 'calls', 10, 100_000, 200);
  const loss = probabilityArg(v.loss, 'loss', MAX_LOSS, 0);
  const seed = intArg(v.seed, 'seed', 0, 2 ** 20, 1);
  const traceDir = traceDirArg(v.trace);
  if (flags.has('server')) return serve(loss, seed, traceDir);

  const writer: TraceWriter | undefined = traceDir !== undefined ? startTraceWriter(traceDir) : undefined;
  const { key, env } = demoKey(flags.has('insecure'));
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--server', '--loss', String(loss), '--seed', String(seed), ...(traceDir ? ['--trace', traceDir] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'], env,
  });
  const killChild = (): void => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  process.on('exit', killChild);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
  let ep: UdpEndpoint | undefined;
  let rpc: RpcClient | undefined;
  try {
    return await client(child, calls, loss, seed, key, (e, r) => ((ep = e), (rpc = r)));
  } finally {
    await rpc?.close();
    await ep?.close();
    child.stdin!.end();
    const t = setTimeout(killChild, 2_000);
    await (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined);
    clearTimeout(t);
    if (writer !== undefined && traceDir !== undefined) {
      writer.close();
      say(writeTraceHtml(traceDir, { title: 'pagewire demo:rpc: the chapter\'s interface over UDP' }).summary);
    }
  }
}

async function client(
  child: ChildProcess, calls: number, loss: number, seed: number, key: Uint8Array | undefined, keep: (ep: UdpEndpoint, rpc: RpcClient) => void,
): Promise<number> {
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = once(child, 'exit').then(() => ({ done: true, value: undefined }));
  const nextLine = async (what: string): Promise<string> => {
    const r = await Promise.race([lines.next(), exited]);
    if (r.done) throw new Error(`the server process exited before sending ${what}`);
    return r.value as string;
  };
  const serverStats = async (): Promise<ServerReport> => {
    child.stdin!.write('stats\n');
    return JSON.parse(await nextLine('its stats')) as ServerReport;
  };
  const failures: string[] = [];
  const check = (ok: boolean, what: string): void => void (ok || failures.push(what));

  const server = await nextLine('its address');
  const ep = await createEndpoint({ nodeId: 'client', ...transportOptions(loss, seed, key) });
  const rpc = new RpcClient(ep, { server });
  keep(ep, rpc);
  const chapter = new ChapterClient(rpc);

  say('pagewire RPC demo: the chapter\'s interface, client and server in separate processes over UDP');
  say('  interface { int func1(int arg1); int func2(int arg1, int arg2); };   (rpc/examples/chapter.rpc)');
  say(`  client stubs: ChapterClient, server stubs: ChapterHandlers   (rpc/examples/chapter.stubs.ts, made by pagewire-rpcgen)`);
  say(`  server: pid ${child.pid} at ${server}, func1(x) = x * x, func2(a, b) = a + b; client at ${ep.address}`);
  say(`  ${keyLine(key)}`);
  if (loss > 0) say(`  fault injection: both processes drop ${Math.round(loss * 1000) / 10}% of the datagrams they send (seed ${seed})`);
  say('');

  // 1. A few calls, one at a time: result, latency, and the datagrams both sides sent for it.
  say('1. calls, one at a time (datagrams = sent by both processes during the call):');
  const examples: [string, () => Promise<number>, number][] = [
    ['func1(7)', () => chapter.func1(7), 49],
    ['func2(3, 4)', () => chapter.func2(3, 4), 7],
    ['func1(-12)', () => chapter.func1(-12), 144],
    ['func2(2147483600, 47)', () => chapter.func2(2147483600, 47), 2147483647],
  ];
  for (const [text, call, want] of examples) {
    const before = ep.stats().datagramsSent + (await serverStats()).datagramsSent;
    const t0 = performance.now();
    const got = await call();
    const us = (performance.now() - t0) * 1000;
    const after = ep.stats().datagramsSent + (await serverStats()).datagramsSent;
    check(got === want, `${text} returned ${got}, expected ${want}`);
    say(`   ${text.padEnd(22)} = ${String(got).padEnd(11)} ${Math.round(us)} us, ${after - before} datagrams`);
  }

  // 2. Typed errors from the stubs' validation.
  say('');
  say('2. what the stubs refuse (typed errors, stable codes):');
  const refusals: [string, () => Promise<number>, string, string][] = [
    ['func1(1.5)', () => chapter.func1(1.5), 'RPC_ERR_INVALID_ARGS', 'the client stub checks arguments before sending'],
    ['func1(100000)', () => chapter.func1(100_000), 'RPC_ERR_INVALID_RESULT', '10^10 is not an int: the server ran it, its stub refused the result'],
  ];
  for (const [text, call, code, why] of refusals) {
    let got = 'no error';
    let executed = '';
    try {
      await call();
    } catch (e) {
      got = isRpcError(e) ? e.code : String((e as { code?: unknown }).code ?? e);
      executed = isRpcError(e) ? ` (executed: ${e.executed})` : '';
    }
    check(got === code, `${text}: expected ${code}, got ${got}`);
    say(`   ${text.padEnd(22)} → ${got}${executed}: ${why}`);
  }

  // 3. Many sequential calls: datagrams per call.
  say('');
  const s0 = await serverStats();
  const c0 = ep.stats();
  const r0 = rpc.stats();
  const t0 = performance.now();
  let wrong = 0;
  for (let i = 0; i < calls; i++) if ((await chapter.func2(i, i)) !== 2 * i) wrong++;
  const ms = performance.now() - t0;
  const s1 = await serverStats();
  const c1 = ep.stats();
  // The two "stats" exchanges are on stdin/stdout, not UDP; subtract nothing but the calls' own traffic.
  const dgrams = c1.datagramsSent - c0.datagramsSent + (s1.datagramsSent - s0.datagramsSent);
  const retx = c1.peers.reduce((a, p) => a + p.retransmits, 0) - c0.peers.reduce((a, p) => a + p.retransmits, 0);
  check(wrong === 0, `${wrong} of ${calls} func2 calls returned a wrong sum`);
  say(`3. ${calls} sequential func2 calls in ${Math.round(ms)} ms (${Math.round((ms * 1000) / calls)} us per call): ${dgrams} datagrams = ${(dgrams / calls).toFixed(2)} per call`);
  say(`   a request and a reply per call: each carries the acknowledgement of the other (no separate ack datagrams)`);
  if (loss > 0) say(`   ${retx} client retransmissions, ${s1.retransmits - s0.retransmits} server retransmissions: lost requests and replies sent again by the transport`);

  // 4. Concurrent calls (every stub returns a Promise).
  const conc = Math.min(calls, 100);
  const tc = performance.now();
  const results = await Promise.all(Array.from({ length: conc }, (_, i) => chapter.func1(i)));
  check(results.every((r, i) => r === i * i), 'a concurrent func1 call returned a wrong square');
  say(`4. ${conc} concurrent func1 calls (asynchronous stubs, one Promise each) in ${Math.round(performance.now() - tc)} ms`);

  // 5. At most once: the server ran each call exactly once, even when datagrams were lost and resent.
  const s2 = await serverStats();
  const r2 = rpc.stats();
  const ran = s2.rpc.executed - s0.rpc.executed;
  const made = r2.calls - r0.calls;
  check(ran === made, `the server ran ${ran} handlers for ${made} calls`);
  say(`5. the server ran ${ran} handlers for ${made} calls: each exactly once` +
    (loss > 0 ? ` (${s2.rpc.requests - s0.rpc.requests} requests received: the transport resent lost datagrams and dropped duplicates)` : ''));

  say('');
  if (failures.length > 0) {
    say(`NOT as expected (${failures.length}):`);
    for (const f of failures) say(`  - ${f}`);
    return 1;
  }
  say('as expected: every call returned the right result, bad arguments and results were refused with typed errors');
  return 0;
}

runMain('pagewire demo:rpc', helpCommand('demo:rpc'), main);
