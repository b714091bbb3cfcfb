/**
 * `pagewire console --script FILE` against real node processes, with the defaults users get
 * (3 nodes, deadAfterMs 2000, fault timeout 10 s): every command's output is checked.
 *
 * Placement with 3 nodes and 1024 pages: node 1 owns pages 1..341, node 2 342..682, node 3
 * 683..1023; page p is managed by [1, 2, 3][p mod 3]. So node 2's first allocation is page 342
 * (0x156000, managed by node 1), node 3's are page 683 (0x2ab000, managed by node 3 itself) and 684
 * (0x2ac000, managed by node 1), node 1's page 1 (0x1000, managed by node 2).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNode } from './support/run.js';

const dir = mkdtempSync(join(tmpdir(), 'pagewire-console-'));

interface Transcript {
  code: number | null;
  /** The output of each command, in order, keyed by the command line. */
  blocks: { line: string; out: string }[];
  /** Lines starting with "* ": what the nodes reported while the script ran. */
  events: string[];
  /** Output of background commands ("[write 0x1000 5 on 3] ..."). */
  background: string[];
  stdout: string;
  stderr: string;
}

async function script(name: string, lines: string[], args: string[] = [], timeoutMs = 60_000): Promise<Transcript> {
  const file = join(dir, `${name}.txt`);
  writeFileSync(file, lines.join('\n') + '\n');
  const r = await runNode('demos/cli.js', ['console', '--script', file, ...args], timeoutMs);
  const blocks: { line: string; out: string }[] = [];
  const events: string[] = [];
  const background: string[] = [];
  for (const l of r.stdout.split('\n')) {
    if (l.startsWith('> ')) blocks.push({ line: l.slice(2), out: '' });
    else if (l.startsWith('* ')) events.push(l.slice(2));
    else if (/^\[(?!background\])[^\]]+\] /.test(l)) background.push(l); // a background command's output, whenever it comes
    else if (blocks.length > 0) blocks.at(-1)!.out += l + '\n';
  }
  return { code: r.code, blocks, events, background, stdout: r.stdout, stderr: r.stderr };
}

/** Check each command's output against its patterns (all must match), in order. */
function expectBlocks(t: Transcript, want: [string, ...RegExp[]][]): void {
  expect(t.blocks.map((b) => b.line), t.stdout).toEqual(want.map((w) => w[0]));
  want.forEach(([line, ...patterns], i) => {
    for (const p of patterns) expect(t.blocks[i]!.out, `output of "${line}"`).toMatch(p);
  });
}

describe('pagewire console --script', () => {
  it('a 3-node session: writes on one node and reads on another, kill 3 shows DSM_ERR_PAGE_LOST naming node 3, a short pause is waited for, a split of the survivors fails DSM_ERR_NO_QUORUM, heal, exit 0', async () => {
    const t = await script('session', [
      'alloc 16 on 2',
      'write 0x156000 42 on 2',
      'read 0x156000 on 1',
      'alloc 16 on 3',
      'alloc 4096 on 3',
      'write 0x2ac000 7 on 3',
      'read 0x2ac000 on 1',
      'write 0x2ac000 8 on 3',
      'owner 684',
      'map',
      'kill 3',
      'read 0x2ac000 on 1',
      'read 0x2ab000 on 2',
      'read 0x156000 on 1',
      'pause 2 1',
      'write 0x156000 43 on 1',
      'partition 1|2',
      'write 0x156000 44 on 2',
      'heal',
      'write 0x156000 45 on 2',
      'read 0x156000 on 1',
      'stats',
    ]);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expectBlocks(t, [
      ['alloc 16 on 2', /^node 2: allocated 16 bytes at 0x00156000 \(page 342: owned by node 2, managed by node 1\)\n$/],
      ['write 0x156000 42 on 2', /^node 2: wrote 42 \(0x2a\) at 0x00156000\n {2}no fault: node 2 already held page 342/],
      ['read 0x156000 on 1', /^node 1: read 0x00156000 = 42 \(0x2a\)\n {2}read fault on page 342: [\d.]+ (µs|ms); messages: request 1→2 \(2 messages: each call a request and a reply\)\n$/],
      ['alloc 16 on 3', /node 3: allocated 16 bytes at 0x002ab000 \(page 683: owned by node 3, managed by node 3\)/],
      ['alloc 4096 on 3', /node 3: allocated 4096 bytes at 0x002ac000 \(page 684: owned by node 3, managed by node 1\)/],
      ['write 0x2ac000 7 on 3', /node 3: wrote 7 \(0x7\) at 0x002ac000\n {2}no fault/],
      ['read 0x2ac000 on 1', /node 1: read 0x002ac000 = 7 \(0x7\)\n {2}read fault on page 684: .*messages: request 1→3 \(2 messages/],
      // The owner upgrades its read copy: it asks its manager, then invalidates node 1's copy itself.
      ['write 0x2ac000 8 on 3', /node 3: wrote 8 \(0x8\) at 0x002ac000\n {2}write fault on page 684: .*messages: invalidate 3→1 \(2 messages/],
      ['owner 684', /^page 684 \(0x002ac000\.\.0x002acfff\): owner node 3, manager node 1\n {2}copies: none; rights 1:- 2:- 3:W\n$/],
      ['map', /^page +address +manager +owner +copies +rights \(1 2 3\)/, /\n342 +0x00156000 +1 +2 +1,2 +r R - *\n/, /\n683 +0x002ab000 +3 +3 +- +- - W *\n/, /\n684 +0x002ac000 +1 +3 +- +- - W *\n/, /1020 other pages are untouched/],
      ['kill 3', /^node 3 killed \(SIGKILL, pid \d+\): no goodbye/],
      ['read 0x2ac000 on 1', /^node 1: DSM_ERR_PAGE_LOST at 0x002ac000 \(page 684, node 3\): .*its only valid copy was on dead node 3\n {2}after [\d.]+ s/],
      // Node 3 managed page 683: with the manager dead nobody can say who holds it.
      ['read 0x2ab000 on 2', /^node 2: DSM_ERR_MANAGER_DEAD at 0x002ab000 \(page 683, node 3\)/],
      // Node 1's read copy of node 2's page is unaffected: pages held elsewhere stay usable.
      ['read 0x156000 on 1', /^node 1: read 0x00156000 = 42 \(0x2a\)\n {2}no fault/],
      ['pause 2 1', /^node 2 paused \(SIGSTOP\) for 1 s, then SIGCONT\. Shorter than deadAfterMs \(2000 ms\): the others wait for it; nobody is declared dead\./],
      // Node 1's write needs node 2 (the owner): it waits for the pause to end, and completes.
      ['write 0x156000 43 on 1', /^node 1: wrote 43 \(0x2b\) at 0x00156000\n {2}write fault on page 342: (0\.[5-9]\d|1\.\d\d|[1-9]\.\d\d) s/],
      ['partition 1|2', /^partition: 1 \(a minority: cannot decide anything; its writes that need the others fail DSM_ERR_NO_QUORUM\) \| 2 \(a minority: .*\)\. A majority is 2 of 3\.\n$/],
      // Node 3 is dead, so neither survivor is a majority: node 2's write, which needs node 1, fails after the fault timeout.
      ['write 0x156000 44 on 2', /^node 2: DSM_ERR_NO_QUORUM at 0x00156000 \(page 342, node 1\): .*node 1 is suspected/, /after (9|1[0-4])\.\d\d s/],
      ['heal', /^healed: every node hears every node again\.\n$/],
      ['write 0x156000 45 on 2', /^node 2: wrote 45 \(0x2d\) at 0x00156000\n {2}write fault on page 342/],
      ['read 0x156000 on 1', /^node 1: read 0x00156000 = 45 \(0x2d\)\n {2}read fault on page 342/],
      ['stats', /^node +process +status +read faults/, /\n1 +running +alive +\d+/, /\n2 +running +alive +\d+/, /\n3 +killed +dead +/],
    ]);
    // What the nodes reported: node 3 declared dead by a majority, and nobody else, ever.
    expect(t.events.some((e) => /^node [12]: peer 3 dead: .*declared dead by a majority/.test(e)), t.events.join('\n')).toBe(true);
    expect(t.events.filter((e) => / dead: /.test(e) && !/peer 3 dead/.test(e))).toEqual([]);
    expect(t.events.some((e) => /^node 2: peer 1 suspected/.test(e))).toBe(true);
    expect(t.stderr).toBe('');
  });

  it('partition 1,2|3: the majority declares node 3 dead and goes on; node 3 is fenced at the heal, its pending write ends DSM_ERR_EVICTED, and it never reads what was written after', async () => {
    const t = await script('fence', [
      'alloc 16 on 1',
      'read 0x1000 on 3',
      'alloc 16 on 3',
      'alloc 4096 on 3',
      'partition 1,2|3',
      'write 0x2ac000 9 on 3',
      'write 0x1000 5 on 3 &',
      'wait 3 dead',
      'read 0x2ac000 on 1',
      'write 0x1000 6 on 1',
      'heal',
      'wait 3 fenced',
      'wait',
      'read 0x1000 on 3',
      'read 0x1000 on 2',
    ]);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expectBlocks(t, [
      ['alloc 16 on 1', /0x00001000 \(page 1: owned by node 1, managed by node 2\)/],
      ['read 0x1000 on 3', /node 3: read 0x00001000 = 0/],
      ['alloc 16 on 3', /0x002ab000/],
      ['alloc 4096 on 3', /0x002ac000/],
      ['partition 1,2|3', /^partition: 1,2 \(a majority: can declare the others dead\) \| 3 \(a minority: /],
      ['write 0x2ac000 9 on 3', /^node 3: wrote 9 \(0x9\) at 0x002ac000\n {2}no fault/], // its own page: no one to ask
      ['write 0x1000 5 on 3 &', /^\[background\] write 0x1000 5 on 3\n$/],
      ['wait 3 dead', /^node 3 is dead \(waited [\d.]+ s\)/],
      // The majority cannot tell a cut-off node from a dead one: its pages are lost to them.
      ['read 0x2ac000 on 1', /^node 1: DSM_ERR_PAGE_LOST at 0x002ac000 \(page 684, node 3\)/],
      // Node 1 owns page 1, node 3 holds a copy: decided dead, node 3's copy is skipped and the write goes ahead.
      ['write 0x1000 6 on 1', /^node 1: wrote 6 \(0x6\) at 0x00001000\n {2}write fault on page 1/],
      ['heal', /^healed: every node hears every node again\. Node 3 was declared dead meanwhile: it learns it is fenced at its next contact \(DSM_ERR_EVICTED\)\./],
      ['wait 3 fenced', /^node 3 is fenced/],
      // The pending write ends as node 3 learns it is fenced, which may be before or after this line.
      ['wait', /^(1 background command finished|no background command is running)\n$/],
      // Never the 6 written after its death: fenced, every access fails.
      ['read 0x1000 on 3', /^node 3: DSM_ERR_EVICTED at 0x00001000 \(page 1, node [12]\): .*declared dead by a majority and is fenced/],
      ['read 0x1000 on 2', /^node 2: read 0x00001000 = 6 \(0x6\)/],
    ]);
    expect(t.background[0]).toMatch(/^\[write 0x1000 5 on 3\] node 3: DSM_ERR_EVICTED at 0x00001000 \(page 1, node [12]\)/);
    expect(t.events.some((e) => /^node 3: FENCED \(refused by node [12]\)/.test(e)), t.events.join('\n')).toBe(true);
    expect(t.events.filter((e) => / dead: /.test(e) && !/peer 3 dead/.test(e))).toEqual([]);
  });

  it('answers hostile and odd input with clear errors, keeps going, and exits 1 saying how many lines were not understood', async () => {
    const huge = 'y'.repeat(200_000);
    const t = await script('hostile', [
      'frobnicate',
      huge,
      'read 99999999999999999999999',
      'write 0x1000 4294967296',
      'read 0x1001 on 1',
      'kill 9',
      'partition 1,1|2',
      'partition 1|2',
      'list walk',
      'trace off',
      'wait',
      'kill 2',
      'kill 2',
      'read 0x156000 on 2',
      'help pause',
      'read 0x1000 on 1',
    ], ['--web']);
    expect(t.code).toBe(1);
    expect(t.stdout).toMatch(/\nlive page map: http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{24}\/\n/);
    // The default: a fresh key for the session.
    expect(t.stdout).toMatch(/\n {2}every datagram sealed \(AES-256-GCM\) with a fresh cluster key for this session \(.*cluster\.key, removed at exit\)/);
    expectBlocks(t, [
      ['frobnicate', /^error CONSOLE_ERR_UNKNOWN_COMMAND: unknown command "frobnicate"; type help for the commands/],
      [huge, /^error CONSOLE_ERR_UNKNOWN_COMMAND: unknown command "y{40}\.\.\."/],
      ['read 99999999999999999999999', /^error CONSOLE_ERR_BAD_ARGUMENT: ADDR 99999999999999999999999 is too large/],
      ['write 0x1000 4294967296', /^error CONSOLE_ERR_BAD_ARGUMENT: VALUE 4294967296 does not fit in a u32/],
      ['read 0x1001 on 1', /^error CONSOLE_ERR_BAD_ARGUMENT: address 0x1001 is not a multiple of 4/],
      ['kill 9', /^error CONSOLE_ERR_BAD_ARGUMENT: no node "9"; the nodes are 1, 2, 3/],
      ['partition 1,1|2', /^error CONSOLE_ERR_BAD_ARGUMENT: node 1 is in the partition twice/],
      ['partition 1|2', /^error CONSOLE_ERR_BAD_ARGUMENT: every running node must be in a group: node 3 is missing/],
      ['list walk', /^error CONSOLE_ERR_BAD_ARGUMENT: no list yet: list new first/],
      ['trace off', /^error CONSOLE_ERR_BAD_ARGUMENT: not tracing \(trace on first\)/],
      ['wait', /^no background command is running/],
      ['kill 2', /^node 2 killed/],
      ['kill 2', /^error CONSOLE_ERR_BAD_ARGUMENT: node 2 is not running \(killed\)/],
      ['read 0x156000 on 2', /^error CONSOLE_ERR_BAD_ARGUMENT: node 2 is not running \(killed\); running: 1, 3/],
      ['help pause', /^pause NODE SECONDS\n {2}SIGSTOP the node/],
      ['read 0x1000 on 1', /^node 1: read 0x00001000 = 0/],
    ]);
    expect(t.stdout).toMatch(/\n7 lines were not understood\n$/);
    expect(t.stderr).not.toMatch(/at .*\.js:\d+/); // never a stack trace
  });

  it('seals the cluster with the key of --key-file when given, and talks clear text with --insecure', async () => {
    const key = join(dir, 'cluster.key');
    const made = await runNode('demos/cli.js', ['keygen', '--out', key]);
    expect(made.code, made.stderr).toBe(0);
    const given = await script('given', ['read 0x1000 on 2'], ['--key-file', key]);
    expect(given.stdout).toMatch(new RegExp(`\\n {2}every datagram sealed \\(AES-256-GCM\\) with the cluster key in ${key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`));
    expect(given.blocks[0]!.out).toMatch(/^node 2: read 0x00001000 = 0/);
    const clear = await script('clear', ['read 0x1000 on 2'], ['--insecure']);
    expect(clear.stdout).toMatch(/\n {2}clear text, no cluster key \(--insecure\)/);
    expect(clear.blocks[0]!.out).toMatch(/^node 2: read 0x00001000 = 0/);
    for (const t of [given, clear]) expect(t.code, t.stdout + t.stderr).toBe(0);
  });

  it('--manager dynamic: no page has a manager; a read whose probable-owner chain runs through the killed node 3 locates the live owner; node 3\'s own page is lost, naming it', async () => {
    const t = await script('dynamic', [
      'alloc 16 on 2',
      'write 0x156000 42 on 2',
      'read 0x156000 on 1',
      // Node 3 takes the page (node 1's copy is invalidated, naming node 3), then node 2 takes it back: node 1, holding no copy, is not told.
      'write 0x156000 43 on 3',
      'write 0x156000 44 on 2',
      'alloc 16 on 3',
      'write 0x2ab000 7 on 3',
      'owner 342',
      'map',
      'list new avoid 3 on 1',
      // Node 3 takes node 1's page 1 (after the map: the console has not seen the move).
      'write 0x1000 5 on 3',
      'kill 3',
      'read 0x156000 on 1',
      'read 0x2ab000 on 1',
      'read 0x1000 on 2',
      'owner 1',
    ], ['--manager', 'dynamic']);
    expect(t.code, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/no managers: faults follow probable-owner chains \(--manager dynamic\)/);
    expectBlocks(t, [
      ['alloc 16 on 2', /^node 2: allocated 16 bytes at 0x00156000 \(page 342: owned by node 2, no manager: dynamic mode\)\n$/],
      ['write 0x156000 42 on 2', /no fault/],
      ['read 0x156000 on 1', /^node 1: read 0x00156000 = 42 \(0x2a\)\n {2}read fault on page 342: .*messages: request 1→2 \(2 messages/],
      ['write 0x156000 43 on 3', /^node 3: wrote 43 \(0x2b\) at 0x00156000\n {2}write fault on page 342/],
      ['write 0x156000 44 on 2', /^node 2: wrote 44 \(0x2c\) at 0x00156000\n {2}write fault on page 342/],
      ['alloc 16 on 3', /\(page 683: owned by node 3, no manager: dynamic mode\)/],
      ['write 0x2ab000 7 on 3', /no fault/],
      ['owner 342', /^page 342 \(0x00156000\.\.0x00156fff\): owner node 2, no manager \(dynamic mode\)\n/],
      ['map', /^page +address +manager +owner/, /\n342 +0x00156000 +- +2 +/, /\n683 +0x002ab000 +- +3 +/],
      ['list new avoid 3 on 1', /CONSOLE_ERR_BAD_ARGUMENT.*in dynamic mode no node manages any/],
      ['write 0x1000 5 on 3', /^node 3: wrote 5 \(0x5\) at 0x00001000\n {2}write fault on page 1/],
      ['kill 3', /^node 3 killed/],
      // Node 1's hint names node 3: once a majority declared it dead, node 1 asks every live node (a locate) and finds node 2.
      ['read 0x156000 on 1', /^node 1: read 0x00156000 = 44 \(0x2c\)\n {2}read fault on page 342: [\d.]+ s; messages: .*locate 1→2/],
      ['read 0x2ab000 on 1', /^node 1: DSM_ERR_PAGE_LOST at 0x002ab000 \(page 683, node 3\)/],
      // Node 1 handed page 1 to node 3: node 2's request is sent there, finds it dead, and the locate settles it.
      ['read 0x1000 on 2', /^node 2: DSM_ERR_PAGE_LOST at 0x00001000 \(page 1, node 3\)/],
      // No directory knows it, but the nodes that learned of the loss say so.
      ['owner 1', /^page 1 \(0x00001000\.\.0x00001fff\): owner node 3, no manager \(dynamic mode\)/, /LOST with node 3/],
    ]);
    expect(t.stdout).not.toMatch(/DSM_ERR_MANAGER_DEAD/);
    expect(t.stderr).toBe('');
  });

  it('--help prints the usage; bad options exit 2 with one line of hint', async () => {
    const help = await runNode('demos/cli.js', ['console', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: pagewire console \[options\]/);
    for (const [args, message] of [
      [['--nodes', '9'], /--nodes must be an integer in \[2, 7\], got "9"/],
      [['--loss', '0.8'], /--loss must be a probability in \[0, 0\.5\]/],
      [['--script', join(dir, 'missing.txt')], /cannot read --script .*missing\.txt: ENOENT/],
      [['--frob'], /unknown option --frob/],
      [['--manager', 'central'], /--manager must be fixed or dynamic, got "central"/],
      [['--key-file', join(dir, 'k'), '--insecure'], /give either --key-file or --insecure, not both/],
    ] as [string[], RegExp][]) {
      const r = await runNode('demos/cli.js', ['console', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/\nRun `pagewire console --help` for the options\.\n$/);
    }
  });
});
