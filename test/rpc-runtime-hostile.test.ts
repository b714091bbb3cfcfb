/**
 * Hostile input: random bytes and mutated valid messages thrown at an RPC server (and at a
 * client) through the in-memory network. Nothing may throw, crash or hang; the server keeps
 * serving a well-behaved client and counts what it dropped. Seeded, so failures reproduce.
 */
import { seededRandom } from '../transport/random.js';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RpcClient, RpcServer, decodeMessage } from '../rpc/runtime/index.js';
import { MemoryNetwork } from './support/memory-endpoint.js';
import { Calc, byName, calcHandlers } from './fixtures/rpc-runtime/calc.js';

const SERVER = '127.0.0.1:4100';
const CLIENT = '127.0.0.1:5100';
const HOSTILE = '127.0.0.1:6666';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const prng = seededRandom;

function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const r = rnd();
  let out = Uint8Array.from(src);
  if (r < 0.5) {
    // Flip 1..4 bytes, biased to the header.
    const flips = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < flips; i++) {
      const at = rnd() < 0.6 ? Math.floor(rnd() * Math.min(out.length, 36)) : Math.floor(rnd() * out.length);
      out[at] = Math.floor(rnd() * 256);
    }
  } else if (r < 0.7) {
    out = out.subarray(0, Math.floor(rnd() * out.length));
  } else if (r < 0.85) {
    const extra = new Uint8Array(1 + Math.floor(rnd() * 16)).map(() => Math.floor(rnd() * 256));
    const grown = new Uint8Array(out.length + extra.length);
    grown.set(out);
    grown.set(extra, out.length);
    out = grown;
  } else {
    // Keep the header, replace the body with garbage.
    const body = new Uint8Array(Math.floor(rnd() * 40)).map(() => Math.floor(rnd() * 256));
    const g = new Uint8Array(Math.min(36, out.length) + body.length);
    g.set(out.subarray(0, 36));
    g.set(body, Math.min(36, out.length));
    out = g;
  }
  return out;
}

describe('RPC runtime: hostile input', () => {
  it('decodeMessage never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeMessage(b);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3_000, seed: 42 },
    );
  });

  it('keeps serving a normal client while thousands of random and mutated messages arrive', async () => {
    const net = new MemoryNetwork({ giveUpMs: 100 });
    const serverEp = net.endpoint(SERVER, 'srv');
    const clientEp = net.endpoint(CLIENT, 'cli');
    const hostileEp = net.endpoint(HOSTILE, 'evil');
    const server = new RpcServer(serverEp, { workingAckAfterMs: 10 });
    const { handlers, counts, gate } = calcHandlers();
    server.serve(Calc, handlers);
    const client = new RpcClient(clientEp, { server: SERVER, probeIntervalMs: 20, maxProbeIntervalMs: 80, probeTimeoutMs: 500, ackDelayMs: 5 });
    closers.push(async () => {
      gate.release();
      await client.close();
      await server.close();
      for (const ep of [clientEp, serverEp, hostileEp]) await ep.close();
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    closers.push(async () => void process.off('unhandledRejection', onUnhandled));

    // Collect valid traffic of every kind to mutate: requests, replies, errors, probes, acks, WORKING.
    const samples: Uint8Array[] = [];
    net.tap = (ev) => {
      if (samples.length < 200) samples.push(ev.data);
    };
    await client.call(Calc, byName(Calc, 'add'), [1, 2]);
    await client.call(Calc, byName(Calc, 'echo'), [{ a: [1, 2, 3], s: 'x', b: new Uint8Array(4) }]);
    await client.call(Calc, byName(Calc, 'fail'), ['no', 'E_NO']).catch(() => undefined);
    await client.call(Calc, byName(Calc, 'sleep'), [60]);
    net.tap = undefined;
    expect(samples.length).toBeGreaterThan(8);

    const rnd = prng(0xc0ffee);
    const N = 4_000;
    let toServer = 0;
    let toClient = 0;
    for (let i = 0; i < N; i++) {
      const kind = rnd();
      let bytes: Uint8Array;
      if (kind < 0.25) {
        bytes = new Uint8Array(Math.floor(rnd() * 80)).map(() => Math.floor(rnd() * 256));
        if (rnd() < 0.5 && bytes.length > 2) {
          bytes[0] = 0x52; // right magic and version, garbage after
          bytes[1] = 1;
        }
      } else {
        bytes = mutate(samples[Math.floor(rnd() * samples.length)]!, rnd);
      }
      if (rnd() < 0.8) {
        net.inject(HOSTILE, SERVER, bytes);
        toServer++;
      } else {
        // At the client, from a stranger: must be ignored.
        net.inject(HOSTILE, CLIENT, bytes);
        toClient++;
      }
    }
    await waitFor(() => net.count(HOSTILE, SERVER) === toServer && net.count(HOSTILE, CLIENT) === toClient, 'all injected messages to be delivered');

    // The well-behaved client is still served, concurrently and correctly.
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.call(Calc, byName(Calc, 'add'), [i, i])));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
    const st = server.stats();
    expect(st.malformedDropped).toBeGreaterThan(N / 10);
    expect(client.stats().malformedDropped).toBeGreaterThan(0);
    expect(client.stats().errors).toEqual({ RPC_ERR_REMOTE: 1 });
    expect(counts.add).toBeGreaterThanOrEqual(51);
    expect(unhandled).toEqual([]);
  });

  it('fails a call whose answer from the server is unreadable, instead of hanging', async () => {
    const net = new MemoryNetwork({ giveUpMs: 100 });
    const serverEp = net.endpoint(SERVER, 'srv');
    const clientEp = net.endpoint(CLIENT, 'cli');
    const client = new RpcClient(clientEp, { server: SERVER, probeIntervalMs: 20, maxProbeIntervalMs: 40, probeTimeoutMs: 200 });
    closers.push(async () => {
      await client.close();
      await clientEp.close();
      await serverEp.close();
    });
    // A "server" that answers every request with a valid header and a garbage body.
    serverEp.on('message', (ev) => {
      const out = Uint8Array.from(ev.data.subarray(0, 36));
      out[2] = 0x10; // REPLY
      new DataView(out.buffer).setUint32(24, 7); // server incarnation
      out.fill(0, 28, 36); // ackBelow 0
      const bad = new Uint8Array(40);
      bad.set(out);
      bad.set([0xc1, 0xc1, 0xc1, 0xc1], 36); // 0xc1 is never valid msgpack
      void serverEp.send(ev.peer, bad);
    });
    const err = await client.call(Calc, byName(Calc, 'add'), [1, 2]).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'RPC_ERR_MALFORMED', executed: 'maybe' });
  });
});
