/**
 * npm run demo:transport — the transport layer's demo.
 *
 * Two processes on loopback UDP. Both inject faults on what they send: drops, duplicates,
 * reordering and corrupted bits, the chapter's "unreliable communication layer" made real, each
 * with its own option (0 turns it off). The parent sends numbered messages of assorted sizes; the
 * child echoes each one; the parent checks every echo arrived exactly once, in order, byte for
 * byte, and prints what the transport did to get there. Exits 0 only if everything arrived intact.
 *
 *   npm run demo:transport -- --loss 0.3 --dup 0 --count 500 --seed 7
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { waitForReady } from './child.js';
import { fileURLToPath } from 'node:url';
import { createEndpoint, type EndpointOptions, type EndpointStats, type UdpEndpoint } from '../transport/index.js';
import { seededRandom } from '../transport/random.js';
import { demoKey, demoKeyFromEnv, helpCommand, intArg, keyLine, MAX_LOSS, parseDemoArgs, probabilityArg, runMain } from './args.js';
import { startTraceWriter, type TraceWriter } from '../trace/index.js';
import { traceDirArg, writeTraceHtml } from './trace-output.js';

const USAGE = `usage: npm run demo:transport [-- options]      (or: node dist/demos/transport-demo.js [options])

Two processes exchange messages through injected faults, both ways; every message must come back
exactly once, in order, byte for byte. Each fault is a probability per datagram sent (0 = off).

  --loss P      drop the datagram (0..${MAX_LOSS}, default 0.2)
  --dup P       send it twice (0..0.5, default 0.1)
  --reorder P   hold it back behind later ones (0..0.5, default 0.1)
  --corrupt P   flip 1-3 bits of it (0..0.5, default 0.05)
  --count N     messages to send (1..100000, default 300)
  --seed N      fault-injection seed (0..2147483648, default 1)
  --trace DIR   both processes write their trace to DIR; the demo draws DIR/trace.html
  --insecure    no cluster key: clear text, a CRC32C per datagram catches the damage (default: a
                fresh key for this run, every datagram sealed; the AES-GCM tag catches it)
  --help        this text
`;

/**
 * The transport's give-up time here, and the longest the demo waits without a single echo arriving
 * before it calls the run failed (at --loss ${MAX_LOSS} a run takes 1-20 s; a stall this long means the
 * transport gave up).
 */
const STALL_MS = 30_000;

interface Faults {
  readonly loss: number;
  readonly dup: number;
  readonly reorder: number;
  readonly corrupt: number;
}

function endpointOptions(f: Faults, seed: number, key: Uint8Array | undefined): EndpointOptions {
  const any = f.loss + f.dup + f.reorder + f.corrupt > 0;
  return {
    key,
    giveUpMs: STALL_MS,
    minCwnd: 16,
    ...(any ? { faults: { seed, outbound: { drop: f.loss, duplicate: f.dup, reorder: f.reorder, corrupt: f.corrupt } } } : {}),
  };
}

/** Damaged datagrams the receiver caught: by their CRC32C (clear text) or their AES-GCM tag (sealed). */
function damaged(s: EndpointStats): string {
  return s.keyed ? `${s.bad.auth} damaged datagrams (failed the AES-GCM tag)` : `${s.bad.badChecksum} bad checksums`;
}

const faultArgs = (f: Faults): string[] => ['--loss', String(f.loss), '--dup', String(f.dup), '--reorder', String(f.reorder), '--corrupt', String(f.corrupt)];

async function echoNode(f: Faults, seed: number, traceDir: string | undefined): Promise<number> {
  const writer = traceDir !== undefined ? startTraceWriter(traceDir) : undefined;
  const ep = await createEndpoint({ nodeId: 'echo', ...endpointOptions(f, seed + 1, demoKeyFromEnv()) });
  ep.on('message', (m) => void ep.send(m.peer, m.data).catch(() => undefined));
  process.stdout.write(`READY ${ep.address}\n`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  const s = ep.stats();
  process.stderr.write(`  echo node: ${s.datagramsSent} datagrams sent, ${damaged(s)} caught, ` +
    `${s.peers[0]?.retransmits ?? 0} retransmissions, ${s.peers[0]?.duplicatesDropped ?? 0} duplicates dropped\n`);
  await ep.close();
  writer?.close();
  return 0;
}

async function main(): Promise<number> {
  const { values: v, flags, help } = parseDemoArgs(process.argv.slice(2), ['loss', 'dup', 'reorder', 'corrupt', 'count', 'seed', 'trace'], ['echo', 'insecure']);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const f: Faults = {
    loss: probabilityArg(v.loss, 'loss', MAX_LOSS, 0.2),
    dup: probabilityArg(v.dup, 'dup', 0.5, 0.1),
    reorder: probabilityArg(v.reorder, 'reorder', 0.5, 0.1),
    corrupt: probabilityArg(v.corrupt, 'corrupt', 0.5, 0.05),
  };
  const count = intArg(v.count, 'count', 1, 100_000, 300);
  const seed = intArg(v.seed, 'seed', 0, 2 ** 31, 1);
  const traceDir = traceDirArg(v.trace);
  if (flags.has('echo')) return echoNode(f, seed, traceDir);

  const writer: TraceWriter | undefined = traceDir !== undefined ? startTraceWriter(traceDir) : undefined;
  const { key, env } = demoKey(flags.has('insecure'));
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--echo', ...faultArgs(f), '--seed', String(seed), ...(traceDir ? ['--trace', traceDir] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'], env,
  });
  const killChild = (): void => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  process.on('exit', killChild);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
  let ep: UdpEndpoint | undefined;
  try {
    // Bounded, and a child that dies first fails the demo (it must never exit 0 having sent nothing).
    const peer = await waitForReady(child, once(child, 'exit'), 15_000, 'the echo node');
    ep = await createEndpoint({ nodeId: 'sender', ...endpointOptions(f, seed, key) });
    console.log(`pagewire transport demo: ${count} messages to an echo node at ${peer}`);
    console.log(`  ${keyLine(key)}`);
    const on = ([['drop', f.loss], ['duplicate', f.dup], ['reorder', f.reorder], ['corrupt', f.corrupt]] as const).filter(([, p]) => p > 0);
    console.log(`  faults on every datagram, both ways: ${on.length === 0 ? 'none' : on.map(([k, p]) => `${k} ${p}`).join(', ')}`);
    const rand = seededRandom(seed);
    const sent: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const size = i % 25 === 0 ? 20_000 + Math.floor(rand() * 40_000) : 8 + Math.floor(rand() * 600);
      const b = Buffer.alloc(size);
      b.writeUInt32BE(i, 0);
      for (let k = 4; k < size; k++) b[k] = (i * 31 + k) & 0xff;
      sent.push(b);
    }
    const echoes: Buffer[] = [];
    let done: () => void = () => undefined;
    const finished = new Promise<void>((r) => (done = r));
    let stall = setTimeout(done, STALL_MS);
    ep.on('message', (m) => {
      echoes.push(Buffer.from(m.data));
      clearTimeout(stall);
      if (echoes.length === count) done();
      else stall = setTimeout(done, STALL_MS);
    });
    const t0 = performance.now();
    await Promise.all(sent.map((b) => ep!.send(peer, b)));
    await finished;
    clearTimeout(stall);
    const ms = performance.now() - t0;
    const intact = echoes.length === count && echoes.every((e, i) => e.equals(sent[i]!));
    const s = ep.stats();
    const p = ep.peerStats(peer)!;
    const inj = ep.faultStats().outbound;
    console.log(`  ${echoes.length}/${count} echoes back in ${Math.round(ms)} ms, ${intact ? 'all exactly once, in order, byte-identical' : 'NOT INTACT'}`);
    console.log(`  sender: ${s.datagramsSent} datagrams sent (${inj?.dropped ?? 0} dropped, ${inj?.corrupted ?? 0} corrupted, ${inj?.duplicated ?? 0} duplicated, ${inj?.reordered ?? 0} reordered by the injector)`);
    console.log(`          ${p.retransmits} retransmissions, ${p.probes} tail probes, ${p.timeouts} back-offs, ${damaged(s)} caught, ${p.duplicatesDropped} duplicates dropped`);
    console.log(`          RTT estimate ${p.srttUs} us, RTO ${p.rtoUs} us, congestion window ${p.cwnd}`);
    child.stdin!.end();
    await once(child, 'exit');
    return intact ? 0 : 1;
  } finally {
    await ep?.close();
    killChild();
    if (writer !== undefined && traceDir !== undefined) {
      writer.close();
      console.log(writeTraceHtml(traceDir, { title: 'pagewire demo:transport: messages through an unreliable network' }).summary);
    }
  }
}

runMain('pagewire demo:transport', helpCommand('demo:transport'), main);
