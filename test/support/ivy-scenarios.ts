/**
 * What the protocol's failure tests share (test/dsm-protocol-*.test.ts): a started cluster with
 * heartbeats on (as users get them), the bound on deciding a death, an access's outcome as data,
 * and the view a node of a small cluster sends (for hand-made hostile messages).
 */
import { expect } from 'vitest';
import { Cluster } from './dsm-cluster.js';
import { IVY_DEFAULTS, type ManagerMode } from '../../dsm/protocol/index.js';
import { configDigest } from '../../dsm/protocol/membership.js';
import type { View } from '../../dsm/protocol/ivy.stubs.js';

/** From a kill to the decision: deadAfterMs of silence, a heartbeat round to notice, a proposal round. */
export const DECISION_BOUND_MS = IVY_DEFAULTS.deadAfterMs + IVY_DEFAULTS.heartbeatIntervalMs + 50;

/**
 * A cluster (heartbeats on unless `o.ivy` says otherwise; giveUpMs 500 unless given) after its
 * first 100 ms, by which every node has heard from every other; with `allUp`, that is checked.
 */
export async function startedCluster(o: ConstructorParameters<typeof Cluster>[0], allUp = true): Promise<Cluster> {
  const c = new Cluster({ giveUpMs: 500, ...o, ivy: { heartbeat: true, ...o.ivy } });
  await c.sched.run(() => false, 100);
  if (allUp) for (const n of c.nodes) expect(n.peers().every((p) => p.status === 'up')).toBe(true);
  return c;
}

export type AccessOutcome<T> = { ok: true; value: T } | { ok: false; code: string; node?: number; message: string };

/** How an access ended, as data (settled on the cluster's scheduler). */
export async function outcome<T>(c: Cluster, p: Promise<T>): Promise<AccessOutcome<T>> {
  try {
    return { ok: true, value: await c.sched.settle(p) };
  } catch (e) {
    const x = e as { code: string; node?: number; message: string };
    return { ok: false, code: x.code, node: x.node, message: x.message };
  }
}

/** The view node `id` of an n-node cluster (64-byte pages, 16 pages) sends. */
export function viewOf(n: number, id: number, mode: ManagerMode = 'fixed', dead: number[] = []): View {
  const nodes = Array.from({ length: n }, (_, i) => i);
  return { config: configDigest({ nodes, pageSize: 64, pageCount: 16, manager: mode === 'fixed' ? 1 : 2 }), incarnation: Cluster.incarnation(id), dead };
}
