/**
 * At-most-once under a lossy, duplicating network: 10,000 calls between two processes whose
 * transport endpoints both drop 30% and duplicate 30% of the datagrams they send (seeded).
 * The server records the call id of every handler invocation; no id may appear twice, and
 * every call that returned must appear exactly once.
 */
import { afterEach, expect, it } from 'vitest';
import { killAll, startServer } from './fixtures/rpc-udp/spawn.js';
import { closeClients, connect, report } from './fixtures/rpc-udp/client.js';
import { within } from './support/wait.js';

afterEach(async () => {
  await closeClients();
  await killAll();
});

const CALLS = 10_000;
const OUTSTANDING = 128;
// A known-lossy link (as in test/transport-udp.test.ts): give-up is for dead peers, not for
// a path that loses 30%; a congestion-window floor of 16 because this loss is not congestion.
// 1,200-byte datagrams as on a network path: on loopback (64 KiB datagrams) the calls of a tick leave
// in a few datagrams, and the faults would hit few of them.
const LOSSY = { giveUpMs: 60_000, maxRtoMs: 100, minRtoMs: 2, initialRtoMs: 10, minCwnd: 16, datagramBytes: 1200 };

const VARIANTS = [
  { name: 'probes at the default pace', seed: 7, probeIntervalMs: 100, maxProbeIntervalMs: 1_000 },
  // Probes every few ms make the server answer from its reply cache and "still working" state
  // constantly: the RPC layer's own duplicate handling is exercised, not only the transport's.
  { name: 'a probe every 1-4 ms per outstanding call', seed: 17, probeIntervalMs: 1, maxProbeIntervalMs: 4 },
] as const;

for (const v of VARIANTS) {
it(`runs each of ${CALLS.toLocaleString('en')} calls at most once, and each returned call exactly once, under 30% drop and 30% duplication both ways, ${v.name} (seeds ${v.seed}, ${v.seed + 1})`, async () => {
  const srv = await startServer({ endpoint: { ...LOSSY, faults: { seed: v.seed + 1, outbound: { drop: 0.3, duplicate: 0.3 } } } });
  const c = await connect(srv.address, { ...LOSSY, faults: { seed: v.seed, outbound: { drop: 0.3, duplicate: 0.3 } } },
    { probeIntervalMs: v.probeIntervalMs, maxProbeIntervalMs: v.maxProbeIntervalMs, probeTimeoutMs: 30_000 });

  const returned: string[] = [];
  const failed: unknown[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < CALLS) {
      next++;
      try {
        returned.push(await c.lab.record());
      } catch (e) {
        failed.push(e);
      }
    }
  };
  await within(Promise.all(Array.from({ length: OUTSTANDING }, lane)), 45_000, `${CALLS} calls`);
  const ran = await c.lab.recorded();

  const runs = new Map<string, number>();
  for (const id of ran) runs.set(id, (runs.get(id) ?? 0) + 1);
  const twice = [...runs].filter(([, n]) => n > 1);
  const returnedNotRun = returned.filter((id) => runs.get(id) !== 1);
  const r = await report(c);
  const cs = c.rpc.stats();
  const faults = c.ep.faultStats().outbound!;
  console.log(
    `${CALLS} calls: ${returned.length} returned, ${failed.length} failed; ${ran.length} handler runs of ${runs.size} distinct call ids; ` +
    `server: ${r.server.requests} requests, ${r.server.probes} probes, ${r.server.stillWorking} still-working answers; client probes ${cs.probesSent}; ` +
    `client datagrams dropped/duplicated by the injector ${faults.dropped}/${faults.duplicated}; ` +
    `transport retransmits ${c.ep.peerStats(srv.address)!.retransmits}`,
  );
  expect(twice).toEqual([]);
  expect(returnedNotRun).toEqual([]);
  expect(new Set(returned).size).toBe(returned.length);
  expect(failed).toEqual([]); // on a lossy but live link nothing gives up
  expect(returned.length).toBe(CALLS);
  expect(ran.length).toBe(CALLS);
  expect(r.counts.record).toBe(CALLS);
  // The faults really happened (to about 30% of the datagrams: fewer than calls, as calls of one
  // tick leave coalesced).
  const sent = c.ep.stats().datagramsSent;
  expect(sent).toBeGreaterThan(1_000);
  expect(faults.dropped).toBeGreaterThan(0.2 * sent);
  expect(faults.duplicated).toBeGreaterThan(0.2 * sent);
  expect(c.ep.peerStats(srv.address)!.duplicatesDropped).toBeGreaterThan(200);
  if (v.probeIntervalMs === 1) expect(cs.probesSent).toBeGreaterThan(100);
});
}
