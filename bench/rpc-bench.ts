/**
 * RPC benchmark: pagewire's at-most-once RPC over its UDP transport, against raw node:dgram
 * ping-pong (the floor) and @grpc/grpc-js unary calls (the usual alternative), all on loopback
 * with the server in a separate process (bench/rpc-server.ts). See `--help`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createEndpoint, generateClusterKey, type UdpEndpoint } from '../transport/index.js';
import { FIXED_HEADER_BYTES, CRC_BYTES } from '../transport/wire.js';
import { RpcClient } from '../rpc/runtime/index.js';
import { encodeRequestBody, frame, MsgType } from '../rpc/runtime/wire.js';
import { LabClient, LabDescriptor } from '../rpc/examples/lab.stubs.js';
import { waitForReady } from '../demos/child.js';
import { parseBenchArgs, percentile, round, pad, lpad } from './stats.js';
import { chainHash } from '../rpc/examples/lab-handlers.js';
import { GRPC_SERVICE } from './rpc-server.js';
import { canPin, pinnedNode, pinSelf } from './affinity.js';
import { startBenchTrace } from './trace.js';

const USAGE = `usage: node dist/bench/rpc-bench.js [--quick] [--json]   (or: npm run bench:rpc -- [flags])

Measures, with every server in its own child process on loopback:
  - null-call latency p50/p99: pagewire RPC (Lab.nop) vs raw node:dgram ping-pong of the same
    datagram size vs @grpc/grpc-js unary (empty message); and the same null call between keyed
    endpoints (every datagram sealed with a cluster key), measured interleaved with the unkeyed one,
    and both again at the end with client and servers pinned to two cores, as two hosts would run them;
  - pipelined throughput with 64 calls outstanding: pagewire RPC vs grpc-js;
  - datagrams per call: transport datagrams sent by both endpoints over N sequential calls / N;
  - thread pool: 8 concurrent CPU-bound calls (~20 ms of SHA-256 each), inline on the server's
    event loop vs in its piscina pool.
Each system is warmed up before it is measured.

  --quick   small counts, for a smoke test (numbers are not meaningful)
  --json    print one JSON object as the last line
  --trace DIR  trace everything (this process and the servers write DIR/node-*.jsonl): what tracing costs
  --help    this text
`;

const args = parseBenchArgs(process.argv.slice(2), { quick: 'flag', json: 'flag', trace: 'value' }, USAGE);
const TRACE = startBenchTrace(args['trace']);
const QUICK = args['quick'] === true;
const JSON_OUT = args['json'] === true;

const C = QUICK
  ? { warm: 100, lat: 300, grpcLat: 200, tput: 1_000, grpcTput: 500, dgram: 200, poolCalls: 8, poolMs: 5, poolReps: 1 }
  : { warm: 3_000, lat: 20_000, grpcLat: 5_000, tput: 100_000, grpcTput: 20_000, dgram: 10_000, poolCalls: 8, poolMs: 20, poolReps: 5 };
const OUTSTANDING = 64;

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_JS = join(here, 'rpc-server.js');
const children = new Set<ChildProcess>();

function log(line: string): void {
  if (!JSON_OUT) process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
}

/** The cluster key of the keyed RPC server and client (handed to the child in its environment). */
const KEY = generateClusterKey();

async function startServer(system: 'rpc' | 'rpc-keyed' | 'raw' | 'grpc', cpu?: number): Promise<{ address: string; port: number; stop: () => Promise<void> }> {
  const args = [SERVER_JS, system, ...(system === 'rpc' || system === 'rpc-keyed' ? TRACE.childArgs : [])];
  const [cmd, argv] = cpu === undefined ? [process.execPath, args] : pinnedNode(cpu, args);
  const child = spawn(cmd, argv, {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, PAGEWIRE_BENCH_KEY: Buffer.from(KEY).toString('hex') },
  });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => {
    children.delete(child);
    r();
  }));
  const address = await waitForReady(child, exited, 15_000, `${system} server`);
  return {
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    stop: async () => {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Time `n` sequential calls of `f`, after `warm` unmeasured ones; microseconds per call. */
async function sequential(warm: number, n: number, f: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warm; i++) await f();
  const us: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    us[i] = (performance.now() - t) * 1000;
  }
  return us;
}

/** `n` calls with `outstanding` in flight at a time; calls per second. */
async function pipelined(n: number, outstanding: number, f: () => Promise<unknown>): Promise<number> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < n) {
      started++;
      await f();
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: outstanding }, lane));
  return n / ((performance.now() - t) / 1000);
}

// ------------------------------------------------------------------ pagewire RPC

interface RpcResults {
  p50: number; p99: number; callsPerS: number; datagramsPerCall: number; requestBytes: number; poolMs: number; inlineMs: number; rounds: number; poolThreadIds: number[];
  keyedP50: number; keyedP99: number; keyedCallsPerS: number;
}

async function benchRpc(): Promise<RpcResults> {
  const srv = await startServer('rpc');
  const srvK = await startServer('rpc-keyed');
  let ep: UdpEndpoint | undefined;
  let rpc: RpcClient | undefined;
  let epK: UdpEndpoint | undefined;
  let rpcK: RpcClient | undefined;
  try {
    ep = await createEndpoint({ nodeId: 'bench-cli' });
    rpc = new RpcClient(ep, { server: srv.address, probeTimeoutMs: 10_000 });
    const lab = new LabClient(rpc);
    const nop = () => lab.nop();
    epK = await createEndpoint({ nodeId: 'bench-cli-keyed', key: KEY });
    rpcK = new RpcClient(epK, { server: srvK.address, probeTimeoutMs: 10_000 });
    const labK = new LabClient(rpcK);
    const nopK = () => labK.nop();

    // Latency (sequential null calls), after warming up; unkeyed and keyed in alternating
    // rounds, so both see the same load on the machine.
    await sequential(C.warm, 0, nop);
    await sequential(C.warm, 0, nopK);
    const us: number[] = [];
    const kus: number[] = [];
    for (let r = 0; r < 8; r++) {
      us.push(...(await sequential(0, Math.ceil(C.lat / 8), nop)));
      kus.push(...(await sequential(0, Math.ceil(C.lat / 8), nopK)));
    }
    await pipelined(C.warm, OUTSTANDING, nopK);
    const keyedCallsPerS = await pipelined(C.tput, OUTSTANDING, nopK);
    const kb = epK.stats().bad;
    if (kb.auth + kb.replay > 0) throw new Error(`the keyed client dropped ${kb.auth} unauthenticated and ${kb.replay} replayed datagrams`);

    // Datagrams per call: both endpoints' transport counters across N sequential calls. The
    // server's counter is read through Lab.counts(), whose own exchange is subtracted.
    const serverSent = async (): Promise<number> => (JSON.parse(await lab.counts()) as { datagramsSent: number }).datagramsSent;
    const s0 = await serverSent();
    const c0 = ep.stats().datagramsSent;
    for (let i = 0; i < C.dgram; i++) await nop();
    const s1 = await serverSent();
    const c1 = ep.stats().datagramsSent;
    // The counts() pair adds one request (c) and one reply (s) inside the window.
    const datagramsPerCall = (s1 - s0 + (c1 - c0) - 2) / C.dgram;

    // Throughput: 64 outstanding.
    await pipelined(C.warm, OUTSTANDING, nop);
    const callsPerS = await pipelined(C.tput, OUTSTANDING, nop);

    // Thread pool vs inline: calibrate ~poolMs of hashing on this machine.
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      chainHash(2_000, 'calibrate');
      best = Math.min(best, performance.now() - t);
    }
    const rounds = Math.max(100, Math.round(2_000 * C.poolMs / best));
    const seeds = Array.from({ length: C.poolCalls }, (_, i) => `seed-${i}`);
    const expected = seeds.map((s) => chainHash(rounds, s).hex);
    await Promise.all(seeds.map((s) => lab.hash(rounds, s))); // warm: start the workers, load the module
    await Promise.all(seeds.map((s) => lab.hashInline(rounds, s)));
    const wall = async (f: (s: string) => Promise<{ hex: string; threadId: number }>): Promise<{ ms: number; threads: number[] }> => {
      const t0 = performance.now();
      const out = await Promise.all(seeds.map(f));
      const ms = performance.now() - t0;
      out.forEach((o, i) => {
        if (o.hex !== expected[i]) throw new Error(`wrong digest for ${seeds[i]}`);
      });
      return { ms, threads: out.map((o) => o.threadId) };
    };
    // One batch is ~100-200 ms and noisy on a small machine: alternate batches, take the medians.
    const inlineMs: number[] = [];
    const poolMs: number[] = [];
    const threads = new Set<number>();
    for (let rep = 0; rep < C.poolReps; rep++) {
      const inline = await wall((s) => lab.hashInline(rounds, s));
      const pool = await wall((s) => lab.hash(rounds, s));
      if (pool.threads.some((id) => id === 0) || inline.threads.some((id) => id !== 0)) throw new Error('pool/inline ran on unexpected threads');
      inlineMs.push(inline.ms);
      poolMs.push(pool.ms);
      for (const id of pool.threads) threads.add(id);
    }

    const requestBytes = FIXED_HEADER_BYTES + CRC_BYTES
      + frame(MsgType.REQUEST, { clientId: 1n, clientInc: 1, seq: 1, serverInc: 1, ackBelow: 1 }, encodeRequestBody('Lab', LabDescriptor.version, 1, 'nop', [])).length;
    return {
      p50: percentile(us, 50), p99: percentile(us, 99), callsPerS, datagramsPerCall, requestBytes,
      poolMs: percentile(poolMs, 50), inlineMs: percentile(inlineMs, 50), rounds, poolThreadIds: [...threads].sort((a, b) => a - b),
      keyedP50: percentile(kus, 50), keyedP99: percentile(kus, 99), keyedCallsPerS,
    };
  } finally {
    await rpc?.close();
    await ep?.close();
    await rpcK?.close();
    await epK?.close();
    await srv.stop();
    await srvK.stop();
  }
}

// ------------------------------------------------------------------ raw dgram

async function benchRaw(size: number): Promise<{ p50: number; p99: number }> {
  const srv = await startServer('raw');
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const payload = Buffer.alloc(size, 7);
    let waiting: (() => void) | undefined;
    s.on('message', () => {
      const w = waiting;
      waiting = undefined;
      w?.();
    });
    // Loopback does not lose a lone datagram; a bound keeps a surprise from hanging the run.
    const ping = () => new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('raw ping-pong: no echo within 1 s')), 1_000);
      waiting = () => {
        clearTimeout(t);
        res();
      };
      s.send(payload, srv.port, '127.0.0.1');
    });
    const us = await sequential(C.warm, C.lat, ping);
    return { p50: percentile(us, 50), p99: percentile(us, 99) };
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
    await srv.stop();
  }
}

// ------------------------------------------------------------------ grpc-js

async function benchGrpc(): Promise<{ p50: number; p99: number; callsPerS: number }> {
  const srv = await startServer('grpc');
  const Ctor = grpc.makeGenericClientConstructor(GRPC_SERVICE as unknown as grpc.ServiceDefinition, 'Bench');
  const client = new Ctor(srv.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    echo(req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void;
  };
  try {
    const empty = Buffer.alloc(0);
    const call = () => new Promise<Buffer | undefined>((res, rej) => client.echo(empty, (e, r) => (e ? rej(e) : res(r))));
    const us = await sequential(C.warm, C.grpcLat, call);
    await pipelined(Math.min(C.warm, C.grpcTput), OUTSTANDING, call);
    const callsPerS = await pipelined(C.grpcTput, OUTSTANDING, call);
    return { p50: percentile(us, 50), p99: percentile(us, 99), callsPerS };
  } finally {
    client.close();
    await srv.stop();
  }
}

// ------------------------------------------------------------------ keyed, on two cores

/**
 * Null-call latency unkeyed and keyed, interleaved, with both servers pinned to CPU 1 and this
 * process to CPU 0 (bench/affinity.ts; it stays pinned: this is the last measurement).
 */
async function benchPinned(): Promise<{ p50: number; keyedP50: number }> {
  const srv = await startServer('rpc', 1);
  const srvK = await startServer('rpc-keyed', 1);
  pinSelf(0);
  const ep = await createEndpoint({ nodeId: 'bench-cli-pinned' });
  const epK = await createEndpoint({ nodeId: 'bench-cli-pinned-keyed', key: KEY });
  const rpc = new RpcClient(ep, { server: srv.address, probeTimeoutMs: 10_000 });
  const rpcK = new RpcClient(epK, { server: srvK.address, probeTimeoutMs: 10_000 });
  try {
    const lab = new LabClient(rpc);
    const labK = new LabClient(rpcK);
    await sequential(C.warm, 0, () => lab.nop());
    await sequential(C.warm, 0, () => labK.nop());
    const us: number[] = [];
    const kus: number[] = [];
    for (let r = 0; r < 8; r++) {
      us.push(...(await sequential(0, Math.ceil(C.lat / 8), () => lab.nop())));
      kus.push(...(await sequential(0, Math.ceil(C.lat / 8), () => labK.nop())));
    }
    return { p50: percentile(us, 50), keyedP50: percentile(kus, 50) };
  } finally {
    await rpc.close();
    await rpcK.close();
    await ep.close();
    await epK.close();
    await srv.stop();
    await srvK.stop();
  }
}

// ------------------------------------------------------------------ main


async function main(): Promise<void> {
  log(`pagewire RPC benchmark${QUICK ? ' (--quick: small counts, numbers not meaningful)' : ''}: node ${process.version}, ${availableParallelism()} CPUs, loopback, every server in its own process`);
  const rpc = await benchRpc();
  const raw = await benchRaw(rpc.requestBytes);
  const g = await benchGrpc();
  const pinned = canPin() ? await benchPinned() : undefined;

  const vsRaw = rpc.p50 / raw.p50;
  const grpcP50Ratio = g.p50 / rpc.p50;
  const tputRatio = rpc.callsPerS / g.callsPerS;
  const poolSpeedup = rpc.inlineMs / rpc.poolMs;
  const keyedOverPlain = rpc.keyedP50 / rpc.p50;
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

  log('');
  log(`null-call latency (${C.lat.toLocaleString('en')} sequential calls; grpc-js ${C.grpcLat.toLocaleString('en')}; raw datagrams of ${rpc.requestBytes} B, the size of the RPC request datagram)`);
  log(`  ${pad('system', 26)}${lpad('p50 µs', 10)}${lpad('p99 µs', 10)}${lpad('p50 / pagewire', 16)}`);
  const keyed = { p50: rpc.keyedP50, p99: rpc.keyedP99 };
  for (const [name, r] of [['pagewire RPC over UDP', rpc], ['  keyed (AES-256-GCM)', keyed], ['raw node:dgram ping-pong', raw], ['@grpc/grpc-js unary', g]] as const) {
    log(`  ${pad(name, 26)}${lpad(round(r.p50).toFixed(1), 10)}${lpad(round(r.p99).toFixed(1), 10)}${lpad(`${round(r.p50 / rpc.p50, 2).toFixed(2)}x`, 16)}`);
  }
  log('');
  log(`throughput (${OUTSTANDING} calls outstanding; ${C.tput.toLocaleString('en')} calls, grpc-js ${C.grpcTput.toLocaleString('en')})`);
  log(`  ${pad('pagewire RPC over UDP', 26)}${lpad(Math.round(rpc.callsPerS).toLocaleString('en'), 10)} calls/s`);
  log(`  ${pad('  keyed (AES-256-GCM)', 26)}${lpad(Math.round(rpc.keyedCallsPerS).toLocaleString('en'), 10)} calls/s`);
  log(`  ${pad('@grpc/grpc-js unary', 26)}${lpad(Math.round(g.callsPerS).toLocaleString('en'), 10)} calls/s`);
  log('');
  log(`datagrams per call (both endpoints, ${C.dgram.toLocaleString('en')} sequential null calls): ${round(rpc.datagramsPerCall, 3)}`);
  log('');
  log(`thread pool: ${C.poolCalls} concurrent calls of ~${C.poolMs} ms CPU each (${rpc.rounds} SHA-256 rounds), wall time, median of ${C.poolReps} batches`);
  log(`  ${pad('inline (event loop)', 26)}${lpad(round(rpc.inlineMs).toFixed(1), 10)} ms`);
  log(`  ${pad(`piscina pool (${availableParallelism()} threads)`, 26)}${lpad(round(rpc.poolMs).toFixed(1), 10)} ms   speedup ${round(poolSpeedup, 2)}x (worker threads ${rpc.poolThreadIds.join(', ')})`);
  log('');
  log('targets');
  log(`  p50 within 2x of raw dgram:           ${round(vsRaw, 2)}x  ${met(vsRaw <= 2)}`);
  log(`  p50 >= 5x lower than grpc-js:         ${round(grpcP50Ratio, 2)}x  ${met(grpcP50Ratio >= 5)}`);
  log(`  throughput >= 5x grpc-js:             ${round(tputRatio, 2)}x  ${met(tputRatio >= 5)}`);
  log(`  datagrams per call close to 2:        ${round(rpc.datagramsPerCall, 3)}  ${met(rpc.datagramsPerCall <= 2.1)}`);
  log(`  keyed p50 within 1.25x of unkeyed:    ${round(keyedOverPlain, 2)}x  ${met(keyedOverPlain <= 1.25)}   (client and server may share a core)`);
  if (pinned !== undefined) {
    const r = pinned.keyedP50 / pinned.p50;
    log(`    pinned to two cores (as two hosts):  ${round(r, 2)}x  ${met(r <= 1.25)}   (p50 ${round(pinned.p50).toFixed(1)} µs unkeyed, ${round(pinned.keyedP50).toFixed(1)} µs keyed)`);
  }
  log('');
  log(TRACE.describe);

  if (JSON_OUT) {
    const out = {
      quick: QUICK, trace: args['trace'] !== undefined,
      p50_us: round(rpc.p50, 1), p99_us: round(rpc.p99, 1),
      raw_p50_us: round(raw.p50, 1), raw_p99_us: round(raw.p99, 1),
      grpc_p50_us: round(g.p50, 1), grpc_p99_us: round(g.p99, 1),
      p50_vs_raw: round(vsRaw, 3), grpc_p50_over_rpc: round(grpcP50Ratio, 3),
      calls_per_s: Math.round(rpc.callsPerS), grpc_calls_per_s: Math.round(g.callsPerS), throughput_vs_grpc: round(tputRatio, 3),
      datagrams_per_call: round(rpc.datagramsPerCall, 3), request_datagram_bytes: rpc.requestBytes,
      pool_ms: round(rpc.poolMs, 1), inline_ms: round(rpc.inlineMs, 1), pool_speedup: round(poolSpeedup, 3),
      keyed_rtt_p50_us: round(rpc.keyedP50, 1), keyed_rtt_p99_us: round(rpc.keyedP99, 1), keyed_over_plain: round(keyedOverPlain, 3),
      keyed_calls_per_s: Math.round(rpc.keyedCallsPerS),
      ...(pinned === undefined ? {} : {
        p50_us_separate_cores: round(pinned.p50, 1), keyed_rtt_p50_us_separate_cores: round(pinned.keyedP50, 1),
        keyed_over_plain_separate_cores: round(pinned.keyedP50 / pinned.p50, 3),
      }),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

try {
  await main();
} catch (e) {
  process.stderr.write(`rpc-bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
} finally {
  TRACE.close();
  for (const c of children) c.kill('SIGKILL');
}
