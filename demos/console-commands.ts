/**
 * The console's command language (`pagewire console`, demos/console.ts): parsing a line into a
 * command, the help text and tab completion. Pure: no cluster, no I/O; checked against the
 * cluster's shape (node ids, page size, page count), so a bad line is refused here with a message
 * that says what is allowed, before any node is asked.
 *
 *   alloc 16 on 2          write 0x156000 42 on 2      read 0x156000 on 1
 *   list new avoid 3       list push 1 2 3             list walk
 *   kill 3                 pause 2 1.5                 partition 1,2|3     heal     loss 0.1
 *   read 0x2ac000 on 1 &   wait                        wait 3 dead
 */
import { MAX_LOSS } from './args.js';

/** What the parser checks commands against. */
export interface ClusterShape {
  readonly ids: readonly number[];
  readonly pageSize: number;
  readonly pageCount: number;
}

export type ListOp =
  | { readonly op: 'new'; readonly on?: number; readonly avoid?: number }
  | { readonly op: 'push'; readonly values: readonly number[]; readonly on?: number }
  | { readonly op: 'walk'; readonly on?: number }
  | { readonly op: 'stamp'; readonly on?: number };

export type WaitState = 'dead' | 'suspected' | 'fenced' | 'up';

export type Command =
  | { readonly kind: 'alloc'; readonly bytes: number; readonly on?: number }
  | { readonly kind: 'read'; readonly addr: number; readonly on?: number }
  | { readonly kind: 'write'; readonly addr: number; readonly value: number; readonly on?: number }
  | ({ readonly kind: 'list' } & ListOp)
  | { readonly kind: 'owner'; readonly page: number }
  | { readonly kind: 'map'; readonly all: boolean }
  | { readonly kind: 'kill'; readonly node: number }
  | { readonly kind: 'pause'; readonly node: number; readonly seconds: number }
  | { readonly kind: 'partition'; readonly groups: readonly (readonly number[])[] }
  | { readonly kind: 'heal' }
  | { readonly kind: 'loss'; readonly p: number }
  | { readonly kind: 'stats' }
  | { readonly kind: 'trace'; readonly on: boolean; readonly dir?: string }
  | { readonly kind: 'web' }
  | { readonly kind: 'help'; readonly topic?: string }
  /** Wait for the background commands, or until `node` is in `state` (as the others see it). */
  | { readonly kind: 'wait'; readonly node?: number; readonly state?: WaitState; readonly seconds: number }
  | { readonly kind: 'sleep'; readonly seconds: number }
  | { readonly kind: 'exit' };

/** A parsed line: the command, and whether it runs in the background (a trailing `&`). */
export interface Parsed {
  readonly command: Command;
  readonly background: boolean;
}

export class ConsoleError extends Error {
  constructor(readonly code: 'CONSOLE_ERR_UNKNOWN_COMMAND' | 'CONSOLE_ERR_BAD_ARGUMENT', message: string) {
    super(message);
    this.name = 'ConsoleError';
  }
}

/** The loss the console accepts: every demo's (demos/args.ts). */
export const CONSOLE_MAX_LOSS = MAX_LOSS;
/** Longest pause, wait and sleep. */
export const MAX_SECONDS = 600;
/** Most values one `list push` takes. */
export const MAX_PUSH = 1000;
/** The default bound of `wait NODE STATE`. */
export const DEFAULT_WAIT_SECONDS = 15;

interface Help {
  readonly usage: string;
  readonly text: string;
}

/** Every command with its one-line usage and what it does (the `help` text). */
export const HELP: Readonly<Record<string, Help>> = {
  alloc: { usage: 'alloc BYTES [on NODE]', text: 'allocate BYTES in pages NODE owns (default node: the first); prints the address, its page, owner and manager' },
  read: { usage: 'read ADDR [on NODE]', text: 'read the u32 at ADDR (hex 0x... or decimal, a multiple of 4) on NODE; a fault shows its latency and messages' },
  write: { usage: 'write ADDR VALUE [on NODE]', text: 'write the u32 VALUE (0..4294967295) at ADDR on NODE; a fault shows its latency and messages' },
  list: { usage: 'list new [on NODE] [avoid NODE] | list push VALUE... [on NODE] | list walk [on NODE] | list stamp [on NODE]', text: "the chapter's linked list: new makes the header (avoid N keeps the list off pages node N manages, so N's death shows as DSM_ERR_PAGE_LOST, not DSM_ERR_MANAGER_DEAD); push prepends, round-robin over the running nodes unless on NODE; walk traverses from each running node (or NODE); stamp has each node write its own elements (invalidating the others' copies)" },
  owner: { usage: 'owner PAGE', text: "who owns PAGE (a page number), who manages it, who holds copies, and every node's rights on it" },
  map: { usage: 'map [all]', text: 'the page table: per page touched so far (all: also the untouched ones of each node), its owner, manager, copy set and the rights each node holds' },
  kill: { usage: 'kill NODE', text: "SIGKILL the node's process: no goodbye (fail-stop); the others declare it dead once a majority agrees (~2 s)" },
  pause: { usage: 'pause NODE SECONDS', text: 'SIGSTOP the node for SECONDS (0.1..600), then SIGCONT: shorter than 2 s it is waited for; longer, it is declared dead and fenced' },
  partition: { usage: 'partition 1,2|3', text: 'cut the network between the groups (every running node in exactly one group): the majority side declares the others dead; a minority cannot, and its writes fail DSM_ERR_NO_QUORUM' },
  heal: { usage: 'heal', text: 'undo the partition: everyone hears everyone again (a node declared dead meanwhile learns it is fenced: DSM_ERR_EVICTED)' },
  loss: { usage: `loss P`, text: `every node drops each datagram it sends with probability P (0..${CONSOLE_MAX_LOSS}); the transport retransmits` },
  stats: { usage: 'stats', text: 'per node: faults, invalidations, pages sent, retransmissions, datagrams dropped by partition and loss, fault latency' },
  trace: { usage: 'trace on [DIR] | trace off', text: 'every node writes its trace (every layer) to DIR (default ./pagewire-trace-<time>) from now on; off stops and draws DIR/trace.html, the space-time diagram (also: pagewire trace DIR)' },
  web: { usage: 'web', text: 'serve the live page map on loopback and print its URL' },
  wait: { usage: `wait [NODE dead|suspected|fenced|up [SECONDS]]`, text: `wait for the background commands (&) to finish, or until NODE is in that state as the other nodes see it (fenced: as it sees itself; at most SECONDS, default ${DEFAULT_WAIT_SECONDS})` },
  sleep: { usage: 'sleep SECONDS', text: 'do nothing for SECONDS (for scripts that pace a demonstration)' },
  help: { usage: 'help [COMMAND]', text: 'this text, or one command' },
  exit: { usage: 'exit', text: 'stop every node and leave (also quit, Ctrl-D)' },
};

export function helpText(topic?: string): string {
  if (topic !== undefined) {
    const h = HELP[topic];
    if (h === undefined) throw new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', `no command ${JSON.stringify(topic)}; commands: ${Object.keys(HELP).join(', ')}`);
    return `${h.usage}\n  ${h.text}`;
  }
  const width = Math.max(...Object.values(HELP).map((h) => Math.min(h.usage.length, 30)));
  const lines = Object.values(HELP).map((h) => (h.usage.length > 30 ? `  ${h.usage}\n  ${' '.repeat(width)}  ${h.text}` : `  ${h.usage.padEnd(width)}  ${h.text}`));
  return [
    'commands (addresses and values in hex 0x... or decimal; NODE is a node id; a trailing & runs a command in the background):',
    ...lines,
  ].join('\n');
}

const COMMANDS = [...Object.keys(HELP), 'quit'];

const bad = (message: string): ConsoleError => new ConsoleError('CONSOLE_ERR_BAD_ARGUMENT', message);

/** A non-negative integer written in decimal or 0x hex, at most Number.MAX_SAFE_INTEGER. */
export function parseInteger(text: string, what: string): number {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(t)) throw bad(`${what} must be a number (decimal, or hex like 0x2ac000), got ${JSON.stringify(text)}`);
  const v = Number(t);
  if (!Number.isSafeInteger(v)) throw bad(`${what} ${t} is too large (at most ${Number.MAX_SAFE_INTEGER})`);
  return v;
}

function seconds(text: string, what: string, lo: number): number {
  if (!/^\d+(\.\d+)?$/.test(text)) throw bad(`${what} must be a number of seconds, got ${JSON.stringify(text)}`);
  const v = Number(text);
  if (!(v >= lo && v <= MAX_SECONDS)) throw bad(`${what} must be between ${lo} and ${MAX_SECONDS} seconds, got ${text}`);
  return v;
}

function node(shape: ClusterShape, text: string | undefined, what = 'NODE'): number {
  if (text === undefined) throw bad(`${what} is missing (nodes: ${shape.ids.join(', ')})`);
  const v = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!shape.ids.includes(v)) throw bad(`no node ${JSON.stringify(text)}; the nodes are ${shape.ids.join(', ')}`);
  return v;
}

/** A u32-aligned address inside the address space. */
function address(shape: ClusterShape, text: string | undefined): number {
  if (text === undefined) throw bad('ADDR is missing (an address like 0x2ac000)');
  const a = parseInteger(text, 'ADDR');
  const size = shape.pageSize * shape.pageCount;
  if (a > size - 4) throw bad(`address ${text} is outside the address space (0x0..0x${(size - 1).toString(16)}: ${shape.pageCount} pages of ${shape.pageSize} bytes)`);
  if (a % 4 !== 0) throw bad(`address ${text} is not a multiple of 4: read and write access u32 words (try 0x${(a - (a % 4)).toString(16)})`);
  return a;
}

function u32(text: string | undefined): number {
  if (text === undefined) throw bad('VALUE is missing (0..4294967295)');
  const v = parseInteger(text, 'VALUE');
  if (v > 0xffffffff) throw bad(`VALUE ${text} does not fit in a u32 (0..4294967295, 0x0..0xffffffff)`);
  return v;
}

/** Split off a trailing `on NODE` (and, for list new, `avoid NODE`), in any order. */
function options(shape: ClusterShape, words: string[], allowed: readonly ('on' | 'avoid')[]): { rest: string[]; on?: number; avoid?: number } {
  const out: { rest: string[]; on?: number; avoid?: number } = { rest: [...words] };
  const tail = out.rest.at(-1);
  if (tail === 'on' || tail === 'avoid') throw bad(`"${tail}" needs a NODE after it (nodes: ${shape.ids.join(', ')})`);
  for (;;) {
    const k = out.rest.length - 2;
    const key = out.rest[k];
    if (k < 0 || (key !== 'on' && key !== 'avoid')) break;
    if (!allowed.includes(key)) throw bad(`this command takes no "${key} NODE"`);
    if (out[key] !== undefined) throw bad(`"${key} NODE" given twice`);
    out[key] = node(shape, out.rest[k + 1], `${key} NODE`);
    out.rest = out.rest.slice(0, k);
  }
  if (out.rest.includes('on') || out.rest.includes('avoid')) throw bad(`"on NODE" goes at the end of the command`);
  return out;
}

function noMore(words: string[], usage: string): void {
  if (words.length > 0) throw bad(`unexpected ${JSON.stringify(words.join(' '))}; usage: ${usage}`);
}

/** Parse `partition 1,2|3`: groups separated by |, nodes by commas; every node at most once. */
export function parseGroups(shape: ClusterShape, text: string): number[][] {
  const spec = text.replace(/\s+/g, '');
  if (!spec.includes('|')) throw bad(`partition needs at least two groups separated by |, like 1,2|3; got ${JSON.stringify(text)}`);
  const seen = new Set<number>();
  return spec.split('|').map((g) => {
    if (g === '') throw bad(`an empty group in ${JSON.stringify(text)}: every side of | needs nodes`);
    return g.split(',').map((x) => {
      const n = node(shape, x, 'a node in the partition');
      if (seen.has(n)) throw bad(`node ${n} is in the partition twice`);
      seen.add(n);
      return n;
    });
  });
}

/** Parse one console line (null for an empty line or a comment). Throws ConsoleError. */
export function parseLine(shape: ClusterShape, line: string): Parsed | null {
  let text = line.trim();
  if (text === '' || text.startsWith('#')) return null;
  let background = false;
  if (text.endsWith('&')) {
    background = true;
    text = text.slice(0, -1).trim();
  }
  const [name = '', ...args] = text.split(/\s+/);
  const cmd = name.toLowerCase();
  const usage = HELP[cmd]?.usage ?? '';
  let command: Command;
  switch (cmd) {
    case 'alloc': {
      const o = options(shape, args, ['on']);
      if (o.rest[0] === undefined) throw bad(`BYTES is missing; usage: ${usage}`);
      const bytes = parseInteger(o.rest[0], 'BYTES');
      const most = shape.pageSize * shape.pageCount;
      if (bytes < 1 || bytes > most) throw bad(`BYTES must be between 1 and ${most} (the whole address space), got ${o.rest[0]}`);
      noMore(o.rest.slice(1), usage);
      command = { kind: 'alloc', bytes, on: o.on };
      break;
    }
    case 'read': {
      const o = options(shape, args, ['on']);
      command = { kind: 'read', addr: address(shape, o.rest[0]), on: o.on };
      noMore(o.rest.slice(1), usage);
      break;
    }
    case 'write': {
      const o = options(shape, args, ['on']);
      command = { kind: 'write', addr: address(shape, o.rest[0]), value: u32(o.rest[1]), on: o.on };
      noMore(o.rest.slice(2), usage);
      break;
    }
    case 'list': {
      const [op, ...rest] = args;
      if (op === 'new') {
        const o = options(shape, rest, ['on', 'avoid']);
        noMore(o.rest, HELP.list!.usage);
        command = { kind: 'list', op: 'new', on: o.on, avoid: o.avoid };
      } else if (op === 'push') {
        const o = options(shape, rest, ['on']);
        if (o.rest.length === 0) throw bad('list push needs at least one VALUE');
        if (o.rest.length > MAX_PUSH) throw bad(`list push takes at most ${MAX_PUSH} values at once, got ${o.rest.length}`);
        command = { kind: 'list', op: 'push', values: o.rest.map(u32), on: o.on };
      } else if (op === 'walk' || op === 'stamp') {
        const o = options(shape, rest, ['on']);
        noMore(o.rest, HELP.list!.usage);
        command = { kind: 'list', op, on: o.on };
      } else {
        throw bad(`list ${op === undefined ? 'needs' : `has no ${JSON.stringify(op)}; it takes`} new, push, walk or stamp; usage: ${HELP.list!.usage}`);
      }
      break;
    }
    case 'owner': {
      if (args[0] === undefined) throw bad(`PAGE is missing; usage: ${usage}`);
      const page = parseInteger(args[0], 'PAGE');
      if (page < 1 || page >= shape.pageCount) throw bad(`PAGE must be between 1 and ${shape.pageCount - 1} (page 0 is the null page), got ${args[0]}`);
      noMore(args.slice(1), usage);
      command = { kind: 'owner', page };
      break;
    }
    case 'map':
      if (args.length > 1 || (args.length === 1 && args[0] !== 'all')) throw bad(`usage: ${usage}`);
      command = { kind: 'map', all: args[0] === 'all' };
      break;
    case 'kill':
      command = { kind: 'kill', node: node(shape, args[0]) };
      noMore(args.slice(1), usage);
      break;
    case 'pause': {
      const n = node(shape, args[0]);
      if (args[1] === undefined) throw bad(`SECONDS is missing; usage: ${usage}`);
      command = { kind: 'pause', node: n, seconds: seconds(args[1], 'SECONDS', 0.1) };
      noMore(args.slice(2), usage);
      break;
    }
    case 'partition':
      if (args.length === 0) throw bad(`usage: ${usage}`);
      command = { kind: 'partition', groups: parseGroups(shape, args.join('')) };
      break;
    case 'heal':
    case 'stats':
    case 'web':
      noMore(args, usage);
      command = { kind: cmd };
      break;
    case 'loss': {
      if (args[0] === undefined || !/^(\d+(\.\d*)?|\.\d+)$/.test(args[0])) throw bad(`loss takes a probability P in [0, ${CONSOLE_MAX_LOSS}], got ${JSON.stringify(args[0] ?? '')}`);
      const p = Number(args[0]);
      if (p > CONSOLE_MAX_LOSS) throw bad(`P must be in [0, ${CONSOLE_MAX_LOSS}] (above that the transport gives up instead of showing retransmissions), got ${args[0]}`);
      noMore(args.slice(1), usage);
      command = { kind: 'loss', p };
      break;
    }
    case 'trace':
      if (args[0] === 'on' && args.length <= 2) command = { kind: 'trace', on: true, dir: args[1] };
      else if (args[0] === 'off' && args.length === 1) command = { kind: 'trace', on: false };
      else throw bad(`usage: ${usage}`);
      break;
    case 'help':
      if (args.length > 1) throw bad(`usage: ${usage}`);
      if (args[0] !== undefined && HELP[args[0]] === undefined) throw bad(`no command ${JSON.stringify(args[0])}; commands: ${Object.keys(HELP).join(', ')}`);
      command = { kind: 'help', topic: args[0] };
      break;
    case 'wait': {
      if (args.length === 0) {
        command = { kind: 'wait', seconds: MAX_SECONDS }; // each background command has its own bound
        break;
      }
      const n = node(shape, args[0]);
      const state = args[1];
      if (state !== 'dead' && state !== 'suspected' && state !== 'fenced' && state !== 'up') throw bad(`wait ${n} needs a state: dead, suspected, fenced or up; got ${JSON.stringify(state ?? '')}`);
      command = { kind: 'wait', node: n, state, seconds: args[2] === undefined ? DEFAULT_WAIT_SECONDS : seconds(args[2], 'SECONDS', 0) };
      noMore(args.slice(3), usage);
      break;
    }
    case 'sleep':
      if (args[0] === undefined) throw bad(`usage: ${usage}`);
      command = { kind: 'sleep', seconds: seconds(args[0], 'SECONDS', 0) };
      noMore(args.slice(1), usage);
      break;
    case 'exit':
    case 'quit':
      noMore(args, 'exit');
      command = { kind: 'exit' };
      break;
    default:
      throw new ConsoleError('CONSOLE_ERR_UNKNOWN_COMMAND', `unknown command ${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name)}; type help for the commands (${Object.keys(HELP).join(', ')})`);
  }
  const runsOnNode = command.kind === 'alloc' || command.kind === 'read' || command.kind === 'write' || command.kind === 'list';
  if (background && !runsOnNode) throw bad(`only commands that run on a node (alloc, read, write, list) can run in the background with &`);
  return { command, background };
}

/** Tab completion for node's readline: [candidates, the word being completed]. */
export function complete(shape: ClusterShape, line: string): [string[], string] {
  const words = line.split(/\s+/);
  const last = words.at(-1) ?? '';
  const before = words.slice(0, -1).filter((w) => w !== '');
  const ids = shape.ids.map(String);
  let options: string[];
  if (before.length === 0) options = COMMANDS;
  else {
    const cmd = before[0]!;
    const prev = before.at(-1)!;
    if (prev === 'on' || prev === 'avoid') options = ids;
    else if (cmd === 'list' && before.length === 1) options = ['new', 'push', 'walk', 'stamp'];
    else if (cmd === 'list') options = before[1] === 'new' ? ['on', 'avoid'] : ['on'];
    else if (cmd === 'trace' && before.length === 1) options = ['on', 'off'];
    else if (cmd === 'map' && before.length === 1) options = ['all'];
    else if (cmd === 'help' && before.length === 1) options = Object.keys(HELP);
    else if ((cmd === 'kill' || cmd === 'pause' || cmd === 'wait') && before.length === 1) options = ids;
    else if (cmd === 'wait' && before.length === 2) options = ['dead', 'suspected', 'fenced', 'up'];
    else if ((cmd === 'read' && before.length >= 2) || (cmd === 'write' && before.length >= 3) || (cmd === 'alloc' && before.length >= 2)) options = ['on'];
    else options = [];
  }
  const hits = options.filter((o) => o.startsWith(last));
  return [hits.length > 0 ? hits : [], last];
}
