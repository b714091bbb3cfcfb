/** Peer sessions: restarts are detected and contained; peer state stays bounded. */
import { afterEach, expect, it } from 'vitest';
import { isTransportError, type PeerRestartedEvent } from '../transport/index.js';
import { collect, Endpoints } from './support/transport.js';
import { UdpProxy } from './support/udp-proxy.js';
import { waitFor, within } from './support/wait.js';

const eps = new Endpoints();
let proxy: UdpProxy | undefined;
afterEach(async () => {
  await eps.closeAll();
  await proxy?.close();
  proxy = undefined;
});

it('treats a peer restarted on the same port as a new session and never delivers the old session\'s datagrams', async () => {
  const a = await eps.make({ nodeId: 'a' });
  const b = await eps.make({ nodeId: 'b' });
  const port = b.port;
  proxy = await UdpProxy.start(port);
  const atA = collect(a);
  const atB = collect(b);
  const restarts: PeerRestartedEvent[] = [];
  a.on('peer-restarted', (e) => restarts.push(e));

  // Old incarnation: traffic both ways, with b's datagrams recorded by the proxy.
  await a.send(proxy.frontAddress, Buffer.from('hello-old'));
  await waitFor(() => atB.length === 1, 'b to get hello-old');
  await b.send(proxy.backAddress, Buffer.from('old-1'));
  await b.send(proxy.backAddress, Buffer.from('old-2'));
  await waitFor(() => atA.length === 2, 'a to get old-1, old-2');
  const oldSession = atA[0]!.session;
  proxy.recording = false;
  const fromOld = proxy.recordedFromTarget.slice();
  expect(fromOld.length).toBeGreaterThanOrEqual(2);

  // b dies with a message from a still unacknowledged; b' starts on the same port.
  await b.close();
  const lost = a.send(proxy.frontAddress, Buffer.from('meant-for-old-b')).then(() => 'acked', (e: unknown) => e);
  const b2 = await eps.make({ nodeId: 'b2', port });
  const atB2 = collect(b2);
  await b2.send(proxy.backAddress, Buffer.from('new-1'));
  await waitFor(() => atA.length === 3, 'a to get new-1');

  // a saw the restart, the pending message failed with a typed error, and b' never got it.
  const outcome = await within(lost, 5_000, 'pending send to settle');
  expect(isTransportError(outcome, 'TRANSPORT_ERR_PEER_RESTARTED')).toBe(true);
  expect(restarts).toHaveLength(1);
  expect(restarts[0]!.oldSession).toBe(oldSession);
  expect(atA[2]!.session).toBe(restarts[0]!.newSession);
  expect(atA[2]!.session).not.toBe(oldSession);
  expect(Buffer.from(atA[2]!.data).toString()).toBe('new-1');

  // Replaying the old incarnation's datagrams delivers nothing and is counted as stale.
  const staleBefore = a.stats().bad.staleSession;
  proxy.replayToClient(fromOld);
  await waitFor(() => a.stats().bad.staleSession >= staleBefore + fromOld.length, 'replayed datagrams to be dropped as stale');
  await a.send(proxy.frontAddress, Buffer.from('hello-new'));
  await waitFor(() => atB2.length === 1, 'b2 to get hello-new');
  expect(atA.map((m) => Buffer.from(m.data).toString())).toEqual(['old-1', 'old-2', 'new-1']);
  expect(atB2.map((m) => Buffer.from(m.data).toString())).toEqual(['hello-new']);
  expect(restarts).toHaveLength(1);
});

it('tells a sender that its peer restarted within a round trip, even when the new incarnation never sends', async () => {
  const a = await eps.make({ nodeId: 'a', giveUpMs: 10_000 });
  const b = await eps.make({ nodeId: 'b' });
  const port = b.port;
  const atB = collect(b);
  await a.send(b.address, Buffer.from('first'));
  await waitFor(() => atB.length === 1, 'b to get first');
  await b.close();
  const b2 = await eps.make({ nodeId: 'b2', port });
  const atB2 = collect(b2);
  // a still addresses b's old stream; b2 answers its data with a SYN naming its new session.
  const t0 = performance.now();
  const outcome = await within(a.send(`127.0.0.1:${port}`, Buffer.from('to-old-stream')).then(() => 'acked', (e: unknown) => e), 5_000, 'send');
  expect(isTransportError(outcome, 'TRANSPORT_ERR_PEER_RESTARTED')).toBe(true);
  expect(performance.now() - t0).toBeLessThan(10_000); // well before giveUpMs: not a give-up
  expect(atB2).toHaveLength(0);
  expect(b2.stats().bad.staleSession).toBeGreaterThan(0);
  await a.send(`127.0.0.1:${port}`, Buffer.from('hello-b2'));
  await waitFor(() => atB2.length === 1, 'b2 to get hello-b2');
  expect(Buffer.from(atB2[0]!.data).toString()).toBe('hello-b2');
});

it('keeps at most maxPeers peer states, evicting idle ones, and still serves every sender', async () => {
  const hub = await eps.make({ maxPeers: 2 });
  const got = collect(hub);
  for (let i = 0; i < 4; i++) {
    const s = await eps.make();
    await s.send(hub.address, Buffer.from(`from-${i}`));
    await waitFor(() => got.length === i + 1, `message ${i}`);
    expect(hub.stats().peers.length).toBeLessThanOrEqual(2);
  }
  expect(got.map((m) => Buffer.from(m.data).toString())).toEqual(['from-0', 'from-1', 'from-2', 'from-3']);
});

it('creates pinned peers at start, outside maxPeers, and never evicts them however many others come', async () => {
  const friend = await eps.make({ nodeId: 'friend' });
  const hub = await eps.make({ maxPeers: 1, pinnedPeers: [friend.address, 'localhost:9'] });
  expect(hub.stats().peers.map((p) => [p.peer, p.pinned, p.incarnation])).toEqual([[friend.address, true, 0], ['127.0.0.1:9', true, 0]]);
  const got = collect(hub);
  await friend.send(hub.address, Buffer.from('hello'));
  for (let i = 0; i < 3; i++) {
    const s = await eps.make();
    await s.send(hub.address, Buffer.from(`from-${i}`));
    await waitFor(() => got.length === i + 2, `message ${i}`);
    expect(hub.stats().peers.filter((p) => !p.pinned)).toHaveLength(1);
  }
  expect(hub.stats().peersEvicted).toBe(2);
  const f = hub.peerStats(friend.address)!;
  expect(f.pinned).toBe(true);
  expect(f.messagesDelivered).toBe(1); // the same state as before the others came
  expect(f.incarnation).toBe(got[0]!.session);
});
