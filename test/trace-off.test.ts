/**
 * Tracing off costs nothing on the wire: with nobody subscribed to any layer, the transport
 * publishes no event and no datagram carries the TRACE flag (0x80) or its stamp; with a
 * subscriber, the same traffic carries them (so the check below can fail).
 */
import dc from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { createEndpoint, type UdpEndpoint } from '../transport/index.js';
import { CHANNELS, subscribeTrace } from '../trace/index.js';
import { F_TRACE } from '../transport/wire.js';
import { UdpProxy } from './support/udp-proxy.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Two endpoints talking through a recording relay: 40 messages each way; the datagrams seen. */
async function exchange(): Promise<Buffer[]> {
  const server: UdpEndpoint = await createEndpoint({ nodeId: 'off-server' });
  closers.push(() => server.close());
  server.on('message', ({ peer, data }) => void server.send(peer, data).catch(() => undefined));
  const proxy = await UdpProxy.start(server.port, { record: true });
  closers.push(() => proxy.close());
  const client: UdpEndpoint = await createEndpoint({ nodeId: 'off-client' });
  closers.push(() => client.close());
  let echoes = 0;
  const all = new Promise<void>((resolve) => client.on('message', () => void (++echoes === 40 && resolve())));
  for (let i = 0; i < 40; i++) await client.send(proxy.frontAddress, Buffer.from(`message ${i}`));
  await all;
  return [...proxy.recordedToTarget, ...proxy.recordedFromTarget];
}

describe('tracing off', () => {
  it('publishes no transport event and sends no trace stamp while nobody subscribes; a subscriber turns both on', async () => {
    for (const l of Object.values(CHANNELS)) expect(dc.channel(l).hasSubscribers, l).toBe(false);
    const ch = dc.channel(CHANNELS.transport);
    let published = 0;
    ch.publish = (): void => void published++; // (an instance property: removed before anyone subscribes)
    let quiet: Buffer[];
    try {
      quiet = await exchange();
    } finally {
      delete (ch as { publish?: unknown }).publish;
    }
    expect(quiet.length).toBeGreaterThanOrEqual(80);
    expect(published).toBe(0);
    expect(quiet.filter((b) => (b[1]! & F_TRACE) !== 0)).toEqual([]);

    // The same exchange with a subscriber: events published, and datagrams stamped.
    const events: unknown[] = [];
    closers.push(subscribeTrace((e) => void events.push(e), { layers: ['transport'] }));
    const traced = await exchange();
    expect(events.length).toBeGreaterThan(0);
    expect(traced.filter((b) => (b[1]! & F_TRACE) !== 0).length).toBeGreaterThan(0);
  });
});
