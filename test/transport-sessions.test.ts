/**
 * Sessions under adversity on a virtual clock, with default options: the real transport core
 * (sessions, streams, handshake) on a simulated network (test/support/sim-transport.ts).
 * Partitions and pauses longer than giveUpMs end without any restart being reported; forged
 * datagrams change nothing; a real restart is detected in a few round trips and nothing of the
 * old incarnation is ever delivered.
 */
import { describe, expect, it } from 'vitest';
import { TRANSPORT_DEFAULTS } from '../transport/index.js';
import { seededRandom } from '../transport/random.js';
import { decodeDatagram, encodeDatagram, F_CHALLENGE, F_DATA, F_ECHO, F_FIRST, F_LAST, F_SYN, type Datagram } from '../transport/wire.js';
import { SimNet, type SimNode } from './support/sim-transport.js';

const A = '10.0.0.1:7001';
const B = '10.0.0.2:7002';
const GIVE_UP = TRANSPORT_DEFAULTS.giveUpMs;
/** After the path heals, traffic must flow again within this (virtual) time. */
const RECOVERY_BOUND_MS = TRANSPORT_DEFAULTS.maxRtoMs + 100;

/** a sends a request every `everyMs` from `from` to `to`; b answers every request. `at(t)` runs before each send. */
async function requests(net: SimNet, a: SimNode, b: SimNode, from: number, to: number, at: (t: number) => void = () => undefined, everyMs = 20): Promise<void> {
  for (let t = from; t < to; t += everyMs) {
    await net.run(t);
    at(t);
    a.send(b.address, Buffer.from(`req@${t}`));
  }
}

function echoing(b: SimNode): void {
  b.onMessage = (m) => void b.send(m.peer, m.data);
}

function errorsOf(n: SimNode): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of n.outcomes) if (o.error !== undefined) out[o.error] = (out[o.error] ?? 0) + 1;
  return out;
}

/** Both directions deliver again soon after `healAt`, and every request sent once healed is answered. */
function expectHealed(a: SimNode, b: SimNode, healAt: number, lastSendAt: number): void {
  const firstAtB = b.delivered.find((m) => m.at >= healAt)?.at ?? Infinity;
  const firstAtA = a.delivered.find((m) => m.at >= healAt)?.at ?? Infinity;
  expect(firstAtB - healAt).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
  expect(firstAtA - healAt).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
  const lateRequests = b.delivered.filter((m) => Number(Buffer.from(m.data).toString().slice(4)) >= healAt + RECOVERY_BOUND_MS);
  const expected = Math.floor((lastSendAt - (healAt + RECOVERY_BOUND_MS)) / 20);
  expect(lateRequests.length).toBeGreaterThanOrEqual(expected);
  expect(a.restarts).toEqual([]);
  expect(b.restarts).toEqual([]);
  expect(errorsOf(a).TRANSPORT_ERR_PEER_RESTARTED).toBeUndefined();
  expect(errorsOf(b).TRANSPORT_ERR_PEER_RESTARTED).toBeUndefined();
}

describe('give-up is not a restart (virtual clock, default options)', () => {
  it(`a partition of 3 × giveUpMs (${3 * GIVE_UP} ms) heals: both sides deliver again within ${RECOVERY_BOUND_MS} ms, zero peer-restarted`, async () => {
    const net = new SimNet();
    const a = net.node(A);
    const b = net.node(B);
    echoing(b);
    let cut = false;
    net.drop = () => cut;
    const start = 1000;
    const heal = start + 3 * GIVE_UP;
    await requests(net, a, b, 0, heal + 5000, (t) => {
      if (t === start) cut = true;
      if (t === heal) cut = false;
    });
    await net.run(heal + 6000);
    // The partition really made both sides give up, more than once for the sender.
    expect(a.unreachable.length).toBeGreaterThanOrEqual(2);
    expect(errorsOf(a).TRANSPORT_ERR_PEER_UNREACHABLE).toBeGreaterThan(0);
    expect(a.core.peerStats(B)!.giveUps).toBe(a.unreachable.length);
    // b saw a's newer stream after the heal and took it, without a restart.
    expect(b.core.peerStats(A)!.streamsReceived).toBeGreaterThanOrEqual(2);
    expectHealed(a, b, heal, heal + 5000);
  });

  it('a peer paused for 3 s (SIGSTOP-like: no timers, datagrams queue) resumes: both deliver again, zero peer-restarted', async () => {
    const net = new SimNet();
    const a = net.node(A);
    const b = net.node(B);
    echoing(b);
    const start = 1000;
    const resume = start + 3000;
    await requests(net, a, b, 0, resume + 5000, (t) => {
      if (t === start) net.pause(B);
      if (t === resume) net.resume(B);
    });
    await net.run(resume + 6000);
    expect(a.unreachable.length).toBeGreaterThanOrEqual(1); // a gave up on the paused peer
    expectHealed(a, b, resume, resume + 5000);
  });

  it('a give-up does not change the incarnation: messages after it carry the same session', async () => {
    const net = new SimNet();
    const a = net.node(A);
    const b = net.node(B);
    a.send(B, Buffer.from('before'));
    await net.run(10);
    let cut = true;
    net.drop = () => cut;
    const lost = a.send(B, Buffer.from('lost'));
    await net.run(10 + GIVE_UP + 1000);
    expect(lost.error).toBe('TRANSPORT_ERR_PEER_UNREACHABLE');
    cut = false;
    a.send(B, Buffer.from('after'));
    await net.run(net.now + 10);
    const got = b.delivered.map((m) => Buffer.from(m.data).toString());
    expect(got[0]).toBe('before');
    expect(got.at(-1)).toBe('after');
    expect(new Set(b.delivered.map((m) => m.session)).size).toBe(1);
    expect(b.restarts).toEqual([]);
  });
});

describe('streams after a give-up (virtual clock)', () => {
  it('never delivers a late datagram of the stream a sender gave up on, once its newer stream started', async () => {
    const net = new SimNet();
    net.recordLog = true;
    const a = net.node(A);
    const b = net.node(B);
    const warm = a.send(B, Buffer.from('warm'));
    await net.runUntil(() => warm.settled, 100, 'warm-up');
    let cut = true;
    net.drop = (from) => cut && from === A;
    const lost = [a.send(B, Buffer.from('lost-1')), a.send(B, Buffer.from('lost-2'))];
    await net.run(net.now + GIVE_UP + 100);
    expect(lost.map((o) => o.error)).toEqual(['TRANSPORT_ERR_PEER_UNREACHABLE', 'TRANSPORT_ERR_PEER_UNREACHABLE']);
    const late = net.log.filter((l) => l.from === A && l.dropped).map((l) => l.bytes); // held in the network
    cut = false;
    const fresh = a.send(B, Buffer.from('fresh'));
    await net.runUntil(() => fresh.settled, 100, 'the new stream');
    for (const bytes of late) net.inject(A, B, bytes); // the old stream's datagrams arrive, late
    await net.run(net.now + 50);
    expect(b.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['warm', 'fresh']);
    expect(b.core.stats().bad.staleSession).toBeGreaterThanOrEqual(late.length);
    expect([...a.restarts, ...b.restarts]).toEqual([]);
  });

  it('both sides starting at once prove each other in one exchange: no restart, one proof each', async () => {
    const net = new SimNet();
    const a = net.node(A);
    const b = net.node(B);
    const ab = a.send(B, Buffer.from('a->b'));
    const ba = b.send(A, Buffer.from('b->a'));
    await net.runUntil(() => ab.settled && ba.settled, 100, 'both sends');
    expect([ab.error, ba.error]).toEqual([undefined, undefined]);
    expect(a.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['b->a']);
    expect(b.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['a->b']);
    expect([a.core.stats().handshake.proofs, b.core.stats().handshake.proofs]).toEqual([1, 1]);
    expect([...a.restarts, ...b.restarts]).toEqual([]);
  });
});

describe('forged datagrams change nothing (virtual clock)', () => {
  /** Datagrams an off-path attacker can make: right address, valid CRC, guessed (random) ids. */
  function forgeries(seed: number): Buffer[] {
    const r = seededRandom(seed);
    const u32 = () => (Math.floor(r() * 2 ** 32) >>> 0) || 1;
    const base: Datagram = {
      flags: 0, window: 64, srcInc: u32(), dstInc: 0, stream: 0, ackStream: 0, seq: 0, ack: 0, isn: 0,
      challenge: 0n, echo: 0n, sacks: [], payload: new Uint8Array(0),
    };
    const syn = { ...base, flags: F_SYN | F_DATA | F_FIRST | F_LAST, stream: u32(), seq: 5, isn: 5, payload: Buffer.from('forged') };
    return [
      encodeDatagram(syn), // a stream start from a "new incarnation"
      encodeDatagram({ ...syn, srcInc: u32(), dstInc: u32() }), // naming a guessed incarnation of ours
      encodeDatagram({ ...syn, srcInc: u32(), flags: syn.flags | F_CHALLENGE, challenge: 12345n }),
      encodeDatagram({ ...base, srcInc: u32(), flags: F_CHALLENGE | F_ECHO, challenge: 1n, echo: BigInt(u32()) * BigInt(u32()) }), // a guessed echo
    ];
  }

  it('a forged SYN with a random incarnation and a valid CRC, from each side\'s address: zero restarts, zero failed sends', async () => {
    const net = new SimNet();
    const a = net.node(A);
    const b = net.node(B);
    echoing(b);
    await requests(net, a, b, 0, 2000, (t) => {
      if (t === 500) for (const f of forgeries(1)) net.inject(A, B, f); // to b, "from a"
      if (t === 700) for (const f of forgeries(2)) net.inject(B, A, f); // to a, "from b"
      if (t === 900) net.inject(A, B, forgeries(3)[0]!); // and once more, alone, as in the report
    });
    await net.run(3000);
    expect(a.restarts).toEqual([]);
    expect(b.restarts).toEqual([]);
    expect(errorsOf(a)).toEqual({});
    expect(errorsOf(b)).toEqual({});
    expect(b.delivered).toHaveLength(100); // every request, and nothing forged
    expect(b.delivered.every((m) => Buffer.from(m.data).toString().startsWith('req@'))).toBe(true);
    expect(a.delivered).toHaveLength(100);
    // The forgeries were seen, answered with challenges, and the challenges went nowhere.
    expect(b.core.stats().bad.unproven + b.core.stats().bad.badEcho).toBeGreaterThanOrEqual(5);
    expect(b.core.stats().handshake.challengesSent).toBeGreaterThan(1);
    expect(a.core.stats().bad.staleSession).toBeGreaterThan(0); // b's challenges named the forged incarnations, not a's
    expect(b.core.stats().handshake.proofs).toBe(1); // a's first contact only
  });

  it('a forged datagram from an address the endpoint never heard of allocates no state', async () => {
    const net = new SimNet();
    const b = net.node(B);
    for (let i = 0; i < 100; i++) for (const f of forgeries(10 + i)) net.inject(`10.9.${i}.1:${1000 + i}`, B, f);
    await net.run(100);
    expect(b.core.sessions.size).toBe(0);
    expect(b.core.stats().bad.unproven + b.core.stats().bad.badEcho + b.core.stats().bad.staleSession).toBe(400);
    expect(b.core.stats().reassemblyBytes).toBe(0);
  });
});

describe('restarts are proven, then contained (virtual clock)', () => {
  it('detects a restart of the receiver within 2 round trips of its first datagram, fails the pending send PEER_RESTARTED, and never delivers old data', async () => {
    const net = new SimNet();
    net.recordLog = true;
    const a = net.node(A);
    const b = net.node(B);
    a.send(B, Buffer.from('hello-old'));
    await net.run(10);
    expect(b.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['hello-old']);
    // b dies while a's next message is on its way; b' starts on the same address.
    let cut = true;
    net.drop = (from) => cut && from === A;
    const pending = a.send(B, Buffer.from('meant-for-old-b'));
    await net.run(12);
    const oldStream = net.log.filter((l) => l.from === A).map((l) => l.bytes);
    const oldInc = a.core.peerStats(B)!.incarnation;
    net.restart(B);
    cut = false;
    const b2 = b; // same SimNode, new core
    b2.delivered.length = 0;
    const firstArrival = await net.runUntil(() => net.log.some((l) => l.from === A && l.at > 12 && !l.dropped), 1000, 'a retransmission to reach b2');
    await net.runUntil(() => pending.settled, 5000, 'the pending send to settle');
    expect(pending.error).toBe('TRANSPORT_ERR_PEER_RESTARTED');
    expect(a.restarts).toHaveLength(1);
    const rtt = 2 * net.latencyMs;
    expect(a.restarts[0]!.at - firstArrival).toBeLessThanOrEqual(2 * rtt + 1e-9);
    // Replaying the old incarnation's stream into b' delivers nothing.
    for (const bytes of oldStream) net.inject(A, B, bytes);
    await net.run(net.now + 50);
    expect(b2.delivered).toEqual([]);
    // The new incarnation gets new data, once.
    const hello = a.send(B, Buffer.from('hello-new'));
    await net.runUntil(() => hello.settled, 1000, 'hello-new');
    expect(hello.error).toBeUndefined();
    expect(b2.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['hello-new']);
    expect(b2.restarts).toEqual([]); // b' never knew a before: a first contact, not a restart
    expect(a.restarts[0]!.oldSession).toBe(oldInc);
    expect(a.restarts[0]!.newSession).toBe(a.core.peerStats(B)!.incarnation);
    expect(a.restarts[0]!.newSession).not.toBe(oldInc);
  });

  it('detects a restart of the sender from its first datagram: the peer reports peer-restarted in one round trip and fails its own pending send', async () => {
    const net = new SimNet();
    const a = net.node(A);
    const b = net.node(B);
    echoing(b);
    a.send(B, Buffer.from('one'));
    await net.run(10);
    let cut = true;
    net.drop = (from) => cut && from === B;
    const bPending = b.send(A, Buffer.from('b-to-old-a'));
    await net.run(12);
    net.restart(A);
    a.delivered.length = 0;
    cut = false;
    const t0 = net.now;
    a.send(B, Buffer.from('from-a2'));
    await net.runUntil(() => b.restarts.length > 0, 100, 'b to see the restart');
    expect(b.restarts[0]!.at - t0).toBeLessThanOrEqual(3 * net.latencyMs + 1e-9); // claim, challenge, echo
    await net.runUntil(() => bPending.settled, 1000, 'b\'s pending send');
    expect(bPending.error).toBe('TRANSPORT_ERR_PEER_RESTARTED');
    await net.run(net.now + 20);
    expect(a.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['from-a2']); // the echo, not b's old message
    expect(b.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(['one', 'from-a2']);
  });
});

describe('the handshake', () => {
  it('costs one extra round trip at first contact, none afterwards, and none after a give-up', async () => {
    const net = new SimNet();
    net.recordLog = true;
    const a = net.node(A);
    const b = net.node(B);
    const first = a.send(B, Buffer.from('first'));
    await net.runUntil(() => first.settled, 100, 'first');
    expect(first.at).toBeCloseTo(4 * net.latencyMs + TRANSPORT_DEFAULTS.ackDelayMs, 6); // data+challenge, echo+challenge, data+echo, ack
    const before = net.log.length;
    const second = a.send(B, Buffer.from('second'));
    const t = net.now;
    await net.runUntil(() => second.settled, 100, 'second');
    expect(second.at - t).toBeCloseTo(2 * net.latencyMs + TRANSPORT_DEFAULTS.ackDelayMs, 6);
    const kinds = net.log.slice(before).map((l) => (decodeDatagram(l.bytes, 2000) as Datagram).flags);
    expect(kinds.every((f) => !(f & (F_CHALLENGE | F_ECHO)))).toBe(true);
  });
});
