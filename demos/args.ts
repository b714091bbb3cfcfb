/**
 * What the node CLI and the demos share: strict command-line parsing whose messages name the
 * option and end in one line of hint (never the whole usage), the loss limit, running a main, and
 * stopping when npm goes away; plus a few formatting helpers.
 */
import { relative } from 'node:path';
import { CLUSTER_KEY_LABEL } from '../transport/cluster-key.js';
import { generateClusterKey, parseClusterKey } from '../transport/index.js';

export class UsageError extends Error {}

/**
 * The highest --loss (each datagram a node sends is dropped with this probability) the CLI and every
 * demo accept. At 0.5 a request and its acknowledgement both get through a quarter of the time and
 * the transport still delivers within its give-up time; much above that, calls start to fail with
 * TRANSPORT_ERR_PEER_UNREACHABLE instead of showing retransmissions at work.
 */
export const MAX_LOSS = 0.5;

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** What the value looks like, for "--listen needs a value (HOST:PORT)". */
  readonly value?: string;
}

export interface ParsedArgs<K extends string> {
  readonly values: Partial<Record<K, string>>;
  /** Boolean options that were given. */
  readonly flags: ReadonlySet<K>;
  readonly help: boolean;
}

/**
 * Parse `argv` strictly: `--name value` or `--name=value` for string options, `--name` for boolean
 * ones, `--help` / `-h`. An unknown option, a missing value, a value given to a boolean, an option
 * given twice or any positional argument is a UsageError naming it. A value may start with '-'
 * (`--seed -1` is the value "-1", refused later by the range check), but not with '--', which
 * means the value was forgotten. Under `npm run`, a positional that npm left behind, or an option of
 * ours that npm kept for itself (`npm run demo --loss 0.2`, without `--`), gets npm's own fix.
 */
export function parseCommandLine<K extends string>(argv: readonly string[], spec: Readonly<Record<K, OptionSpec>>): ParsedArgs<K> {
  const values: Partial<Record<K, string>> = {};
  const flags = new Set<K>();
  const seen = new Set<string>();
  let help = false;
  const known = (name: string): name is K => Object.prototype.hasOwnProperty.call(spec, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      const rest = arg === '--' ? argv.slice(i + 1) : argv.slice(i);
      if (rest.length === 0) break;
      throw new UsageError(npmHint(spec, values, rest) ?? `unexpected argument ${JSON.stringify(rest[0])}${arg.startsWith('-') && arg !== '--' ? ' (options start with --)' : ''}`);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!known(name)) throw new UsageError(`unknown option --${name}`);
    if (seen.has(name)) throw new UsageError(`--${name} was given more than once`);
    seen.add(name);
    const o = spec[name];
    if (o.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value, got ${JSON.stringify(arg.slice(eq + 1))}`);
      flags.add(name);
      continue;
    }
    const v: string | undefined = eq >= 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0) {
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value${o.value ? ` (${o.value})` : ''}`);
      i++;
    }
    values[name] = v;
  }
  if (!help) {
    const hint = npmHint(spec, values);
    if (hint !== undefined) throw new UsageError(hint);
  }
  return { values, flags, help };
}

/**
 * `npm run x --loss 0.2` (no `--`): npm takes --loss as a setting of its own (npm_config_loss=true)
 * and passes "0.2" on as a positional; `--loss=0.2` leaves npm_config_loss=0.2 and nothing at all.
 * Says how to write it.
 */
function npmHint(spec: Readonly<Record<string, OptionSpec>>, given: Readonly<Record<string, unknown>>, leftover: readonly string[] = []): string | undefined {
  const script = process.env.npm_lifecycle_event;
  if (script === undefined) return undefined;
  const env = (k: string): string | undefined => process.env[`npm_config_${k.replace(/-/g, '_')}`];
  const kept = Object.keys(spec).filter((k) => given[k] === undefined && env(k) !== undefined);
  if (kept.length === 0) return undefined;
  // Which leftover value belonged to which option is known only when one option lost its value.
  const valueless = kept.filter((k) => spec[k]!.type === 'string' && env(k) === 'true');
  const rest = valueless.length === 1 ? [...leftover] : [];
  const as = kept.map((k) => {
    if (spec[k]!.type === 'boolean') return `--${k}`;
    const v = env(k) !== 'true' ? env(k)! : rest.length > 0 ? rest.shift()! : (spec[k]!.value ?? 'VALUE');
    return `--${k} ${v}`;
  });
  return `npm kept ${kept.map((k) => `--${k}`).join(', ')} for itself; put the options after --: npm run ${script} -- ${[...as, ...rest].join(' ')}`;
}

/** parseCommandLine for a demo: the named string options (plus boolean `flags`) and --help. */
export function parseDemoArgs<K extends string, F extends string = never>(
  argv: readonly string[], names: readonly K[], flagNames: readonly F[] = [],
): { values: Partial<Record<K, string>>; flags: ReadonlySet<F>; help: boolean } {
  const spec = {} as Record<K | F, OptionSpec>;
  for (const n of names) spec[n] = { type: 'string' };
  for (const n of flagNames) spec[n] = { type: 'boolean' };
  const r = parseCommandLine<K | F>(argv, spec);
  return { values: r.values as Partial<Record<K, string>>, flags: r.flags as ReadonlySet<F>, help: r.help };
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

/** A UsageError as the CLI and the demos print it: the message, then one line saying where the usage is. */
export function usageFailure(name: string, message: string, helpCommand: string): string {
  return `${name}: ${message}\nRun \`${helpCommand}\` for the options.\n`;
}

/** How to get a program's --help, the way it was started: `npm run <script>`, or node on its file. */
export function helpCommand(script: string): string {
  if (process.env.npm_lifecycle_event === script) return `npm run ${script} -- --help`;
  const file = process.argv[1] === undefined ? script : relative(process.cwd(), process.argv[1]);
  return `node ${file.includes(' ') ? JSON.stringify(file) : file} --help`;
}

/**
 * Run a program's main: a UsageError prints the message and a one-line hint and exits 2; any other
 * error prints "<name> failed: ..." and exits 1; otherwise exit with the code main returned.
 */
export function runMain(name: string, helpCommand: string, main: () => Promise<number>): void {
  stopWithParent();
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(usageFailure(name, e.message, helpCommand));
        process.exit(2);
      }
      process.stderr.write(`${name} failed: ${e instanceof Error ? (process.env.DEBUG ? e.stack : e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}

/**
 * npm (npx, npm run, npm exec) starts a program through `sh -c` and passes SIGINT/SIGTERM to that
 * shell, which dies without passing them on: the program would keep running, orphaned. So when
 * started by npm, watch the parent process, and when it is gone act as if SIGTERM had arrived (each
 * program's own SIGTERM handling then shuts it down). Started any other way, nothing changes.
 */
export function stopWithParent(pollMs = 500): void {
  if (process.env.npm_lifecycle_event === undefined && process.env.npm_command === undefined) return;
  const parent = process.ppid;
  if (parent <= 1) return;
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return;
      clearInterval(timer);
      process.stderr.write(`the process npm started this one under (pid ${parent}) is gone: stopping\n`);
      process.kill(process.pid, 'SIGTERM');
    }
  }, pollMs);
  timer.unref();
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

/** A duration for people: 412 µs, 4.88 ms, 37 ms, 2.21 s. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export const hex = (a: number | undefined): string => (a === undefined ? '?' : `0x${a.toString(16).padStart(8, '0')}`);

/** Left-aligned table rows with two spaces between columns. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}

/** Where a demo hands its run's cluster key to its child process: the environment, hex (never a command line). */
export const DEMO_KEY_ENV = 'PAGEWIRE_DEMO_KEY';

/**
 * A demo run's cluster key: a fresh one (so the demos exercise the keyed path by default), or none
 * with --insecure; and the environment that gives it to the demo's child process.
 */
export function demoKey(insecure: boolean): { key: Uint8Array | undefined; env: NodeJS.ProcessEnv } {
  if (insecure) {
    const env = { ...process.env };
    delete env[DEMO_KEY_ENV];
    return { key: undefined, env };
  }
  const key = generateClusterKey();
  return { key, env: { ...process.env, [DEMO_KEY_ENV]: Buffer.from(key).toString('hex') } };
}

/** In a demo's child process: the key its parent handed it (undefined: clear text). */
export function demoKeyFromEnv(): Uint8Array | undefined {
  const hex = process.env[DEMO_KEY_ENV];
  return hex === undefined || hex === '' ? undefined : parseClusterKey(`${CLUSTER_KEY_LABEL} ${hex}`, DEMO_KEY_ENV);
}

/** What a demo says about its traffic. */
export function keyLine(key: Uint8Array | undefined): string {
  return key === undefined
    ? 'clear text, no cluster key (--insecure): anyone on the network could read and forge this traffic'
    : 'every datagram sealed (AES-256-GCM) with a fresh cluster key for this run; --insecure for clear text';
}
