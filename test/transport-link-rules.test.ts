/**
 * Link rules (transport/link-rules.ts): a partition and a loss rate set while endpoints run, what
 * `pagewire console` uses for partition / heal / loss. Over real loopback UDP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isTransportError } from '../transport/index.js';
import { LinkFilter } from '../transport/link-rules.js';
import { collect, Endpoints } from './support/transport.js';
import { waitFor } from './support/wait.js';

const eps = new Endpoints();
afterEach(() => eps.closeAll());

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('link rules', () => {
  it('a blocked peer is cut off both ways, counted apart from the fault injector, and the heal lets the queued message through', async () => {
    const a = await eps.make({ faults: { seed: 3, outbound: { drop: 0 } } });
    const b = await eps.make();
    const atB = collect(b);
    const atA = collect(a);
    await a.send(b.address, text('before'));
    a.setLinkRules({ blocked: [b.address] });
    const sent = a.send(b.address, text('during'));
    void b.send(a.address, text('from b')).catch(() => undefined);
    await waitFor(() => a.linkRuleStats().blockedOut >= 2 && a.linkRuleStats().blockedIn >= 2, 'retransmissions dropped both ways', 5_000);
    expect(atB.map((m) => new TextDecoder().decode(m.data))).toEqual(['before']);
    expect(atA).toHaveLength(0);
    expect(a.stats().bad.injectedDrops).toBe(0);
    expect(a.linkRuleStats().blocked).toEqual([b.address]);
    a.setLinkRules({}); // heal
    await sent;
    await waitFor(() => atB.length === 2 && atA.length === 1, 'delivery after the heal', 5_000);
    expect(new TextDecoder().decode(atB[1]!.data)).toBe('during');
    expect(a.linkRuleStats()).toMatchObject({ blocked: [], loss: 0 });
  });

  it('a send to a peer blocked for longer than giveUpMs fails TRANSPORT_ERR_PEER_UNREACHABLE', async () => {
    const a = await eps.make({ giveUpMs: 300 });
    const b = await eps.make();
    a.setLinkRules({ blocked: [b.address] });
    const err = await a.send(b.address, text('x')).catch((e: unknown) => e);
    expect(isTransportError(err, 'TRANSPORT_ERR_PEER_UNREACHABLE')).toBe(true);
  });

  it('loss drops that share of what is sent, from its own seed, and the transport still delivers', async () => {
    const a = await eps.make();
    const b = await eps.make();
    const got = collect(b);
    a.setLinkRules({ loss: 0.3, seed: 7 });
    for (let i = 0; i < 50; i++) await a.send(b.address, text(`m${i}`));
    await waitFor(() => got.length === 50, '50 messages', 10_000);
    expect(got.map((m) => new TextDecoder().decode(m.data))).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    const s = a.linkRuleStats();
    expect(s.lossDrops).toBeGreaterThan(0);
    expect(s.blockedOut + s.blockedIn).toBe(0);
    expect(a.stats().bad.injectedDrops).toBe(0);
  });

  it('refuses bad rules with TRANSPORT_ERR_INVALID_ARGUMENT naming the field, and keeps the old ones', () => {
    const f = new LinkFilter();
    f.set({ blocked: ['127.0.0.1:9'], loss: 0.1 });
    const cases: [unknown, RegExp][] = [
      [null, /link rules must be an object/],
      [{ blocked: 'x' }, /blocked must be a list/],
      [{ blocked: ['nowhere'] }, /blocked: peer must look like/],
      [{ blocked: ['example.org:1'] }, /blocked: peer host must be an IP address/],
      [{ loss: 1.5 }, /loss must be a probability in \[0, 1\], got 1.5/],
      [{ loss: Number.NaN }, /loss must be a probability/],
      [{ seed: -1 }, /seed must be an integer/],
      [{ blocked: Array.from({ length: 5000 }, (_, i) => `127.0.0.1:${(i % 60000) + 1}`) }, /at most 4096/],
    ];
    for (const [rules, message] of cases) {
      let err: unknown;
      try {
        f.set(rules as never);
      } catch (e) {
        err = e;
      }
      expect(isTransportError(err, 'TRANSPORT_ERR_INVALID_ARGUMENT'), String(rules)).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
    expect(f.stats()).toMatchObject({ blocked: ['127.0.0.1:9'], loss: 0.1 });
    expect(f.idle).toBe(false);
    f.set({});
    expect(f.idle).toBe(true);
  });
});
