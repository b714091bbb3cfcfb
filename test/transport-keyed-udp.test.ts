/**
 * Keyed endpoints over real UDP, with default options, attacked as an outsider without the key
 * would: random bytes, captured datagrams replayed, bit-flipped copies, datagrams sealed under
 * another key, clear-text forgeries with valid CRCs, from the attacker's own address and spoofed
 * from a peer's. None may be delivered, every legitimate exchange must come back intact, and the
 * counters must account for every datagram thrown. Also: a captured session replayed at a
 * restarted node, an endpoint with the wrong key, and DEBUG output after decryption.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { generateClusterKey, isTransportError } from '../transport/index.js';
import { seededRandom } from '../transport/random.js';
import { clearForgeries, drops, flipped, forgedSealed, randomDatagrams as randomBytes } from './support/attacker.js';
import { collect, Endpoints } from './support/transport.js';
import { UdpProxy } from './support/udp-proxy.js';
import { runNode } from './support/run.js';
import { waitFor, within } from './support/wait.js';

const eps = new Endpoints();
const sockets: dgram.Socket[] = [];
let proxy: UdpProxy | undefined;
afterEach(async () => {
  await eps.closeAll();
  await proxy?.close();
  proxy = undefined;
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function attackerSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  sockets.push(s);
  return s;
}

describe('a keyed pair doing real work, attacked by an outsider without the key (real UDP, default options)', () => {
  it('accepts none of 6,000 random, replayed, bit-flipped, forged and clear-text datagrams (from its own address and spoofed from the peer\'s), answers every request intact, and counts every drop', async () => {
    const key = generateClusterKey();
    const a = await eps.make({ key, nodeId: 'node-a' });
    const b = await eps.make({ key, nodeId: 'node-b' });
    proxy = await UdpProxy.start(b.port);
    const atA = collect(a);
    const atB = collect(b);
    b.on('message', (m) => void b.send(m.peer, Buffer.concat([Buffer.from('echo:'), m.data])).catch(() => undefined));
    const attacker = await attackerSocket();
    const noticesTo = { a: 0, b: 0 }; // refusal notices the endpoints sent the attacker's own address
    attacker.on('message', (_m, r) => void (r.port === a.port ? noticesTo.a++ : r.port === b.port ? noticesTo.b++ : 0));
    const rand = seededRandom(2024);

    // Real work first, so there is a session to capture.
    const N = 400;
    const request = (i: number) => Buffer.from(`request ${i}: ${'.'.repeat(i % 200)}`);
    for (let i = 0; i < 40; i++) await a.send(proxy.frontAddress, request(i));
    await waitFor(() => atA.length === 40, 'the first 40 answers');
    proxy.recording = false;
    const capturedToB = proxy.recordedToTarget.slice();
    const capturedToA = proxy.recordedFromTarget.slice();
    expect(capturedToB.length).toBeGreaterThanOrEqual(40);
    const bBefore = drops(b.stats());
    const aBefore = drops(a.stats());
    const s0 = { a: a.stats().handshake, b: b.stats().handshake };

    // The attack, interleaved with the rest of the work.
    let thrownAtB = 0;
    let thrownAtA = 0;
    const bAddr = { port: b.port, host: '127.0.0.1' };
    const aAddr = { port: a.port, host: '127.0.0.1' };
    const sends: Promise<void>[] = [];
    for (let i = 40; i < N; i++) {
      sends.push(a.send(proxy.frontAddress, request(i)));
      if (i % 30 !== 0) continue;
      const own = [...randomBytes(rand, 60), ...forgedSealed(rand, 'node-a', 20), ...clearForgeries(rand, 20)];
      for (const d of own) attacker.send(d, bAddr.port, bAddr.host);
      for (const d of randomBytes(rand, 30)) attacker.send(d, aAddr.port, aAddr.host);
      thrownAtB += own.length;
      thrownAtA += 30;
      const spoofedAtB = [...capturedToB, ...flipped(rand, capturedToB, 100), ...randomBytes(rand, 100), ...forgedSealed(rand, 'node-a', 50), ...clearForgeries(rand, 50)];
      proxy.forgeToTarget(spoofedAtB);
      proxy.replayToClient([...capturedToA, ...flipped(rand, capturedToA, 60)]);
      thrownAtB += spoofedAtB.length;
      thrownAtA += capturedToA.length + 60;
      await new Promise((r) => setTimeout(r, 5));
    }
    await within(Promise.all(sends), 20_000, 'every request acknowledged');
    await waitFor(() => atA.length === N, `${N} answers`, 20_000);
    await waitFor(() => drops(b.stats()) - bBefore >= thrownAtB && drops(a.stats()) - aBefore >= thrownAtA, 'every thrown datagram counted', 10_000);
    expect(thrownAtB + thrownAtA).toBeGreaterThan(6_000);

    // Nothing of the attack was delivered, everything legitimate was, intact and in order.
    expect(atB.map((m) => Buffer.from(m.data).toString())).toEqual(Array.from({ length: N }, (_, i) => request(i).toString()));
    expect(atA.map((m) => Buffer.from(m.data).toString())).toEqual(Array.from({ length: N }, (_, i) => `echo:${request(i).toString()}`));
    expect(new Set(atB.map((m) => `${m.peer} ${m.peerId}`))).toEqual(new Set([`${proxy.backAddress} node-a`]));
    // Every datagram thrown is counted as dropped; so, at most, are the refusal notices each side
    // sent the other's address in answer to datagrams spoofed from it (notices quoting a datagram
    // of the receiver's own count as refusalsReceived instead). Nobody restarted or gave up.
    await new Promise((r) => setTimeout(r, 100));
    const sb = b.stats();
    const sa = a.stats();
    const extraAtB = drops(sb) - bBefore + sb.handshake.refusalsReceived - s0.b.refusalsReceived - thrownAtB;
    const extraAtA = drops(sa) - aBefore + sa.handshake.refusalsReceived - s0.a.refusalsReceived - thrownAtA;
    expect(extraAtB).toBeGreaterThanOrEqual(0);
    expect(extraAtB).toBeLessThanOrEqual(sa.handshake.refusalsSent - s0.a.refusalsSent - noticesTo.a);
    expect(extraAtA).toBeGreaterThanOrEqual(0);
    expect(extraAtA).toBeLessThanOrEqual(sb.handshake.refusalsSent - s0.b.refusalsSent - noticesTo.b);
    expect(sb.bad.replay).toBeGreaterThan(capturedToB.length * 5);
    expect(sb.bad.auth).toBeGreaterThan(1000);
    expect(sa.bad.replay).toBeGreaterThan(capturedToA.length * 5);
    for (const p of [...sa.peers, ...sb.peers]) expect({ restarts: p.restarts, giveUps: p.giveUps }).toEqual({ restarts: 0, giveUps: 0 });
    // Only the real peer holds state.
    expect(sb.peers.map((p) => p.peer)).toEqual([proxy.backAddress]);
  });

  it('a replay of a whole captured keyed session at a restarted node delivers nothing and leaves it holding no peer state', async () => {
    const key = generateClusterKey();
    const a = await eps.make({ key, nodeId: 'node-a' });
    const b = await eps.make({ key, nodeId: 'node-b' });
    proxy = await UdpProxy.start(b.port);
    b.on('message', (m) => void b.send(m.peer, m.data).catch(() => undefined));
    const atA = collect(a);
    for (let i = 0; i < 50; i++) await a.send(proxy.frontAddress, Buffer.from(`old ${i}`));
    await waitFor(() => atA.length === 50, 'the old session\'s answers');
    const captured = proxy.recordedToTarget.slice();
    proxy.recording = false;
    await a.close();
    const port = b.port;
    await b.close();
    const b2 = await eps.make({ key, nodeId: 'node-b', port });
    const atB2 = collect(b2);
    proxy.forgeToTarget(captured);
    await waitFor(() => drops(b2.stats()) >= captured.length, 'every replayed datagram counted');
    await new Promise((r) => setTimeout(r, 100));
    const s = b2.stats();
    expect(atB2).toEqual([]);
    expect(drops(s)).toBe(captured.length);
    expect(s.bad.replay).toBeGreaterThan(captured.length / 2);
    expect(s.peers).toEqual([]);
  });

  it('an endpoint with another key is refused: its send fails TRANSPORT_ERR_REFUSED, the keyed node counts and names it, and its own traffic is unaffected', async () => {
    const key = generateClusterKey();
    const a = await eps.make({ key, nodeId: 'node-a' });
    const b = await eps.make({ key, nodeId: 'node-b' });
    const w = await eps.make({ key: generateClusterKey(), nodeId: 'node-a' });
    b.on('message', (m) => void b.send(m.peer, m.data).catch(() => undefined));
    const atA = collect(a);
    const refused = w.send(b.address, Buffer.from('let me in')).then(() => 'delivered', (e: unknown) => e);
    for (let i = 0; i < 100; i++) await a.send(b.address, Buffer.from(`work ${i}`));
    const e = await within(refused, 5_000, 'the refused send');
    expect(isTransportError(e, 'TRANSPORT_ERR_REFUSED')).toBe(true);
    expect((e as Error).message).toMatch(new RegExp(`^${b.address.replace(/\./g, '\\.')} refused what we sent for \\d+ ms: our datagrams did not authenticate under its cluster key`));
    await waitFor(() => atA.length === 100, 'a\'s answers');
    const s = b.stats();
    expect(s.bad.auth).toBeGreaterThanOrEqual(3);
    expect(s.lastAuthFailure?.from).toBe(w.address);
    expect(s.peers.map((p) => p.peer)).toEqual([a.address]);
    expect(w.stats().handshake.refusalsReceived).toBeGreaterThanOrEqual(3);
  });

  it('rejects a key that is not 32 bytes with TRANSPORT_ERR_BAD_KEY, and a nodeId too long to seal with TRANSPORT_ERR_INVALID_ARGUMENT', async () => {
    await expect(eps.make({ key: new Uint8Array(16) })).rejects.toMatchObject({ code: 'TRANSPORT_ERR_BAD_KEY', message: 'key must be 32 bytes (256 bits), got 16' });
    await expect(eps.make({ key: generateClusterKey(), nodeId: 'n'.repeat(65) })).rejects.toMatchObject({
      code: 'TRANSPORT_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/nodeId must be at most 64 bytes of UTF-8 with a key/),
    });
    // Without a nodeId the bound address is the identity peers see.
    const key = generateClusterKey();
    const x = await eps.make({ key });
    const y = await eps.make({ key });
    const atY = collect(y);
    await x.send(y.address, Buffer.from('hi'));
    await waitFor(() => atY.length === 1, 'delivery');
    expect(atY[0]!.peerId).toBe(x.address);
    expect(x.keyed && x.stats().keyed).toBe(true);
  });
});

describe('DEBUG=pagewire:* with keyed endpoints', () => {
  it('shows each datagram decoded after it was opened, and a damaged one as an auth drop (demo:transport, keyed by default)', async () => {
    const prev = process.env.DEBUG;
    process.env.DEBUG = 'pagewire:trace:transport';
    let r: Awaited<ReturnType<typeof runNode>>;
    try {
      r = await runNode('demos/transport-demo.js', ['--count', '3', '--loss', '0', '--dup', '0', '--reorder', '0', '--corrupt', '0.3', '--seed', '5']);
    } finally {
      if (prev === undefined) delete process.env.DEBUG;
      else process.env.DEBUG = prev;
    }
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/every datagram sealed \(AES-256-GCM\)/);
    expect(r.stderr).toMatch(/pagewire:trace:transport \[echo\] ← 127\.0\.0\.1:\d+ datagram-received: DATA seq=\d+.* flags=SYN\|DATA/);
    expect(r.stderr).toMatch(/pagewire:trace:transport \[sender\] ← 127\.0\.0\.1:\d+ datagram-received: .*ack \d+/);
    expect(r.stderr).toMatch(/datagram-corrupt: auth: dropped \(its tag did not verify/);
  });
});
