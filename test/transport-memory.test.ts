/**
 * What senders can make a receiver hold, measured: 1,000 senders, each past the handshake,
 * each sending the start of a large message it never finishes. The receiver (its own process,
 * so its RSS is its own) holds at most maxReassemblyBytes for them, and counts what it refused.
 */
import dgram from 'node:dgram';
import { afterEach, expect, it } from 'vitest';
import { seededRandom } from '../transport/random.js';
import { decodeDatagram, encodeDatagram, F_CHALLENGE, F_DATA, F_ECHO, F_FIRST, F_SYN, MAX_OVERHEAD_BYTES, type Datagram } from '../transport/wire.js';
import { killEndpoints, spawnEndpoint } from './support/transport.js';
import { waitFor } from './support/wait.js';

const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await killEndpoints();
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('1,000 senders of unfinished 1 MiB messages: the receiver\'s RSS stays within maxReassemblyBytes plus a constant, refusals counted', async () => {
  const budget = 16 * MiB;
  /** Everything that is not reassembly: 1,000 sessions, buffers in flight, heap slack. */
  const constant = 48 * MiB;
  const victim = await spawnEndpoint({ maxReassemblyBytes: budget, echo: false }, ['--expose-gc']);
  const port = Number(victim.address.split(':')[1]);
  const base = await victim.stats();

  const senders = 1000;
  const fragments = 150; // 150 x 1,114 bytes each = 167 KB per sender, 167 MB in all: ten times the budget
  const payload = Buffer.alloc(1200 - MAX_OVERHEAD_BYTES, 0x5a);
  const rand = seededRandom(1000);
  const u32 = () => (Math.floor(rand() * 2 ** 32) >>> 0) || 1;
  const proven: (Datagram | undefined)[] = [];
  for (let i = 0; i < senders; i++) {
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const start: Datagram = {
      flags: F_SYN | F_DATA | F_FIRST | F_CHALLENGE, window: 64, srcInc: u32(), dstInc: 0, stream: u32(), ackStream: 0,
      seq: 0, ack: 0, isn: 0, challenge: 1n, echo: 0n, sacks: [], payload,
    };
    s.on('message', (m) => {
      const d = decodeDatagram(m, 1500);
      // Answer the victim's challenge once: from then on this sender is a proven peer.
      if (typeof d !== 'string' && d.flags & F_CHALLENGE && proven[i] === undefined) {
        proven[i] = { ...start, flags: F_SYN | F_DATA | F_ECHO, dstInc: d.srcInc, echo: d.challenge };
      }
    });
    s.send(encodeDatagram(start), port, '127.0.0.1');
    if (i % 100 === 99) await sleep(5);
  }
  await waitFor(() => proven.filter(Boolean).length >= senders * 0.95, 'the senders to be challenged', 10_000);

  // Round-robin: fragment k of every sender's message, paced so the victim reads what is sent.
  let maxRss = base.rss;
  for (let k = 0; k < fragments; k++) {
    for (let i = 0; i < senders; i++) {
      const p = proven[i];
      if (p === undefined) continue;
      sockets[i]!.send(encodeDatagram({ ...p, flags: p.flags | (k === 0 ? F_FIRST : 0), seq: k }), port, '127.0.0.1');
    }
    if (k % 10 === 9) maxRss = Math.max(maxRss, (await victim.stats()).rss);
    else await sleep(2);
  }
  const end = await victim.stats();
  maxRss = Math.max(maxRss, end.rss);
  const st = end.stats;
  expect(st.peers.length).toBeGreaterThanOrEqual(senders * 0.95); // they all earned state
  expect(maxRss - base.rss).toBeLessThanOrEqual(budget + constant);
  expect(st.reassemblyBytes).toBeLessThanOrEqual(budget);
  expect(st.reassemblyBytes).toBeGreaterThan(budget * 0.9); // the budget was really used up // the budget was really used up
  // Most was refused, and counted: refused for the budget, or beyond the window behind a refused one.
  expect(st.dropped.reassemblyBudget).toBeGreaterThan(0);
  expect(st.dropped.reassemblyBudget + st.dropped.beyondWindow).toBeGreaterThan(senders * fragments * 0.5);
  process.stdout.write(`reassembly: budget ${budget / MiB} MiB, held ${(st.reassemblyBytes / MiB).toFixed(1)} MiB, ` +
    `RSS ${(base.rss / MiB).toFixed(0)} -> max ${(maxRss / MiB).toFixed(0)} MiB, refused ${st.dropped.reassemblyBudget} + ${st.dropped.beyondWindow} beyond the window\n`);
});
