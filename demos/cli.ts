#!/usr/bin/env node
/**
 * pagewire — the node launcher.
 *
 *   pagewire node --id 2 --listen 127.0.0.1:7002 --peers 1@127.0.0.1:7001,3@127.0.0.1:7003
 *   pagewire node --id 2 --config cluster.json
 *   pagewire trace DIR [--html out.html | --shiviz]    (trace/cli.ts)
 *
 * Runs one DSM node until SIGINT/SIGTERM, printing its peers' membership events (up, suspected,
 * dead, this node fenced, a majority up: demos/membership-events.ts). With --control it also reads
 * JSON-line commands on stdin (demos/control.ts), which is how the demos and tests drive nodes,
 * and the events come as JSON lines.
 */
import { readFileSync } from 'node:fs';
import { resolveDsmNodeOptions, startDsmNode, type DsmNode, type DsmNodeOptions, type DsmPeer } from '../dsm/node/index.js';
import { parsePeer } from '../transport/index.js';
import { MAX_LOSS, parseCommandLine, probabilityArg, stopWithParent, usageFailure, UsageError, type OptionSpec } from './args.js';
import { serveControl } from './control.js';
import { runTraceCli } from '../trace/cli.js';
import { watchMembership } from './membership-events.js';

export const USAGE = `usage: pagewire node --id N (--listen HOST:PORT --peers ID@HOST:PORT,... | --config FILE) [options]
       pagewire console [options]     a local cluster to poke, with a live page map (pagewire console --help)
       pagewire trace DIR [--html FILE | --shiviz] [filters]   (pagewire trace --help)

Runs one node of the distributed shared memory until SIGINT/SIGTERM, printing
when peers come up, are suspected, are declared dead (by a majority), when this
node is fenced, and when a majority of the cluster is up.

  --id N              this node's id (0..65535), unique in the cluster
  --listen HOST:PORT  UDP address to bind: an IP address of this host, or localhost (127.0.0.1)
  --peers LIST        the other nodes, ID@HOST:PORT separated by commas (IP addresses or localhost)
  --config FILE       JSON cluster file instead of --listen/--peers:
                      {"nodes":[{"id":1,"address":"127.0.0.1:7001"},...],"pageSize":4096,"pages":1024}
  --page-size N       bytes per page, a power of two 64..65536 (default 4096); same on every node
  --pages N           pages in the address space (default 1024); same on every node
  --loss P            drop each outgoing datagram with probability P in [0, ${MAX_LOSS}] (fault injection, default 0)
  --seed N            fault-injection seed (default: the node id)
  --dead-after-ms N   suspect a peer silent for N ms; dead once a majority agrees (500..600000, default 2000)
  --trace DIR         write this node's trace events to DIR/node-<id>.jsonl (then: pagewire trace DIR)
  --control           read JSON-line commands on stdin, answer on stdout (the README lists them)
  --help              this text

Each option may be given once. Stop a node with Ctrl-C, or kill PID (SIGTERM); the pid is in its
first line.
`;

const HELP_HINT = 'pagewire node --help';

const OPTIONS = {
  id: { type: 'string', value: 'N' }, listen: { type: 'string', value: 'HOST:PORT' }, peers: { type: 'string', value: 'ID@HOST:PORT,...' },
  config: { type: 'string', value: 'FILE' }, 'page-size': { type: 'string', value: 'N' }, pages: { type: 'string', value: 'N' },
  loss: { type: 'string', value: 'P' }, seed: { type: 'string', value: 'N' }, 'dead-after-ms': { type: 'string', value: 'N' },
  trace: { type: 'string', value: 'DIR' }, control: { type: 'boolean' },
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

/** Turn argv (after "node") into DsmNodeOptions; throws UsageError with a message that says what is allowed. */
export function nodeOptionsFromArgs(argv: string[]): { options: DsmNodeOptions; control: boolean } | 'help' {
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
  if (values.config !== undefined) {
    if (values.listen !== undefined || values.peers !== undefined) throw new UsageError('give either --config or --listen/--peers, not both');
    const file = values.config;
    let cfg: { nodes?: unknown; pageSize?: unknown; pages?: unknown };
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
  if (values.trace !== undefined && values.trace.trim() === '') throw new UsageError('--trace needs a directory, e.g. --trace ./trace');
  const options: DsmNodeOptions = {
    id, listen, peers, pageSize, pageCount,
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
  return { control: flags.has('control'), options };
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
  const startupError = (message: string): void => {
    process.stderr.write(`pagewire node: ${message}\n`);
    void node.close().finally(() => process.exit(1));
  };
  if (parsed.control) {
    process.stdout.write(JSON.stringify({ event: 'ready', id: node.id, address: addr, pageSize: node.options.pageSize }) + '\n');
    watchMembership(node, (line) => process.stdout.write(line + '\n'), true, startupError);
    await serveControl(node, (line) => process.stdout.write(line + '\n'));
    await node.close();
    return 0;
  }
  process.stdout.write(`node ${node.id} listening on ${addr}; peers ${node.options.peers.map((p) => `${p.id}@${p.address}`).join(', ')}; pid ${process.pid}, Ctrl-C or kill ${process.pid} to stop\n`);
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
  if (sub === 'trace') return runTraceCli(rest, (s) => void process.stdout.write(s), (s) => void process.stderr.write(s));
  if (sub === 'console') return (await import('./console.js')).runConsole(rest);
  if (sub !== 'node') throw new UsageError(`unknown command ${JSON.stringify(sub)}; the commands are "node", "console" and "trace" (pagewire node --help, pagewire console --help, pagewire trace --help)`);
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
