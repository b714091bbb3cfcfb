/**
 * Keyed transport without sockets: the cluster key's text form, the replay window, the sealed
 * wire format, and keyed sessions on the virtual clock (test/support/sim-transport.ts): replays
 * of captured sessions, outsiders with another key, keyed and unkeyed endpoints meeting,
 * restarts and evictions. Every property checked here is one the README's threat model claims.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatClusterKey, generateClusterKey, parseClusterKey } from '../transport/index.js';
import { REPLAY_WINDOW, ReplayWindow } from '../transport/replay-window.js';
import {
  Opener, parseSealedHeader, Sealer, SALT_BYTES, SEALED_VERSION, sealOverhead, TAG_BYTES,
} from '../transport/seal.js';
import { decodeDatagram, F_ACK, F_DATA, F_FIRST, F_LAST, F_SYN, FIXED_HEADER_BYTES, type Datagram } from '../transport/wire.js';
import { SimNet, type SimNode } from './support/sim-transport.js';

const A = '10.0.0.1:7001';
const B = '10.0.0.2:7002';
const W = '10.0.0.9:7009';
const KEY = parseClusterKey(`pagewire-cluster-key-v1 ${'5a'.repeat(16)}${'c3'.repeat(16)}`);
const OTHER_KEY = parseClusterKey(`pagewire-cluster-key-v1 ${'17'.repeat(16)}${'e8'.repeat(16)}`);
/** A property test runs for at most this long (fast-check stops early, counting the runs it made). */
const TIME_BOX_MS = 3_000;

function errorsOf(n: SimNode): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of n.outcomes) if (o.error !== undefined) out[o.error] = (out[o.error] ?? 0) + 1;
  return out;
}

function echoing(n: SimNode): void {
  n.onMessage = (m) => void n.send(m.peer, m.data);
}

/** A keyed pair that exchanged `count` request/replies, with every datagram on the wire recorded. */
async function keyedPair(count = 20, opts: { key?: Uint8Array } = {}): Promise<{ net: SimNet; a: SimNode; b: SimNode }> {
  const net = new SimNet(3);
  net.recordLog = true;
  const a = net.node(A, { key: opts.key ?? KEY, nodeId: 'node-a' });
  const b = net.node(B, { key: opts.key ?? KEY, nodeId: 'node-b' });
  echoing(b);
  for (let i = 0; i < count; i++) {
    a.send(B, Buffer.from(`request ${i} ${'x'.repeat(i * 37)}`));
    await net.run(net.now + 5);
  }
  await net.run(net.now + 50);
  return { net, a, b };
}

/** Inject `datagrams` at `to` as if `from` sent them, run `ms`; what that delivered and counted as replays. */
async function replay(net: SimNet, to: SimNode, from: string, datagrams: readonly Uint8Array[], ms: number): Promise<{ delivered: number; replays: number }> {
  const delivered = to.delivered.length;
  const before = to.core.stats().bad.replay;
  for (const bytes of datagrams) net.inject(from, to.address, bytes);
  await net.run(net.now + ms);
  return { delivered: to.delivered.length - delivered, replays: to.core.stats().bad.replay - before };
}

const sample: Datagram = {
  flags: F_DATA | F_SYN | F_ACK | F_FIRST | F_LAST, window: 64, srcInc: 0x1234, dstInc: 0x5678, stream: 9, ackStream: 3,
  seq: 100, ack: 7, isn: 100, challenge: 0n, echo: 0n, sacks: [], payload: Buffer.from('the page contents, in confidence'),
};

describe('cluster key text form', () => {
  it('formats a key as comments plus one "pagewire-cluster-key-v1 <64 hex>" line and parses it back', () => {
    const key = generateClusterKey();
    const text = formatClusterKey(key);
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([`pagewire-cluster-key-v1 ${Buffer.from(key).toString('hex')}`]);
    expect(Buffer.from(parseClusterKey(text)).equals(Buffer.from(key))).toBe(true);
    expect(Buffer.from(generateClusterKey()).equals(Buffer.from(key))).toBe(false);
  });

  it.each([
    ['', /found 0 non-comment lines/],
    ['pagewire-key 00', /expected one line "pagewire-cluster-key-v1 <64 hex digits>"/],
    [`pagewire-cluster-key-v1 ${'ab'.repeat(31)}`, /must be 64 hexadecimal digits \(256 bits\), got 62 characters/],
    [`pagewire-cluster-key-v1 ${'zz'.repeat(32)}`, /must be 64 hexadecimal digits/],
    [`pagewire-cluster-key-v1 ${'ab'.repeat(32)}\npagewire-cluster-key-v1 ${'cd'.repeat(32)}`, /found 2 non-comment lines/],
    [`pagewire-cluster-key-v1 ${'00'.repeat(32)}`, /32 copies of one byte: not a random key/],
  ])('refuses %j with TRANSPORT_ERR_BAD_KEY', (text, message) => {
    expect(() => parseClusterKey(text, 'cluster.key')).toThrow(expect.objectContaining({ code: 'TRANSPORT_ERR_BAD_KEY', message: expect.stringMatching(message) }));
  });
});

describe('replay window (RFC 6479 style, no shifting)', () => {
  it('takes exactly the counters a set of everything seen would, within the window, under reordering and jumps', () => {
    // The model: a counter is new if never taken and no more than REPLAY_WINDOW - 1 below the highest taken.
    const step = fc.oneof(
      { arbitrary: fc.integer({ min: -40, max: 40 }), weight: 8 }, // reordering near the top
      { arbitrary: fc.integer({ min: -REPLAY_WINDOW - 64, max: -REPLAY_WINDOW + 64 }), weight: 1 }, // the window's edge
      { arbitrary: fc.integer({ min: 1, max: 3 * REPLAY_WINDOW }), weight: 1 }, // jumps beyond it
    );
    const out = fc.check(fc.property(fc.array(step, { minLength: 1, maxLength: 400 }), (steps) => {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      let top = -1;
      let cur = 1000;
      for (const s of steps) {
        cur = Math.max(0, (s > 40 ? top : cur) + s);
        const expected = !seen.has(cur) && (top < 0 || cur > top - REPLAY_WINDOW);
        if (w.take(cur) !== expected) return false;
        if (expected) {
          seen.add(cur);
          top = Math.max(top, cur);
        }
      }
      return w.highest === top;
    }), { seed: 10, numRuns: 2_000, interruptAfterTimeLimit: TIME_BOX_MS });
    expect(out.failed, fc.defaultReportMessage(out) ?? '').toBe(false);
    expect(out.numRuns).toBeGreaterThan(50);
  });

  it('refuses every counter up to a raised floor and takes the ones above it', () => {
    const w = new ReplayWindow();
    w.raiseFloor(50_000);
    expect([49_999, 50_000, 50_000 - REPLAY_WINDOW, 0].map((c) => w.fresh(c))).toEqual([false, false, false, false]);
    expect(w.take(50_002)).toBe(true);
    expect(w.take(50_001)).toBe(true);
    expect(w.take(50_001)).toBe(false);
  });
});

describe('sealed wire format (version 3)', () => {
  it('lays out version, kind, id length, node id, salt, counter, ciphertext, tag as documented', () => {
    const s = new Sealer(KEY, 'node-a');
    const first = s.seal(sample)!;
    const second = s.seal(sample)!;
    const inner = FIXED_HEADER_BYTES + 4 + sample.payload.length;
    expect(first.length).toBe(sealOverhead(6) + inner);
    expect(sealOverhead(6)).toBe(3 + 6 + SALT_BYTES + 8 + TAG_BYTES);
    expect([...first.subarray(0, 3)]).toEqual([SEALED_VERSION, 0, 6]);
    expect(first.subarray(3, 9).toString()).toBe('node-a');
    expect(first.subarray(9, 21).equals(s.salt)).toBe(true);
    expect(first.readBigUInt64BE(21)).toBe(0n);
    expect(second.readBigUInt64BE(21)).toBe(1n);
    // Same plaintext, new counter: nothing of the ciphertext repeats, and the contents are not in clear.
    expect(first.subarray(29).equals(second.subarray(29))).toBe(false);
    expect(first.includes(Buffer.from('in confidence'))).toBe(false);
    const h = parseSealedHeader(first);
    if (typeof h === 'string') throw new Error(h);
    const opened = Opener.for(KEY, h)!.open(first, h)!;
    const d = decodeDatagram(opened, Infinity, false);
    if (typeof d === 'string') throw new Error(d);
    expect({ ...d, payload: Buffer.from(d.payload).toString() }).toEqual({ ...sample, payload: sample.payload.toString(), sacks: [], accept: 0 });
    expect(Opener.for(KEY, h)!.nodeId).toBe('node-a');
  });

  it('authenticates the node id and salt: a datagram whose header names another id, salt or counter does not open', () => {
    const s = new Sealer(KEY, 'node-a');
    const d = s.seal(sample)!;
    const variants = [
      Buffer.concat([d.subarray(0, 3), Buffer.from('node-b'), d.subarray(9)]), // another node id, same length
      Buffer.concat([d.subarray(0, 9), Buffer.alloc(SALT_BYTES, 7), d.subarray(21)]), // another salt
      Buffer.concat([d.subarray(0, 21), Buffer.from([0, 0, 0, 0, 0, 0, 0, 5]), d.subarray(29)]), // another counter
    ];
    for (const v of variants) {
      const h = parseSealedHeader(v);
      if (typeof h === 'string') throw new Error(h);
      expect(Opener.for(KEY, h)!.open(v, h)).toBeUndefined();
    }
    const h = parseSealedHeader(d);
    if (typeof h === 'string') throw new Error(h);
    expect(Opener.for(OTHER_KEY, h)!.open(d, h)).toBeUndefined(); // another cluster key
  });

  it('property: random truncations, splits, splices and bit flips of sealed datagrams never open (time-boxed)', () => {
    const s = new Sealer(KEY, 'node-a');
    const originals = Array.from({ length: 8 }, (_, i) => s.seal({ ...sample, seq: i, payload: Buffer.alloc(i * 100, i) })!);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('slice' as const), from: fc.nat(), to: fc.nat() }),
      fc.record({ kind: fc.constant('splice' as const), other: fc.nat(7), at: fc.nat() }),
      fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
    );
    const out = fc.check(fc.property(fc.nat(7), mutation, (i, m) => {
      const orig = originals[i]!;
      let v: Buffer;
      switch (m.kind) {
        case 'truncate': v = orig.subarray(0, m.at % orig.length); break;
        case 'slice': {
          const a = m.from % orig.length;
          const b = a + 1 + (m.to % (orig.length - a));
          if (a === 0 && b === orig.length) return true; // the whole datagram: not a mutation
          v = orig.subarray(a, b);
          break;
        }
        case 'splice': {
          const other = originals[m.other]!;
          const at = m.at % Math.min(orig.length, other.length);
          v = Buffer.concat([orig.subarray(0, at), other.subarray(at)]);
          if (v.equals(orig) || v.equals(other)) return true;
          break;
        }
        case 'flip':
          v = Buffer.from(orig);
          for (const b of m.bits) v[(b >>> 3) % v.length]! ^= 1 << (b & 7);
          if (v.equals(orig)) return true; // the flips cancelled out
          break;
      }
      const h = parseSealedHeader(v);
      if (typeof h === 'string') return true; // not a sealed datagram (or a refusal notice): nothing to open
      const o = Opener.for(KEY, h);
      return o === undefined || o.open(v, h) === undefined;
    }), { seed: 42, numRuns: 50_000, interruptAfterTimeLimit: TIME_BOX_MS });
    expect(out.failed, fc.defaultReportMessage(out) ?? '').toBe(false);
    expect(out.numRuns).toBeGreaterThan(1000);
  });
});

describe('keyed sessions (virtual clock, default options)', () => {
  it('delivers every message with the sender\'s authenticated node id, and nothing of the contents travels in clear', async () => {
    const { net, a, b } = await keyedPair(20);
    expect(b.delivered.map((m) => Buffer.from(m.data).toString())).toEqual(Array.from({ length: 20 }, (_, i) => `request ${i} ${'x'.repeat(i * 37)}`));
    expect(new Set(b.delivered.map((m) => m.peerId))).toEqual(new Set(['node-a']));
    expect(new Set(a.delivered.map((m) => m.peerId))).toEqual(new Set(['node-b']));
    expect(a.core.peerStats(B)!.peerId).toBe('node-b');
    const wire = net.log.map((l) => Buffer.from(l.bytes));
    expect(wire.length).toBeGreaterThan(40);
    expect(wire.every((w) => w[0] === SEALED_VERSION)).toBe(true);
    expect(wire.some((w) => w.includes(Buffer.from('request')) || w.includes(Buffer.from('xxxxxxxx')))).toBe(false);
    const sb = b.core.stats().bad;
    expect(sb.auth + sb.replay).toBe(0);
  });

  it('the same exchange unkeyed does carry the contents in clear (the check above can fail)', async () => {
    const net = new SimNet(3);
    net.recordLog = true;
    const a = net.node(A);
    const b = net.node(B);
    echoing(b);
    a.send(B, Buffer.from('request 0'));
    await net.run(50);
    expect(b.delivered[0]!.peerId).toBeUndefined();
    expect(net.log.some((l) => Buffer.from(l.bytes).includes(Buffer.from('request 0')))).toBe(true);
  });

  it('never uses a nonce twice: every datagram on the wire, retransmissions included, has its own (salt, counter); a restart draws a new salt', async () => {
    const net = new SimNet(5);
    net.recordLog = true;
    const rand = (() => { let x = 7; return () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32); })();
    net.drop = () => rand() < 0.25;
    const a = net.node(A, { key: KEY, nodeId: 'node-a' });
    const b = net.node(B, { key: KEY, nodeId: 'node-b' });
    echoing(b);
    for (let i = 0; i < 200; i++) a.send(B, Buffer.alloc(2000, i));
    await net.runUntil(() => a.outcomes.every((o) => o.settled), 60_000, 'every send settled');
    const saltsOf = (addr: string) => new Set(net.log.filter((l) => l.from === addr).map((l) => Buffer.from(l.bytes.subarray(3 + l.bytes[2]!, 15 + l.bytes[2]!)).toString('hex')));
    const before = saltsOf(B);
    net.restart(B);
    a.send(B, Buffer.from('meets the restart')); // (fails PEER_RESTARTED: queued before a learns of it)
    await net.runUntil(() => a.restarts.length === 1, 10_000, 'the restart detected');
    a.send(B, Buffer.from('after the restart'));
    await net.runUntil(() => b.delivered.some((m) => Buffer.from(m.data).toString() === 'after the restart'), 10_000, 'delivery after the restart');
    const nonces = net.log.filter((l) => l.bytes[0] === SEALED_VERSION && l.bytes[1] === 0)
      .map((l) => `${l.from}|${Buffer.from(l.bytes.subarray(3 + l.bytes[2]!, 23 + l.bytes[2]!)).toString('hex')}`);
    expect(a.core.peerStats(B)!.retransmits).toBeGreaterThan(50);
    expect(new Set(nonces).size).toBe(nonces.length);
    expect(before.size).toBe(1);
    expect(saltsOf(B).size).toBe(2);
  });

  it('a replay of the whole captured session at the live receiver delivers nothing: every datagram is counted as a replay', async () => {
    const { net, a, b } = await keyedPair(30);
    const captured = net.log.filter((l) => l.from === A && !l.dropped).map((l) => l.bytes);
    expect(await replay(net, b, A, captured, 200)).toEqual({ delivered: 0, replays: captured.length });
    expect(b.core.stats().bad.auth).toBe(0);
    expect(a.restarts).toEqual([]);
  });

  it('a replay of the whole captured session at the restarted receiver delivers nothing and creates no state', async () => {
    const { net, b } = await keyedPair(30);
    const captured = net.log.filter((l) => l.from === A && !l.dropped).map((l) => l.bytes);
    net.nodes.delete(A); // the original sender is gone too: only the replay talks to the new receiver
    const deliveredBefore = b.delivered.length;
    expect(net.restart(B)).toBe(b);
    for (const bytes of captured) net.inject(A, B, bytes);
    await net.run(net.now + 500);
    expect(b.delivered.length - deliveredBefore).toBe(0);
    const bad = b.core.stats().bad;
    // Addressed to the previous incarnation, or answers to its challenges: replays. The very first
    // datagrams (sent before the sender knew the receiver) could be a new peer's: unproven.
    expect(bad.replay + bad.unproven).toBe(captured.length);
    expect(bad.replay).toBeGreaterThan(captured.length / 2);
    expect(b.core.sessions.size).toBe(0);
  });

  it('an endpoint with another key is refused: its sends fail TRANSPORT_ERR_REFUSED after giveUpMs, the keyed node counts it and keeps no state, and the cluster is unaffected', async () => {
    const net = new SimNet(9);
    const a = net.node(A, { key: KEY, nodeId: 'node-a' });
    const b = net.node(B, { key: KEY, nodeId: 'node-b' });
    const w = net.node(W, { key: OTHER_KEY, nodeId: 'node-a' }); // it even claims a's id
    echoing(b);
    w.send(B, Buffer.from('let me in'));
    for (let t = 0; t < 2500; t += 50) {
      a.send(B, Buffer.from(`work ${t}`));
      await net.run(t + 50);
    }
    await net.run(3000);
    expect(errorsOf(w)).toEqual({ TRANSPORT_ERR_REFUSED: 1 });
    expect(w.unreachable.map((u) => u.refused)).toEqual([true]);
    expect(b.delivered.every((m) => m.peer === A && m.peerId === 'node-a')).toBe(true);
    expect(b.delivered.length).toBe(50);
    expect(a.delivered.length).toBe(50);
    expect(errorsOf(a)).toEqual({});
    const sb = b.core.stats();
    expect(sb.bad.auth).toBeGreaterThan(3);
    expect(sb.lastAuthFailure).toMatchObject({ from: W, reason: expect.stringMatching(/tag did not verify/) });
    expect(sb.handshake.refusalsSent).toBe(sb.bad.auth);
    expect(w.core.stats().handshake.refusalsReceived).toBe(sb.handshake.refusalsSent);
    expect(b.core.sessions.has(W)).toBe(false);
    const err = w.outcomes[0]!;
    expect(err.at).toBeGreaterThanOrEqual(2000);
  });

  it('datagrams under ever-new keys cost a bounded number of key derivations: beyond maxChallengesPerSecond they are dropped unchecked, and a proven peer is never slowed', async () => {
    const { net, a, b } = await keyedPair(5);
    const forged = Array.from({ length: 3000 }, (_, i) => new Sealer(OTHER_KEY, 'node-a').seal({ ...sample, seq: i })!); // a new salt each
    const delivered = b.delivered.length;
    for (const f of forged) net.inject(W, B, f);
    a.send(B, Buffer.from('during the flood'));
    await net.run(net.now + 20);
    const st = b.core.stats();
    expect(st.bad.auth).toBe(3000);
    // The endpoint's burst (a tenth of maxChallengesPerSecond) was derived and checked, the rest dropped unchecked.
    expect(st.dropped.keyDerivationsRateLimited).toBe(3000 - 1000);
    expect(b.delivered.slice(delivered).map((m) => Buffer.from(m.data).toString())).toEqual(['during the flood']);
  });

  it('refusal notices that do not quote our own datagrams change nothing and count as auth failures', async () => {
    const net = new SimNet(2);
    const a = net.node(A, { key: KEY, nodeId: 'node-a' });
    net.node(B, { key: KEY, nodeId: 'node-b' }); // (it answers nothing unless asked)
    const notice = Buffer.alloc(22);
    notice[0] = SEALED_VERSION;
    notice[1] = 1;
    for (let i = 0; i < 5; i++) net.inject(B, A, notice);
    await net.run(10);
    expect(a.core.stats().bad.auth).toBe(5);
    expect(a.core.stats().handshake.refusalsReceived).toBe(0);
  });

  it('a keyed and an unkeyed endpoint cannot talk, and each send says why with TRANSPORT_ERR_REFUSED', async () => {
    const net = new SimNet(4);
    const k = net.node(A, { key: KEY, nodeId: 'node-a' });
    const u = net.node(B);
    k.send(B, Buffer.from('sealed'));
    u.send(A, Buffer.from('clear'));
    await net.run(3000);
    expect(k.delivered.length + u.delivered.length).toBe(0);
    expect(errorsOf(k)).toEqual({ TRANSPORT_ERR_REFUSED: 1 });
    expect(errorsOf(u)).toEqual({ TRANSPORT_ERR_REFUSED: 1 });
    expect(k.core.stats().bad.auth).toBeGreaterThan(0);
    expect(k.core.stats().lastAuthFailure?.reason).toMatch(/clear text/);
    expect(u.core.stats().bad.badVersion).toBeGreaterThan(0);
    expect(u.core.stats().lastAuthFailure?.reason).toMatch(/sealed/);
  });

  it('a restarted keyed peer is detected once, and datagrams under its retired key are replays, never delivered', async () => {
    const { net, a, b } = await keyedPair(10);
    const oldFromA = net.log.filter((l) => l.from === A && !l.dropped).map((l) => l.bytes);
    net.restart(A);
    a.send(B, Buffer.from('from the new a'));
    await net.runUntil(() => b.delivered.some((m) => Buffer.from(m.data).toString() === 'from the new a'), 5_000, 'the new a heard');
    expect(b.restarts.length).toBe(1);
    expect(await replay(net, b, A, oldFromA, 300)).toEqual({ delivered: 0, replays: oldFromA.length });
    expect(b.restarts.length).toBe(1);
  });

  it('an evicted peer\'s captured datagrams cannot bring its session back: the tombstone keeps its replay window', async () => {
    const net = new SimNet(6);
    net.recordLog = true;
    const C = '10.0.0.3:7003';
    const b = net.node(B, { key: KEY, nodeId: 'node-b', maxPeers: 1 });
    const a = net.node(A, { key: KEY, nodeId: 'node-a' });
    const c = net.node(C, { key: KEY, nodeId: 'node-c' });
    echoing(b);
    for (let i = 0; i < 5; i++) {
      a.send(B, Buffer.from(`a ${i}`));
      await net.run(net.now + 5);
    }
    const fromA = net.log.filter((l) => l.from === A && !l.dropped).map((l) => l.bytes);
    await net.run(net.now + 100);
    c.send(B, Buffer.from('c takes the only slot'));
    await net.runUntil(() => b.core.stats().peersEvicted === 1, 2_000, 'a evicted');
    expect(b.core.sessions.has(A)).toBe(false);
    const delivered = b.delivered.length;
    const { replay: replay0, unproven: unproven0 } = b.core.stats().bad;
    const challenges0 = b.core.stats().handshake.challengesSent;
    // a is away while its captured datagrams are replayed (else it answers b's challenges and
    // rightly gets a new session: see below).
    net.nodes.delete(A);
    for (const bytes of fromA) net.inject(A, B, bytes);
    await net.run(net.now + 300);
    expect(b.delivered.length).toBe(delivered);
    expect(b.core.sessions.has(A)).toBe(false);
    const bad = b.core.stats().bad;
    expect(bad.replay - replay0).toBe(fromA.length);
    expect(bad.unproven - unproven0).toBe(0);
    expect(b.core.stats().handshake.challengesSent).toBe(challenges0); // a replay gets no answer
    // a itself is still welcome: it answers b's challenge with a new counter and gets a new
    // session. (Its old stream is unknown to that session, so its first send fails after
    // giveUpMs, as for any evicted peer: transport/README.md, Known limits; the next one works.)
    net.nodes.set(A, a);
    a.send(B, Buffer.from('a again'));
    await net.runUntil(() => a.outcomes.every((o) => o.settled), 5_000, 'a\'s send settled');
    a.send(B, Buffer.from('a once more'));
    await net.runUntil(() => b.delivered.some((m) => Buffer.from(m.data).toString() === 'a once more'), 5_000, 'a heard again');
    expect(b.core.sessions.get(A)?.peerId).toBe('node-a');
  });
});
