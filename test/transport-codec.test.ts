import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../transport/crc32c.js';
import { RtoEstimator } from '../transport/rto.js';
import { seqAdd, seqDiff, seqLt } from '../transport/seq.js';
import {
  decodeDatagram, encodeDatagram, F_ACK, F_DATA, F_FIRST, F_LAST, F_SYN, type Datagram,
} from '../transport/wire.js';

const MAX = 65507;

function dg(over: Partial<Datagram> = {}): Datagram {
  return {
    flags: F_DATA | F_FIRST | F_LAST | F_ACK, window: 64, srcSession: 0x11223344, dstSession: 0x55667788,
    seq: 7, ack: 9, isn: 0, sacks: [], payload: Buffer.from('hello'), ...over,
  };
}

describe('crc32c', () => {
  it('matches the RFC 3720 check value for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
  it('matches the iSCSI test vectors (32 zero bytes, 32 0xff bytes)', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });
  it('gives the same result for any split of the input (running checksum)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const k = bytes.length ? cut % bytes.length : 0;
      expect(crc32c(bytes, k, bytes.length, crc32c(bytes, 0, k))).toBe(crc32c(bytes));
    }));
  });
});

describe('wire codec', () => {
  it('writes the header big-endian at the documented offsets', () => {
    const b = encodeDatagram(dg({ flags: F_DATA | F_SYN | F_ACK | F_FIRST, isn: 0xa1b2c3d4, sacks: [20, 22] }));
    expect(b[0]).toBe(1);
    expect(b[1]).toBe(F_DATA | F_SYN | F_ACK | F_FIRST);
    expect(b.readUInt16BE(2)).toBe(64);
    expect(b.readUInt32BE(4)).toBe(0x11223344);
    expect(b.readUInt32BE(8)).toBe(0x55667788);
    expect(b.readUInt32BE(12)).toBe(7);
    expect(b.readUInt32BE(16)).toBe(9);
    expect(b[20]).toBe(1);
    expect(b[21]).toBe(0);
    expect(b.readUInt32BE(22)).toBe(0xa1b2c3d4);
    expect(b.readUInt32BE(26)).toBe(20);
    expect(b.readUInt32BE(30)).toBe(22);
    expect(b.subarray(34, 39).toString()).toBe('hello');
    expect(b.readUInt32BE(39)).toBe(crc32c(b, 0, 39));
    expect(b.length).toBe(43);
  });

  it('round-trips every well-formed datagram', () => {
    const arb = fc.record({
      data: fc.boolean(), syn: fc.boolean(), ackf: fc.boolean(), first: fc.boolean(), last: fc.boolean(),
      window: fc.integer({ min: 0, max: 65535 }), src: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      dst: fc.integer({ min: 1, max: 2 ** 32 - 1 }), seq: fc.nat({ max: 2 ** 32 - 1 }), ack: fc.nat({ max: 2 ** 32 - 1 }),
      isn: fc.nat({ max: 2 ** 32 - 1 }), nsack: fc.integer({ min: 0, max: 4 }), payload: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(fc.property(arb, (r) => {
      const flags = (r.data ? F_DATA | (r.first ? F_FIRST : 0) | (r.last ? F_LAST : 0) : 0) |
        (r.syn ? F_SYN : 0) | (r.ackf || r.nsack ? F_ACK : 0);
      const sacks: number[] = [];
      for (let i = 0; i < r.nsack; i++) sacks.push(seqAdd(r.ack, 1 + 10 * i), seqAdd(r.ack, 5 + 10 * i));
      const d: Datagram = {
        flags, window: r.window, srcSession: r.src, dstSession: flags & F_ACK ? r.dst : 0,
        seq: r.data ? r.seq : 0, ack: flags & F_ACK ? r.ack : 0, isn: flags & F_SYN ? r.isn : 0, sacks,
        payload: r.data ? r.payload : new Uint8Array(0),
      };
      const back = decodeDatagram(encodeDatagram(d), MAX);
      expect(back).toEqual({ ...d, payload: expect.anything() });
      expect(Buffer.from((back as Datagram).payload)).toEqual(Buffer.from(d.payload));
    }));
  });

  it('reports truncated, oversized, wrong-version and bad-checksum datagrams without throwing', () => {
    const good = encodeDatagram(dg());
    expect(decodeDatagram(good.subarray(0, 10), MAX)).toBe('truncated');
    expect(decodeDatagram(good, good.length - 1)).toBe('oversized');
    const v2 = Buffer.from(good);
    v2[0] = 2;
    expect(decodeDatagram(v2, MAX)).toBe('badVersion');
    const flipped = Buffer.from(good);
    flipped[24]! ^= 0x10;
    expect(decodeDatagram(flipped, MAX)).toBe('badChecksum');
  });

  it('rejects structurally impossible datagrams even with a valid checksum', () => {
    const withCrc = (b: Buffer) => {
      b.writeUInt32BE(crc32c(b, 0, b.length - 4), b.length - 4);
      return b;
    };
    const mutate = (f: (b: Buffer) => void) => {
      const b = Buffer.from(encodeDatagram(dg()));
      f(b);
      return decodeDatagram(withCrc(b), MAX);
    };
    expect(mutate((b) => { b[1] = 0x80 | F_DATA; })).toBe('malformed'); // unknown flag bit
    expect(mutate((b) => { b[1] = F_FIRST | F_ACK; })).toBe('malformed'); // fragment flags without data
    expect(mutate((b) => { b.writeUInt32BE(0, 4); })).toBe('malformed'); // zero source session
    expect(mutate((b) => { b.writeUInt32BE(0, 8); })).toBe('malformed'); // ack for an unknown session
    expect(mutate((b) => { b[20] = 5; })).toBe('malformed'); // too many sack blocks
    expect(mutate((b) => { b[21] = 1; })).toBe('malformed'); // reserved byte set
    expect(mutate((b) => { b[20] = 2; })).toBe('truncated'); // sack blocks run past the end
    expect(decodeDatagram(withCrc(Buffer.from(encodeDatagram(dg({ sacks: [9, 12] })))), MAX)).toBe('malformed'); // sack not above ack
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_ACK, seq: 0, payload: Buffer.from('x') })), MAX)).toBe('malformed');
  });

  it('never throws on arbitrary bytes (fuzz)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
      const r = decodeDatagram(bytes, 1400);
      expect(typeof r === 'string' || typeof r === 'object').toBe(true);
    }), { numRuns: 5000 });
  });
});

describe('sequence arithmetic', () => {
  it('orders numbers across the 2^32 wrap', () => {
    const top = 2 ** 32 - 2;
    expect(seqLt(top, seqAdd(top, 5))).toBe(true);
    expect(seqAdd(top, 5)).toBe(3);
    expect(seqDiff(3, top)).toBe(5);
    expect(seqLt(3, top)).toBe(false);
  });
});

describe('RTO estimator (RFC 6298)', () => {
  const opts = { initialRtoMs: 100, minRtoMs: 1, maxRtoMs: 1000 };
  it('starts at the initial RTO and takes SRTT = R, RTTVAR = R/2 from the first sample', () => {
    const e = new RtoEstimator(opts);
    expect(e.rtoMs).toBe(100);
    e.sample(10);
    expect(e.srttMs).toBe(10);
    expect(e.rttvarMs).toBe(5);
    expect(e.rtoMs).toBe(30);
  });
  it('smooths later samples with alpha 1/8 and beta 1/4', () => {
    const e = new RtoEstimator(opts);
    e.sample(10);
    e.sample(20);
    expect(e.rttvarMs).toBeCloseTo(0.75 * 5 + 0.25 * 10);
    expect(e.srttMs).toBeCloseTo(0.875 * 10 + 0.125 * 20);
    expect(e.rtoMs).toBeCloseTo(e.srttMs + 4 * e.rttvarMs);
  });
  it('clamps to the floor and ceiling and doubles on back-off', () => {
    const e = new RtoEstimator({ initialRtoMs: 100, minRtoMs: 4, maxRtoMs: 50 });
    e.sample(0.025);
    expect(e.rtoMs).toBe(4);
    e.backoff();
    expect(e.rtoMs).toBe(8);
    for (let i = 0; i < 10; i++) e.backoff();
    expect(e.rtoMs).toBe(50);
  });
});
