/**
 * What `pagewire node` says about its peers: every membership event of the node (peer up,
 * suspected, dead; this node fenced; a majority up; a configuration mismatch) as a line of text on
 * stdout, or with --control as a JSON line on the control channel:
 *
 *   node 2: peer 3 suspected: nothing heard for 2004 ms
 *   {"event":"membership","kind":"dead","node":3,"reason":"silent for 2511 ms; declared dead by a majority: nodes 2, 1","at":7034.5}
 *
 * The events are printed by the node's main thread as they arrive from the fault thread, also while
 * a --control memory command is blocked in a page fault (it runs on another thread: control.ts).
 *
 * A configuration mismatch found before a majority of the cluster is up is a startup error: the
 * node says so on stderr and the launcher exits 1 (both nodes of the mismatch find it at their
 * first contact). Later, a mismatched newcomer is only refused, so one misconfigured node cannot
 * stop a running cluster.
 */
import type { DsmNode, MembershipEvent } from '../dsm/node/index.js';

export function describeMembership(id: number, e: MembershipEvent): string {
  switch (e.kind) {
    case 'up': return `node ${id}: peer ${e.node} up (${e.reason})`;
    case 'suspected': return `node ${id}: peer ${e.node} suspected: ${e.reason}`;
    case 'dead': return `node ${id}: peer ${e.node} dead: ${e.reason}; refused from now on`;
    case 'fenced': return `node ${id}: FENCED (refused by node ${e.node}): ${e.reason}; every access fails DSM_ERR_EVICTED from now on`;
    case 'majority-up': return `node ${id}: a majority is up: ${e.reason}`;
    case 'mismatch': return `node ${id}: peer ${e.node} runs another cluster configuration: ${e.reason}`;
    case 'refused': return `node ${id}: peer ${e.node} refused this node: ${e.reason}`;
  }
}

/**
 * Prints the node's membership events (text or JSON lines); calls `startupError` once if a
 * configuration mismatch shows up before a majority is up.
 */
export function watchMembership(node: DsmNode, out: (line: string) => void, json: boolean, startupError: (message: string) => void): void {
  let majority = false;
  node.onMembership((e) => {
    out(json ? JSON.stringify({ event: 'membership', ...e }) : describeMembership(node.id, e));
    if (e.kind === 'majority-up') majority = true;
    if (e.kind === 'mismatch' && !majority) {
      startupError(`node ${node.id} and node ${e.node} disagree on the cluster: ${e.reason}; every node must be given the same node list, page size, page count and manager mode`);
    }
  });
}
