/** Argument parsing shared by the demos: every bad argument exits 2 with a message saying what is allowed. */
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

/**
 * Parse `argv` with strict options: the named string options plus --help. An unknown flag, a
 * missing value or a positional becomes a UsageError.
 */
export function parseDemoArgs<K extends string>(argv: string[], names: readonly K[]): { values: Partial<Record<K, string>>; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const n of names) options[n] = { type: 'string' };
  try {
    const { help, ...values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
    return { values: values as Partial<Record<K, string>>, help: help === true };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function intArg(v: string | undefined, name: string, lo: number, hi: number, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < lo || x > hi) throw new UsageError(`--${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return x;
}

export function probabilityArg(v: string | undefined, name: string, hi: number, dflt: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !(x >= 0 && x <= hi)) throw new UsageError(`--${name} must be a probability in [0, ${hi}], got ${JSON.stringify(v)}`);
  return x;
}

/**
 * Run a demo's main: a UsageError prints the message and usage and exits 2; any other error
 * prints "<name> failed: ..." and exits 1; otherwise exit with the code main returned.
 */
export function runMain(name: string, usage: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${name}: ${e.message}\n\n${usage}`);
        process.exit(2);
      }
      process.stderr.write(`${name} failed: ${e instanceof Error ? (process.env.DEBUG ? e.stack : e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}

/** The p50 of a histogram of latencies, as "≤ bound" of the bucket holding the median ("-" when empty). */
export function histogramP50(h: { bucketsMs: readonly number[]; counts: readonly number[] }): string {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return '-';
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen * 2 >= total) return i < h.bucketsMs.length ? `≤ ${h.bucketsMs[i]} ms` : `> ${h.bucketsMs.at(-1)} ms`;
  }
  return '-';
}

export const hex = (a: number | undefined): string => (a === undefined ? '?' : `0x${a.toString(16).padStart(8, '0')}`);

/** Left-aligned table rows with two spaces between columns. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}
