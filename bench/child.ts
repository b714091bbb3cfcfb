/** Child processes of benchmarks and test fixtures that announce themselves with "READY <address>". */
import type { ChildProcess } from 'node:child_process';

/**
 * Resolve with the address a child prints as `READY <address>` on stdout; reject if it exits
 * first or prints nothing within `timeoutMs`. `describe` adds context (e.g. stderr) to failures.
 */
export function waitForReady(
  child: ChildProcess, exited: Promise<unknown>, timeoutMs: number, what: string, describe: () => string = () => '',
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`${what} did not print READY within ${timeoutMs} ms${describe()}`)), timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /READY (\S+)\n/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    void exited.then((how) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${String(how)}) before it was ready${describe()}`));
    });
  });
}
