/**
 * CPU pinning for the benchmarks (Linux `taskset`). On one machine the scheduler likes to run the
 * two processes of a ping-pong on the same core (the one that wakes the other), so everything
 * either side does, the work it does between datagrams included, is on the round trip. Pinned to
 * two cores they run in parallel, as two hosts would: the measurement for what a cluster sees.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** Can this machine pin two processes to two different cores? */
export function canPin(): boolean {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** Pin every thread of this process to `cpu`. */
export function pinSelf(cpu: number): void {
  const r = spawnSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`taskset could not pin this process to CPU ${cpu}`);
}

/** The command and arguments that run `node ...args` pinned to `cpu`. */
export function pinnedNode(cpu: number, args: readonly string[]): [string, string[]] {
  return ['taskset', ['-c', String(cpu), process.execPath, ...args]];
}
