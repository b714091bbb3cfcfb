/** Child processes of the demos, benchmarks and test fixtures that announce themselves with "READY <address>". */
import type { ChildProcess } from 'node:child_process';
import type { Interface } from 'node:readline';

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

/**
 * The first line a child prints on `lines` (a readline over its stdout, which the caller may go on
 * reading); rejects if the child exits first or prints nothing within `timeoutMs`.
 */
export function firstLine(child: ChildProcess, lines: Interface, timeoutMs: number, what: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => fail(new Error(`${what} printed nothing within ${timeoutMs} ms`)), timeoutMs);
    const onLine = (line: string): void => {
      done();
      resolve(line);
    };
    const onExit = (code: number | null, signal: string | null): void => fail(new Error(`${what} exited (${signal ?? `code ${code}`}) before it printed a line`));
    const done = (): void => {
      clearTimeout(t);
      lines.off('line', onLine);
      child.off('exit', onExit);
    };
    const fail = (e: Error): void => {
      done();
      reject(e);
    };
    lines.on('line', onLine);
    child.on('exit', onExit);
  });
}
