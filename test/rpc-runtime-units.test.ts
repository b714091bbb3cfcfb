/** Pure parts of the RPC runtime, without any endpoint: the wire format and the reply cache. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReplyCache } from '../rpc/runtime/reply-cache.js';
import {
  HEADER_BYTES, MsgType, decodeMessage, encodeAckBody, encodeErrorBody, encodeReplyBody, encodeRequestBody, frame,
} from '../rpc/runtime/wire.js';

const h = { clientId: 0x0123456789abcdefn, clientInc: 0xdeadbeef, seq: 2 ** 40 + 7, serverInc: 0x01020304, ackBelow: 2 ** 33 };

describe('RPC wire format', () => {
  it('lays the header out byte by byte in network order', () => {
    const b = frame(MsgType.PROBE, h);
    expect(b.length).toBe(HEADER_BYTES);
    expect(Array.from(b.subarray(0, 4))).toEqual([0x52, 1, MsgType.PROBE, 0]);
    expect(Array.from(b.subarray(4, 12))).toEqual([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    expect(Array.from(b.subarray(12, 16))).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(Array.from(b.subarray(16, 24))).toEqual([0, 0, 1, 0, 0, 0, 0, 7]);
    expect(Array.from(b.subarray(24, 28))).toEqual([1, 2, 3, 4]);
    expect(Array.from(b.subarray(28, 36))).toEqual([0, 0, 0, 2, 0, 0, 0, 0]);
    expect(decodeMessage(b)).toEqual({ ok: true, msg: { kind: 'probe', h: { type: MsgType.PROBE, ...h } } });
  });

  it('round-trips every message kind', () => {
    const req = decodeMessage(frame(MsgType.REQUEST, h, encodeRequestBody('Calc', 1, 2, 'add', [1, 2n ** 60n])));
    expect(req).toMatchObject({ ok: true, msg: { kind: 'request', iface: 'Calc', version: 1, procId: 2, procName: 'add', args: [1, 2n ** 60n] } });
    const rh = { ...h, ackBelow: 0 };
    expect(decodeMessage(frame(MsgType.REPLY, rh, encodeReplyBody(undefined)))).toMatchObject({ ok: true, msg: { kind: 'reply', result: null } });
    expect(decodeMessage(frame(MsgType.ERROR, rh, encodeErrorBody('RPC_ERR_REMOTE', 'boom', 'once', 'E_X')))).toMatchObject({
      ok: true, msg: { kind: 'error', code: 'RPC_ERR_REMOTE', message: 'boom', executed: 'once', remoteCode: 'E_X' },
    });
    expect(decodeMessage(frame(MsgType.ACK, { ...h, seq: 0 }, encodeAckBody([5, 9])))).toMatchObject({ ok: true, msg: { kind: 'ack', acks: [5, 9] } });
    expect(decodeMessage(frame(MsgType.WORKING, rh))).toMatchObject({ ok: true, msg: { kind: 'working' } });
  });

  it('rejects bad fields with a reason, never by throwing', () => {
    const ok = frame(MsgType.PROBE, h);
    const bad = (mut: (b: Uint8Array) => void): string => {
      const b = Uint8Array.from(ok);
      mut(b);
      const r = decodeMessage(b);
      return r.ok ? 'ok' : r.reason;
    };
    expect(bad((b) => (b[0] = 0))).toMatch(/magic/);
    expect(bad((b) => (b[1] = 2))).toMatch(/version/);
    expect(bad((b) => (b[2] = 0x77))).toMatch(/type/);
    expect(bad((b) => (b[3] = 2))).toMatch(/flags/);
    expect(bad((b) => b.fill(0, 12, 16))).toMatch(/incarnation/);
    expect(bad((b) => b.fill(0xff, 16, 20))).toMatch(/2\^53/);
    expect(decodeMessage(ok.subarray(0, 35))).toMatchObject({ ok: false });
    const reqBad = frame(MsgType.REQUEST, h, encodeRequestBody('', 1, 1, 'x', []));
    expect(decodeMessage(reqBad)).toMatchObject({ ok: false, reason: expect.stringMatching(/interface name/) });
  });

  it('decodes every valid header it encodes (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (clientId, clientInc, seq, serverInc, ackBelow) => {
          const r = decodeMessage(frame(MsgType.PROBE, { clientId, clientInc, seq, serverInc, ackBelow }));
          expect(r).toEqual({ ok: true, msg: { kind: 'probe', h: { type: MsgType.PROBE, clientId, clientInc, seq, serverInc, ackBelow } } });
        }),
      { numRuns: 500, seed: 7 },
    );
  });
});

describe('RPC reply cache', () => {
  const reply = (n: number): Uint8Array => new Uint8Array(n);

  it('refuses a bad limit with the layer\'s own error code, saying what is allowed', () => {
    for (const [opts, message] of [[{ maxEntries: 0 }, 'maxEntries must be a positive integer, got 0'], [{ maxBytes: 1.5 }, 'maxBytes must be a positive integer, got 1.5']] as const) {
      expect(() => new ReplyCache(opts)).toThrow(expect.objectContaining({ code: 'RPC_ERR_INVALID_ARGUMENT', message }));
    }
  });

  it('classifies new, running, done, stale and lost calls', () => {
    const c = new ReplyCache({ maxEntries: 2 });
    expect(c.lookup('k', 1).state).toBe('new');
    c.begin('k', 1);
    expect(c.lookup('k', 1).state).toBe('running');
    c.finish('k', 1, reply(3));
    expect(c.lookup('k', 1)).toMatchObject({ state: 'done' });
    c.ack('k', 2);
    expect(c.lookup('k', 1).state).toBe('stale');
    for (const s of [2, 3, 4]) {
      c.begin('k', s);
      c.finish('k', s, reply(1));
    }
    expect(c.stats()).toMatchObject({ entries: 2, evictions: 1 });
    expect(c.lookup('k', 2).state).toBe('lost');
    expect(c.lookup('k', 5).state).toBe('new');
  });

  it('does not save the reply of a call the client gave up on', () => {
    const c = new ReplyCache();
    c.begin('k', 1);
    c.ack('k', 2);
    expect(c.finish('k', 1, reply(10))).toBe(false);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0, running: 0 });
  });

  it('drops explicitly acknowledged replies above the watermark', () => {
    const c = new ReplyCache();
    for (const s of [1, 2, 3]) c.begin('k', s);
    c.finish('k', 2, reply(5));
    c.finish('k', 3, reply(5));
    c.ack('k', 1, [2, 3]);
    expect(c.stats()).toMatchObject({ entries: 0, bytes: 0, running: 1 });
    expect(c.lookup('k', 1).state).toBe('running');
  });

  it('bounds saved bytes', () => {
    const c = new ReplyCache({ maxBytes: 100 });
    for (let s = 1; s <= 50; s++) {
      c.begin('k', s);
      c.finish('k', s, reply(30));
      expect(c.stats().bytes).toBeLessThanOrEqual(100);
    }
  });

  it('bounds client records, never dropping one with a running call', () => {
    const c = new ReplyCache({ maxClients: 3 });
    c.begin('busy', 1);
    for (let i = 0; i < 10; i++) {
      c.begin(`c${i}`, 1);
      c.finish(`c${i}`, 1, reply(1));
      c.ack(`c${i}`, 2);
    }
    expect(c.stats().clients).toBeLessThanOrEqual(3);
    expect(c.lookup('busy', 1).state).toBe('running');
  });
});
