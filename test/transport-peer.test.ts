/**
 * The peer state machine driven with no sockets and a virtual clock: two PeerConnections
 * joined by a simulated link whose latency and losses the test controls.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../transport/options.js';
import { PeerConnection, type PeerConfig } from '../transport/peer.js';
import { decodeDatagram, F_DATA, type Datagram } from '../transport/wire.js';
import { isTransportError } from '../transport/errors.js';

interface InFlight { at: number; to: 'a' | 'b'; bytes: Buffer }

class SimLink {
  now = 0;
  readonly queue: InFlight[] = [];
  /** Return true to drop a datagram. */
  drop: (d: Datagram, to: 'a' | 'b') => boolean = () => false;
  readonly sentTimes: { to: 'a' | 'b'; at: number; d: Datagram }[] = [];
  readonly delivered: Record<'a' | 'b', Uint8Array[]> = { a: [], b: [] };
  readonly a: PeerConnection;
  readonly b: PeerConnection;
  private nextSession = 100;

  constructor(readonly latencyMs: number, over: Partial<PeerConfig> = {}) {
    const cfg: PeerConfig = {
      ...DEFAULTS, giveUpMs: 2000, ...over,
      newSession: () => this.nextSession++, newIsn: () => 1000,
    };
    const hooks = (self: 'a' | 'b') => ({
      transmit: (bytes: Buffer) => {
        const to = self === 'a' ? 'b' : 'a';
        const d = decodeDatagram(bytes, 65507) as Datagram;
        this.sentTimes.push({ to, at: this.now, d });
        if (!this.drop(d, to)) this.queue.push({ at: this.now + this.latencyMs, to, bytes });
      },
      deliver: (data: Uint8Array) => void this.delivered[self].push(data),
      restarted: () => undefined,
      unreachable: () => undefined,
    });
    this.a = new PeerConnection('b', cfg, hooks('a'));
    this.b = new PeerConnection('a', cfg, hooks('b'));
  }

  /** Advance virtual time, delivering datagrams and firing timers in time order, until `untilMs`. */
  run(untilMs: number): void {
    for (;;) {
      const nextPacket = this.queue.reduce((m, p) => Math.min(m, p.at), Infinity);
      const nextTimer = Math.min(this.a.nextDeadline(), this.b.nextDeadline());
      const t = Math.min(nextPacket, nextTimer);
      if (t > untilMs || t === Infinity) {
        this.now = untilMs;
        return;
      }
      this.now = Math.max(this.now, t);
      if (nextPacket <= nextTimer) {
        const i = this.queue.findIndex((p) => p.at === nextPacket);
        const [p] = this.queue.splice(i, 1);
        const d = decodeDatagram(p!.bytes, 65507) as Datagram;
        (p!.to === 'a' ? this.a : this.b).onDatagram(d, this.now);
      } else {
        if (this.a.nextDeadline() <= this.now) this.a.onTimer(this.now);
        if (this.b.nextDeadline() <= this.now) this.b.onTimer(this.now);
      }
    }
  }
}

describe('PeerConnection with a virtual clock', () => {
  it('gives up after giveUpMs of silence, backing off exponentially between retransmissions', async () => {
    const link = new SimLink(0.05, { minRtoMs: 4, maxRtoMs: 1000, initialRtoMs: 100 });
    link.drop = () => true; // the peer is gone
    const p = link.a.send(Buffer.from('anyone?'), 0);
    let outcome: unknown;
    p.then(() => (outcome = 'acked'), (e: unknown) => (outcome = e));
    link.run(5000);
    await Promise.resolve();
    expect(isTransportError(outcome, 'TRANSPORT_ERR_PEER_UNREACHABLE')).toBe(true);
    const sends = link.sentTimes.filter((s) => s.to === 'b').map((s) => s.at);
    // First send at 0, a probe one RTO later without back-off, then doubling: 100, 200, 400, 800 ...
    expect(sends.slice(0, 5)).toEqual([0, 100, 200, 400, 800]);
    expect(sends.at(-1)!).toBeLessThan(2000);
    expect(link.a.snapshot().timeouts).toBeGreaterThanOrEqual(3);
    expect(link.a.snapshot().probes).toBe(1);
  });

  it('repairs a single lost datagram by RACK, well before any retransmission timeout', () => {
    const link = new SimLink(0.05, { minRtoMs: 50, initialRtoMs: 50 });
    let dropped = false;
    link.drop = (d, to) => {
      if (to === 'b' && d.flags & F_DATA && d.seq === 1003 && !dropped) return (dropped = true);
      return false;
    };
    for (let i = 0; i < 10; i++) void link.a.send(Buffer.from(`m${i}`), 0);
    link.run(20);
    expect(link.delivered.b.map((m) => Buffer.from(m).toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const resend = link.sentTimes.filter((s) => s.to === 'b' && s.d.flags & F_DATA && s.d.seq === 1003);
    expect(resend).toHaveLength(2);
    expect(resend[1]!.at).toBeLessThan(1); // SRTT + SRTT/4 after the loss showed, not the 50 ms RTO
    expect(link.a.snapshot().timeouts).toBe(0);
    expect(link.a.snapshot().retransmits).toBe(1);
  });

  it('acks a lone message after ackDelayMs, and not at all when a reply carries the ack', () => {
    const link = new SimLink(0.05, { ackDelayMs: 1, minRtoMs: 4 });
    void link.a.send(Buffer.from('one-way'), 0);
    link.run(10);
    const acks = link.sentTimes.filter((s) => s.to === 'a');
    expect(acks).toHaveLength(1);
    expect(acks[0]!.at).toBeCloseTo(0.05 + 1, 5); // arrival + ackDelayMs
    expect(link.b.snapshot().pureAcksSent).toBe(1);

    const rr = new SimLink(0.05, { ackDelayMs: 1, minRtoMs: 4 });
    void rr.a.send(Buffer.from('request'), 0);
    rr.run(0.05); // request arrives at b
    void rr.b.send(Buffer.from('reply'), rr.now);
    rr.run(10);
    expect(rr.b.snapshot().pureAcksSent).toBe(0); // the reply carried b's ack
    expect(rr.sentTimes.filter((s) => s.to === 'a')).toHaveLength(1);
  });

  it('takes RTT samples only from datagrams sent once (Karn)', () => {
    const link = new SimLink(5, { minRtoMs: 1, initialRtoMs: 20, maxRtoMs: 1000, ackDelayMs: 0.5 });
    let first = true;
    link.drop = (d, to) => (to === 'b' && (d.flags & F_DATA) !== 0 && first ? !(first = false) : false);
    void link.a.send(Buffer.from('x'), 0);
    link.run(100);
    expect(link.delivered.b).toHaveLength(1);
    // The ack of the retransmission is ambiguous (which copy does it answer?): no sample taken.
    expect(link.a.snapshot().srttUs).toBe(0);
    void link.a.send(Buffer.from('y'), link.now);
    link.run(200);
    // A clean one: 5 ms each way plus the 0.5 ms delayed ack.
    expect(link.a.snapshot().srttUs).toBe(10_500);
  });
});
