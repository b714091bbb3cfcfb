#!/usr/bin/env node
/**
 * pagewire — the node launcher.
 *
 *   pagewire keygen --out cluster.key           (or: pagewire keygen > cluster.key)
 *   pagewire node --id 2 --listen 127.0.0.1:7002 --peers 1@127.0.0.1:7001,3@127.0.0.1:7003 --key-file cluster.key
 *   pagewire node --id 2 --config cluster.json --key-file cluster.key
 *   pagewire trace DIR [--html out.html | --shiviz]    (trace/cli.ts)
 *
 * Runs one DSM node until SIGINT/SIGTERM, printing its peers' membership events (up, suspected,
 * dead, this node fenced, a majority up: demos/membership-events.ts). With --control it also reads
 * JSON-line commands on stdin (demos/control.ts), which is how the demos and tests drive nodes,
 * and the events come as JSON lines.
 */
import { closeSync, fchmodSync, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { resolveDsmNodeOptions, startDsmNode, type DsmNode, type DsmNodeOptions, type DsmPeer, type SecurityEvent } from '../dsm/node/index.js';
import { MANAGER_MODES, type ManagerMode } from '../dsm/protocol/index.js';
import { formatClusterKey, generateClusterKey, isLoopbackHost, parseClusterKey, parsePeer } from '../transport/index.js';
import { MAX_LOSS, parseCommandLine, probabilityArg, stopWithParent, usageFailure, UsageError, type OptionSpec } from './args.js';
import { serveControl } from './control.js';
import { runTraceCli } from '../trace/cli.js';
import { watchMembership } from './membership-events.js';

export const USAGE = `usage: pagewire node --id N (--listen HOST:PORT --peers ID@HOST:PORT,... | --config FILE) [options]
       pagewire console [options]     a local cluster to poke, with a live page map (pagewire console --help)
       pagewire keygen [--out FILE [--force]]
       pagewire trace DIR [--html FILE | --shiviz] [filters]   (pagewire trace --help)

Runs one node of the distributed shared memory until SIGINT/SIGTERM, printing
when peers come up, are suspected, are declared dead (by a majority), when this
node is fenced, and when a majority of the cluster is up.

With a cluster key (--key-file) every datagram is encrypted and authenticated, and
only nodes with the same key can talk to this one. Without one, the node's traffic
is clear text anyone on the network can read and forge: a node listening on an
address other than loopback refuses to start without a key unless --insecure.

  --id N              this node's id (0..65535), unique in the cluster
  --listen HOST:PORT  UDP address to bind: an IP address of this host, or localhost (127.0.0.1)
  --peers LIST        the other nodes, ID@HOST:PORT separated by commas (IP addresses or localhost)
  --config FILE       JSON cluster file instead of --listen/--peers:
                      {"nodes":[{"id":1,"address":"127.0.0.1:7001"},...],"pageSize":4096,"pages":1024,"manager":"fixed"}
  --page-size N       bytes per page, a power of two 64..65536 (default 4096); same on every node
  --pages N           pages in the address space (default 1024); same on every node
  --manager MODE      how a page's owner is found, the same on every node (default fixed):
                      fixed    Li & Hudak's fixed distributed manager: page p's directory is on
                               node p mod N, asked when a node's probable-owner hint is wrong;
                               when that node dies, faults that need its directory fail
                      dynamic  Li & Hudak's dynamic distributed manager: no directory; requests
                               follow probable-owner chains, compressed as they are used
  --loss P            drop each outgoing datagram with probability P in [0, ${MAX_LOSS}] (fault injection, default 0)
  --seed N            fault-injection seed (default: the node id)
  --dead-after-ms N   suspect a peer silent for N ms; dead once a majority agrees (500..600000, default 2000)
  --key-file FILE     the cluster key (pagewire keygen writes one); the same file on every node.
                      Default: the file named by PAGEWIRE_KEY_FILE, if set
  --insecure          run without a key on an address other than loopback: clear text, forgeable
  --trace DIR         write this node's trace events to DIR/node-<id>.jsonl (then: pagewire trace DIR)
  --control           read JSON-line commands on stdin, answer on stdout (the README lists them)
  --help              this text

Each option may be given once. Stop a node with Ctrl-C, or kill PID (SIGTERM); the pid is in its
first line.
`;

export const KEYGEN_USAGE = `usage: pagewire keygen [--out FILE [--force]]

Writes a fresh random 256-bit cluster key (node:crypto) in pagewire's key format:
comment lines, then "pagewire-cluster-key-v1 <64 hex digits>". Give the same file to
every node of one cluster (pagewire node --key-file FILE). Anyone who has it can join
the cluster and read its traffic: keep it secret.

  --out FILE   write the key to FILE, created with mode 0600 (refused if FILE exists)
  --force      with --out: replace an existing FILE (it ends up with mode 0600)
  --help       this text

Without --out the key goes to stdout; when stdout is a file (pagewire keygen > cluster.key)
that file's mode is set to 0600 too.
`;

const KEYGEN_OPTIONS = {
  out: { type: 'string', value: 'FILE' }, force: { type: 'boolean' },
} as const satisfies Record<string, OptionSpec>;

/** The environment variable naming the key file when --key-file is not given. */
export const KEY_FILE_ENV = 'PAGEWIRE_KEY_FILE';

const HELP_HINT = 'pagewire node --help';

const OPTIONS = {
  id: { type: 'string', value: 'N' }, listen: { type: 'string', value: 'HOST:PORT' }, peers: { type: 'string', value: 'ID@HOST:PORT,...' },
  config: { type: 'string', value: 'FILE' }, 'page-size': { type: 'string', value: 'N' }, pages: { type: 'string', value: 'N' },
  loss: { type: 'string', value: 'P' }, seed: { type: 'string', value: 'N' }, 'dead-after-ms': { type: 'string', value: 'N' },
  'key-file': { type: 'string', value: 'FILE' }, insecure: { type: 'boolean' }, trace: { type: 'string', value: 'DIR' }, manager: { type: 'string', value: 'MODE' },
  control: { type: 'boolean' },
} as const satisfies Record<string, OptionSpec>;

function int(v: string | undefined, name: string, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < lo || x > hi) throw new UsageError(`${name} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return x;
}

/** A "host:port" checked by the transport's own parser, its message naming where it came from. */
function address(v: string, where: string): string {
  try {
    return parsePeer(v).key;
  } catch (e) {
    throw new UsageError(`${where}: ${(e as Error).message.replace(/^peer /, '')}`);
  }
}

function parsePeers(list: string): DsmPeer[] {
  return list.split(',').filter((s) => s.trim() !== '').map((item) => {
    const m = /^(\d+)@(.+)$/.exec(item.trim());
    if (!m) throw new UsageError(`--peers items must look like 1@127.0.0.1:7001, got ${JSON.stringify(item)}`);
    const where = `--peers item ${JSON.stringify(item.trim())}`;
    return { id: int(m[1], `${where}: the id`, 0, 65535)!, address: address(m[2]!, where) };
  });
}

/** The nodes of a --config file, each checked, with messages naming the file and the entry. */
function configNodes(file: string, nodes: unknown): DsmPeer[] {
  if (!Array.isArray(nodes)) throw new UsageError(`${file}: "nodes" must be an array of {"id", "address"}`);
  return nodes.map((n: { id?: unknown; address?: unknown } | null, i) => {
    const where = `${file}: nodes[${i}]`;
    if (typeof n !== 'object' || n === null) throw new UsageError(`${where} must be an object {"id", "address"}`);
    if (!Number.isInteger(n.id) || (n.id as number) < 0 || (n.id as number) > 65535) throw new UsageError(`${where}.id must be an integer in [0, 65535], got ${JSON.stringify(n.id)}`);
    if (typeof n.address !== 'string') throw new UsageError(`${where}.address must be a "host:port" string, got ${JSON.stringify(n.address)}`);
    return { id: n.id as number, address: address(n.address, `${where}.address`) };
  });
}

function managerMode(v: unknown, where: string): ManagerMode {
  if (typeof v === 'string' && (MANAGER_MODES as readonly string[]).includes(v)) return v as ManagerMode;
  throw new UsageError(`${where} must be ${MANAGER_MODES.join(' or ')}, got ${JSON.stringify(v)}`);
}

/**
 * Read a key file: the key, and a warning when other users may read it. Throws UsageError naming
 * the file and the option (or variable) it came from.
 */
export function readKeyFile(file: string, from: string): { key: Uint8Array; warning: string | undefined } {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (e) {
    throw new UsageError(`cannot read ${from} ${file}: ${(e as Error).message}`);
  }
  let key: Uint8Array;
  try {
    key = parseClusterKey(text, file);
  } catch (e) {
    throw new UsageError(`${from}: ${(e as Error).message}`);
  }
  const warning = (mode & 0o077) !== 0
    ? `${file} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): anyone who has it can join the cluster and read its traffic; chmod 600 ${file}`
    : undefined;
  return { key, warning };
}

/** Turn argv (after "node") into DsmNodeOptions; throws UsageError with a message that says what is allowed. */
export function nodeOptionsFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: DsmNodeOptions; control: boolean; warnings: string[] } | 'help' {
  const { values, flags, help } = parseCommandLine(argv, OPTIONS);
  if (help) return 'help';
  const id = int(values.id, '--id', 0, 65535);
  if (id === undefined) throw new UsageError('--id is required');
  let listen = values.listen;
  let peers: DsmPeer[] = [];
  let pageSize = int(values['page-size'], '--page-size', 64, 65536);
  if (pageSize !== undefined && (pageSize & (pageSize - 1)) !== 0) throw new UsageError(`--page-size must be a power of two from 64 to 65536, got ${pageSize}`);
  let pageCount = int(values.pages, '--pages', 3, 1 << 24);
  let pagesFrom = '--pages';
  let manager = values.manager === undefined ? undefined : managerMode(values.manager, '--manager');
  if (values.config !== undefined) {
    if (values.listen !== undefined || values.peers !== undefined) throw new UsageError('give either --config or --listen/--peers, not both');
    const file = values.config;
    let cfg: { nodes?: unknown; pageSize?: unknown; pages?: unknown; manager?: unknown };
    try {
      cfg = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`cannot read --config ${file}: ${(e as Error).message}`);
    }
    const nodes = configNodes(file, cfg.nodes);
    const me = nodes.find((n) => n.id === id);
    if (me === undefined) throw new UsageError(`${file} has no node with id ${id}`);
    listen = me.address;
    peers = nodes.filter((n) => n !== me);
    if (pageSize === undefined && cfg.pageSize !== undefined) {
      pageSize = int(String(cfg.pageSize), `${file}: pageSize`, 64, 65536);
      if ((pageSize! & (pageSize! - 1)) !== 0) throw new UsageError(`${file}: pageSize must be a power of two from 64 to 65536, got ${pageSize}`);
    }
    if (pageCount === undefined && cfg.pages !== undefined) {
      pageCount = int(String(cfg.pages), `${file}: pages`, 3, 1 << 24);
      pagesFrom = `${file}: pages`;
    }
    if (manager === undefined && cfg.manager !== undefined) manager = managerMode(cfg.manager, `${file}: manager`);
  } else {
    if (listen === undefined) throw new UsageError('--listen HOST:PORT is required (or --config FILE)');
    if (values.peers === undefined) throw new UsageError('--peers ID@HOST:PORT,... is required (or --config FILE)');
    listen = address(listen, '--listen');
    peers = parsePeers(values.peers);
  }
  const nodeCount = peers.length + 1;
  if (pageCount !== undefined && pageCount < nodeCount + 2) {
    throw new UsageError(`${pagesFrom} must be at least ${nodeCount + 2} for ${nodeCount} nodes (the null page, the root page and one page per node), got ${pageCount}`);
  }
  const loss = probabilityArg(values.loss, 'loss', MAX_LOSS, 0);
  const seed = int(values.seed, '--seed', 0, 2 ** 31) ?? id;
  const deadAfterMs = int(values['dead-after-ms'], '--dead-after-ms', 500, 600_000);
  const warnings: string[] = [];
  const envFile = env[KEY_FILE_ENV] === '' ? undefined : env[KEY_FILE_ENV];
  let key: Uint8Array | undefined;
  if (flags.has('insecure')) {
    if (values['key-file'] !== undefined) throw new UsageError('--insecure means "without a key": drop it, or drop --key-file');
    if (envFile !== undefined) throw new UsageError(`--insecure means "without a key", but ${KEY_FILE_ENV} names one (${envFile}): unset it, or drop --insecure`);
  } else if (values['key-file'] !== undefined || envFile !== undefined) {
    const file = values['key-file'] ?? envFile!;
    const r = readKeyFile(file, values['key-file'] !== undefined ? '--key-file' : KEY_FILE_ENV);
    key = r.key;
    if (r.warning !== undefined) warnings.push(r.warning);
  } else if (!isLoopbackHost(parsePeer(listen).host)) {
    throw new UsageError(`--listen ${listen} is not a loopback address, and there is no cluster key: anyone who can reach it could read ` +
      `this node's pages and forge its messages. Give every node the same key (pagewire keygen --out cluster.key; --key-file cluster.key ` +
      `or ${KEY_FILE_ENV}), or add --insecure to run in clear text anyway`);
  }
  if (values.trace !== undefined && values.trace.trim() === '') throw new UsageError('--trace needs a directory, e.g. --trace ./trace');
  const options: DsmNodeOptions = {
    id, listen, peers, pageSize, pageCount, key, manager,
    transport: loss > 0 ? { faults: { seed, outbound: { drop: loss } }, minCwnd: 16 } : undefined,
    ivy: deadAfterMs !== undefined ? { deadAfterMs } : undefined,
    traceDir: values.trace,
  };
  // The node's own validation (distinct ids and addresses), as a usage error.
  try {
    resolveDsmNodeOptions(options);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { control: flags.has('control'), options, warnings };
}

/**
 * `pagewire keygen`: a fresh key, to --out FILE (created 0600; an existing file only with
 * --force) or to stdout (a regular file there gets mode 0600 too).
 */
function runKeygen(argv: string[]): number {
  const { values, flags, help } = parseCommandLine(argv, KEYGEN_OPTIONS);
  if (help) {
    process.stdout.write(KEYGEN_USAGE);
    return 0;
  }
  if (flags.has('force') && values.out === undefined) throw new UsageError('--force only goes with --out FILE');
  const text = formatClusterKey(generateClusterKey());
  if (values.out === undefined) {
    let st: ReturnType<typeof fstatSync> | undefined;
    try {
      st = fstatSync(1);
    } catch {
      st = undefined;
    }
    if (st?.isFile()) fchmodSync(1, 0o600);
    process.stdout.write(text);
    return 0;
  }
  const file = values.out;
  let fd: number;
  try {
    fd = openSync(file, flags.has('force') ? 'w' : 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${file} already exists; pick another --out, or add --force to replace it (every node of its cluster then needs the new key)`);
    process.stderr.write(`pagewire keygen: cannot write ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    fchmodSync(fd, 0o600); // (with --force the file may have existed with another mode)
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  process.stderr.write(`pagewire keygen: wrote a new cluster key to ${file} (mode 0600); give every node of the cluster --key-file ${file}\n`);
  return 0;
}

/** One line about datagrams the node dropped as unauthenticated or replayed (on stderr). */
export function describeSecurity(id: number, e: SecurityEvent): string {
  const parts: string[] = [];
  if (e.auth > 0) parts.push(`${e.auth} datagram${e.auth === 1 ? '' : 's'} that did not authenticate${e.lastFrom === undefined ? '' : ` (the last from ${e.lastFrom}: ${e.lastReason})`}`);
  if (e.replay > 0) parts.push(`${e.replay} replayed datagram${e.replay === 1 ? '' : 's'}`);
  return `pagewire node ${id}: dropped ${parts.join(' and ')}`;
}

/** A start failure in words a user can act on (the bind error arrives wrapped by the fault thread). */
function startFailure(e: unknown, listen: string): string {
  const msg = (e as Error)?.message ?? String(e);
  if (/EADDRINUSE/.test(msg)) return `${listen} is already in use (another node or program has that UDP port); pick another --listen port`;
  if (/EADDRNOTAVAIL/.test(msg)) return `${listen} is not an address of this host; --listen must name a local interface`;
  return msg;
}

async function runNode(argv: string[]): Promise<number> {
  const parsed = nodeOptionsFromArgs(argv);
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const w of parsed.warnings) process.stderr.write(`pagewire node: warning: ${w}\n`);
  let node: DsmNode;
  try {
    node = await startDsmNode(parsed.options);
  } catch (e) {
    process.stderr.write(`pagewire node: ${startFailure(e, parsed.options.listen)}\n`);
    return 1;
  }
  // Graceful shutdown: stop serving peers, close the socket, exit 0. A second signal, or a close
  // that takes longer than 3 s, exits at once (code 1: the shutdown was not clean).
  let stopping = false;
  const stop = (sig: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`pagewire node ${node.id}: close did not finish within 3 s after ${sig}; exiting\n`);
      process.exit(1);
    }, 3_000).unref();
    void node.close().then(() => {
      if (!parsed.control) process.stdout.write(`node ${node.id}: ${sig}, closed\n`);
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  stopWithParent();
  const addr = `${node.options.host}:${node.options.port}`;
  node.onSecurity((e) => process.stderr.write(describeSecurity(node.id, e) + '\n'));
  const startupError = (message: string): void => {
    process.stderr.write(`pagewire node: ${message}\n`);
    void node.close().finally(() => process.exit(1));
  };
  if (parsed.control) {
    process.stdout.write(JSON.stringify({ event: 'ready', id: node.id, address: addr, pageSize: node.options.pageSize, keyed: parsed.options.key !== undefined }) + '\n');
    watchMembership(node, (line) => process.stdout.write(line + '\n'), true, startupError);
    await serveControl(node, (line) => process.stdout.write(line + '\n'));
    await node.close();
    return 0;
  }
  const mode = parsed.options.key === undefined ? 'clear text: no cluster key' : 'sealed with the cluster key';
  process.stdout.write(`node ${node.id} listening on ${addr} (${mode}); peers ${node.options.peers.map((p) => `${p.id}@${p.address}`).join(', ')}; pid ${process.pid}, Ctrl-C or kill ${process.pid} to stop\n`);
  watchMembership(node, (line) => process.stdout.write(line + '\n'), false, startupError);
  await new Promise(() => undefined); // until a signal
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'keygen') return runKeygen(rest);
  if (sub === 'trace') return runTraceCli(rest, (s) => void process.stdout.write(s), (s) => void process.stderr.write(s));
  if (sub === 'console') return (await import('./console.js')).runConsole(rest);
  if (sub !== 'node') throw new UsageError(`unknown command ${JSON.stringify(sub)}; the commands are "node", "console", "keygen" and "trace" (pagewire node --help, pagewire console --help, pagewire keygen --help, pagewire trace --help)`);
  return runNode(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: unknown })?.code === 'DSM_ERR_INVALID_ARGUMENT') {
      process.stderr.write(usageFailure('pagewire', (e as Error).message, HELP_HINT));
      process.exit(2);
    }
    process.stderr.write(`pagewire: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
