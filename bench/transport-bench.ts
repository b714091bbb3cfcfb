/**
 * npm run bench:transport [-- --json] [-- --quick] [-- --pin CPU] [-- --rounds N]
 *
 * One run, client here and server in a child process, three systems side by side: raw node:dgram
 * (the floor: no reliability at all), pagewire's transport, and udx-native (the native reliable
 * UDP a Node user would otherwise pick; bench/udx-peer.ts). The systems are interleaved over
 * several rounds (their order rotating), and each figure is the median of its rounds, so every
 * system sees the same machine load. With `--pin CPU` every process (client and server) runs on
 * that one core (taskset), so the scheduler cannot decide the figures by where it wakes a process
 * (waking the other core costs ~35-40 us each way on this VM); where each ran is printed.
 *
 * Measured: round trips of 32 B and 1,000 B (p50/p99, and the CPU each side spends per round
 * trip), throughput of 4 KiB and 1 MiB messages (and the sender's CPU per datagram, the
 * receiver's socket-buffer drops), the keyed round trip (every datagram sealed with AES-256-GCM)
 * next to the unkeyed one (and, at the end, both again pinned to two cores, as two hosts would run
 * them: *_separate_cores, bench/affinity.ts), and recovery_ms: with default options on both sides
 * and requests every 10 ms, the time from the end of a 3 s partition (a relay that drops
 * everything, both ways) to the first answer delivered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEndpoint, generateClusterKey, type UdpEndpoint } from '../transport/index.js';
import { crc32c } from '../transport/crc32c.js';
import { seededRandom } from '../transport/random.js';
import { parseBenchArgs, percentile, round } from './stats.js';
import { startBenchTrace } from './trace.js';
import { firstLine } from '../demos/child.js';
import { UdpProxy } from '../test/support/udp-proxy.js';
import { canPin, canPinTo, pinnedNode, pinSelf, placement } from './affinity.js';
import { ECHO_MAX, UdxEnd, udxPingPong, UdxServer, udxThroughput } from './udx-peer.js';

const USAGE = `usage: npm run bench:transport [-- --json] [-- --quick] [-- --pin CPU] [-- --rounds N] [-- --trace DIR]
  --json       print a human table, then one JSON object as the last line
  --quick      smaller counts (a smoke run, numbers are noisier)
  --pin CPU    run every process (client and server) on core CPU (taskset), and print where each ran
  --rounds N   rounds the systems are interleaved over (default 5, --quick 2); figures are medians
  --trace DIR  trace everything (both processes write DIR/node-*.jsonl): what tracing costs
`;

const MSG = 32;
const MSG_1K = 1000;
const SOCKET_BUFFER = 4 << 20;

/** Receive-buffer drops of the local UDP socket on `port` (/proc/net/udp; 0 where there is none). */
function socketDrops(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hex)) return Number(f[12]);
    }
  } catch {
    // not Linux: no figure
  }
  return 0;
}

async function serve(): Promise<void> {
  const raw = dgram.createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
  const one = Buffer.alloc(1);
  raw.on('message', (m, r) => raw.send(m.length <= ECHO_MAX ? m : one, r.port, r.address));
  const ep = await createEndpoint({ nodeId: 'bench-server', giveUpMs: 10_000 });
  ep.on('message', (m) => {
    // Echo small messages (latency), count big ones (throughput) with a 1-byte receipt.
    const reply = m.data.length <= ECHO_MAX ? m.data : new Uint8Array(1);
    ep.send(m.peer, reply).catch(() => undefined);
  });
  // With default options, for the recovery measurement.
  const plain = await createEndpoint({ nodeId: 'bench-server-defaults' });
  plain.on('message', (m) => void plain.send(m.peer, m.data).catch(() => undefined));
  // Keyed with the key the parent passed (in the environment, not on the command line).
  const keyed = await createEndpoint({ nodeId: 'bench-server-keyed', giveUpMs: 10_000, key: Buffer.from(process.env.PAGEWIRE_BENCH_KEY!, 'hex') });
  keyed.on('message', (m) => void keyed.send(m.peer, m.data).catch(() => undefined));
  const udxPort = Number(process.env.PAGEWIRE_BENCH_UDX_PORT);
  const udx = udxPort > 0 ? new UdxServer(SOCKET_BUFFER) : undefined;
  udx?.connect(2, udxPort);
  process.stdout.write(JSON.stringify({ raw: raw.address().port, transport: ep.port, defaults: plain.port, keyed: keyed.port, udx: udx?.port ?? 0 }) + '\n');
  // Commands from the parent, one a line: "size N" (udx's message size), "stats".
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'size') udx?.setSize(Number(arg));
    const cpu = process.cpuUsage();
    const s = ep.stats();
    process.stdout.write(JSON.stringify({
      cpuUs: cpu.user + cpu.system, received: s.datagramsReceived, sent: s.datagramsSent,
      pureAcks: s.peers.reduce((n, p) => n + p.pureAcksSent, 0),
      drops: { raw: socketDrops(raw.address().port), transport: socketDrops(ep.port), udx: udx === undefined ? 0 : socketDrops(udx.port) },
    }) + '\n');
  });
  lines.on('close', () => process.exit(0));
}

interface ServerStats {
  cpuUs: number;
  received: number;
  sent: number;
  pureAcks: number;
  drops: { raw: number; transport: number; udx: number };
}

/** The server child's command channel (serve() above). */
class Server {
  private readonly lines: AsyncIterator<string>;

  constructor(readonly child: ChildProcess, rl: Interface) {
    this.lines = rl[Symbol.asyncIterator]();
  }

  async command(line: string): Promise<ServerStats> {
    this.child.stdin!.write(line + '\n');
    const r = await this.lines.next();
    if (r.done === true) throw new Error('the bench server exited');
    return JSON.parse(r.value as string) as ServerStats;
  }
}

function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

async function rawPingPong(port: number, n: number, size = MSG): Promise<number[]> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const buf = Buffer.alloc(size, 1);
  const times: number[] = [];
  let t0 = 0;
  await new Promise<void>((done) => {
    s.on('message', () => {
      times.push(performance.now() - t0);
      if (times.length === n) return done();
      t0 = performance.now();
      s.send(buf, port, '127.0.0.1');
    });
    t0 = performance.now();
    s.send(buf, port, '127.0.0.1');
  });
  s.close();
  return times.map((t) => t * 1000);
}

/**
 * Raw dgram throughput, with the least flow control that keeps a loopback burst from overflowing
 * the receiver: `count` datagrams of `size` bytes, at most `window` unanswered (the server answers
 * each with one byte). Seconds until the last answer, and the datagrams sent.
 */
async function rawThroughput(port: number, size: number, count: number, window = 32): Promise<number> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const buf = Buffer.alloc(size, 3);
  let sent = 0;
  let answered = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    s.on('message', () => {
      if (++answered === count) return done();
      if (sent < count) {
        sent++;
        s.send(buf, port, '127.0.0.1');
      }
    });
    for (; sent < Math.min(window, count); sent++) s.send(buf, port, '127.0.0.1');
    // Nothing here retransmits: should a datagram be lost after all, refill the window when stalled.
    let last = -1;
    const stall = setInterval(() => {
      if (answered === last) for (let i = 0; i < window; i++) s.send(buf, port, '127.0.0.1');
      last = answered;
    }, 200);
    s.once('close', () => clearInterval(stall));
  });
  const secs = (performance.now() - t0) / 1000;
  s.close();
  return secs;
}

async function transportPingPong(ep: UdpEndpoint, peer: string, n: number, size = MSG): Promise<number[]> {
  const buf = Buffer.alloc(size, 2);
  const times: number[] = [];
  let t0 = 0;
  const onMsg = () => {
    times.push(performance.now() - t0);
    if (times.length < n) {
      t0 = performance.now();
      ep.send(peer, buf).catch(() => undefined);
    }
  };
  ep.on('message', onMsg);
  const done = new Promise<void>((r) => {
    const check = () => (times.length >= n ? r() : setTimeout(check, 5));
    check();
  });
  t0 = performance.now();
  ep.send(peer, buf).catch(() => undefined);
  await done;
  ep.off('message', onMsg);
  return times.map((t) => t * 1000);
}

/** Send `count` messages of `size` bytes, all queued at once; time until the last receipt. */
async function throughput(ep: UdpEndpoint, peer: string, size: number, count: number): Promise<number> {
  const buf = Buffer.alloc(size, 3);
  let receipts = 0;
  const onMsg = () => void receipts++;
  ep.on('message', onMsg);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, () => ep.send(peer, buf)));
  while (receipts < count) await new Promise((r) => setTimeout(r, 1));
  const secs = (performance.now() - t0) / 1000;
  ep.off('message', onMsg);
  return secs;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Requests every 10 ms through a relay to an echoing server, both with default options; the
 * relay drops everything for `partitionMs`. Returns the milliseconds from the heal to the first
 * answer delivered after it (the give-ups during the partition are not restarts, so nothing
 * needs to be set up again: the first retransmission or new send that gets through is answered).
 */
async function recovery(serverPort: number, partitionMs: number): Promise<number> {
  const proxy = await UdpProxy.start(serverPort, { record: false });
  const ep = await createEndpoint({ nodeId: 'bench-recovery' });
  let healAt = Infinity;
  let firstAfter = Infinity;
  ep.on('message', () => {
    const t = performance.now();
    if (t >= healAt && firstAfter === Infinity) firstAfter = t;
  });
  let sending = true;
  const loop = (async () => {
    while (sending) {
      ep.send(proxy.frontAddress, Buffer.alloc(MSG, 4)).catch(() => undefined);
      await sleep(10);
    }
  })();
  try {
    await sleep(200);
    proxy.open = false;
    await sleep(partitionMs);
    healAt = performance.now();
    proxy.open = true;
    const deadline = healAt + 10_000;
    while (firstAfter === Infinity && performance.now() < deadline) await sleep(1);
    if (firstAfter === Infinity) throw new Error('no answer within 10 s of the end of the partition');
    return firstAfter - healAt;
  } finally {
    sending = false;
    await loop;
    await ep.close();
    await proxy.close();
  }
}

/** The chapter's simplest checksum: the sum of the bytes (16 bits). */
function byteSum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s = (s + b[i]!) & 0xffff;
  return s;
}

/**
 * The checksum tip's two axes, measured: speed (MB/s over 1,200-byte datagrams) and effectiveness
 * (share of corruptions caught) for a byte sum and CRC32C, against two kinds of damage: 1-3
 * flipped bits, and two bytes swapped (the kind of reordering a sum cannot see).
 */
function checksums(quick: boolean): { crc_mb_per_s: number; sum_mb_per_s: number; crc_caught_swaps: number; sum_caught_swaps: number; crc_caught_flips: number; sum_caught_flips: number } {
  const rand = seededRandom(11);
  const buf = Uint8Array.from({ length: 1200 }, () => (rand() * 256) | 0);
  const reps = quick ? 2000 : 20_000;
  const speed = (f: (b: Uint8Array) => number) => {
    let x = 0;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) x ^= f(buf);
    const ms = performance.now() - t0;
    if (x === -1) process.stdout.write('');
    return round((reps * buf.length) / ms / 1000);
  };
  speed(crc32c);
  speed(byteSum);
  const trials = quick ? 500 : 5000;
  const caught = { crcSwap: 0, sumSwap: 0, crcFlip: 0, sumFlip: 0 };
  const c0 = crc32c(buf);
  const s0 = byteSum(buf);
  for (let t = 0; t < trials; t++) {
    const b = Uint8Array.from(buf);
    const i = (rand() * b.length) | 0;
    let j = (rand() * b.length) | 0;
    while (b[j] === b[i]) j = (j + 1) % b.length;
    [b[i], b[j]] = [b[j]!, b[i]!];
    if (crc32c(b) !== c0) caught.crcSwap++;
    if (byteSum(b) !== s0) caught.sumSwap++;
    const f = Uint8Array.from(buf);
    const flips = 1 + ((rand() * 3) | 0);
    for (let k = 0; k < flips; k++) {
      const bit = (rand() * f.length * 8) | 0;
      f[bit >>> 3]! ^= 1 << (bit & 7);
    }
    if (crc32c(f) !== c0) caught.crcFlip++;
    if (byteSum(f) !== s0) caught.sumFlip++;
  }
  return {
    crc_mb_per_s: speed(crc32c), sum_mb_per_s: speed(byteSum),
    crc_caught_swaps: round(caught.crcSwap / trials, 3), sum_caught_swaps: round(caught.sumSwap / trials, 3),
    crc_caught_flips: round(caught.crcFlip / trials, 3), sum_caught_flips: round(caught.sumFlip / trials, 3),
  };
}

/**
 * The unkeyed and the keyed round trip again, interleaved, with a fresh server process pinned to
 * CPU 1 and this process to CPU 0 (it stays pinned: this is the last measurement).
 */
async function separateCores(key: Uint8Array, n: number, warm: number): Promise<{ plain: number[]; keyed: number[] }> {
  const [cmd, argv] = pinnedNode(1, [fileURLToPath(import.meta.url), '--serve']);
  const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, PAGEWIRE_BENCH_KEY: Buffer.from(key).toString('hex') } });
  try {
    const line = await firstLine(child, createInterface({ input: child.stdout! }), 15_000, 'the pinned bench server');
    const ports = JSON.parse(line) as { transport: number; keyed: number };
    pinSelf(0);
    const ep = await createEndpoint({ nodeId: 'bench-client-pinned', giveUpMs: 10_000 });
    const kep = await createEndpoint({ nodeId: 'bench-client-pinned-keyed', giveUpMs: 10_000, key });
    const peer = `127.0.0.1:${ports.transport}`;
    const kpeer = `127.0.0.1:${ports.keyed}`;
    await transportPingPong(ep, peer, warm);
    await transportPingPong(kep, kpeer, warm);
    const plain: number[] = [];
    const keyed: number[] = [];
    for (let round = 0; round < 8; round++) {
      plain.push(...(await transportPingPong(ep, peer, n / 8)));
      keyed.push(...(await transportPingPong(kep, kpeer, n / 8)));
    }
    await Promise.all([ep.close(), kep.close()]);
    return { plain, keyed };
  } finally {
    child.stdin!.end();
    child.kill();
  }
}

interface Round {
  raw: number[]; pw: number[]; keyed: number[]; udx: number[];
  raw1k: number[]; pw1k: number[]; keyed1k: number[]; udx1k: number[];
  /** CPU per 1,000 B round trip, µs: client side, server side. */
  cpu1k: Record<'raw' | 'pw' | 'udx', [number, number]>;
  mb4k: Record<'raw' | 'pw' | 'udx', number>;
  mb1m: Record<'pw' | 'udx', number>;
  /** 1 MiB messages in 1,200-byte datagrams (loopbackDatagramBytes 1200). */
  mb1m1200: number;
  /** Sender's CPU per datagram at loopback's datagram size, and that size. */
  cpuBig: number;
  dgramBytes: number;
  /** Sender's (client's) CPU per datagram in the 1 MiB transfer; receiver's (server's). */
  cpuDgram: Record<'raw' | 'pw' | 'udx', [number, number]>;
  drops: { pw: number; udx: number };
  pureAcks: number;
  dataDatagrams: number;
}

const median = (xs: number[]): number => percentile(xs, 50);

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2), { json: 'flag', quick: 'flag', serve: 'flag', trace: 'value', pin: 'value', rounds: 'value' }, USAGE);
  const trace = startBenchTrace(args.trace); // the server child traces too (its writer flushes at exit)
  if (args.serve) return serve();
  const quick = args.quick === true;
  const rounds = args.rounds === undefined ? (quick ? 2 : 5) : Number(args.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) {
    process.stderr.write(`bench:transport: --rounds must be an integer in [1, 50], got ${JSON.stringify(args.rounds)}\n`);
    process.exit(2);
  }
  const pin = args.pin === undefined ? undefined : Number(args.pin);
  if (pin !== undefined && !canPinTo(pin)) {
    process.stderr.write(`bench:transport: cannot pin to core ${JSON.stringify(args.pin)} (needs Linux, taskset and a core with that number)\n`);
    process.exit(2);
  }
  if (pin !== undefined) pinSelf(pin);
  const n = (quick ? 2000 : 20_000) / rounds;
  const warm = quick ? 500 : 3000;
  const c4k = (quick ? 2000 : 20_000) / rounds;
  const c1m = quick ? 4 : 10;

  const key = generateClusterKey();
  const udxClient = new UdxEnd(2, SOCKET_BUFFER);
  const serverArgs = [fileURLToPath(import.meta.url), '--serve', ...trace.childArgs];
  const [cmd, argv] = pin === undefined ? [process.execPath, serverArgs] : pinnedNode(pin, serverArgs);
  const child = spawn(cmd, argv, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, PAGEWIRE_BENCH_KEY: Buffer.from(key).toString('hex'), PAGEWIRE_BENCH_UDX_PORT: String(udxClient.port) },
  });
  try {
    const rl = createInterface({ input: child.stdout! });
    const line = await firstLine(child, rl, 15_000, 'the bench server');
    const server = new Server(child, rl);
    const ports = JSON.parse(line) as { raw: number; transport: number; defaults: number; keyed: number; udx: number };
    udxClient.connect(1, ports.udx);
    const udx = udxClient.stream;
    const ep = await createEndpoint({ nodeId: 'bench-client', giveUpMs: 10_000 });
    const kep = await createEndpoint({ nodeId: 'bench-client-keyed', giveUpMs: 10_000, key });
    const ep1200 = await createEndpoint({ nodeId: 'bench-client-1200', giveUpMs: 10_000, loopbackDatagramBytes: 1200 });
    const peer = `127.0.0.1:${ports.transport}`;
    const kpeer = `127.0.0.1:${ports.keyed}`;

    await throughput(ep1200, peer, 1 << 20, 2);
    await rawPingPong(ports.raw, warm);
    await transportPingPong(ep, peer, warm);
    await transportPingPong(kep, kpeer, warm);
    await server.command(`size ${MSG}`);
    await udxPingPong(udx, MSG, warm);
    await server.command(`size ${1 << 20}`);
    await udxThroughput(udx, 1 << 20, 2); // past udx's MTU probing and slow start
    await throughput(ep, peer, 1 << 20, 2);

    /** Client and server CPU (µs) per operation while `f` ran `ops` of them. */
    const cpuOf = async <T>(ops: (r: T) => number, f: () => Promise<T>): Promise<{ r: T; client: number; server: number; before: ServerStats; after: ServerStats }> => {
      const before = await server.command('stats');
      const c0 = cpuUs();
      const r = await f();
      const client = cpuUs() - c0;
      const after = await server.command('stats');
      const k = ops(r);
      return { r, client: client / k, server: (after.cpuUs - before.cpuUs) / k, before, after };
    };

    const all: Round[] = [];
    for (let ri = 0; ri < rounds; ri++) {
      const r = { cpu1k: {}, mb4k: {}, mb1m: {}, cpuDgram: {}, drops: { pw: 0, udx: 0 }, pureAcks: 0, dataDatagrams: 0 } as Round;
      const systems = ['raw', 'pw', 'udx'] as const;
      const order = systems.map((_, i) => systems[(i + ri) % systems.length]!);
      for (const sys of order) {
        if (sys === 'raw') {
          r.raw = await rawPingPong(ports.raw, n);
          const k = await cpuOf((t) => t.length, () => rawPingPong(ports.raw, n, MSG_1K));
          r.raw1k = k.r;
          r.cpu1k.raw = [k.client, k.server];
          r.mb4k.raw = (c4k * 4096) / (await rawThroughput(ports.raw, 4096, c4k)) / 1e6;
          const d = await cpuOf(() => c4k * 4, () => rawThroughput(ports.raw, 1200, c4k * 4));
          r.cpuDgram.raw = [d.client, d.server];
        } else if (sys === 'pw') {
          r.pw = await transportPingPong(ep, peer, n);
          r.keyed = await transportPingPong(kep, kpeer, n);
          const k = await cpuOf((t) => t.length, () => transportPingPong(ep, peer, n, MSG_1K));
          r.pw1k = k.r;
          r.cpu1k.pw = [k.client, k.server];
          r.keyed1k = await transportPingPong(kep, kpeer, n, MSG_1K);
          const t4 = await cpuOf(() => 1, () => throughput(ep, peer, 4096, c4k));
          r.mb4k.pw = (c4k * 4096) / t4.r / 1e6;
          const sent0 = ep.stats().datagramsSent;
          const t1 = await cpuOf(() => 1, () => throughput(ep, peer, 1 << 20, c1m));
          const sent = ep.stats().datagramsSent - sent0;
          r.mb1m.pw = (c1m * (1 << 20)) / t1.r / 1e6;
          r.cpuBig = t1.client / sent;
          r.dgramBytes = (c1m * (1 << 20)) / sent;
          // The same transfer in datagrams of datagramBytes (1,200), as on a path with an Ethernet MTU:
          // the CPU per datagram figure, and the throughput udx-native's 1,500-byte packets face.
          const small0 = ep1200.stats().datagramsSent;
          const ts = await cpuOf(() => 1, () => throughput(ep1200, peer, 1 << 20, c1m));
          const smallSent = ep1200.stats().datagramsSent - small0;
          r.mb1m1200 = (c1m * (1 << 20)) / ts.r / 1e6;
          r.cpuDgram.pw = [ts.client / smallSent, ts.server / (ts.after.received - ts.before.received)];
          r.drops.pw = t4.after.drops.transport - t4.before.drops.transport + t1.after.drops.transport - t1.before.drops.transport;
          r.pureAcks = t4.after.pureAcks - t4.before.pureAcks + t1.after.pureAcks - t1.before.pureAcks;
          r.dataDatagrams = t4.after.received - t4.before.received + t1.after.received - t1.before.received;
        } else {
          await server.command(`size ${MSG}`);
          r.udx = await udxPingPong(udx, MSG, n);
          await server.command(`size ${MSG_1K}`);
          const k = await cpuOf((t) => t.length, () => udxPingPong(udx, MSG_1K, n));
          r.udx1k = k.r;
          r.cpu1k.udx = [k.client, k.server];
          await server.command('size 4096');
          const t4 = await cpuOf(() => 1, () => udxThroughput(udx, 4096, c4k));
          r.mb4k.udx = (c4k * 4096) / t4.r / 1e6;
          await server.command(`size ${1 << 20}`);
          const t1 = await cpuOf(() => 1, () => udxThroughput(udx, 1 << 20, c1m));
          r.mb1m.udx = (c1m * (1 << 20)) / t1.r / 1e6;
          // udx counts no packets for us: its payload per packet is its MTU less its 20-byte header.
          const packets = Math.ceil((c1m * (1 << 20)) / (udx.mtu - 20));
          r.cpuDgram.udx = [t1.client / packets, t1.server / packets];
          r.drops.udx = t4.after.drops.udx - t4.before.drops.udx + t1.after.drops.udx - t1.before.drops.udx;
        }
      }
      all.push(r);
    }
    const kBad = kep.stats().bad;
    if (kBad.auth + kBad.replay > 0) throw new Error(`keyed ping-pong dropped ${kBad.auth} unauthenticated and ${kBad.replay} replayed datagrams`);
    await kep.close();
    const ps = ep.peerStats(peer)!;
    const where = [
      { who: 'client (this process)', ...placement(process.pid) },
      { who: 'server (child process)', ...placement(child.pid!) },
    ];
    const recoveryMs = await recovery(ports.defaults, 3000);
    const pinned = canPin() ? await separateCores(key, quick ? 2000 : 20_000, warm) : undefined;

    /** Median over rounds of a per-round figure. */
    const med = (f: (r: Round) => number): number => median(all.map(f));
    const p = (f: (r: Round) => number[], q: number): number => med((r) => percentile(f(r), q));
    const rtt = p((r) => r.pw, 50);
    const raw = p((r) => r.raw, 50);
    const rtt1k = p((r) => r.pw1k, 50);
    const raw1k = p((r) => r.raw1k, 50);
    const result = {
      rtt_p50_us: round(rtt),
      rtt_p99_us: round(p((r) => r.pw, 99)),
      raw_rtt_p50_us: round(raw),
      raw_rtt_p99_us: round(p((r) => r.raw, 99)),
      ratio_p50: round(rtt / raw, 2),
      udx_rtt_p50_us: round(p((r) => r.udx, 50)),
      udx_rtt_p99_us: round(p((r) => r.udx, 99)),
      rtt_1k_p50_us: round(rtt1k),
      rtt_1k_p99_us: round(p((r) => r.pw1k, 99)),
      raw_rtt_1k_p50_us: round(raw1k),
      raw_rtt_1k_p99_us: round(p((r) => r.raw1k, 99)),
      udx_rtt_1k_p50_us: round(p((r) => r.udx1k, 50)),
      udx_rtt_1k_p99_us: round(p((r) => r.udx1k, 99)),
      ratio_1k_p50: round(rtt1k / raw1k, 2),
      ratio_1k_p99: round(p((r) => r.pw1k, 99) / p((r) => r.raw1k, 99), 2),
      cpu_us_per_rtt_1k: round(med((r) => r.cpu1k.pw[0])),
      cpu_us_per_rtt_1k_server: round(med((r) => r.cpu1k.pw[1])),
      raw_cpu_us_per_rtt_1k: round(med((r) => r.cpu1k.raw[0])),
      udx_cpu_us_per_rtt_1k: round(med((r) => r.cpu1k.udx[0])),
      keyed_rtt_p50_us: round(p((r) => r.keyed, 50)),
      keyed_rtt_p99_us: round(p((r) => r.keyed, 99)),
      keyed_over_plain: round(p((r) => r.keyed, 50) / rtt, 2),
      keyed_rtt_1k_p50_us: round(p((r) => r.keyed1k, 50)),
      keyed_over_plain_1k: round(p((r) => r.keyed1k, 50) / rtt1k, 2),
      ...(pinned === undefined ? {} : {
        rtt_p50_us_separate_cores: round(percentile(pinned.plain, 50)),
        keyed_rtt_p50_us_separate_cores: round(percentile(pinned.keyed, 50)),
        keyed_over_plain_separate_cores: round(percentile(pinned.keyed, 50) / percentile(pinned.plain, 50), 2),
      }),
      msgs_per_s_4k: Math.round((med((r) => r.mb4k.pw) * 1e6) / 4096),
      mb_per_s_4k: round(med((r) => r.mb4k.pw)),
      mb_per_s_1m: round(med((r) => r.mb1m.pw)),
      raw_mb_per_s_4k: round(med((r) => r.mb4k.raw)),
      udx_mb_per_s_4k: round(med((r) => r.mb4k.udx)),
      udx_mb_per_s_1m: round(med((r) => r.mb1m.udx)),
      over_udx_4k: round(med((r) => r.mb4k.pw) / med((r) => r.mb4k.udx), 2),
      over_udx_1m: round(med((r) => r.mb1m.pw) / med((r) => r.mb1m.udx), 2),
      mb_per_s_1m_1200: round(med((r) => r.mb1m1200)),
      cpu_us_per_datagram: round(med((r) => r.cpuDgram.pw[0]), 2),
      cpu_us_per_datagram_loopback: round(med((r) => r.cpuBig), 2),
      loopback_datagram_bytes: Math.round(med((r) => r.dgramBytes)),
      cpu_us_per_datagram_receiver: round(med((r) => r.cpuDgram.pw[1]), 2),
      raw_cpu_us_per_datagram: round(med((r) => r.cpuDgram.raw[0]), 2),
      udx_cpu_us_per_datagram: round(med((r) => r.cpuDgram.udx[0]), 2),
      udx_mtu: udx.mtu,
      receiver_drops: all.reduce((s, r) => s + r.drops.pw, 0),
      udx_receiver_drops: all.reduce((s, r) => s + r.drops.udx, 0),
      pure_acks_per_data_datagram: round(all.reduce((s, r) => s + r.pureAcks, 0) / all.reduce((s, r) => s + r.dataDatagrams, 0), 3),
      retransmits: ps.retransmits,
      datagrams_sent_throughput: ps.datagramsSent,
      recovery_ms: round(recoveryMs, 1),
      samples: all.reduce((s, r) => s + r.pw.length, 0),
      rounds,
      pinned_cpu: pin ?? null,
      trace: args.trace !== undefined,
      ...checksums(quick),
    };
    await Promise.all([ep.close(), ep1200.close()]);
    await udxClient.close();
    const us = (a: number, b: number) => `${a} / ${b} us`;
    const rows: [string, string][] = [
      ['32 B round trip p50 / p99', ''],
      ['  raw dgram', us(result.raw_rtt_p50_us, result.raw_rtt_p99_us)],
      ['  pagewire', `${us(result.rtt_p50_us, result.rtt_p99_us)}   (${result.ratio_p50}x raw p50)`],
      ['  udx-native', us(result.udx_rtt_p50_us, result.udx_rtt_p99_us)],
      ['1,000 B round trip p50 / p99', ''],
      ['  raw dgram', us(result.raw_rtt_1k_p50_us, result.raw_rtt_1k_p99_us)],
      ['  pagewire', `${us(result.rtt_1k_p50_us, result.rtt_1k_p99_us)}   (${result.ratio_1k_p50}x / ${result.ratio_1k_p99}x raw; aims <= 1.2x / 2x)`],
      ['  udx-native', us(result.udx_rtt_1k_p50_us, result.udx_rtt_1k_p99_us)],
      ['CPU per 1,000 B round trip, client', `raw ${result.raw_cpu_us_per_rtt_1k}, pagewire ${result.cpu_us_per_rtt_1k} (server ${result.cpu_us_per_rtt_1k_server}), udx ${result.udx_cpu_us_per_rtt_1k} us`],
      ['keyed round trip p50 / p99', `${result.keyed_rtt_p50_us} / ${result.keyed_rtt_p99_us} us  (AES-256-GCM, every datagram)`],
      ['keyed / unkeyed p50, 32 B / 1,000 B', `${result.keyed_over_plain}x / ${result.keyed_over_plain_1k}x${pin === undefined ? '   (both processes may share a core)' : ''}`],
      ...(pinned === undefined ? [] : [
        ['pinned to 2 cores: unkeyed / keyed', `${result.rtt_p50_us_separate_cores} / ${result.keyed_rtt_p50_us_separate_cores} us p50 (as on two hosts)`],
        ['pinned to 2 cores: keyed / unkeyed', `${result.keyed_over_plain_separate_cores}x   (aim: <= 1.25x)`],
      ] as [string, string][]),
      ['4 KiB messages, MB/s', `raw ${result.raw_mb_per_s_4k}, pagewire ${result.mb_per_s_4k} (${result.msgs_per_s_4k} msg/s), udx ${result.udx_mb_per_s_4k}   (${result.over_udx_4k}x udx)`],
      ['1 MiB messages, MB/s', `pagewire ${result.mb_per_s_1m}, udx ${result.udx_mb_per_s_1m}   (${result.over_udx_1m}x udx); pagewire in 1,200 B datagrams ${result.mb_per_s_1m_1200}`],
      ['CPU per 1,200 B datagram, sender', `raw ${result.raw_cpu_us_per_datagram}, pagewire ${result.cpu_us_per_datagram} (receiver ${result.cpu_us_per_datagram_receiver}), udx ~${result.udx_cpu_us_per_datagram} us (its MTU ${result.udx_mtu})`],
      ['CPU per loopback datagram, sender', `pagewire ${result.cpu_us_per_datagram_loopback} us (${result.loopback_datagram_bytes} B a datagram on average)`],
      ['receiver-buffer drops under bulk', `pagewire ${result.receiver_drops}, udx ${result.udx_receiver_drops}`],
      ['pure acks per data datagram (bulk)', String(result.pure_acks_per_data_datagram)],
      ['retransmissions (whole run)', String(result.retransmits)],
      ['recovery after a 3 s partition', `${result.recovery_ms} ms to the first answer (default options)`],
      ['checksum speed: CRC32C / byte sum', `${result.crc_mb_per_s} / ${result.sum_mb_per_s} MB/s`],
      ['caught 1-3 flipped bits: CRC / sum', `${result.crc_caught_flips} / ${result.sum_caught_flips}`],
      ['caught two swapped bytes: CRC / sum', `${result.crc_caught_swaps} / ${result.sum_caught_swaps}`],
    ];
    process.stdout.write(`pagewire transport benchmark: raw dgram, pagewire and udx-native interleaved over ${rounds} rounds (medians), server in a child process\n`);
    for (const w of where) process.stdout.write(`  ${w.who.padEnd(24)} pid ${w.who.startsWith('client') ? process.pid : child.pid}, allowed CPUs ${w.allowed ?? '?'}, last ran on CPU ${w.lastCpu ?? '?'}${pin === undefined ? ' (not pinned: --pin CPU)' : ''}\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(38)} ${v}\n`);
    process.stdout.write(`  ${trace.describe}\n`);
    if (args.json) process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    trace.close();
    child.stdin!.end();
    child.kill();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
