/**
 * The package as a user gets it. `npm pack` of this repository is unpacked into a scratch project
 * the way npm installs a dependency (node_modules/pagewire, its bins linked in node_modules/.bin;
 * its own dependencies are taken from this repository's node_modules, so no registry is needed).
 * Then, as a user would: the stub compiler runs from its bin, the README's examples (examples/)
 * are type-checked and compiled with tsc against the package (every `pagewire/...` import resolved
 * through its exports map and its .d.ts files), and each one runs and must print what it says and
 * exit 0 on its own; a node started through `npm exec` stops when that npm process is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/compiled.js';
import { expectUdpPortFree, runScript, type RunResult } from './support/run.js';
import { freePorts } from './support/dsm-procs.js';
import { within } from './support/wait.js';

interface PackageJson {
  exports: Record<string, { types: string; default: string }>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const EXAMPLES = ['transport.ts', 'rpc.ts', 'dsm.ts', 'dsm-threads.ts', 'chapter.rpc', 'tsconfig.json'];

let scratch = '';
let app = '';
let packed: string[] = [];
const children = new Set<ChildProcess>();
const kills = new Set<() => void>();

function run(cmd: string, args: string[], cwd: string, timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run `node <file> ...args` in the scratch project, as a user runs an example; it must exit on its own. */
function example(file: string, args: string[] = [], timeoutMs = 30_000): Promise<RunResult> {
  return runScript(join(app, 'dist', file), args, { cwd: app, timeoutMs, onSpawn: (kill) => kills.add(kill) });
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'pagewire-package-'));
  const npm = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], ROOT, 120_000);
  expect(npm.status, npm.stderr).toBe(0);
  const [info] = JSON.parse(npm.stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path);
  app = join(scratch, 'app');
  const installed = join(app, 'node_modules', 'pagewire');
  mkdirSync(installed, { recursive: true });
  const tar = run('tar', ['-xzf', join(scratch, info.filename), '-C', installed, '--strip-components=1'], scratch);
  expect(tar.status, tar.stderr).toBe(0);
  // What npm install would have put beside it, and the bin links it makes.
  for (const dep of [...Object.keys(pkg.dependencies), '@types/node']) {
    mkdirSync(dirname(join(app, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
  }
  mkdirSync(join(app, 'node_modules', '.bin'));
  for (const [name, file] of Object.entries(pkg.bin)) symlinkSync(join('..', 'pagewire', file), join(app, 'node_modules', '.bin', name));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pagewire-example-app', private: true, type: 'module' }));
  for (const f of EXAMPLES) copyFileSync(join(ROOT, 'examples', f), join(app, f));
}, 180_000);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const kill of kills) kill();
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships dist/ without tests, benchmarks, source maps or build info, and every export and bin it declares', () => {
    expect(packed.filter((p) => /^dist\/(test|bench)\/|\.map$|\.tsbuildinfo$|\.test\./.test(p))).toEqual([]);
    expect(packed.filter((p) => !p.startsWith('dist/'))).toEqual(expect.arrayContaining(['README.md', 'NOTES.md', 'package.json']));
    const declared = [...Object.values(pkg.exports).flatMap((e) => [e.types, e.default]), ...Object.values(pkg.bin)].map((p) => p.replace(/^\.\//, ''));
    for (const f of declared) expect(packed).toContain(f);
  });

  it('has its bins executable, as packed: `pagewire --help` and `pagewire-rpcgen --help` run from node_modules/.bin', () => {
    for (const file of Object.values(pkg.bin)) expect(statSync(join(app, 'node_modules', 'pagewire', file)).mode & 0o111).not.toBe(0);
    expect(run(join(app, 'node_modules', '.bin', 'pagewire'), ['--help'], app).stdout).toMatch(/^usage: pagewire node --id N/);
    expect(run(join(app, 'node_modules', '.bin', 'pagewire-rpcgen'), ['--help'], app).stdout).toMatch(/^Usage: pagewire-rpcgen/);
  });

  it('exports every `pagewire/...` entry point the README and the examples use, and each one loads', () => {
    const text = [readFileSync(join(ROOT, 'README.md'), 'utf8'), ...EXAMPLES.map((f) => readFileSync(join(ROOT, 'examples', f), 'utf8'))].join('\n');
    const used = [...new Set([...text.matchAll(/\bpagewire\/[a-z][a-z/-]*[a-z]/g)].map((m) => m[0]))].sort();
    expect(used).toEqual(expect.arrayContaining(['pagewire/dsm', 'pagewire/rpc/idl', 'pagewire/rpc/runtime', 'pagewire/transport']));
    for (const spec of used) expect(Object.keys(pkg.exports), `${spec} is documented but not exported`).toContain(`./${spec.slice('pagewire/'.length)}`);
    const load = `for (const s of ${JSON.stringify(used)}) { const m = await import(s); if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing'); } console.log('ok');`;
    const r = run(process.execPath, ['--input-type=module', '-e', load], app);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });

  it('pagewire-rpcgen, run from its bin, makes from chapter.rpc exactly the committed examples/chapter.stubs.ts', () => {
    const r = run(join(app, 'node_modules', '.bin', 'pagewire-rpcgen'), ['chapter.rpc'], app);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(app, 'chapter.stubs.ts'), 'utf8')).toBe(readFileSync(join(ROOT, 'examples', 'chapter.stubs.ts'), 'utf8'));
  });

  it('type-checks and compiles the examples with tsc against the package (strict, NodeNext)', () => {
    const r = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app, 120_000);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
});

describe('the README examples, run as a user runs them', () => {
  it('transport: one message, acknowledged, and the process exits', async () => {
    const r = await example('transport.js');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^hello \(from 127\.0\.0\.1:\d+\)\n$/);
    expect(r.code).toBe(0);
  });

  it('rpc: the chapter\'s interface answers 42 twice, and the process exits', async () => {
    const r = await example('rpc.js');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42\n42\n');
    expect(r.code).toBe(0);
  });

  it('dsm: two processes share an address through root word 0 (node 2 started first), and both exit', async () => {
    const [p1, p2] = await freePorts(2);
    const addrs = [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`];
    const second = example('dsm.js', ['2', ...addrs]);
    const first = example('dsm.js', ['1', ...addrs]);
    const [r2, r1] = await Promise.all([second, first]);
    expect(r1.stderr + r2.stderr).toBe('');
    expect(r1.stdout).toMatch(/^node 1: list at 0x[0-9a-f]+, its address in root word 0\nnode 1: node 2 says the sum is 60\n$/);
    expect(r2.stdout).toBe('node 2: found the list in root word 0: 10, 20, 30\n');
    expect([r1.code, r2.code]).toEqual([0, 0]);
  });

  it('dsm: a wrong command line says how to run it and exits 2', async () => {
    const r = await example('dsm.js', ['3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('usage: node dsm.js 1|2 [ADDRESS_OF_NODE_1 ADDRESS_OF_NODE_2]\n');
  });

  it('dsm-threads: three worker threads on one node\'s pages, 3000 locked increments, and the process exits', async () => {
    const [port] = await freePorts(1);
    const r = await example('dsm-threads.js', [`127.0.0.1:${port}`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('counter = 3000 (workers exited 0, 0, 0)\n');
    expect(r.code).toBe(0);
  });

  it('a node started in the background with `npm exec -- pagewire node` stops when that npm process is killed', async () => {
    const [port] = await freePorts(1);
    const npm = spawn('npm', ['exec', '--offline', '--', 'pagewire', 'node', '--id', '1', '--listen', `127.0.0.1:${port}`, '--peers', '2@127.0.0.1:1'], {
      cwd: app, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(npm);
    const lines = createInterface({ input: npm.stdout! });
    const out: string[] = [];
    lines.on('line', (l) => out.push(l));
    const closed = new Promise<void>((r) => lines.once('close', () => r()));
    await within(new Promise<void>((r) => lines.on('line', (l) => l.startsWith('node 1 listening on') && r())), 30_000, 'the node to start');
    npm.kill('SIGTERM'); // `kill <pid of npx>`
    await within(closed, 10_000, 'the node to close after npm was killed');
    expect(out).toContain('node 1: SIGTERM, closed');
    await expectUdpPortFree(port);
  }, 60_000);
});
