/**
 * The console's command language (demos/console-commands.ts), without a cluster: what each line
 * parses to, what is refused and how it says so, and tab completion.
 */
import { describe, expect, it } from 'vitest';
import { complete, ConsoleError, helpText, parseLine, type ClusterShape } from '../demos/console-commands.js';

const shape: ClusterShape = { ids: [1, 2, 3], pageSize: 4096, pageCount: 1024 };
const parse = (line: string) => parseLine(shape, line);
function refusal(line: string): { code: string; message: string } {
  try {
    parse(line);
  } catch (e) {
    expect(e).toBeInstanceOf(ConsoleError);
    return { code: (e as ConsoleError).code, message: (e as Error).message };
  }
  throw new Error(`${JSON.stringify(line)} was accepted`);
}

describe('console commands', () => {
  it('parse addresses in hex or decimal, values, nodes, and a trailing & for the background', () => {
    expect(parse('read 0x2ac000 on 1')).toEqual({ command: { kind: 'read', addr: 0x2ac000, on: 1 }, background: false });
    expect(parse('  WRITE 2801664 0xffffffff   ')).toEqual({ command: { kind: 'write', addr: 2801664, value: 0xffffffff, on: undefined }, background: false });
    expect(parse('write 0x1000 7 on 3 &')).toEqual({ command: { kind: 'write', addr: 0x1000, value: 7, on: 3 }, background: true });
    expect(parse('alloc 16 on 2')?.command).toEqual({ kind: 'alloc', bytes: 16, on: 2 });
    expect(parse('list new avoid 3 on 2')?.command).toEqual({ kind: 'list', op: 'new', on: 2, avoid: 3 });
    expect(parse('list push 1 0x2 3')?.command).toEqual({ kind: 'list', op: 'push', values: [1, 2, 3], on: undefined });
    expect(parse('list walk on 1')?.command).toEqual({ kind: 'list', op: 'walk', on: 1 });
    expect(parse('partition 1, 2 | 3')?.command).toEqual({ kind: 'partition', groups: [[1, 2], [3]] });
    expect(parse('pause 2 1.5')?.command).toEqual({ kind: 'pause', node: 2, seconds: 1.5 });
    expect(parse('loss .25')?.command).toEqual({ kind: 'loss', p: 0.25 });
    expect(parse('wait 3 dead 20')?.command).toEqual({ kind: 'wait', node: 3, state: 'dead', seconds: 20 });
    expect(parse('trace on ./t')?.command).toEqual({ kind: 'trace', on: true, dir: './t' });
    expect(parse('owner 684')?.command).toEqual({ kind: 'owner', page: 684 });
    expect(parse('quit')?.command).toEqual({ kind: 'exit' });
    expect(parse('')).toBeNull();
    expect(parse('   # a comment')).toBeNull();
  });

  it('refuse bad lines with a code and a message that says what is allowed', () => {
    const cases: [string, string, RegExp][] = [
      ['frobnicate 3', 'CONSOLE_ERR_UNKNOWN_COMMAND', /unknown command "frobnicate"; type help/],
      [`${'x'.repeat(5000)}`, 'CONSOLE_ERR_UNKNOWN_COMMAND', /unknown command "x{40}\.\.\."/],
      ['read', 'CONSOLE_ERR_BAD_ARGUMENT', /ADDR is missing/],
      ['read 0x1001', 'CONSOLE_ERR_BAD_ARGUMENT', /not a multiple of 4: read and write access u32 words \(try 0x1000\)/],
      ['read 0x400000', 'CONSOLE_ERR_BAD_ARGUMENT', /outside the address space \(0x0\.\.0x3fffff: 1024 pages of 4096 bytes\)/],
      ['read 99999999999999999999999', 'CONSOLE_ERR_BAD_ARGUMENT', /too large \(at most 9007199254740991\)/],
      ['read -4', 'CONSOLE_ERR_BAD_ARGUMENT', /ADDR must be a number \(decimal, or hex like 0x2ac000\), got "-4"/],
      ['read 1e3', 'CONSOLE_ERR_BAD_ARGUMENT', /must be a number/],
      ['read 0x1000 on 9', 'CONSOLE_ERR_BAD_ARGUMENT', /no node "9"; the nodes are 1, 2, 3/],
      ['read 0x1000 on', 'CONSOLE_ERR_BAD_ARGUMENT', /"on" needs a NODE after it \(nodes: 1, 2, 3\)/],
      ['read on 1 0x1000', 'CONSOLE_ERR_BAD_ARGUMENT', /"on NODE" goes at the end/],
      ['write 0x1000 4294967296', 'CONSOLE_ERR_BAD_ARGUMENT', /does not fit in a u32/],
      ['write 0x1000', 'CONSOLE_ERR_BAD_ARGUMENT', /VALUE is missing/],
      ['write 0x1000 1 2', 'CONSOLE_ERR_BAD_ARGUMENT', /unexpected "2"/],
      ['alloc 0', 'CONSOLE_ERR_BAD_ARGUMENT', /BYTES must be between 1 and 4194304/],
      ['alloc 16 on 2 on 3', 'CONSOLE_ERR_BAD_ARGUMENT', /given twice/],
      ['alloc 16 avoid 2', 'CONSOLE_ERR_BAD_ARGUMENT', /takes no "avoid NODE"/],
      ['list', 'CONSOLE_ERR_BAD_ARGUMENT', /list needs new, push, walk or stamp/],
      ['list dance', 'CONSOLE_ERR_BAD_ARGUMENT', /list has no "dance"/],
      ['list push', 'CONSOLE_ERR_BAD_ARGUMENT', /at least one VALUE/],
      [`list push ${Array.from({ length: 1001 }, () => '1').join(' ')}`, 'CONSOLE_ERR_BAD_ARGUMENT', /at most 1000 values/],
      ['owner 0', 'CONSOLE_ERR_BAD_ARGUMENT', /PAGE must be between 1 and 1023/],
      ['owner 1024', 'CONSOLE_ERR_BAD_ARGUMENT', /PAGE must be between 1 and 1023/],
      ['map everything', 'CONSOLE_ERR_BAD_ARGUMENT', /usage: map \[all\]/],
      ['kill', 'CONSOLE_ERR_BAD_ARGUMENT', /NODE is missing \(nodes: 1, 2, 3\)/],
      ['kill 0', 'CONSOLE_ERR_BAD_ARGUMENT', /no node "0"/],
      ['pause 2', 'CONSOLE_ERR_BAD_ARGUMENT', /SECONDS is missing/],
      ['pause 2 0.01', 'CONSOLE_ERR_BAD_ARGUMENT', /between 0\.1 and 600 seconds/],
      ['pause 2 1e6', 'CONSOLE_ERR_BAD_ARGUMENT', /a number of seconds/],
      ['partition 1,2', 'CONSOLE_ERR_BAD_ARGUMENT', /at least two groups separated by \|/],
      ['partition 1,1|2', 'CONSOLE_ERR_BAD_ARGUMENT', /node 1 is in the partition twice/],
      ['partition 1||2', 'CONSOLE_ERR_BAD_ARGUMENT', /an empty group/],
      ['partition 1|4', 'CONSOLE_ERR_BAD_ARGUMENT', /no node "4"/],
      ['loss 0.9', 'CONSOLE_ERR_BAD_ARGUMENT', /P must be in \[0, 0\.5\]/],
      ['loss lots', 'CONSOLE_ERR_BAD_ARGUMENT', /loss takes a probability P in \[0, 0\.5\], got "lots"/],
      ['trace', 'CONSOLE_ERR_BAD_ARGUMENT', /usage: trace on \[DIR\] \| trace off/],
      ['help bogus', 'CONSOLE_ERR_BAD_ARGUMENT', /no command "bogus"; commands: alloc, /],
      ['wait 2 sleeping', 'CONSOLE_ERR_BAD_ARGUMENT', /needs a state: dead, suspected, fenced or up/],
      ['wait 2 dead 601', 'CONSOLE_ERR_BAD_ARGUMENT', /between 0 and 600 seconds/],
      ['stats &', 'CONSOLE_ERR_BAD_ARGUMENT', /only commands that run on a node .* can run in the background/],
      ['kill 3 &', 'CONSOLE_ERR_BAD_ARGUMENT', /can run in the background/],
    ];
    for (const [line, code, message] of cases) {
      const r = refusal(line);
      expect(r.code, line.slice(0, 40)).toBe(code);
      expect(r.message, line.slice(0, 40)).toMatch(message);
    }
  });

  it('help lists every command, and one command on request', () => {
    const all = helpText();
    for (const c of ['alloc', 'read', 'write', 'list new', 'owner PAGE', 'map', 'kill NODE', 'pause NODE SECONDS', 'partition 1,2|3', 'heal', 'loss P', 'stats', 'trace on', 'web', 'wait', 'exit']) expect(all).toContain(c);
    expect(helpText('partition')).toMatch(/^partition 1,2\|3\n  cut the network between the groups/);
  });

  it('complete commands, sub-commands and node ids', () => {
    expect(complete(shape, 'pa')).toEqual([['pause', 'partition'], 'pa']);
    expect(complete(shape, 'list ')).toEqual([['new', 'push', 'walk', 'stamp'], '']);
    expect(complete(shape, 'list w')).toEqual([['walk'], 'w']);
    expect(complete(shape, 'read 0x1000 ')).toEqual([['on'], '']);
    expect(complete(shape, 'read 0x1000 on ')).toEqual([['1', '2', '3'], '']);
    expect(complete(shape, 'kill ')).toEqual([['1', '2', '3'], '']);
    expect(complete(shape, 'wait 3 d')).toEqual([['dead'], 'd']);
    expect(complete(shape, 'trace o')).toEqual([['on', 'off'], 'o']);
    expect(complete(shape, 'zzz')).toEqual([[], 'zzz']);
  });
});
