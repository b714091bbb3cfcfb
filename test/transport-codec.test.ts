import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../transport/crc32c.js';
import { isLoopbackHost } from '../transport/address.js';
import { RtoEstimator } from '../transport/rto.js';
import { seqAdd, seqDiff, seqLt } from '../transport/seq.js';
import {
  decodeDatagram, decodeInto, encodeDatagram, F_ACK, F_BUNDLE, Framer, newDatagram, F_CHALLENGE, F_DATA, F_ECHO, F_FIRST, F_LAST, F_SYN, F_TRACE, TRACE_STAMP_BYTES, FIXED_HEADER_BYTES,
  forEachBundled,
  MAX_OVERHEAD_BYTES, MIN_DATAGRAM_BYTES, type Datagram,
} from '../transport/wire.js';

const MAX = 65507;

function dg(over: Partial<Datagram> = {}): Datagram {
  return {
    flags: F_DATA | F_FIRST | F_LAST | F_ACK, window: 64, srcInc: 0x11223344, dstInc: 0x55667788,
    stream: 0x0a0b0c0d, ackStream: 0x01020304, seq: 7, ack: 9, isn: 0, challenge: 0n, echo: 0n, sacks: [],
    payload: Buffer.from('hello'), ...over,
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
  it('frames into one reused buffer per length, byte-identical to encodeDatagram, until the consumer keeps it', () => {
    const f = new Framer();
    const a = f.frame(dg());
    expect(Buffer.from(a)).toEqual(encodeDatagram(dg()));
    const b = f.frame(dg({ seq: 8 }));
    expect(b).toBe(a); // same length: same buffer, rewritten
    expect(decodeDatagram(b, MAX)).toMatchObject({ seq: 8 });
    expect(f.frame(dg({ payload: Buffer.from('hello!') }))).not.toBe(a); // another length, another buffer
    f.kept(b);
    const c = f.frame(dg({ seq: 9 }));
    expect(c).not.toBe(b); // a kept buffer is never written again
    expect(decodeDatagram(b, MAX)).toMatchObject({ seq: 8 });
  });

  it('decodes into one object again and again, every field overwritten (SACK blocks and trace stamp included)', () => {
    const out = newDatagram();
    const first = decodeInto(encodeDatagram(dg({ sacks: [20, 22, 30, 31], flags: F_DATA | F_FIRST | F_LAST | F_ACK | F_TRACE, trace: { inc: 5, lc: 2 ** 40 + 3 } })), MAX, true, out);
    expect(first).toBe(out);
    expect(out).toMatchObject({ sacks: [20, 22, 30, 31], trace: { inc: 5, lc: 2 ** 40 + 3 } });
    const sacks = out.sacks;
    decodeInto(encodeDatagram(dg({ sacks: [40, 41] })), MAX, true, out);
    expect(out.sacks).toBe(sacks); // the same array, refilled
    expect(out).toMatchObject({ sacks: [40, 41], trace: undefined, seq: 7 });
    decodeInto(encodeDatagram(dg({ flags: F_ACK, stream: 0, seq: 0, payload: new Uint8Array(0) })), MAX, true, out);
    expect(out).toMatchObject({ flags: F_ACK, sacks: [], seq: 0, stream: 0 });
    expect(out.payload.length).toBe(0);
  });

  it('writes the header big-endian at the documented offsets (version 4)', () => {
    const b = encodeDatagram(dg({
      flags: F_DATA | F_SYN | F_ACK | F_FIRST | F_CHALLENGE | F_ECHO, isn: 0xa1b2c3d4, sacks: [20, 22],
      challenge: 0x0102030405060708n, echo: 0xf1f2f3f4f5f6f7f8n,
    }));
    expect(b[0]).toBe(4);
    expect(b[1]).toBe(F_DATA | F_SYN | F_ACK | F_FIRST | F_CHALLENGE | F_ECHO);
    expect(b.readUInt16BE(2)).toBe(64);
    expect(b.readUInt32BE(4)).toBe(0x11223344); // srcInc
    expect(b.readUInt32BE(8)).toBe(0x55667788); // dstInc
    expect(b.readUInt32BE(12)).toBe(0x0a0b0c0d); // stream
    expect(b.readUInt32BE(16)).toBe(0x01020304); // ackStream
    expect(b.readUInt32BE(20)).toBe(7); // seq
    expect(b.readUInt32BE(24)).toBe(9); // ack
    expect(b[28]).toBe(1); // sackCount
    expect(b[29]).toBe(0); // accept: nothing said; not a bundle
    expect(b.readUInt32BE(30)).toBe(0xa1b2c3d4); // isn
    expect(b.readBigUInt64BE(34)).toBe(0x0102030405060708n); // challenge
    expect(b.readBigUInt64BE(42)).toBe(0xf1f2f3f4f5f6f7f8n); // echo
    expect(b.readUInt32BE(50)).toBe(20); // sack start
    expect(b.readUInt32BE(54)).toBe(22); // sack end
    expect(b.subarray(58, 63).toString()).toBe('hello');
    expect(b.readUInt32BE(63)).toBe(crc32c(b, 0, 63));
    expect(b.length).toBe(67);
    expect(MAX_OVERHEAD_BYTES).toBe(96);
    expect(MIN_DATAGRAM_BYTES).toBe(34);
  });

  it('leaves out the optional fields whose flag is clear (a bare ack is 34 bytes)', () => {
    const ack = encodeDatagram(dg({ flags: F_ACK, stream: 0, seq: 0, payload: new Uint8Array(0) }));
    expect(ack.length).toBe(34);
    expect(decodeDatagram(ack, MAX)).toMatchObject({ flags: F_ACK, ackStream: 0x01020304, ack: 9 });
  });

  it('round-trips every well-formed datagram', () => {
    const u32 = fc.integer({ min: 1, max: 2 ** 32 - 1 });
    const arb = fc.record({
      data: fc.boolean(), syn: fc.boolean(), ackf: fc.boolean(), first: fc.boolean(), last: fc.boolean(),
      chal: fc.boolean(), echo: fc.boolean(), window: fc.integer({ min: 0, max: 65535 }), src: u32, dst: u32,
      knowsDst: fc.boolean(), stream: u32, ackStream: u32, seq: fc.nat({ max: 2 ** 32 - 1 }), ack: fc.nat({ max: 2 ** 32 - 1 }),
      isn: fc.nat({ max: 2 ** 32 - 1 }), nsack: fc.integer({ min: 0, max: 4 }), payload: fc.uint8Array({ maxLength: 200 }),
      c1: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), c2: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      accept: fc.integer({ min: 0, max: 64 }),
    });
    fc.assert(fc.property(arb, (r) => {
      const flags = (r.data ? F_DATA | (r.first ? F_FIRST : 0) | (r.last ? F_LAST : 0) | (r.syn ? F_SYN : 0) : 0) |
        (r.ackf || r.nsack ? F_ACK : 0) | (r.chal ? F_CHALLENGE : 0) | (r.echo ? F_ECHO : 0);
      const sacks: number[] = [];
      for (let i = 0; i < r.nsack; i++) sacks.push(seqAdd(r.ack, 1 + 10 * i), seqAdd(r.ack, 5 + 10 * i));
      const d: Datagram = {
        flags, window: r.window, srcInc: r.src, dstInc: flags & F_ACK || r.knowsDst ? r.dst : 0,
        stream: r.data ? r.stream : 0, ackStream: flags & F_ACK ? r.ackStream : 0,
        seq: r.data ? r.seq : 0, ack: flags & F_ACK ? r.ack : 0, isn: flags & F_SYN ? r.isn : 0,
        challenge: r.chal ? r.c1 : 0n, echo: r.echo ? r.c2 : 0n, accept: r.accept, sacks, payload: r.data ? r.payload : new Uint8Array(0),
      };
      const bytes = encodeDatagram(d);
      const back = decodeDatagram(bytes, MAX);
      expect(back).toEqual({ ...d, payload: expect.anything() });
      expect(Buffer.from((back as Datagram).payload)).toEqual(Buffer.from(d.payload));
      expect(bytes.length).toBeLessThanOrEqual(MAX_OVERHEAD_BYTES + d.payload.length);
    }));
  });

  it('reports truncated, oversized, wrong-version and bad-checksum datagrams without throwing', () => {
    const good = encodeDatagram(dg());
    expect(decodeDatagram(good.subarray(0, 10), MAX)).toBe('truncated');
    expect(decodeDatagram(good, good.length - 1)).toBe('oversized');
    const v3 = Buffer.from(good);
    v3[0] = 3;
    expect(decodeDatagram(v3, MAX)).toBe('badVersion');
    const v1 = Buffer.from(good);
    v1[0] = 1; // the previous wire version is not understood either
    expect(decodeDatagram(v1, MAX)).toBe('badVersion');
    const flipped = Buffer.from(good);
    flipped[24]! ^= 0x10;
    expect(decodeDatagram(flipped, MAX)).toBe('badChecksum');
  });

  it('carries a trace stamp (TRACE): the incarnation and a 48-bit Lamport clock; a bad one is refused', () => {
    const d = dg({ flags: F_DATA | F_FIRST | F_LAST | F_ACK | F_TRACE, trace: { inc: 0xfeedbeef, lc: 2 ** 47 + 3 } });
    const b = encodeDatagram(d);
    expect(b.length).toBe(encodeDatagram(dg()).length + TRACE_STAMP_BYTES);
    const back = decodeDatagram(b, MAX);
    expect(typeof back === 'object' && back.trace).toEqual({ inc: 0xfeedbeef, lc: 2 ** 47 + 3 });
    expect(typeof back === 'object' && Buffer.from(back.payload).equals(Buffer.from(d.payload))).toBe(true);
    const plain = decodeDatagram(encodeDatagram(dg()), MAX);
    expect(typeof plain === 'object' && plain.trace).toBeUndefined();
    const zero = encodeDatagram(dg({ flags: F_DATA | F_FIRST | F_LAST | F_ACK | F_TRACE, trace: { inc: 0, lc: 1 } }));
    expect(decodeDatagram(zero, MAX)).toBe('malformed');
    const bare = encodeDatagram(dg({ flags: F_ACK | F_TRACE, seq: 0, stream: 0, payload: Buffer.alloc(0), trace: { inc: 1, lc: 1 } }));
    const cut = Buffer.from(bare.subarray(0, FIXED_HEADER_BYTES + 4));
    cut.writeUInt32BE(crc32c(cut, 0, cut.length - 4), cut.length - 4);
    expect(decodeDatagram(cut, MAX)).toBe('truncated');
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
    // (Every flag bit has a meaning now: 0x80 is TRACE, tested with the trace stamp below.)
    expect(mutate((b) => { b[1] = F_FIRST | F_ACK; })).toBe('malformed'); // fragment flags without data
    expect(mutate((b) => { b[1] = F_SYN | F_ACK; })).toBe('malformed'); // SYN without data
    expect(mutate((b) => { b.writeUInt32BE(0, 4); })).toBe('malformed'); // zero source incarnation
    expect(mutate((b) => { b.writeUInt32BE(0, 8); })).toBe('malformed'); // ack toward an unknown incarnation
    expect(mutate((b) => { b.writeUInt32BE(0, 12); })).toBe('malformed'); // data without a stream
    expect(mutate((b) => { b.writeUInt32BE(0, 16); })).toBe('malformed'); // ack without a stream
    expect(mutate((b) => { b[28] = 5; })).toBe('malformed'); // too many sack blocks
    expect(mutate((b) => { b[29] = 65; })).toBe('malformed'); // accepts more than 64 KiB: no UDP datagram is that large
    expect(mutate((b) => { b[29] = 0x80 | 65; })).toBe('malformed'); // the same, in a bundle
    expect(mutate((b) => { b[1] = F_DATA | F_FIRST | F_ACK; b[29] = 0x80; })).toBe('malformed'); // a bundle that is not FIRST and LAST
    expect(mutate((b) => { b[29] = 0x80; })).toBe('malformed'); // 'hello' is not a bundle's framing
    expect(mutate((b) => { b[28] = 2; })).toBe('truncated'); // sack blocks run past the end
    expect(decodeDatagram(withCrc(Buffer.from(encodeDatagram(dg({ sacks: [9, 12] })))), MAX)).toBe('malformed'); // sack not above ack
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_ACK, stream: 0, seq: 0, payload: Buffer.from('x') })), MAX)).toBe('malformed');
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_ACK, stream: 7, seq: 0, payload: new Uint8Array(0) })), MAX)).toBe('malformed'); // a stream id without data
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_DATA, ackStream: 0, ack: 3 })), MAX)).toBe('malformed'); // an ack number without ACK
    const chal = encodeDatagram(dg({ flags: F_ACK | F_CHALLENGE, stream: 0, seq: 0, payload: new Uint8Array(0), challenge: 5n }));
    expect(decodeDatagram(withCrc(Buffer.concat([chal.subarray(0, 36), Buffer.alloc(4)])), MAX)).toBe('truncated'); // cookie cut short
  });

  it('carries a bundle: two or more whole messages, each behind a u16 length, filling the payload exactly', () => {
    const bundle = Buffer.concat([Buffer.from([0, 2]), Buffer.from('ab'), Buffer.from([0, 1]), Buffer.from('-'), Buffer.from([0, 3]), Buffer.from('xyz')]);
    const b = encodeDatagram(dg({ flags: F_DATA | F_FIRST | F_LAST | F_ACK | F_BUNDLE, payload: bundle }));
    expect(b[29]).toBe(0x80);
    const d = decodeDatagram(b, MAX) as Datagram;
    expect(d.flags & F_BUNDLE).toBe(F_BUNDLE);
    const messages: string[] = [];
    forEachBundled(d.payload, (m) => void messages.push(Buffer.from(m).toString()));
    expect(messages).toEqual(['ab', '-', 'xyz']);
    const withAccept = encodeDatagram(dg({ flags: F_DATA | F_FIRST | F_LAST | F_ACK | F_BUNDLE, payload: bundle, accept: 64 }));
    expect(withAccept[29]).toBe(0x80 | 64); // the bundle bit beside what the sender accepts
    expect(decodeDatagram(withAccept, MAX)).toMatchObject({ flags: F_DATA | F_FIRST | F_LAST | F_ACK | F_BUNDLE, accept: 64 });
    const one = Buffer.concat([Buffer.from([0, 2]), Buffer.from('ab')]);
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_DATA | F_FIRST | F_LAST | F_BUNDLE, ackStream: 0, ack: 0, payload: one })), MAX)).toBe('malformed'); // one message is no bundle
    const short = Buffer.concat([Buffer.from([0, 2]), Buffer.from('ab'), Buffer.from([0, 9]), Buffer.from('xy')]);
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_DATA | F_FIRST | F_LAST | F_BUNDLE, ackStream: 0, ack: 0, payload: short })), MAX)).toBe('malformed'); // runs past the end
    // An empty entry: an empty message travels alone, so a bundle of 32,000 empty messages (a cheap flood) is no bundle.
    const empty = Buffer.concat([Buffer.from([0, 2]), Buffer.from('ab'), Buffer.from([0, 0])]);
    expect(decodeDatagram(encodeDatagram(dg({ flags: F_DATA | F_FIRST | F_LAST | F_BUNDLE, ackStream: 0, ack: 0, payload: empty })), MAX)).toBe('malformed');
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

describe('isLoopbackHost (loopback datagram sizes, and pagewire node\'s refusal to run unkeyed elsewhere)', () => {
  it('takes 127.0.0.0/8, ::1 in both spellings and IPv4-mapped 127/8 for loopback; every-interface and real addresses are not', () => {
    for (const h of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.1.2.3', '::ffff:10.0.0.1', 'fe80::1', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });
});
