/**
 * Declares peers dead. Two sources: (a) the protocol reports a call that failed with
 * RPC_ERR_UNREACHABLE (the transport gave up) or missed its deadline; (b) a heartbeat: every
 * heartbeatIntervalMs each live peer gets a ping (at most one outstanding per peer), and a peer
 * with no successful ping for deadAfterMs is declared dead. A peer is thus declared dead at most
 * deadAfterMs + heartbeatIntervalMs after it stopped answering. Dead is permanent (fail-stop:
 * a restarted node is a new incarnation, which the RPC layer reports as RPC_ERR_SERVER_RESTARTED).
 *
 * The heartbeat only declares dead a peer that answered at least once: nodes of a cluster are
 * started one by one (by hand, on several hosts), and a peer that is not up yet is not a peer
 * that died. A call that needs a peer which never answered still fails, and declares it dead.
 */
import { isRpcError } from '../../rpc/index.js';
import type { Timers } from '../../rpc/runtime/index.js';

export interface NodeDeadEvent {
  readonly node: number;
  readonly reason: string;
}

export interface FailureDetectorInit {
  readonly self: number;
  readonly peers: readonly number[];
  readonly timers: Timers;
  readonly heartbeat: boolean;
  readonly intervalMs: number;
  readonly deadAfterMs: number;
  /** Sends one ping; rejects on failure. */
  readonly ping: (node: number, timeoutMs: number) => Promise<unknown>;
  readonly onDead: (e: NodeDeadEvent) => void;
}

export class FailureDetector {
  readonly #init: FailureDetectorInit;
  readonly #dead = new Map<number, string>();
  readonly #lastHeard = new Map<number, number>();
  /** Peers that answered a ping at least once. */
  readonly #everHeard = new Set<number>();
  readonly #pinging = new Set<number>();
  #handle: unknown;
  #stopped = false;

  constructor(init: FailureDetectorInit) {
    this.#init = init;
    const now = init.timers.now();
    for (const p of init.peers) this.#lastHeard.set(p, now);
    if (init.heartbeat && init.peers.length > 0) this.#schedule();
  }

  isDead(node: number): boolean {
    return this.#dead.has(node);
  }

  /** Why `node` was declared dead, if it was. */
  deathReason(node: number): string | undefined {
    return this.#dead.get(node);
  }

  get deadNodes(): number[] {
    return [...this.#dead.keys()];
  }

  declareDead(node: number, reason: string): void {
    if (node === this.#init.self || this.#dead.has(node) || this.#stopped) return;
    this.#dead.set(node, reason);
    this.#init.onDead({ node, reason });
  }

  /**
   * Feeds the outcome of a failed call to `node`: unreachable or a missed deadline declares it
   * dead. Returns true when the node is now dead.
   */
  callFailed(node: number, err: unknown): boolean {
    if (isRpcError(err, 'RPC_ERR_UNREACHABLE')) this.declareDead(node, `unreachable: ${(err as Error).message}`);
    else if (isRpcError(err, 'RPC_ERR_DEADLINE')) this.declareDead(node, `no answer in time: ${(err as Error).message}`);
    return this.isDead(node);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#handle !== undefined) this.#init.timers.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  #schedule(): void {
    this.#handle = this.#init.timers.setTimeout(() => this.#tick(), this.#init.intervalMs);
  }

  #tick(): void {
    if (this.#stopped) return;
    const { timers, deadAfterMs } = this.#init;
    const now = timers.now();
    for (const peer of this.#init.peers) {
      if (this.#dead.has(peer)) continue;
      if (this.#everHeard.has(peer) && now - this.#lastHeard.get(peer)! >= deadAfterMs) {
        this.declareDead(peer, `no heartbeat answer for ${Math.round(now - this.#lastHeard.get(peer)!)} ms`);
        continue;
      }
      if (this.#pinging.has(peer)) continue;
      this.#pinging.add(peer);
      this.#init.ping(peer, deadAfterMs).then(
        () => {
          this.#pinging.delete(peer);
          this.#lastHeard.set(peer, timers.now());
          this.#everHeard.add(peer);
        },
        (err: unknown) => {
          this.#pinging.delete(peer);
          if (this.#everHeard.has(peer) && isRpcError(err, 'RPC_ERR_UNREACHABLE')) this.declareDead(peer, `unreachable: ${(err as Error).message}`);
        },
      );
    }
    this.#schedule();
  }
}
