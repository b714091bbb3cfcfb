/** Loopback peers: datagrams up to loopbackDatagramBytes, both ways, once the peer said it accepts them. */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { createEndpoint, TRANSPORT_DEFAULTS, type UdpEndpoint } from '../transport/index.js';
import { MAX_OVERHEAD_BYTES } from '../transport/wire.js';

/**
 * The loopback datagram size a default endpoint settles on here: loopbackDatagramBytes, unless the
 * receive buffer this kernel grants (probed as the endpoint asks for it) holds less than a window
 * and 16 of them, twice (transport/core.ts setReceiveBuffer).
 */
async function loopbackBytesHere(): Promise<number> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: TRANSPORT_DEFAULTS.socketBufferBytes });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const granted = s.getRecvBufferSize();
  s.close();
  const d = TRANSPORT_DEFAULTS;
  return Math.max(d.datagramBytes, Math.min(d.loopbackDatagramBytes, Math.floor(granted / 2 / (d.windowDatagrams + 16))));
}

const open: UdpEndpoint[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

async function ep(o: Parameters<typeof createEndpoint>[0] = {}): Promise<UdpEndpoint> {
  const e = await createEndpoint(o);
  open.push(e);
  return e;
}

/** Send `messages` from a to b (each answered, so a has heard b first); the datagrams a sent for the bulk ones. */
async function exchange(a: UdpEndpoint, b: UdpEndpoint, messages: Buffer[]): Promise<{ sent: number; got: Buffer[] }> {
  const got: Buffer[] = [];
  b.on('message', (m) => got.push(Buffer.from(m.data)));
  await a.send(b.address, Buffer.from('hello')); // b's ack says what it accepts
  got.length = 0;
  const before = a.stats().datagramsSent;
  await Promise.all(messages.map((m) => a.send(b.address, m)));
  return { sent: a.stats().datagramsSent - before, got };
}

const bulk = () => Array.from({ length: 4 }, (_, i) => Buffer.alloc(1 << 20, i + 1).fill(0x5a, 1000, 2000));

describe('loopback datagrams', () => {
  it('with default options a 1 MiB message crosses loopback in a few dozen datagrams, intact, none oversized', async () => {
    const a = await ep();
    const b = await ep();
    const msgs = bulk();
    const { sent, got } = await exchange(a, b, msgs);
    expect(got).toHaveLength(4);
    got.forEach((g, i) => expect(g.equals(msgs[i]!)).toBe(true));
    // 4 MiB in datagrams as large as this kernel's receive buffer allows (here the 4 MiB the
    // endpoint asks for, granted as 8 MiB, makes 52,428-byte datagrams: 21 per MiB, README's
    // figure), not the 3,800 that 1,200-byte datagrams take; a few more for retransmissions at most.
    const size = await loopbackBytesHere();
    const perMessage = Math.ceil((1 << 20) / (size - MAX_OVERHEAD_BYTES));
    console.log(`loopback: ${size}-byte datagrams, ${sent} sent for 4 x 1 MiB`);
    expect(sent).toBeGreaterThanOrEqual(4 * perMessage);
    expect(sent).toBeLessThanOrEqual(4 * perMessage + 8);
    expect(b.stats().bad.oversized).toBe(0);
  });

  it('an explicit datagramBytes holds on loopback too (fragmentation tests rely on it)', async () => {
    const a = await ep({ datagramBytes: 600 });
    const b = await ep({ datagramBytes: 600 });
    const { sent, got } = await exchange(a, b, [Buffer.alloc(100_000, 7)]);
    expect(got).toHaveLength(1);
    expect(sent).toBeGreaterThanOrEqual(Math.ceil(100_000 / (600 - 96)));
  });

  it('never sends a peer more than it accepts: a default endpoint toward one limited to 1,200 bytes', async () => {
    const a = await ep();
    const b = await ep({ loopbackDatagramBytes: 1200 });
    const msgs = [Buffer.alloc(300_000, 3)];
    const { sent, got } = await exchange(a, b, msgs);
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(msgs[0]!)).toBe(true);
    expect(sent).toBeGreaterThanOrEqual(Math.ceil(300_000 / (1200 - 96)));
    expect(b.stats().bad.oversized).toBe(0);
  });

  it('rejects a loopbackDatagramBytes below datagramBytes or above 65,000 with a message that says what is allowed', async () => {
    await expect(createEndpoint({ datagramBytes: 1400, loopbackDatagramBytes: 1300 })).rejects.toMatchObject({
      code: 'TRANSPORT_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/loopbackDatagramBytes must be an integer in \[1400, 65000\], got 1300/),
    });
    await expect(createEndpoint({ loopbackDatagramBytes: 70_000 })).rejects.toMatchObject({ code: 'TRANSPORT_ERR_INVALID_ARGUMENT' });
  });
});
