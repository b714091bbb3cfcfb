/**
 * npm run bench:transport [-- --json] [-- --quick]
 *
 * One run, client here and server in a child process: round-trip latency of a small message
 * through the transport next to a raw node:dgram ping-pong (the baseline), their ratio, the same
 * round trip between keyed endpoints (every datagram sealed with AES-256-GCM) next to the
 * unkeyed one (keyed_over_plain; and, at the end, both again with the two processes pinned to two
 * cores, as two hosts would run them: *_separate_cores, see bench/affinity.ts),
 * throughput for 4 KiB and 1 MiB messages, and recovery_ms: with default options on both sides
 * and requests every 10 ms, the time from the end of a 3 s partition (a relay that drops
 * everything, both ways) to the first answer delivered.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEndpoint, generateClusterKey, type UdpEndpoint } from '../transport/index.js';
import { crc32c } from '../transport/crc32c.js';
import { seededRandom } from '../transport/random.js';
import { parseBenchArgs, percentile, round } from './stats.js';
import { startBenchTrace } from './trace.js';
import { UdpProxy } from '../test/support/udp-proxy.js';
import { canPin, pinnedNode, pinSelf } from './affinity.js';

const USAGE = `usage: npm run bench:transport [-- --json] [-- --quick] [-- --trace DIR]
  --json       print a human table, then one JSON object as the last line
  --quick      smaller counts (a smoke run, numbers are noisier)
  --trace DIR  trace everything (both processes write DIR/node-*.jsonl): what tracing costs
`;

const MSG = 32;

async function serve(): Promise<void> {
  const raw = dgram.createSocket('udp4');
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
  raw.on('message', (m, r) => raw.send(m, r.port, r.address));
  const ep = await createEndpoint({ nodeId: 'bench-server', giveUpMs: 10_000 });
  ep.on('message', (m) => {
    // Echo small messages (latency), count big ones (throughput) with a 1-byte receipt.
    const reply = m.data.length <= MSG ? m.data : new Uint8Array(1);
    ep.send(m.peer, reply).catch(() => undefined);
  });
  // With default options, for the recovery measurement.
  const plain = await createEndpoint({ nodeId: 'bench-server-defaults' });
  plain.on('message', (m) => void plain.send(m.peer, m.data).catch(() => undefined));
  // Keyed with the key the parent passed (in the environment, not on the command line).
  const keyed = await createEndpoint({ nodeId: 'bench-server-keyed', giveUpMs: 10_000, key: Buffer.from(process.env.PAGEWIRE_BENCH_KEY!, 'hex') });
  keyed.on('message', (m) => void keyed.send(m.peer, m.data).catch(() => undefined));
  process.stdout.write(JSON.stringify({ raw: raw.address().port, transport: ep.port, defaults: plain.port, keyed: keyed.port }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function rawPingPong(port: number, n: number): Promise<number[]> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const buf = Buffer.alloc(MSG, 1);
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

async function transportPingPong(ep: UdpEndpoint, peer: string, n: number): Promise<number[]> {
  const buf = Buffer.alloc(MSG, 2);
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
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
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

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2), { json: 'flag', quick: 'flag', serve: 'flag', trace: 'value' }, USAGE);
  const trace = startBenchTrace(args.trace); // the server child traces too (its writer flushes at exit)
  if (args.serve) return serve();
  const quick = args.quick === true;
  const n = quick ? 2000 : 20_000;
  const warm = quick ? 500 : 3000;

  const key = generateClusterKey();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', ...trace.childArgs], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, PAGEWIRE_BENCH_KEY: Buffer.from(key).toString('hex') },
  });
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const ports = JSON.parse(line) as { raw: number; transport: number; defaults: number; keyed: number };
    const ep = await createEndpoint({ nodeId: 'bench-client', giveUpMs: 10_000 });
    const kep = await createEndpoint({ nodeId: 'bench-client-keyed', giveUpMs: 10_000, key });
    const peer = `127.0.0.1:${ports.transport}`;
    const kpeer = `127.0.0.1:${ports.keyed}`;

    // Interleave the latency measurements so all see the same machine load.
    await rawPingPong(ports.raw, warm);
    await transportPingPong(ep, peer, warm);
    await transportPingPong(kep, kpeer, warm);
    const raw: number[] = [];
    const tr: number[] = [];
    const kt: number[] = [];
    for (let round = 0; round < 8; round++) {
      raw.push(...(await rawPingPong(ports.raw, n / 8)));
      tr.push(...(await transportPingPong(ep, peer, n / 8)));
      kt.push(...(await transportPingPong(kep, kpeer, n / 8)));
    }
    const kBad = kep.stats().bad;
    if (kBad.auth + kBad.replay > 0) throw new Error(`keyed ping-pong dropped ${kBad.auth} unauthenticated and ${kBad.replay} replayed datagrams`);
    await kep.close();
    const sentBefore = ep.stats().datagramsSent;
    const c4k = quick ? 2000 : 20_000;
    const s4k = await throughput(ep, peer, 4096, c4k);
    const c1m = quick ? 5 : 40;
    const s1m = await throughput(ep, peer, 1 << 20, c1m);
    const ps = ep.peerStats(peer)!;
    const recoveryMs = await recovery(ports.defaults, 3000);
    const pinned = canPin() ? await separateCores(key, n, warm) : undefined;
    const result = {
      rtt_p50_us: round(percentile(tr, 50)),
      rtt_p99_us: round(percentile(tr, 99)),
      raw_rtt_p50_us: round(percentile(raw, 50)),
      raw_rtt_p99_us: round(percentile(raw, 99)),
      ratio_p50: round(percentile(tr, 50) / percentile(raw, 50), 2),
      keyed_rtt_p50_us: round(percentile(kt, 50)),
      keyed_rtt_p99_us: round(percentile(kt, 99)),
      keyed_over_plain: round(percentile(kt, 50) / percentile(tr, 50), 2),
      ...(pinned === undefined ? {} : {
        rtt_p50_us_separate_cores: round(percentile(pinned.plain, 50)),
        keyed_rtt_p50_us_separate_cores: round(percentile(pinned.keyed, 50)),
        keyed_over_plain_separate_cores: round(percentile(pinned.keyed, 50) / percentile(pinned.plain, 50), 2),
      }),
      msgs_per_s_4k: Math.round(c4k / s4k),
      mb_per_s_4k: round((c4k * 4096) / s4k / 1e6),
      mb_per_s_1m: round((c1m * (1 << 20)) / s1m / 1e6),
      retransmits: ps.retransmits,
      datagrams_sent_throughput: ep.stats().datagramsSent - sentBefore,
      recovery_ms: round(recoveryMs, 1),
      samples: tr.length,
      trace: args.trace !== undefined,
      ...checksums(quick),
    };
    await ep.close();
    const rows: [string, string][] = [
      ['raw dgram ping-pong p50 / p99', `${result.raw_rtt_p50_us} / ${result.raw_rtt_p99_us} us`],
      ['transport round trip p50 / p99', `${result.rtt_p50_us} / ${result.rtt_p99_us} us`],
      ['ratio p50 (transport / raw)', `${result.ratio_p50}x   (aim: <= 1.3x)`],
      ['keyed round trip p50 / p99', `${result.keyed_rtt_p50_us} / ${result.keyed_rtt_p99_us} us  (AES-256-GCM, every datagram)`],
      ['keyed / unkeyed p50', `${result.keyed_over_plain}x   (aim: <= 1.25x; both processes may share a core)`],
      ...(pinned === undefined ? [] : [
        ['pinned to 2 cores: unkeyed / keyed', `${result.rtt_p50_us_separate_cores} / ${result.keyed_rtt_p50_us_separate_cores} us p50 (as on two hosts)`],
        ['pinned to 2 cores: keyed / unkeyed', `${result.keyed_over_plain_separate_cores}x   (aim: <= 1.25x)`],
      ] as [string, string][]),
      ['4 KiB messages', `${result.msgs_per_s_4k} msg/s  (${result.mb_per_s_4k} MB/s)`],
      ['1 MiB messages', `${result.mb_per_s_1m} MB/s`],
      ['retransmissions (whole run)', String(result.retransmits)],
      ['recovery after a 3 s partition', `${result.recovery_ms} ms to the first answer (default options)`],
      ['checksum speed: CRC32C / byte sum', `${result.crc_mb_per_s} / ${result.sum_mb_per_s} MB/s`],
      ['caught 1-3 flipped bits: CRC / sum', `${result.crc_caught_flips} / ${result.sum_caught_flips}`],
      ['caught two swapped bytes: CRC / sum', `${result.crc_caught_swaps} / ${result.sum_caught_swaps}`],
    ];
    process.stdout.write(`pagewire transport benchmark, ${result.samples} round trips each, server in a child process\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(34)} ${v}\n`);
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
