/**
 * npm run demo:transport — the transport layer's demo.
 *
 * Two node processes on loopback UDP. Both inject faults on what they send: drops, duplicates,
 * reordering and corrupted bits, the chapter's "unreliable communication layer" made real.
 * The parent sends numbered messages of assorted sizes; the child echoes each one; the parent
 * checks every echo arrived exactly once, in order, byte for byte, and prints what the
 * transport did to get there. Exits 0 only if everything arrived intact.
 *
 *   npm run demo:transport -- --loss 0.3 --count 500 --seed 7
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEndpoint, type EndpointOptions, type UdpEndpoint } from '../transport/index.js';
import { seededRandom } from '../transport/random.js';

const USAGE = `usage: npm run demo:transport [-- options]
  --loss P      probability each datagram is dropped, each direction (default 0.2)
  --corrupt P   probability a datagram gets 1-3 flipped bits (default 0.05)
  --count N     messages to send (default 300)
  --seed N      fault-injection seed (default 1)
  --help        this text
`;

function faultOptions(loss: number, corrupt: number, seed: number): EndpointOptions {
  return {
    giveUpMs: 30_000,
    minCwnd: 16,
    faults: { seed, outbound: { drop: loss, duplicate: 0.1, reorder: 0.1, corrupt } },
  };
}

async function echoNode(loss: number, corrupt: number, seed: number): Promise<void> {
  const ep = await createEndpoint({ nodeId: 'echo', ...faultOptions(loss, corrupt, seed + 1) });
  ep.on('message', (m) => void ep.send(m.peer, m.data).catch(() => undefined));
  process.stdout.write(`${ep.address}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    const s = ep.stats();
    process.stderr.write(`  echo node: ${s.datagramsSent} datagrams sent, ${s.bad.badChecksum} bad checksums caught, ` +
      `${s.peers[0]?.retransmits ?? 0} retransmissions, ${s.peers[0]?.duplicatesDropped ?? 0} duplicates dropped\n`);
    void ep.close().then(() => process.exit(0));
  });
}

function num(v: string | undefined, name: string, lo: number, hi: number, def: number): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (!Number.isFinite(x) || x < lo || x > hi) {
    process.stderr.write(`--${name} must be a number in [${lo}, ${hi}], got ${JSON.stringify(v)}\n\n${USAGE}`);
    process.exit(2);
  }
  return x;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        loss: { type: 'string' }, corrupt: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' },
        help: { type: 'boolean' }, echo: { type: 'boolean' },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  const loss = num(v.loss, 'loss', 0, 0.9, 0.2);
  const corrupt = num(v.corrupt, 'corrupt', 0, 0.5, 0.05);
  const count = Math.floor(num(v.count, 'count', 1, 100_000, 300));
  const seed = Math.floor(num(v.seed, 'seed', 0, 2 ** 31, 1));
  if (v.echo) return echoNode(loss, corrupt, seed);

  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--echo', '--loss', String(loss), '--corrupt', String(corrupt), '--seed', String(seed)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let ep: UdpEndpoint | undefined;
  try {
    const [peer] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    ep = await createEndpoint({ nodeId: 'sender', ...faultOptions(loss, corrupt, seed) });
    console.log(`pagewire transport demo: ${count} messages to an echo node at ${peer}`);
    console.log(`  faults on every datagram, both ways: drop ${loss}, duplicate 0.1, reorder 0.1, corrupt ${corrupt}`);
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
    ep.on('message', (m) => echoes.push(Buffer.from(m.data)));
    const t0 = performance.now();
    await Promise.all(sent.map((b) => ep!.send(peer, b)));
    const deadline = Date.now() + 30_000;
    while (echoes.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - t0;
    const intact = echoes.length === count && echoes.every((e, i) => e.equals(sent[i]!));
    const s = ep.stats();
    const p = ep.peerStats(peer)!;
    const f = ep.faultStats().outbound!;
    console.log(`  ${echoes.length}/${count} echoes back in ${Math.round(ms)} ms, ${intact ? 'all exactly once, in order, byte-identical' : 'NOT INTACT'}`);
    console.log(`  sender: ${s.datagramsSent} datagrams sent (${f.dropped} dropped, ${f.corrupted} corrupted, ${f.duplicated} duplicated by the injector)`);
    console.log(`          ${p.retransmits} retransmissions, ${p.probes} tail probes, ${p.timeouts} back-offs, ${s.bad.badChecksum} bad checksums caught, ${p.duplicatesDropped} duplicates dropped`);
    console.log(`          RTT estimate ${p.srttUs} us, RTO ${p.rtoUs} us, congestion window ${p.cwnd}`);
    child.stdin!.end();
    await once(child, 'exit');
    if (!intact) process.exitCode = 1;
  } finally {
    await ep?.close();
    if (child.exitCode === null) child.kill();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
