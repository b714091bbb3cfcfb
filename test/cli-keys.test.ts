/**
 * The launcher's keys: `pagewire keygen` (fresh keys, the documented format, mode 0600 whether
 * written with --out or redirected), `pagewire node --key-file` / PAGEWIRE_KEY_FILE, and the
 * refusal to run in clear text on an address other than loopback unless told --insecure.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { parseClusterKey } from '../transport/index.js';
import { ROOT } from './support/run.js';
import { within } from './support/wait.js';

const CLI = `${ROOT}dist/demos/cli.js`;
const dir = mkdtempSync(join(tmpdir(), 'pagewire-keys-'));
const PEERS = ['--peers', '2@127.0.0.1:7002'];

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the CLI to its exit, with `env` added to ours (a key of undefined removes the variable) and stdout to `stdoutFd` if given. */
function cli(args: readonly string[], o: { env?: Record<string, string | undefined>; stdoutFd?: number } = {}): Promise<Run> {
  const env = { ...process.env };
  delete env.PAGEWIRE_KEY_FILE;
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return within(new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', o.stdoutFd ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  }), 20_000, `pagewire ${args.join(' ')}`);
}

/** Start a node, wait for its first stdout line, SIGTERM it; resolves with that line and its stderr. */
async function firstLine(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<{ line: string; stderr: string; code: number | null }> {
  const e = { ...process.env };
  delete e.PAGEWIRE_KEY_FILE;
  Object.assign(e, env);
  const child = spawn(process.execPath, [CLI, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const line = await within(new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then((c) => reject(new Error(`exited ${c} before its first line: ${stderr}`)));
  }), 20_000, 'the node\'s first line');
  child.kill('SIGTERM');
  return { line, stderr, code: await within(exited, 10_000, 'the node to exit') };
}

const modeOf = (f: string): number => statSync(f).mode & 0o777;

/** A UDP port that was free on every interface a moment ago. */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '0.0.0.0', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('pagewire keygen', () => {
  it('prints a fresh 256-bit key in the documented format, a different one each time', async () => {
    const a = await cli(['keygen']);
    const b = await cli(['keygen']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^# pagewire cluster key\. .*\n# .*keep it secret \(mode 0600\)\.\npagewire-cluster-key-v1 [0-9a-f]{64}\n$/);
    expect(parseClusterKey(a.stdout)).toHaveLength(32);
    expect(Buffer.from(parseClusterKey(a.stdout)).equals(Buffer.from(parseClusterKey(b.stdout)))).toBe(false);
  });

  it('redirected to a file (pagewire keygen > cluster.key), leaves that file with mode 0600', async () => {
    const file = join(dir, 'redirected.key');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const fd = openSync(file, 'w');
    try {
      expect((await cli(['keygen'], { stdoutFd: fd })).code).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(modeOf(file)).toBe(0o600);
    expect(parseClusterKey(readFileSync(file, 'utf8'))).toHaveLength(32);
  });

  it('--out FILE creates it with mode 0600, refuses to overwrite it (exit 2), and --force replaces it with mode 0600', async () => {
    const file = join(dir, 'out.key');
    const r = await cli(['keygen', '--out', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/wrote a new cluster key to .*out\.key \(mode 0600\); give every node of the cluster --key-file/);
    expect(modeOf(file)).toBe(0o600);
    const first = readFileSync(file, 'utf8');
    const again = await cli(['keygen', '--out', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/out\.key already exists; pick another --out, or add --force to replace it/);
    expect(readFileSync(file, 'utf8')).toBe(first);
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, 'old');
    chmodSync(loose, 0o644);
    expect((await cli(['keygen', '--out', loose, '--force'])).code).toBe(0);
    expect(modeOf(loose)).toBe(0o600);
    expect(parseClusterKey(readFileSync(loose, 'utf8'))).toHaveLength(32);
  });

  it('refuses --force without --out, and explains itself with --help', async () => {
    const r = await cli(['keygen', '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--force only goes with --out FILE/);
    const h = await cli(['keygen', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/usage: pagewire keygen \[--out FILE \[--force\]\]/);
    expect(h.stdout).toMatch(/pagewire-cluster-key-v1 <64 hex digits>/);
  });
});

describe('pagewire node and the cluster key', () => {
  it('refuses to listen on an address other than loopback without a key, saying why and what to do (exit 2)', async () => {
    for (const listen of ['0.0.0.0:7101', '10.1.2.3:7101']) {
      const r = await cli(['node', '--id', '1', '--listen', listen, ...PEERS]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`--listen ${listen.replace(/\./g, '\\.')} is not a loopback address, and there is no cluster key: anyone who can reach it could read this node's pages and forge its messages\\. ` +
        'Give every node the same key \\(pagewire keygen --out cluster\\.key; --key-file cluster\\.key or PAGEWIRE_KEY_FILE\\), or add --insecure to run in clear text anyway'));
    }
  });

  it('with --insecure it does run in clear text there, and says so', async () => {
    const port = await freePort();
    const { line, code } = await firstLine(['node', '--id', '1', '--listen', `0.0.0.0:${port}`, ...PEERS, '--insecure']);
    expect(line).toBe(`node 1 listening on 0.0.0.0:${port} (clear text: no cluster key); peers 2@127.0.0.1:7002; pid ${line.match(/pid (\d+)/)![1]}, Ctrl-C or kill ${line.match(/pid (\d+)/)![1]} to stop`);
    expect(code).toBe(0);
  });

  it('with --key-file (or PAGEWIRE_KEY_FILE) it runs sealed on any address', async () => {
    const key = join(dir, 'node.key');
    expect((await cli(['keygen', '--out', key])).code).toBe(0);
    const port = await freePort();
    const a = await firstLine(['node', '--id', '1', '--listen', `0.0.0.0:${port}`, ...PEERS, '--key-file', key]);
    expect(a.line).toMatch(new RegExp(`listening on 0\\.0\\.0\\.0:${port} \\(sealed with the cluster key\\)`));
    expect(a.stderr).toBe('');
    const b = await firstLine(['node', '--id', '1', '--listen', `127.0.0.1:${await freePort()}`, ...PEERS], { PAGEWIRE_KEY_FILE: key });
    expect(b.line).toMatch(/\(sealed with the cluster key\)/);
  });

  it('warns when the key file can be read by other users, and runs', async () => {
    const key = join(dir, 'shared.key');
    expect((await cli(['keygen', '--out', key])).code).toBe(0);
    chmodSync(key, 0o644);
    const { line, stderr } = await firstLine(['node', '--id', '1', '--listen', `127.0.0.1:${await freePort()}`, ...PEERS, '--key-file', key]);
    expect(line).toMatch(/sealed with the cluster key/);
    expect(stderr).toMatch(/pagewire node: warning: .*shared\.key can be read by other users \(mode 0644\): anyone who has it can join the cluster and read its traffic; chmod 600/);
  });

  it.each([
    ['a missing key file', ['--key-file', join(dir, 'nope.key')], {}, /cannot read --key-file .*nope\.key: ENOENT/],
    ['a key file in another format', ['--key-file', 'BAD'], {}, /--key-file: .*bad\.key: expected one line "pagewire-cluster-key-v1 <64 hex digits>"/],
    ['--insecure with --key-file', ['--insecure', '--key-file', 'BAD'], {}, /--insecure means "without a key": drop it, or drop --key-file/],
    ['--insecure with PAGEWIRE_KEY_FILE set', ['--insecure'], { PAGEWIRE_KEY_FILE: 'BAD' }, /--insecure means "without a key", but PAGEWIRE_KEY_FILE names one \(.*bad\.key\): unset it, or drop --insecure/],
    ['a PAGEWIRE_KEY_FILE that does not exist', [], { PAGEWIRE_KEY_FILE: join(dir, 'gone.key') }, /cannot read PAGEWIRE_KEY_FILE .*gone\.key: ENOENT/],
  ])('%s: exit 2 with a message naming it', async (_name, extra, env, message) => {
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'ssh-rsa AAAA\n', { mode: 0o600 });
    const fix = (s: string) => (s === 'BAD' ? bad : s);
    const r = await cli(['node', '--id', '1', '--listen', '127.0.0.1:7101', ...PEERS, ...extra.map(fix)], {
      env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, fix(v)])),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\nRun `pagewire node --help` for the options\.\n$/);
  });
});
