/**
 * CPU pinning for the benchmarks (Linux `taskset`). On one machine the scheduler likes to run the
 * two processes of a ping-pong on the same core (the one that wakes the other), so everything
 * either side does, the work it does between datagrams included, is on the round trip. Pinned to
 * two cores they run in parallel, as two hosts would: the measurement for what a cluster sees.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Can this machine pin two processes to two different cores? */
export function canPin(): boolean {
  if (process.platform !== 'linux' || availableParallelism() < 2) return false;
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** Can this machine pin a process to `cpu` (taskset present, the core exists)? */
export function canPinTo(cpu: number): boolean {
  if (process.platform !== 'linux' || !Number.isInteger(cpu) || cpu < 0 || cpu >= availableParallelism()) return false;
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

/** Where a process may run and where it last ran (Linux /proc; undefined fields elsewhere). */
export function placement(pid: number): { allowed: string | undefined; lastCpu: number | undefined } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 39 (processor), counted after the command name's closing parenthesis (field 2).
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const lastCpu = Number(after[39 - 3]);
    return { allowed, lastCpu: Number.isInteger(lastCpu) ? lastCpu : undefined };
  } catch {
    return { allowed: undefined, lastCpu: undefined };
  }
}
