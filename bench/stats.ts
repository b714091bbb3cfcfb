/** Small helpers shared by the benchmarks: percentiles and argument parsing. */

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

/** `--json` and `--name value` flags; unknown flags are an error with the list of known ones. */
export function parseBenchArgs(argv: string[], known: Record<string, string>, usage: string): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!a.startsWith('--') || !(a.slice(2) in known)) {
      process.stderr.write(`unknown argument ${JSON.stringify(a)}\n\n${usage}`);
      process.exit(2);
    }
    const key = a.slice(2);
    if (known[key] === 'flag') out[key] = true;
    else {
      const v = argv[++i];
      if (v === undefined) {
        process.stderr.write(`${a} needs a value\n\n${usage}`);
        process.exit(2);
      }
      out[key] = v;
    }
  }
  return out;
}
