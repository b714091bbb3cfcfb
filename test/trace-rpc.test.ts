/**
 * RPC trace events over the in-memory network: what each call, probe, WORKING answer and duplicate
 * publishes, that receives name their sends across nodes, and that nothing is built while nobody
 * listens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dc from 'node:diagnostics_channel';
import { MemoryNetwork, type TapEvent } from './support/memory-endpoint.js';
import { Calc, byName } from './fixtures/rpc-runtime/calc.js';
import { calcPair } from './support/calc-pair.js';
import { CHANNELS, mergeTrace, registerCallLabels, renderTimeline, startTraceCollector, traceNode, type TraceCollector, type TraceEvent } from '../trace/index.js';
import { HEADER_BYTES, MsgType, TRACE_STAMP_BYTES, decodeMessage, encodeReplyBody, frame, stampFrame } from '../rpc/runtime/wire.js';
import { waitFor } from './support/wait.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function cluster(tag: string, opts: { workingAckAfterMs?: number; probeIntervalMs?: number; ackDelayMs?: number } = {}) {
  const net = new MemoryNetwork();
  const log: TapEvent[] = [];
  net.tap = (ev) => void log.push(ev);
  const srvAddr = '127.0.0.1:4100';
  const cliAddr = '127.0.0.1:5100';
  const pair = calcPair(net, {
    serverAddr: srvAddr, clientAddr: cliAddr, serverId: `srv-${tag}`, clientId: `cli-${tag}`,
    server: { workingAckAfterMs: opts.workingAckAfterMs ?? 10_000 },
    client: { probeIntervalMs: opts.probeIntervalMs ?? 10_000, maxProbeIntervalMs: opts.probeIntervalMs ?? 10_000, ackDelayMs: opts.ackDelayMs ?? 10_000 },
  });
  const { server, client, counts, gate } = pair;
  closers.push(() => pair.close());
  // The UDP endpoint registers its bound address itself; here the test does, as a cluster would.
  traceNode(`srv-${tag}`).addAddress(srvAddr);
  traceNode(`cli-${tag}`).addAddress(cliAddr);
  return { net, log, server, client, counts, gate, srvAddr, cliAddr, srv: `srv-${tag}`, cli: `cli-${tag}` };
}

function collect(): TraceCollector {
  const c = startTraceCollector();
  closers.push(() => void c.stop());
  return c;
}

const of = (events: readonly TraceEvent[], type: string, node?: string) => events.filter((e) => e.type === type && (node === undefined || e.node === node));

describe('RPC trace stamp on the wire', () => {
  const h = { clientId: 0x1234n, clientInc: 7, seq: 3, serverInc: 9, ackBelow: 0 };
  it('a stamped frame carries the incarnation and a 48-bit clock after the header; the body is unchanged', () => {
    const plain = frame(MsgType.REPLY, h, encodeReplyBody(42));
    const stamped = stampFrame(plain, { inc: 0xdeadbeef, lc: 2 ** 40 + 5 });
    expect(stamped.length).toBe(plain.length + TRACE_STAMP_BYTES);
    const r = decodeMessage(stamped);
    expect(r.ok && r.msg.kind === 'reply' && r.msg.result).toBe(42);
    expect(r.ok && r.msg.h.trace).toEqual({ inc: 0xdeadbeef, lc: 2 ** 40 + 5 });
    const p = decodeMessage(plain);
    expect(p.ok && p.msg.h.trace).toBeUndefined();
  });

  it('a truncated stamp, a stamp with incarnation 0, or another flag bit is malformed, never thrown', () => {
    const stamped = stampFrame(frame(MsgType.WORKING, h), { inc: 1, lc: 1 });
    expect(decodeMessage(stamped.subarray(0, HEADER_BYTES + 4))).toMatchObject({ ok: false, reason: 'truncated trace stamp' });
    const zero = Uint8Array.from(stamped);
    zero.fill(0, HEADER_BYTES, HEADER_BYTES + 4);
    expect(decodeMessage(zero)).toMatchObject({ ok: false, reason: 'trace stamp with incarnation 0' });
    const other = Uint8Array.from(stamped);
    other[3] = 0x03;
    expect(decodeMessage(other)).toMatchObject({ ok: false, reason: 'reserved flags set' });
  });
});

describe('RPC trace events', () => {
  it('a call publishes sent, received, executed, reply sent, reply received and done, each receive naming its send', async () => {
    const c = collect();
    const s = cluster('a');
    await expect(s.client.call(Calc, byName(Calc, 'add'), [2, 3])).resolves.toBe(5);
    const ev = c.events;
    const sent = of(ev, 'rpc-sent', s.cli);
    const recv = of(ev, 'rpc-received', s.srv);
    expect(sent.map((e) => e.kind)).toEqual(['request']);
    expect(recv.map((e) => e.kind)).toEqual(['request']);
    expect(of(ev, 'rpc-executed', s.srv)).toHaveLength(1);
    expect(of(ev, 'rpc-sent', s.srv).map((e) => e.kind)).toEqual(['reply']);
    expect(of(ev, 'rpc-received', s.cli).map((e) => e.kind)).toEqual(['reply']);
    expect(of(ev, 'rpc-call-done', s.cli)[0]).toMatchObject({ ok: true, iface: 'Calc', proc: 'add', peer: s.srvAddr });
    // Peers are the address here (nobody named them); every event has node, t, lc, layer.
    for (const e of ev) {
      expect(e.layer).toBe('rpc');
      expect(typeof e.t).toBe('number');
      expect(Number.isInteger(e.lc)).toBe(true);
    }
    const m = mergeTrace(c.stop());
    const receives = m.events.filter((e) => e.ev.type === 'rpc-received');
    expect(receives).toHaveLength(2);
    for (const r of receives) {
      expect(r.cause, `${r.ev.kind} names its send`).toBeDefined();
      expect(r.cause!.ev.type).toBe('rpc-sent');
      expect(r.cause!.node).not.toBe(r.node);
      expect(r.cause!.ev.lc).toBeLessThan(r.ev.lc); // Lamport: the clock travelled with the message
      expect(r.cause!.i).toBeLessThan(r.i); // causal order
      // The merger names the peer by node id through the headers' addresses.
      expect(r.peer).toBe(r.cause!.node);
    }
    expect(m.unmatched).toBe(0);
    expect(renderTimeline(m).join('\n')).toMatch(/rpc-sent: add/);
  });

  it('a long call shows WORKING, the probe and its answer; a duplicate request is suppressed, not run', async () => {
    const c = collect();
    const s = cluster('b', { workingAckAfterMs: 5, probeIntervalMs: 20 });
    const p = s.client.call(Calc, byName(Calc, 'block'), ['x']);
    await waitFor(() => of(c.events, 'rpc-received', s.cli).some((e) => e.kind === 'working'), 'WORKING at the client');
    await waitFor(() => of(c.events, 'rpc-sent', s.cli).some((e) => e.kind === 'probe'), 'a probe');
    await waitFor(() => of(c.events, 'rpc-sent', s.srv).filter((e) => e.kind === 'working').length >= 2, 'the probe answered WORKING');
    const req = s.log.find((e) => e.from === s.cliAddr)!;
    s.net.inject(s.cliAddr, s.srvAddr, req.data);
    await waitFor(() => of(c.events, 'rpc-duplicate', s.srv).length === 1, 'the duplicate suppressed');
    s.gate.release();
    await expect(p).resolves.toBe('done:x');
    expect(s.counts.block).toBe(1);
    expect(of(c.events, 'rpc-executed', s.srv)).toHaveLength(1);
    expect(of(c.events, 'rpc-duplicate', s.srv)[0]).toMatchObject({ state: 'running' });
    expect(of(c.events, 'rpc-sent', s.srv).find((e) => e.kind === 'working')?.label).toBe('WORKING');
  });

  it('labels come from the describers an interface registered, with the page they name', async () => {
    registerCallLabels('Calc', {
      add: { call: ([a, b]) => ({ text: `add ${String(a)}+${String(b)}`, page: Number(a) }), result: (r) => ({ text: `sum ${String(r)}` }) },
      echo: { call: () => { throw new Error('a describer that throws'); } },
    });
    closers.push(() => registerCallLabels('Calc', {}));
    const c = collect();
    const s = cluster('c');
    await s.client.call(Calc, byName(Calc, 'add'), [7, 1]);
    await s.client.call(Calc, byName(Calc, 'echo'), ['e']);
    const sent = of(c.events, 'rpc-sent', s.cli);
    expect(sent[0]).toMatchObject({ label: 'add 7+1', page: 7 });
    expect(of(c.events, 'rpc-sent', s.srv)[0]).toMatchObject({ label: 'sum 8', page: 7 });
    expect(sent[1]!.label).toBe('echo'); // the default, the call unharmed
  });

  it('publishes nothing and builds no event while nobody subscribes', async () => {
    expect(dc.channel(CHANNELS.rpc).hasSubscribers).toBe(false);
    let published = 0;
    const spy = dc.channel(CHANNELS.rpc);
    const origPublish = spy.publish.bind(spy);
    spy.publish = (m: unknown) => {
      published++;
      origPublish(m);
    };
    closers.push(() => {
      spy.publish = origPublish;
    });
    const s = cluster('d');
    await expect(s.client.call(Calc, byName(Calc, 'add'), [1, 1])).resolves.toBe(2);
    expect(published).toBe(0);
  });
});
