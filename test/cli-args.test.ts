/**
 * The command-line rules every program shares (demos/args.ts): strict options named in each
 * message, one line of hint instead of the usage, repeated options refused, npm's `--` form
 * explained, one loss limit; and demo:transport's per-fault options.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LOSS, parseCommandLine, UsageError, type OptionSpec } from '../demos/args.js';
import { ROOT, runNode } from './support/run.js';

const SPEC = { loss: { type: 'string', value: 'P' }, seed: { type: 'string' }, quiet: { type: 'boolean' } } as const satisfies Record<string, OptionSpec>;

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv, SPEC);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error(`parseCommandLine(${JSON.stringify(argv)}) accepted it`);
}

describe('parseCommandLine', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  const clearNpm = (): void => {
    for (const k of Object.keys(process.env)) if (k.startsWith('npm_')) delete process.env[k];
  };

  it('takes --name value, --name=value, boolean flags, --help and -h', () => {
    clearNpm();
    expect(parseCommandLine(['--loss', '0.2', '--seed=7', '--quiet'], SPEC)).toEqual({ values: { loss: '0.2', seed: '7' }, flags: new Set(['quiet']), help: false });
    expect(parseCommandLine(['-h'], SPEC).help).toBe(true);
    expect(parseCommandLine(['--help', '--loss', '1'], SPEC).help).toBe(true);
    expect(parseCommandLine(['--seed', '-1'], SPEC).values.seed).toBe('-1'); // a value may start with one '-'
  });

  it('refuses, naming the option: unknown, repeated, missing value, value to a flag, positionals', () => {
    clearNpm();
    expect(usageError(['--bogus'])).toBe('unknown option --bogus');
    expect(usageError(['--loss', '0.1', '--loss', '0.2'])).toBe('--loss was given more than once');
    expect(usageError(['--loss'])).toBe('--loss needs a value (P)');
    expect(usageError(['--loss', '--seed', '1'])).toBe('--loss needs a value (P)');
    expect(usageError(['--quiet=yes'])).toBe('--quiet takes no value, got "yes"');
    expect(usageError(['0.2'])).toBe('unexpected argument "0.2"');
    expect(usageError(['-x'])).toBe('unexpected argument "-x" (options start with --)');
    expect(usageError(['--', 'file'])).toBe('unexpected argument "file"');
  });

  it('under npm run, an option npm kept for itself gets the `--` form, with or without a positional left over', () => {
    clearNpm();
    process.env.npm_lifecycle_event = 'demo:rpc';
    const want = 'npm kept --loss for itself; put the options after --: npm run demo:rpc -- --loss 0.2';
    process.env.npm_config_loss = 'true'; // what `npm run demo:rpc --loss 0.2` leaves: this, and "0.2" as a positional
    expect(usageError(['0.2'])).toBe(want);
    process.env.npm_config_loss = '0.2'; // `npm run demo:rpc --loss=0.2`: this, and no argument at all
    expect(usageError([])).toBe(want);
    expect(parseCommandLine(['--loss', '0.3'], SPEC).values.loss).toBe('0.3'); // given after --: fine
  });
});

describe('every program (the CLI, the demos, the benchmarks): strict options, one line of hint, one loss limit', () => {
  /** Each program, the arguments it needs, and one of its options that takes a number. */
  const programs: [string, string[], string][] = [
    ['demos/cli.js', ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--peers', '2@127.0.0.1:7002'], 'seed'],
    ['demos/dsm-demo.js', [], 'seed'],
    ['demos/rpc-demo.js', [], 'seed'],
    ['demos/transport-demo.js', [], 'seed'],
    ['demos/false-sharing-demo.js', [], 'writes'],
    ['bench/dsm-local-bench.js', [], 'faults'],
  ];
  it.each(programs)('%s', async (script, base, opt) => {
    const cases: [string[], RegExp][] = [
      [['--frobnicate'], /: unknown option --frobnicate\n/],
      [[`--${opt}`, '1', `--${opt}`, '2'], new RegExp(`: --${opt} was given more than once\n`)],
      [[`--${opt}`], new RegExp(`: --${opt} needs a value`)],
      [['extra'], /: unexpected argument "extra"\n/],
    ];
    if (script.startsWith('demos/') && script !== 'demos/false-sharing-demo.js') cases.push([['--loss', String(MAX_LOSS + 0.01)], /--loss must be a probability in \[0, 0\.5\], got "0\.51"/]);
    for (const [args, message] of cases) {
      const r = await runNode(script, [...base, ...args]);
      expect(r.code, `${script} ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(message);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(2);
      expect(lines[1]).toMatch(/^Run `.*--help` for the options\.$/);
      expect(r.stdout).toBe('');
    }
  });

  it('`npm run demo:rpc --loss 0.2` (no --) fails at once, saying to write `npm run demo:rpc -- --loss 0.2`', async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(npm, ['run', '--silent', 'demo:rpc', '--loss', '0.2'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`npm run did not finish within 60 s: ${stderr}`));
      }, 60_000);
      child.on('exit', (code) => {
        clearTimeout(t);
        resolve({ code, stderr });
      });
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/pagewire demo:rpc: npm kept --loss for itself; put the options after --: npm run demo:rpc -- --loss 0\.2\n/);
    expect(r.stderr).toMatch(/Run `npm run demo:rpc -- --help` for the options\./);
  });
});

describe('demo:transport fault options', () => {
  it('--loss 0 --dup 0 --reorder 0 --corrupt 0: no fault injected at all', async () => {
    const r = await runNode('demos/transport-demo.js', ['--loss', '0', '--dup', '0', '--reorder', '0', '--corrupt', '0', '--count', '40']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/faults on every datagram, both ways: none\n/);
    expect(r.stdout).toMatch(/\(0 dropped, 0 corrupted, 0 duplicated, 0 reordered by the injector\)/);
    expect(r.stdout).toMatch(/ 0 damaged datagrams \(failed the AES-GCM tag\) caught,/); // keyed by default (retransmissions may still happen: a timeout on a busy machine)
    expect(r.stdout).toMatch(/40\/40 echoes back in \d+ ms, all exactly once, in order, byte-identical/);
  });

  it('each fault is its own option: --dup alone duplicates and does nothing else', async () => {
    const r = await runNode('demos/transport-demo.js', ['--loss', '0', '--dup', '0.3', '--reorder', '0', '--corrupt', '0', '--count', '40', '--seed', '5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/faults on every datagram, both ways: duplicate 0\.3\n/);
    const m = /\((\d+) dropped, (\d+) corrupted, (\d+) duplicated, (\d+) reordered by the injector\)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect([Number(m![1]), Number(m![2]), Number(m![4])]).toEqual([0, 0, 0]);
    expect(Number(m![3])).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/40\/40 echoes back/);
  });
});
