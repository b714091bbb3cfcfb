/**
 * The transport over real loopback UDP sockets: delivery under injected faults, sequence
 * wraparound, peer restart, unreachable peers, bursts, hostile datagrams, ack piggybacking.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { isTransportError, type UdpEndpoint } from '../transport/index.js';
import { crc32c } from '../transport/crc32c.js';
import { seededRandom } from '../transport/random.js';
import { encodeDatagram, F_ACK, F_CHALLENGE, F_DATA, F_ECHO, F_FIRST, F_LAST, F_SYN } from '../transport/wire.js';
import { collect, Endpoints, makeMessage, workloadSizes } from './support/transport.js';
import { waitFor, within } from './support/wait.js';

const eps = new Endpoints();
afterEach(() => eps.closeAll());

/** Check messages [0, n) arrived once each, in order, byte-identical to makeMessage(seed, i, sizes[i]). */
function expectExactlyOnceInOrder(got: { data: Uint8Array }[], seed: number, sizes: number[]): void {
  expect(got.length).toBe(sizes.length);
  for (let i = 0; i < sizes.length; i++) {
    const want = makeMessage(seed, i, sizes[i]!);
    const have = Buffer.from(got[i]!.data);
    if (!have.equals(want)) throw new Error(`message ${i} differs: ${have.length} bytes vs ${want.length} expected`);
  }
}

describe('transport over UDP', () => {
  it('delivers a message larger than a datagram, fragmented and reassembled', async () => {
    const a = await eps.make();
    const b = await eps.make();
    const got = collect(b);
    const msg = makeMessage(1, 0, 300_000);
    await a.send(b.address, msg);
    await waitFor(() => got.length === 1, 'delivery');
    expect(Buffer.from(got[0]!.data).equals(msg)).toBe(true);
    expect(got[0]!.peer).toBe(a.address);
    expect(a.peerStats(b.address)!.datagramsSent).toBeGreaterThanOrEqual(Math.ceil(300_000 / 1200));
  });

  it('delivers an empty message', async () => {
    const a = await eps.make();
    const b = await eps.make();
    const got = collect(b);
    await a.send(b.address, new Uint8Array(0));
    await waitFor(() => got.length === 1, 'delivery');
    expect(got[0]!.data.length).toBe(0);
  });

  for (const seed of [1, 2, 3]) {
    it(`delivers 10,000 messages of 1 B..256 KiB exactly once, in order, byte-identical under 30% drop, 30% duplication, reordering and 5% corruption (seed ${seed})`, async () => {
      const faults = { seed, outbound: { drop: 0.3, duplicate: 0.3, reorder: 0.2, delay: 0.05, delayMs: 3, corrupt: 0.05 } };
      // Configured as for a known-lossy link: give-up is for dead peers, not a 30%-loss path;
      // a congestion-window floor of 16 because this loss is random, not congestion.
      // 1,200-byte datagrams as on a network path (loopback would allow 64 KiB ones: a few hundred
      // datagrams would carry everything, coalesced, and the faults would hit few of them).
      const common = { giveUpMs: 60_000, maxRtoMs: 100, minRtoMs: 2, initialRtoMs: 10, minCwnd: 16, datagramBytes: 1200 };
      const a = await eps.make({ ...common, faults });
      const b = await eps.make({ ...common, faults: { ...faults, seed: seed + 1000 } });
      const got = collect(b);
      const sizes = workloadSizes(seed, 10_000);
      const sends = sizes.map((size, i) => a.send(b.address, makeMessage(seed, i, size)));
      await within(Promise.all(sends), 120_000, 'all sends acknowledged');
      await waitFor(() => got.length >= sizes.length, 'all deliveries', 5_000);
      expectExactlyOnceInOrder(got, seed, sizes);
      const fa = a.faultStats().outbound!;
      const fb = b.faultStats().outbound!;
      // The faults really happened, and the checksum caught every corrupted datagram.
      expect(fa.dropped).toBeGreaterThan(1000);
      expect(fa.duplicated).toBeGreaterThan(1000);
      expect(fa.reordered).toBeGreaterThan(100);
      expect(fa.corrupted).toBeGreaterThan(100);
      expect(b.stats().bad.badChecksum).toBeGreaterThan(0);
      expect(b.stats().bad.badChecksum + a.stats().bad.badChecksum).toBeLessThanOrEqual(fa.corrupted * 2 + fb.corrupted * 2);
      expect(b.peerStats(a.address)!.duplicatesDropped).toBeGreaterThan(0);
      expect(a.peerStats(b.address)!.retransmits).toBeGreaterThan(0);
    });
  }

  it('keeps delivering in order across the 2^32 sequence wrap (start 5 below 2^32)', async () => {
    const opts = { initialSeq: 2 ** 32 - 5, faults: { seed: 9, outbound: { drop: 0.1, reorder: 0.2 } }, giveUpMs: 30_000 };
    const a = await eps.make(opts);
    const b = await eps.make({ ...opts, faults: { seed: 10, outbound: { drop: 0.1, reorder: 0.2 } } });
    const got = collect(b);
    const sizes = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? 3000 : 20 + i)); // some span 3 datagrams
    await within(Promise.all(sizes.map((s, i) => a.send(b.address, makeMessage(4, i, s)))), 60_000, 'sends');
    await waitFor(() => got.length >= 1000, 'deliveries');
    expectExactlyOnceInOrder(got, 4, sizes);
  });

  it('rejects a send to a port with nothing behind it with PEER_UNREACHABLE within the default give-up time', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const port = hole.address().port;
    await new Promise<void>((r) => hole.close(() => r()));
    const a = await eps.make();
    const events: string[] = [];
    a.on('peer-unreachable', (e) => events.push(e.peer));
    const t0 = performance.now();
    const err = await within(a.send(`127.0.0.1:${port}`, Buffer.from('anyone?')).then(() => undefined, (e: unknown) => e), 5_000, 'rejection');
    const waited = performance.now() - t0;
    expect(isTransportError(err, 'TRANSPORT_ERR_PEER_UNREACHABLE')).toBe(true);
    expect((err as Error).message).toMatch(/did not acknowledge for \d+ ms \(giveUpMs 2000\)/);
    expect(waited).toBeGreaterThanOrEqual(1990);
    expect(waited).toBeLessThan(2000 + 1500); // give-up is checked at the latest one max RTO after it is due
    expect(events).toEqual([`127.0.0.1:${port}`]);
  });

  it('sends 10,000 messages in one burst without awaiting over real loopback: all delivered', async () => {
    const a = await eps.make({ giveUpMs: 30_000 });
    const b = await eps.make();
    const got = collect(b);
    const n = 10_000;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) sends.push(a.send(b.address, makeMessage(5, i, 100 + (i % 900))));
    await within(Promise.all(sends), 60_000, 'burst acknowledged');
    await waitFor(() => got.length === n, 'burst delivered');
    expectExactlyOnceInOrder(got, 5, Array.from({ length: n }, (_, i) => 100 + (i % 900)));
    const s = a.peerStats(b.address)!;
    expect(s.messagesSent).toBe(n);
    expect(s.timeouts).toBeLessThan(50); // the window keeps it from collapsing into timeouts
  });

  it('uses at most 2.1 datagrams per request/reply exchange on a clean link (acks piggyback)', async () => {
    const client = await eps.make();
    const server = await eps.make();
    server.on('message', (m) => void server.send(m.peer, m.data).catch(() => undefined));
    let replies = 0;
    let next: (() => void) | undefined;
    client.on('message', () => {
      replies++;
      next?.();
    });
    // Warm up (first contact carries SYN and the first RTT samples), then measure.
    await client.send(server.address, Buffer.from('warm'));
    await waitFor(() => replies === 1, 'warm-up reply');
    const before = client.stats().datagramsSent + server.stats().datagramsSent;
    for (let i = 0; i < 1000; i++) {
      const replied = new Promise<void>((r) => (next = r));
      void client.send(server.address, makeMessage(6, i, 64));
      await within(replied, 5_000, `reply ${i}`);
    }
    await new Promise((r) => setTimeout(r, 20)); // let the last delayed ack go out, so it is counted
    const used = client.stats().datagramsSent + server.stats().datagramsSent - before;
    expect(used / 1000).toBeLessThanOrEqual(2.1);
    expect(used).toBeGreaterThanOrEqual(2000);
  });

  it('coalesces the messages sent to one peer in one tick into as few datagrams as they fit in, each delivered once and in order', async () => {
    // 1,200-byte datagrams (on loopback a 52 KB one would take the whole burst).
    const a = await eps.make({ datagramBytes: 1200 });
    const b = await eps.make({ datagramBytes: 1200 });
    const got = collect(b);
    // Warm up (the handshake), then 200 small messages of mixed sizes in one tick, and a large one.
    await a.send(b.address, Buffer.from('hello'));
    await waitFor(() => got.length === 1, 'first delivery');
    const before = a.peerStats(b.address)!;
    const sizes = Array.from({ length: 200 }, (_, i) => (i * 37) % 150);
    sizes[100] = 5_000; // fragmented in the middle of the burst; it breaks the bundles, not the order
    const sends = sizes.map((n, i) => a.send(b.address, makeMessage(3, i, n)));
    await within(Promise.all(sends), 10_000, 'the burst');
    await waitFor(() => got.length === 201, 'the burst delivered');
    expectExactlyOnceInOrder(got.slice(1), 3, sizes);
    const after = a.peerStats(b.address)!;
    const data = (after.datagramsSent - before.datagramsSent) - (after.pureAcksSent - before.pureAcksSent);
    // About 80 bytes a message on average: 13 or so fit in a 1,200-byte datagram; the 5,000-byte one takes 5.
    expect(data).toBeLessThan(30);
    expect(after.bundles - before.bundles).toBeGreaterThan(10);
    expect(after.messagesSent - before.messagesSent).toBe(200);
  });

  it('holds each message of a bundle to the receiver\'s maxMessageBytes: larger ones are dropped and counted, the others delivered', async () => {
    const a = await eps.make({ datagramBytes: 1200 });
    const b = await eps.make({ datagramBytes: 1200, maxMessageBytes: 100 });
    const got = collect(b);
    await a.send(b.address, Buffer.from('hello'));
    await waitFor(() => got.length === 1, 'first delivery');
    // Ten messages in one tick, every other one larger than b takes: they share datagrams.
    const sends = Array.from({ length: 10 }, (_, i) => a.send(b.address, Buffer.alloc(i % 2 === 0 ? 50 : 300, i)));
    await within(Promise.all(sends), 5_000, 'the burst acknowledged');
    await waitFor(() => b.stats().dropped.messageTooLarge === 5, 'five counted drops');
    expect(a.peerStats(b.address)!.bundles).toBeGreaterThan(0);
    expect(got.slice(1).map((m) => [m.data.length, m.data[0]])).toEqual([[50, 0], [50, 2], [50, 4], [50, 6], [50, 8]]);
  });

  it('sends a message alone in its tick as one datagram of its own (no bundle)', async () => {
    const a = await eps.make();
    const b = await eps.make();
    const got = collect(b);
    await a.send(b.address, Buffer.from('hello'));
    await waitFor(() => got.length === 1, 'first delivery');
    const before = a.peerStats(b.address)!;
    for (let i = 0; i < 20; i++) {
      await a.send(b.address, Buffer.from(`lone ${i}`));
      await waitFor(() => got.length === i + 2, `message ${i}`);
    }
    const after = a.peerStats(b.address)!;
    expect(after.bundles - before.bundles).toBe(0);
    expect((after.datagramsSent - before.datagramsSent) - (after.pureAcksSent - before.pureAcksSent)).toBe(20);
  });

  it('rejects messages over maxMessageBytes with MESSAGE_TOO_LARGE and bad peers with INVALID_ARGUMENT', async () => {
    const a = await eps.make({ maxMessageBytes: 1000 });
    await expect(a.send('127.0.0.1:9', new Uint8Array(1001))).rejects.toMatchObject({ code: 'TRANSPORT_ERR_MESSAGE_TOO_LARGE' });
    await expect(a.send('nowhere', new Uint8Array(1))).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
    await expect(a.send('example.com:80', new Uint8Array(1))).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
    await expect(a.send('127.0.0.1:0', new Uint8Array(1))).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
    await expect(a.send('127.0.0.1:9', 'text' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
  });

  it('a receiver drops a message over its own maxMessageBytes and keeps the stream going', async () => {
    const a = await eps.make();
    const b = await eps.make({ maxMessageBytes: 10_000 });
    const got = collect(b);
    await a.send(b.address, new Uint8Array(20_000)); // acknowledged (the datagrams arrived) but not delivered
    await a.send(b.address, Buffer.from('after'));
    await waitFor(() => got.length === 1, 'the next message');
    expect(Buffer.from(got[0]!.data).toString()).toBe('after');
  });

  it('validates options at construction with messages that say what is allowed', async () => {
    await expect(eps.make({ datagramBytes: 50 })).rejects.toThrow(/datagramBytes must be an integer in \[\d+, 65507\], got 50/);
    await expect(eps.make({ minRtoMs: 1, ackDelayMs: 2 })).rejects.toThrow(/ackDelayMs \(2\) must be below minRtoMs \(1\)/);
    await expect(eps.make({ faults: { outbound: { drop: 1.5 } } })).rejects.toThrow(/faults.outbound.drop must be a probability between 0 and 1, got 1.5/);
    await expect(eps.make({ host: 'not-an-ip' })).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
    await expect(eps.make({ pinnedPeers: ['127.0.0.1:7001', 'nowhere'] })).rejects.toThrow(/peer must look like "127.0.0.1:7001" or "\[::1\]:7001", got "nowhere"/);
    await expect(eps.make({ pinnedPeers: '127.0.0.1:7001' as unknown as string[] })).rejects.toThrow(/pinnedPeers must be an array of "host:port" strings/);
    await expect(eps.make({ maxReassemblyBytes: 1_000_000 })).rejects.toThrow(/maxReassemblyBytes \(1000000\) must be at least 2 × maxMessageBytes \(2097152\)/);
    await expect(eps.make({ maxFragmentsPerMessage: 0 })).rejects.toThrow(/maxFragmentsPerMessage must be an integer in \[1, \d+\], got 0/);
    await expect(eps.make({ maxChallengesPerSecond: 0.5 })).rejects.toThrow(/maxChallengesPerSecond must be an integer/);
  });

  it('reports a port already in use as TRANSPORT_ERR_BIND', async () => {
    const a = await eps.make();
    await expect(eps.make({ port: a.port })).rejects.toMatchObject({ code: 'TRANSPORT_ERR_BIND' });
  });

  it('rejects pending sends with TRANSPORT_ERR_CLOSED when closed', async () => {
    const a = await eps.make();
    const p = a.send('127.0.0.1:9', Buffer.from('x'));
    await a.close();
    await expect(p).rejects.toMatchObject({ code: 'TRANSPORT_ERR_CLOSED' });
    await expect(a.send('127.0.0.1:9', Buffer.from('x'))).rejects.toMatchObject({ code: 'TRANSPORT_ERR_CLOSED' });
  });
});

describe('hostile input', () => {
  it('survives 100,000 random and mutated datagrams: keeps serving a normal peer, counts them, delivers none', async () => {
    const victim = await eps.make();
    const friend = await eps.make();
    const fromFriend = collect(victim);
    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
    const attackerAddr = `127.0.0.1:${attacker.address().port}`;
    const rand = seededRandom(77);
    const int = (n: number) => Math.floor(rand() * n);
    const withCrc = (b: Buffer) => {
      b.writeUInt32BE(crc32c(b, 0, b.length - 4), b.length - 4);
      return b;
    };
    const valid = () => encodeDatagram({
      flags: F_DATA | F_FIRST | F_LAST | F_ACK | (rand() < 0.5 ? F_SYN : 0), window: int(65536), srcInc: 1 + int(2 ** 31),
      dstInc: 1 + int(2 ** 31), stream: 1 + int(2 ** 31), ackStream: 1 + int(2 ** 31), seq: int(2 ** 32), ack: int(2 ** 32),
      isn: int(2 ** 32), challenge: 0n, echo: 0n, sacks: [], payload: Buffer.from('evil'),
    });
    // Every kind of bad datagram, including well-formed stream starts from the attacker's own
    // address: without an echo of a cookie sent to that address, no datagram earns state.
    const kinds: Array<() => Buffer> = [
      () => Buffer.from(Array.from({ length: int(1500) }, () => int(256))), // random bytes
      () => { const b = valid(); b[int(b.length)] ^= 1 << int(8); return b; }, // bit flip, stale CRC
      () => valid().subarray(0, int(34)), // truncated
      () => { const b = valid(); b[0] = 3 + int(250); return withCrc(b); }, // wrong version
      () => withCrc(Buffer.alloc(rand() < 0.9 ? 1300 + int(200) : 65_001 + int(500), 1)), // oversized (above 1,200; on loopback, above 65,000), valid CRC
      () => { const b = valid(); b[1] = 0x80 | int(256); return withCrc(b); }, // a random flag combination (TRACE among them), fields not matching it
      () => { const b = valid(); b[29] = 65 + int(191); return withCrc(b); }, // byte 29 out of range: accepts more than a UDP datagram holds, or a bundle bit on a payload that is no bundle
      () => valid(), // data (or a stream start) from an incarnation nobody proved
      () => encodeDatagram({ // a stream start asking to be challenged
        flags: F_SYN | F_DATA | F_FIRST | F_LAST | F_CHALLENGE, window: 64, srcInc: 1 + int(2 ** 31), dstInc: 0, stream: 1 + int(2 ** 31),
        ackStream: 0, seq: 7, ack: 0, isn: 7, challenge: BigInt(int(2 ** 32)), echo: 0n, sacks: [], payload: Buffer.from('evil'),
      }),
      () => encodeDatagram({ // a guessed echo
        flags: F_ECHO, window: 64, srcInc: 1 + int(2 ** 31), dstInc: 0, stream: 0, ackStream: 0, seq: 0, ack: 0, isn: 0,
        challenge: 0n, echo: BigInt(int(2 ** 32)) * BigInt(int(2 ** 32)), sacks: [], payload: new Uint8Array(0),
      }),
      () => { const b = valid(); b[1] = F_ACK; return withCrc(b); }, // ack with payload
    ];
    let replies = 0;
    friend.on('message', () => replies++);
    victim.on('message', (m) => void victim.send(m.peer, m.data).catch(() => undefined));
    const total = 100_000;
    const batch = 500;
    // First contact (the friend's handshake costs it one challenged datagram), then the attack.
    await friend.send(victim.address, Buffer.from('hello'));
    await waitFor(() => replies === 1, 'the first reply');
    replies = 0;
    fromFriend.length = 0;
    const base = badTotal(victim);
    for (let sent = 0; sent < total; sent += batch) {
      for (let i = 0; i < batch; i++) attacker.send(kinds[int(kinds.length)]!(), victim.port, '127.0.0.1');
      await friend.send(victim.address, Buffer.from(`ping ${sent}`)); // the normal peer is still served
      // Pace the attack to what the victim drains, so the count below is exact, not kernel drops.
      const target = sent + batch;
      await waitFor(() => badTotal(victim) - base >= target, `victim to read batch ending ${target}`);
    }
    await new Promise<void>((r) => attacker.close(() => r()));
    await waitFor(() => replies === total / batch, 'all replies to the normal peer');
    expect(fromFriend.every((m) => m.peer === friend.address)).toBe(true);
    expect(fromFriend.length).toBe(total / batch);
    const st = victim.stats();
    // The attacker got no state at all, and nothing it sent was delivered.
    expect(st.peers.map((p) => p.peer)).toEqual([friend.address]);
    expect(fromFriend.some((m) => m.peer === attackerAddr)).toBe(false);
    expect(badTotal(victim) - base).toBe(total);
    for (const k of ['truncated', 'badVersion', 'badChecksum', 'malformed', 'oversized', 'staleSession', 'unproven', 'badEcho'] as const) {
      expect(st.bad[k], k).toBeGreaterThan(0);
    }
    expect(st.handshake.challengesSent + st.dropped.challengesRateLimited).toBeGreaterThan(0);
  });
});

function badTotal(ep: UdpEndpoint): number {
  const b = ep.stats().bad;
  return b.truncated + b.badVersion + b.badChecksum + b.malformed + b.oversized + b.staleSession + b.unproven + b.badEcho;
}
