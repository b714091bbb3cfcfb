/** Small helpers shared by the benchmarks: percentiles and argument parsing. */
import { basename } from 'node:path';
import { helpCommand, parseCommandLine, usageFailure, UsageError, type OptionSpec } from '../demos/args.js';

/** The p-th percentile (0..100) of `xs` by nearest rank; xs need not be sorted. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * `--json`-style flags and `--name value` options, by the CLIs' shared rules (demos/args.ts): an
 * unknown, repeated or valueless option exits 2 with one line naming it and one line of hint;
 * --help prints `usage` and exits 0.
 */
export function parseBenchArgs(argv: string[], known: Record<string, 'flag' | 'value'>, usage: string): Record<string, string | true> {
  const spec: Record<string, OptionSpec> = {};
  for (const [k, kind] of Object.entries(known)) spec[k] = { type: kind === 'flag' ? 'boolean' : 'string' };
  const script = basename(process.argv[1] ?? 'bench', '.js');
  const npmScript = process.env.npm_lifecycle_event;
  const help = helpCommand(npmScript?.startsWith('bench:') ? npmScript : script);
  try {
    const r = parseCommandLine(argv, spec);
    if (r.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    const out: Record<string, string | true> = {};
    for (const [k, v] of Object.entries(r.values)) if (v !== undefined) out[k] = v;
    for (const f of r.flags) out[f] = true;
    return out;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(usageFailure(script, e.message, help));
    process.exit(2);
  }
}

/** `s` padded with spaces on the right (pad) or the left (lpad) to `n` characters, for tables. */
export function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
export function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}
