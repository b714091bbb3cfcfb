/** The node launcher (`pagewire node`): usage, bad arguments, a port in use, graceful shutdown. */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { expectUdpPortFree, ROOT, runNode } from './support/run.js';
import { within } from './support/wait.js';

const CLI = 'demos/cli.js';
const NODE = ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--peers', '2@127.0.0.1:7002'];
const dir = mkdtempSync(join(tmpdir(), 'pagewire-cli-'));

/** Bind a UDP socket on a free loopback port and keep it (for "port in use"), or close it (for a free port). */
async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

const sockets: dgram.Socket[] = [];
afterAll(() => sockets.forEach((s) => s.close()));

describe('pagewire node: bad arguments exit 2 with a message naming the option and one line of hint', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing --id', ['node', '--listen', '127.0.0.1:7001', '--peers', '2@127.0.0.1:7002'], /--id is required/],
    ['a non-integer --id', ['node', '--id', 'one', '--listen', '127.0.0.1:7001', '--peers', '2@127.0.0.1:7002'], /--id must be an integer in \[0, 65535\], got "one"/],
    ['missing --listen', ['node', '--id', '1', '--peers', '2@127.0.0.1:7002'], /--listen HOST:PORT is required \(or --config FILE\)/],
    ['missing --peers', ['node', '--id', '1', '--listen', '127.0.0.1:7001'], /--peers ID@HOST:PORT,\.\.\. is required/],
    ['--listen without its value', ['node', '--id', '1', '--listen', '--peers', '2@127.0.0.1:7002'], /--listen needs a value \(HOST:PORT\)/],
    ['a --listen port out of range names --listen, not "peer"', ['node', '--id', '1', '--listen', '127.0.0.1:70000', '--peers', '2@127.0.0.1:7002'], /pagewire: --listen: port must be in \[1, 65535\], got 70000$/m],
    ['a --listen host name', ['node', '--id', '1', '--listen', 'example.org:7001', '--peers', '2@127.0.0.1:7002'], /--listen: host must be an IP address or "localhost", got "example\.org"/],
    ['--listen given twice', ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--listen', '127.0.0.1:7003', '--peers', '2@127.0.0.1:7002'], /--listen was given more than once/],
    ['--seed -1 is a value, refused by its range', [...NODE, '--seed', '-1'], /--seed must be an integer in \[0, 2147483648\], got "-1"/],
    ['a --peers item without ID@', ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--peers', '127.0.0.1:7002'], /--peers items must look like 1@127\.0\.0\.1:7001, got "127\.0\.0\.1:7002"/],
    ['a --peers address without a port', ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--peers', '2@nowhere'], /--peers item "2@nowhere": must look like "127\.0\.0\.1:7001"/],
    ['a --peers port out of range', ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--peers', '2@127.0.0.1:99999'], /--peers item "2@127\.0\.0\.1:99999": port must be in \[1, 65535\], got 99999/],
    ['a peer with this node\'s id', ['node', '--id', '1', '--listen', '127.0.0.1:7001', '--peers', '1@127.0.0.1:7002'], /node ids must be distinct, got \[1, 1\]/],
    ['--loss above 0.5, the limit of every program', [...NODE, '--loss', '0.9'], /--loss must be a probability in \[0, 0\.5\], got "0\.9"/],
    ['--loss not a number', [...NODE, '--loss', 'some'], /--loss must be a probability in \[0, 0\.5\], got "some"/],
    ['--page-size not a power of two', [...NODE, '--page-size', '100'], /--page-size must be a power of two from 64 to 65536, got 100/],
    ['--pages too few for the root page', [...NODE, '--pages', '3'], /--pages must be at least 4 for 2 nodes \(the null page, the root page and one page per node\), got 3/],
    ['an unknown --manager', [...NODE, '--manager', 'central'], /--manager must be fixed or dynamic, got "central"/],
    ['an unknown flag', [...NODE, '--frobnicate'], /unknown option --frobnicate$/m],
    ['a value given to --control', [...NODE, '--control=yes'], /--control takes no value, got "yes"/],
    ['a positional argument', [...NODE, 'extra'], /unexpected argument "extra"/],
    ['an unknown command', ['start'], /unknown command "start"; the commands are "node", "console", "keygen" and "trace"/],
    ['--trace without a directory', [...NODE, '--trace', ' '], /--trace needs a directory, e\.g\. --trace \.\/trace/],
    ['--config together with --listen', ['node', '--id', '1', '--config', join(dir, 'x.json'), '--listen', '127.0.0.1:7001'], /give either --config or --listen\/--peers, not both/],
    ['a --config file that does not exist', ['node', '--id', '1', '--config', join(dir, 'missing.json')], /cannot read --config .*missing\.json: ENOENT/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await runNode(CLI, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    // The message, then one line pointing at --help: never the whole usage text.
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/\nRun `pagewire node --help` for the options\.\n$/);
    expect(r.stdout).toBe('');
  });

  it('a --config entry with a bad address: names the file, the entry and the field', async () => {
    const file = join(dir, 'badaddr.json');
    writeFileSync(file, JSON.stringify({ nodes: [{ id: 1, address: '127.0.0.1:7001' }, { id: 2, address: '127.0.0.1:0' }] }));
    const r = await runNode(CLI, ['node', '--id', '1', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/badaddr\.json: nodes\[1\]\.address: port must be in \[1, 65535\], got 0/);
  });

  it('--config without this node: says which id is missing from which file', async () => {
    const file = join(dir, 'cluster.json');
    writeFileSync(file, JSON.stringify({ nodes: [{ id: 1, address: '127.0.0.1:7001' }, { id: 2, address: '127.0.0.1:7002' }] }));
    const r = await runNode(CLI, ['node', '--id', '3', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cluster\.json has no node with id 3/);
  });

  it('--config whose "nodes" is not an array', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ nodes: 'all of them' }));
    const r = await runNode(CLI, ['node', '--id', '1', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.json: "nodes" must be an array of \{"id", "address"\}/);
  });
});

describe('pagewire node: help', () => {
  it('--help (top level and after "node") prints usage and exits 0', async () => {
    for (const args of [['--help'], ['node', '--help']]) {
      const r = await runNode(CLI, args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/usage: pagewire node --id N/);
      expect(r.stdout).toMatch(/--config FILE/);
      expect(r.stdout).toMatch(/--control/);
      // It points at nothing the package does not ship (it used to name demos/control.ts).
      expect(r.stdout).not.toMatch(/[\w-]+\/[\w./-]+\.(ts|js)\b/);
      expect(r.stdout).toMatch(/the README lists them/);
    }
  });

  it('no command at all prints usage and exits 2', async () => {
    const r = await runNode(CLI, []);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/usage: pagewire node/);
  });
});

describe('pagewire node: running', () => {
  it('a port in use: a clear message and exit 1', async () => {
    const s = await udpSocket();
    sockets.push(s);
    const port = s.address().port;
    const r = await runNode(CLI, ['node', '--id', '1', '--listen', `127.0.0.1:${port}`, '--peers', '2@127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`pagewire node: 127\\.0\\.0\\.1:${port} is already in use .*pick another --listen port`));
  });

  it('starts from a --config file, and SIGTERM closes it gracefully with exit 0', async () => {
    const free = await udpSocket();
    const port = free.address().port;
    free.close();
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify({ nodes: [{ id: 1, address: `127.0.0.1:${port}` }, { id: 2, address: '127.0.0.1:1' }], pageSize: 1024, pages: 64 }));
    const child = spawn(process.execPath, [`${ROOT}dist/${CLI}`, 'node', '--id', '1', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout! });
    const [first] = (await Promise.race([once(lines, 'line'), exited.then(() => ['(exited)'])])) as [string];
    expect(first).toBe(`node 1 listening on 127.0.0.1:${port} (clear text: no cluster key); peers 2@127.0.0.1:1; pid ${child.pid}, Ctrl-C or kill ${child.pid} to stop`);
    const rest: string[] = [];
    lines.on('line', (l) => rest.push(l));
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(rest).toContain('node 1: SIGTERM, closed');
  });

  it('started by npm (npx, npm run): stops when npm goes away, since npm passes SIGTERM to an `sh -c` that does not pass it on', async () => {
    const free = await udpSocket();
    const port = free.address().port;
    free.close();
    // What `npx pagewire node ...` runs: npm exec -> sh -c 'pagewire node ...' -> node, with npm's environment.
    const command = `"${process.execPath}" "${ROOT}dist/${CLI}" node --id 1 --listen 127.0.0.1:${port} --peers 2@127.0.0.1:1; exit $?`;
    const sh = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_command: 'exec' } });
    const lines = createInterface({ input: sh.stdout! });
    const out: string[] = [];
    const ended = new Promise<void>((r) => lines.once('close', () => r()));
    const first = new Promise<string>((r) => lines.once('line', r));
    lines.on('line', (l) => out.push(l));
    expect(await within(first, 15_000, 'the node\'s first line')).toMatch(/^node 1 listening on /);
    sh.kill('SIGTERM'); // what npm does with the signal it gets: the shell dies, the node is orphaned
    await within(ended, 10_000, 'the orphaned node to notice and close');
    expect(out).toContain('node 1: SIGTERM, closed');
    await expectUdpPortFree(port);
  });

  it('with --control: prints a ready line, answers commands, and SIGINT exits 0', async () => {
    const free = await udpSocket();
    const port = free.address().port;
    free.close();
    const child = spawn(process.execPath, [`${ROOT}dist/${CLI}`, 'node', '--id', '1', '--listen', `127.0.0.1:${port}`, '--peers', '2@127.0.0.1:1', '--control'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    const it = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const ready = JSON.parse((await it.next()).value as string) as Record<string, unknown>;
    expect(ready).toEqual({ event: 'ready', id: 1, address: `127.0.0.1:${port}`, pageSize: 4096, keyed: false });
    child.stdin!.write('{"seq":1,"cmd":"alloc","bytes":16}\n{"seq":2,"cmd":"nope"}\n');
    // Answers carry their seq: the refusal, checked on the main thread, may overtake the alloc.
    const answers = [JSON.parse((await it.next()).value as string), JSON.parse((await it.next()).value as string)].sort((a, b) => a.seq - b.seq);
    expect(answers[0]).toEqual({ seq: 1, ok: true, value: 4096 }); // node 1's first page
    const bad = answers[1] as { ok: boolean; error: { code: string; message: string } };
    expect(bad.ok).toBe(false);
    expect(bad.error.code).toBe('CONTROL_ERR_BAD_COMMAND');
    expect(bad.error.message).toMatch(/unknown command "nope"; known: alloc, /);
    child.kill('SIGINT');
    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });
});
