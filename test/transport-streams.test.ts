/**
 * The send and receive streams on a virtual clock (test/support/sim-transport.ts): retransmission
 * timing, loss detection, delayed acks, Karn's rule, congestion control, and the limits on what a
 * peer can make a receiver hold.
 */
import { describe, expect, it } from 'vitest';
import { TRANSPORT_DEFAULTS } from '../transport/index.js';
import { ReassemblyBudget, ReceiveStream, HELD_FRAGMENT_OVERHEAD_BYTES, SMALL_ACK_EVERY, type ReceiveDrop } from '../transport/receive-stream.js';
import { decodeDatagram, F_ACK, F_BUNDLE, F_DATA, F_FIRST, F_LAST, MAX_OVERHEAD_BYTES, type Datagram } from '../transport/wire.js';
import { SimNet, type SimNode } from './support/sim-transport.js';

const A = '10.0.0.1:7001';
const B = '10.0.0.2:7002';

/** Message i of a bulk transfer: 700 bytes, so that no two share a datagram (no coalescing). */
function bulk(i: number): Buffer {
  const b = Buffer.alloc(700, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

function decoded(bytes: Uint8Array): Datagram {
  return decodeDatagram(bytes, 65507) as Datagram;
}

/** Data datagrams a sent, with the time they left. */
function dataFrom(net: SimNet, from: string): { at: number; d: Datagram; dropped: boolean }[] {
  return net.log.filter((l) => l.from === from).map((l) => ({ at: l.at, d: decoded(l.bytes), dropped: l.dropped })).filter((x) => x.d.flags & F_DATA);
}

/** A pair that has already exchanged one message (handshake done, one RTT sample taken). */
async function warmPair(latencyMs: number, opts: Parameters<SimNet['node']>[1] = {}): Promise<{ net: SimNet; a: SimNode; b: SimNode }> {
  const net = new SimNet();
  net.latencyMs = latencyMs;
  const a = net.node(A, { initialSeq: 1000, ...opts });
  const b = net.node(B, { initialSeq: 5000, ...opts });
  const warm = a.send(B, Buffer.from('warm'));
  await net.runUntil(() => warm.settled, 5000, 'warm-up');
  expect(warm.error).toBeUndefined();
  await net.run(net.now + 20);
  net.recordLog = true;
  return { net, a, b };
}

describe('retransmission and acks (virtual clock)', () => {
  it('gives up after giveUpMs of silence, backing off exponentially between retransmissions', async () => {
    const net = new SimNet();
    net.recordLog = true;
    const a = net.node(A, { minRtoMs: 4, maxRtoMs: 1000, initialRtoMs: 100 });
    net.drop = () => true; // the peer is gone
    const o = a.send(B, Buffer.from('anyone?'));
    await net.run(5000);
    expect(o.error).toBe('TRANSPORT_ERR_PEER_UNREACHABLE');
    const sends = dataFrom(net, A).map((s) => s.at);
    // First send at 0, a probe one RTO later without back-off, then doubling: 100, 200, 400, 800 ...
    expect(sends.slice(0, 5)).toEqual([0, 100, 200, 400, 800]);
    expect(sends.at(-1)!).toBeLessThan(2000);
    expect(a.unreachable.map((u) => Math.round(u.at))).toEqual([2000]);
    expect(a.core.peerStats(B)!.timeouts).toBeGreaterThanOrEqual(3);
    expect(a.core.peerStats(B)!.probes).toBe(1);
  });

  it('repairs a single lost datagram by RACK, well before any retransmission timeout', async () => {
    const { net, a, b } = await warmPair(0.05, { minRtoMs: 50, initialRtoMs: 50 });
    let dropped = false;
    net.drop = (from, _to, bytes) => {
      const d = decoded(bytes);
      if (from === A && d.flags & F_DATA && d.seq === 1004 && !dropped) return (dropped = true);
      return false;
    };
    const t0 = net.now;
    for (let i = 0; i < 10; i++) a.send(B, Buffer.from(`m${i}`));
    await net.run(t0 + 20);
    expect(b.delivered.slice(1).map((m) => Buffer.from(m.data).toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const resend = dataFrom(net, A).filter((s) => s.d.seq === 1004);
    expect(resend).toHaveLength(2);
    expect(resend[1]!.at - t0).toBeLessThan(1); // SRTT + SRTT/4 after the loss showed, not the 50 ms RTO
    expect(a.core.peerStats(B)!.timeouts).toBe(0);
  });

  it('acks a lone message after ackDelayMs, and not at all when a reply carries the ack', async () => {
    const { net, a, b } = await warmPair(0.05, { ackDelayMs: 1, minRtoMs: 4 });
    const t0 = net.now;
    a.send(B, Buffer.from('one-way'));
    await net.run(t0 + 10);
    const acks = net.log.filter((l) => l.from === B);
    expect(acks).toHaveLength(1);
    expect(acks[0]!.at - t0).toBeCloseTo(0.05 + 1, 5); // arrival + ackDelayMs
    const pureBefore = b.core.peerStats(A)!.pureAcksSent;
    net.log.length = 0;
    b.onMessage = (m) => void b.send(m.peer, Buffer.from('reply'));
    a.send(B, Buffer.from('request'));
    await net.run(net.now + 10);
    expect(b.core.peerStats(A)!.pureAcksSent).toBe(pureBefore); // the reply carried b's ack
    expect(net.log.filter((l) => l.from === B)).toHaveLength(1);
  });

  it('acks two full datagrams at once, but two small ones (a reply, then the next request) only after ackDelayMs, and every SMALL_ACK_EVERY small ones', () => {
    const mk = () => new ReceiveStream(1, 100, {
      windowDatagrams: 64, maxMessageBytes: 1 << 20, maxFragmentsPerMessage: 16, ackDelayMs: 1, datagramBytes: 1200,
    }, new ReassemblyBudget(1 << 20), { deliver: () => undefined, dropped: () => undefined, duplicate: () => undefined });
    const whole = F_FIRST | F_LAST;
    const full = new Uint8Array(1200 - MAX_OVERHEAD_BYTES);
    const small = new Uint8Array(100);
    const bulkRx = mk();
    bulkRx.onData(100, whole, full);
    expect(bulkRx.ackDue(0)).toBe(false);
    bulkRx.onData(101, whole, full);
    expect(bulkRx.ackDue(0)).toBe(true); // the sender's window moves on at once
    const rx = mk();
    rx.onData(100, whole, small);
    expect(rx.ackDue(0)).toBe(false);
    rx.onData(101, whole, small);
    expect(rx.ackDue(0.2)).toBe(false); // the reply to this request will carry the ack
    expect(rx.onTimer(0.5)).toBe(false);
    expect(rx.onTimer(1)).toBe(true); // ackDelayMs after the first one
    rx.acked();
    for (let i = 0; i < SMALL_ACK_EVERY - 1; i++) {
      rx.onData(102 + i, whole, small);
      expect(rx.ackDue(2)).toBe(false);
    }
    rx.onData(102 + SMALL_ACK_EVERY - 1, whole, small);
    expect(rx.ackDue(2)).toBe(true);
  });

  it('takes RTT samples only from datagrams sent once (Karn)', async () => {
    const net = new SimNet();
    net.latencyMs = 5;
    const opts = { minRtoMs: 1, initialRtoMs: 40, maxRtoMs: 1000, ackDelayMs: 0.5 };
    const a = net.node(A, opts);
    net.node(B, opts);
    // First contact: the first copy is challenged, so every RTT sample would be ambiguous: none is taken.
    const x = a.send(B, Buffer.from('x'));
    await net.runUntil(() => x.settled, 1000, 'x');
    expect(a.core.peerStats(B)!.srttUs).toBe(0);
    const y = a.send(B, Buffer.from('y'));
    await net.runUntil(() => y.settled, 1000, 'y');
    // A clean one: 5 ms each way plus the 0.5 ms delayed ack.
    expect(a.core.peerStats(B)!.srttUs).toBe(10_500);
  });
});

describe('congestion control (virtual clock)', () => {
  it('keeps cwnd within the peer window over 2,000 sequential sends (it grows only when the window is full)', async () => {
    const { net, a } = await warmPair(0.05);
    let maxCwnd = 0;
    for (let i = 0; i < 2000; i++) {
      const o = a.send(B, Buffer.from(`seq-${i}`));
      await net.runUntil(() => o.settled, 1000, `send ${i}`);
      expect(o.error).toBeUndefined();
      maxCwnd = Math.max(maxCwnd, a.core.peerStats(B)!.cwnd);
    }
    const st = a.core.peerStats(B)!;
    expect(st.messagesSent).toBe(2001);
    expect(maxCwnd).toBeLessThanOrEqual(st.peerWindow);
    expect(maxCwnd).toBe(TRANSPORT_DEFAULTS.initialCwnd); // one datagram in flight never fills a window of 10
  });

  it('grows cwnd to the peer window under a bulk transfer, never past it, and halves it on a loss to a value that throttles', async () => {
    const { net, a } = await warmPair(5); // RTT 10 ms, so the window is visible at 1 ms steps
    const peerWindow = TRANSPORT_DEFAULTS.windowDatagrams;
    let lossAt = -1;
    let seen = 0;
    net.drop = (from, _to, bytes) => {
      const d = decoded(bytes);
      if (from !== A || !(d.flags & F_DATA)) return false;
      if (++seen === 1500 && lossAt < 0) {
        lossAt = net.now;
        return true;
      }
      return false;
    };
    // 700-byte messages: no two fit in one datagram, so none are coalesced and each is a datagram.
    const sends = Array.from({ length: 3000 }, (_, i) => a.send(B, bulk(i)));
    const samples: { at: number; cwnd: number; inFlight: number }[] = [];
    await net.runUntil(() => {
      const s = a.core.peerStats(B)!;
      samples.push({ at: net.now, cwnd: s.cwnd, inFlight: s.inFlight });
      return sends.every((o) => o.settled);
    }, 60_000, 'the bulk transfer');
    expect(sends.every((o) => o.error === undefined)).toBe(true);
    const before = samples.filter((s) => s.at < lossAt);
    // RACK declares the loss about 1.25 RTT after it, and the flight sent before drains one RTT later.
    const after = samples.filter((s) => s.at > lossAt + 30 && s.at < lossAt + 60);
    expect(Math.max(...samples.map((s) => s.cwnd))).toBeLessThanOrEqual(peerWindow);
    expect(Math.max(...before.map((s) => s.cwnd))).toBe(peerWindow); // it did grow, to the peer window
    expect(Math.max(...before.map((s) => s.inFlight))).toBe(peerWindow);
    const cut = Math.min(...after.map((s) => s.cwnd));
    expect(cut).toBeLessThanOrEqual(peerWindow / 2 + 1);
    expect(cut).toBeGreaterThanOrEqual(TRANSPORT_DEFAULTS.minCwnd);
    // It throttles: with cwnd halved, fewer datagrams are in flight than the peer window allows.
    for (const s of after) expect(s.inFlight).toBeLessThanOrEqual(Math.ceil(s.cwnd));
    expect(Math.max(...after.map((s) => s.inFlight))).toBeLessThan(peerWindow * 0.6);
    expect(a.core.peerStats(B)!.timeouts).toBe(0);
  });

  it('restarts from initialCwnd after an idle period longer than the RTO', async () => {
    const { net, a } = await warmPair(5);
    const sends = Array.from({ length: 1000 }, (_, i) => a.send(B, bulk(i)));
    await net.runUntil(() => sends.every((o) => o.settled), 30_000, 'the bulk transfer');
    expect(a.core.peerStats(B)!.cwnd).toBeGreaterThan(TRANSPORT_DEFAULTS.initialCwnd * 2);
    await net.run(net.now + 1000); // idle for far longer than the RTO (≈ 10-20 ms here)
    const o = a.send(B, Buffer.from('after idle'));
    expect(a.core.peerStats(B)!.cwnd).toBe(TRANSPORT_DEFAULTS.initialCwnd);
    await net.runUntil(() => o.settled, 1000, 'after idle');
    // While busy (no idle gap), cwnd is kept.
    const again = Array.from({ length: 1000 }, (_, i) => a.send(B, Buffer.from(`bulk2-${i}`)));
    await net.runUntil(() => again.every((x) => x.settled), 30_000, 'the second transfer');
    const grown = a.core.peerStats(B)!.cwnd;
    a.send(B, Buffer.from('right after'));
    expect(a.core.peerStats(B)!.cwnd).toBe(grown);
  });
});

describe('what a sender can make a receiver hold', () => {
  function receiver(limit: number, cfg: Partial<ConstructorParameters<typeof ReceiveStream>[2]> = {}) {
    const budget = new ReassemblyBudget(limit);
    const delivered: Uint8Array[] = [];
    const drops: ReceiveDrop[] = [];
    const mk = (isn: number) => new ReceiveStream(1, isn, {
      windowDatagrams: 64, maxMessageBytes: 1 << 20, maxFragmentsPerMessage: 16, ackDelayMs: 1, datagramBytes: 1200, ...cfg,
    }, budget, { deliver: (d) => void delivered.push(d), dropped: (r) => void drops.push(r), duplicate: () => undefined });
    return { budget, delivered, drops, mk };
  }
  const frag = (n: number) => new Uint8Array(n).fill(7);

  it('holds unfinished messages of all streams within one budget, refusing (not acking) what does not fit', () => {
    const { budget, drops, mk } = receiver(10_000);
    const streams = [mk(0), mk(0), mk(0)];
    for (let i = 0; i < 20; i++) for (const s of streams) s.onData(i, i === 0 ? F_FIRST : 0, frag(1000));
    expect(budget.used).toBeLessThanOrEqual(10_000);
    expect(budget.used).toBeGreaterThan(10_000 - (1000 + HELD_FRAGMENT_OVERHEAD_BYTES));
    expect(drops.filter((d) => d === 'reassemblyBudget').length).toBeGreaterThan(40);
    const total = streams.reduce((n, s) => n + s.rcvNxt, 0);
    expect(total).toBeLessThan(60); // refused fragments are not taken in: rcvNxt (the ack) does not pass them
    expect(streams.every((s) => s.window() === 0)).toBe(true); // and every stream advertises it
    streams[0]!.release();
    expect(streams[1]!.window()).toBeGreaterThan(0);
    for (const s of streams) s.release();
    expect(budget.used).toBe(0);
  });

  it('discards a message with more than maxFragmentsPerMessage fragments whole, counted, and keeps the stream', () => {
    const { budget, delivered, drops, mk } = receiver(1 << 22, { maxFragmentsPerMessage: 4 });
    const s = mk(10);
    for (let i = 0; i < 10; i++) s.onData(10 + i, (i === 0 ? F_FIRST : 0) | (i === 9 ? F_LAST : 0), new Uint8Array(0)); // empty fragments
    s.onData(20, F_FIRST | F_LAST, frag(3));
    expect(drops).toEqual(['fragmentLimit']);
    expect(delivered.map((d) => d.length)).toEqual([3]);
    expect(budget.used).toBe(0);
  });

  it('counts a message its sender abandoned (a new start or a bundle before its end) and a fragment that continues no message, and holds nothing for them', () => {
    const { budget, delivered, drops, mk } = receiver(1 << 20);
    const s = mk(0);
    s.onData(0, F_FIRST, frag(10)); // a message begins...
    s.onData(1, F_FIRST | F_LAST, frag(3)); // ...and a new one starts before its end
    s.onData(2, 0, frag(10)); // a continuation of nothing
    s.onData(3, F_FIRST, frag(10)); // another begins...
    s.onData(4, F_FIRST | F_LAST | F_BUNDLE, Buffer.from([0, 1, 65, 0, 1, 66])); // ...and a bundle cuts it off
    expect(drops).toEqual(['abandoned', 'abandoned', 'abandoned']);
    expect(delivered.map((d) => Buffer.from(d).toString('latin1'))).toEqual(['\x07\x07\x07', 'A', 'B']);
    expect(budget.used).toBe(0);
  });

  it('delivers a message reassembled from reordered fragments and gives its memory back', () => {
    const { budget, delivered, mk } = receiver(1 << 20);
    const s = mk(0);
    s.onData(2, F_LAST, frag(10));
    s.onData(1, 0, frag(10));
    expect(budget.used).toBe(2 * (10 + HELD_FRAGMENT_OVERHEAD_BYTES));
    s.onData(0, F_FIRST, frag(10));
    expect(delivered.map((d) => d.length)).toEqual([30]);
    expect(budget.used).toBe(0);
    expect(s.rcvNxt).toBe(3);
  });

  it('over UDP-like sessions: senders that never finish their messages hold at most maxReassemblyBytes, and the refusals are counted', async () => {
    const net = new SimNet();
    net.recordLog = true;
    const budgetBytes = 2 * 65_536;
    const b = net.node(B, { maxMessageBytes: 65_536, maxReassemblyBytes: budgetBytes });
    const senders = Array.from({ length: 8 }, (_, i) => net.node(`10.0.1.${i}:9000`));
    // Every sender's last fragment is lost forever: each message stays unfinished at b.
    net.drop = (from, _to, bytes) => from !== B && (decoded(bytes).flags & F_LAST) !== 0 && decoded(bytes).payload.length > 0;
    let maxHeld = 0;
    for (const s of senders) s.send(B, new Uint8Array(60_000));
    await net.runUntil(() => {
      maxHeld = Math.max(maxHeld, b.core.stats().reassemblyBytes);
      return net.now > 3000;
    }, 5000, 'the senders to give up');
    expect(maxHeld).toBeLessThanOrEqual(budgetBytes);
    expect(maxHeld).toBeGreaterThan(budgetBytes / 2);
    expect(b.core.stats().dropped.reassemblyBudget).toBeGreaterThan(0);
    expect(b.delivered).toEqual([]);
    // The acks told the senders: the windows shrank to what the budget could still hold.
    const windows = net.log.filter((l) => l.from === B).map((l) => decoded(l.bytes)).filter((d) => d.flags & F_ACK).map((d) => d.window);
    expect(Math.max(...windows)).toBe(64);
    expect(Math.min(...windows)).toBe(0);
    expect(senders.every((s) => s.outcomes[0]!.error === 'TRANSPORT_ERR_PEER_UNREACHABLE')).toBe(true);
  });
});

