/**
 * The live page map: an HTTP server on loopback (node:http, Server-Sent Events; no framework, no
 * asset from anywhere else) that shows a LiveCluster (demos/live.ts) in a browser and updates it
 * within a few tens of milliseconds of every change the cluster reports.
 *
 *   const web = await startWebServer(live, { controls: (line) => session.command(line) });
 *   console.log(web.url);      // http://127.0.0.1:41234/3f9c.../
 *
 * Endpoints, all under a random path prefix (the token in the printed URL), so another web page
 * the browser has open cannot find, read or drive them:
 *   GET  /<token>/            the page (demos/web-page.ts)      GET /<token>/app.js, /app.css
 *   GET  /<token>/events      text/event-stream: `state` (the whole view, JSON) on connect and on
 *                             every change (at most every THROTTLE_MS), `flow` (a message between
 *                             nodes, from the trace) as it happens
 *   GET  /<token>/state       the view once, JSON
 *   POST /<token>/command     {"line":"kill 3"} → {"output":"..."}: the page's buttons (kill, pause,
 *                             partition, heal, loss), only when started from the console
 * Anything else is refused with a status and a one-line reason: an unknown path (404), another
 * method (405), a Host that is not this loopback address (421: DNS rebinding), a command without a
 * JSON content type (415) or larger than 4 KiB (413), more than MAX_CLIENTS streams (503). A slow
 * or vanished client never holds more than one pending view: writes that the socket does not take
 * at once mark it behind, and it gets the newest view when it drains.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { LiveCluster, type Flow } from './live.js';
import type { Cluster } from './cluster.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './web-page.js';

export interface WebServerOptions {
  /** TCP port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** When set (the console), the page shows buttons that run these console commands and print their output. */
  readonly controls?: (line: string) => Promise<string>;
  /** The page's title. @default "pagewire: live page map" */
  readonly title?: string;
}

export interface WebServer {
  readonly url: string;
  /** Streams open now. */
  readonly clients: number;
  readonly stats: { readonly requests: number; readonly refused: number; readonly viewsSent: number; readonly flowsSent: number; readonly behind: number };
  close(): Promise<void>;
}

/** At most one view per client per this many ms (changes in between are coalesced). */
export const THROTTLE_MS = 40;
/** Event streams at once (each browser tab holds one). */
export const MAX_CLIENTS = 16;
const MAX_BODY = 4096;
const KEEPALIVE_MS = 15_000;

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

interface Client {
  readonly res: ServerResponse;
  /** The socket did not take the last write: wait for 'drain', then send the newest view. */
  behind: boolean;
}

/** The view the page draws: everything the LiveCluster knows, as plain JSON. */
export function viewOf(live: LiveCluster, o: { controls: boolean; title: string }): Record<string, unknown> {
  const pages = { owner: [0] as number[], lost: [] as number[], pending: [] as number[], orphaned: [] as number[], copies: {} as Record<number, number[]> };
  for (let p = 1; p < live.pageCount; p++) {
    const v = live.page(p);
    pages.owner.push(v.owner);
    if (v.lost !== undefined) pages.lost.push(p);
    if (v.pending) pages.pending.push(p);
    if (v.managerGone && v.lost === undefined) pages.orphaned.push(p);
    if (v.copies.length > 0) pages.copies[p] = v.copies;
  }
  const latency = { bucketsMs: [] as number[], counts: [] as number[] };
  const nodes = live.ids.map((id) => {
    const n = live.nodes.get(id)!;
    if (n.latency !== undefined) {
      latency.bucketsMs = n.latency.bucketsMs;
      n.latency.counts.forEach((c, i) => (latency.counts[i] = (latency.counts[i] ?? 0) + c));
    }
    return {
      id, address: n.address, pid: n.pid ?? null, keyed: n.keyed, process: n.process, pausedUntil: n.pausedUntil ?? null,
      status: live.status(id), sees: n.sees, fenced: n.fenced ?? null, counters: n.counters ?? null, blocked: n.blocked,
      polledAt: n.polledAt ?? null,
    };
  });
  return {
    title: o.title, controls: o.controls, now: Date.now(), changedAt: live.changedAt,
    pageSize: live.pageSize, pageCount: live.pageCount, manager: live.manager, nodes,
    network: { groups: live.groups ?? null, loss: live.loss },
    pages,
    list: live.list,
    charts: [
      { id: 'latency', title: 'fault latency (all nodes, faults that asked another node)', unit: 'faults', bars: latency.counts.map((c, i) => ({ label: i < latency.bucketsMs.length ? `≤${latency.bucketsMs[i]}` : `>${latency.bucketsMs.at(-1)}`, value: c })) },
      { id: 'retransmits', title: 'retransmissions per node', unit: 'datagrams', bars: nodes.map((n) => ({ label: `node ${n.id}`, value: n.counters?.retransmits ?? 0, node: n.id })) },
      ...live.charts.values(),
    ],
    events: live.events.slice(-40),
  };
}

export async function startWebServer(live: LiveCluster, o: WebServerOptions = {}): Promise<WebServer> {
  const token = randomBytes(12).toString('hex');
  const base = `/${token}/`;
  const title = o.title ?? 'pagewire: live page map';
  const clients = new Set<Client>();
  const stats = { requests: 0, refused: 0, viewsSent: 0, flowsSent: 0, behind: 0 };
  let port = 0;
  let pendingView: NodeJS.Timeout | undefined;
  let lastSent = 0;
  let commands: Promise<unknown> = Promise.resolve();
  let queued = 0;

  const view = (): string => JSON.stringify({ ...viewOf(live, { controls: o.controls !== undefined, title }), sentAt: Date.now() });
  const send = (c: Client, text: string): void => {
    if (c.behind || c.res.destroyed) return;
    if (!c.res.write(text)) {
      c.behind = true;
      stats.behind++;
      c.res.once('drain', () => {
        c.behind = false;
        if (!c.res.destroyed) c.res.write(`event: state\ndata: ${view()}\n\n`);
      });
    }
  };
  const broadcast = (): void => {
    pendingView = undefined;
    lastSent = Date.now();
    if (clients.size === 0) return;
    const text = `event: state\ndata: ${view()}\n\n`;
    for (const c of clients) {
      send(c, text);
      stats.viewsSent++;
    }
  };
  const onChange = (): void => {
    if (pendingView !== undefined || clients.size === 0) return;
    pendingView = setTimeout(broadcast, Math.max(0, THROTTLE_MS - (Date.now() - lastSent)));
  };
  const onFlow = (f: Flow): void => {
    const text = `event: flow\ndata: ${JSON.stringify(f)}\n\n`;
    for (const c of clients) {
      send(c, text);
      stats.flowsSent++;
    }
  };
  live.on('change', onChange);
  live.on('flow', onFlow);
  const keepalive = setInterval(() => {
    for (const c of clients) send(c, ': keepalive\n\n');
  }, KEEPALIVE_MS);
  keepalive.unref();

  const refuse = (res: ServerResponse, status: number, why: string, extra: Record<string, string> = {}): void => {
    stats.refused++;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS, ...extra });
    res.end(`${why}\n`);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    stats.requests++;
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return refuse(res, 421, `this server answers only as 127.0.0.1:${port}`);
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      return void res.end();
    }
    if (!path.startsWith(base)) return refuse(res, 404, 'not found: open the URL the console printed (it carries a token)');
    const rest = path.slice(base.length);
    const method = req.method ?? 'GET';
    if (rest === 'command') {
      if (method !== 'POST') return refuse(res, 405, 'POST a JSON {"line": "..."} here', { Allow: 'POST' });
      return void command(req, res);
    }
    if (method !== 'GET' && method !== 'HEAD') return refuse(res, 405, 'only GET here', { Allow: 'GET, HEAD' });
    switch (rest) {
      case '':
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...SECURITY_HEADERS });
        return void res.end(method === 'HEAD' ? undefined : PAGE_HTML(title));
      case 'app.js':
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', ...SECURITY_HEADERS });
        return void res.end(method === 'HEAD' ? undefined : PAGE_JS);
      case 'app.css':
        res.writeHead(200, { 'Content-Type': 'text/css; charset=utf-8', ...SECURITY_HEADERS });
        return void res.end(method === 'HEAD' ? undefined : PAGE_CSS);
      case 'state':
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
        return void res.end(method === 'HEAD' ? undefined : view());
      case 'events':
        return events(req, res);
      default:
        return refuse(res, 404, `not found: ${rest.slice(0, 80)}`);
    }
  };

  const events = (req: IncomingMessage, res: ServerResponse): void => {
    if (clients.size >= MAX_CLIENTS) return refuse(res, 503, `too many pages open (at most ${MAX_CLIENTS}); close one`, { 'Retry-After': '5' });
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', ...SECURITY_HEADERS });
    const c: Client = { res, behind: false };
    clients.add(c);
    const drop = (): void => void clients.delete(c);
    req.on('close', drop);
    res.on('close', drop);
    res.on('error', drop);
    send(c, `retry: 1000\n\nevent: state\ndata: ${view()}\n\n`);
    stats.viewsSent++;
  };

  const command = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (o.controls === undefined) return refuse(res, 403, 'this page was not started from the console: it has no controls');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return refuse(res, 415, 'send Content-Type: application/json');
    let body = '';
    let size = 0;
    let tooLarge = false;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY) {
          tooLarge = true;
          break;
        }
        body += (chunk as Buffer).toString('utf8');
      }
    } catch {
      return; // the client went away
    }
    if (tooLarge) return refuse(res, 413, `a command is at most ${MAX_BODY} bytes`, { Connection: 'close' });
    let line: unknown;
    try {
      line = (JSON.parse(body) as { line?: unknown })?.line;
    } catch {
      return refuse(res, 400, 'the body must be JSON: {"line": "kill 3"}');
    }
    if (typeof line !== 'string' || line.length > 200) return refuse(res, 400, 'the body must be {"line": "<a console command of at most 200 characters>"}');
    if (queued >= 8) return refuse(res, 429, 'too many commands queued; wait for the answers');
    queued++;
    const run = commands.then(() => o.controls!(line as string));
    commands = run.catch(() => undefined);
    let output: string;
    try {
      output = await run;
    } catch (e) {
      output = `error CONSOLE_ERR_INTERNAL: ${(e as Error).message}`;
    } finally {
      queued--;
    }
    if (res.destroyed) return;
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', ...SECURITY_HEADERS });
    res.end(JSON.stringify({ output }));
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) refuse(res, 500, `internal error: ${(e as Error).message}`);
      else res.destroy();
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${base}`,
    get clients() {
      return clients.size;
    },
    stats,
    async close() {
      live.off('change', onChange);
      live.off('flow', onFlow);
      clearInterval(keepalive);
      if (pendingView !== undefined) clearTimeout(pendingView);
      for (const c of clients) c.res.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A demo's `--web`: its cluster in the live page map, paced so a class can follow. */
export interface DemoWeb {
  readonly live: LiveCluster;
  readonly url: string;
  /** Pause between the demo's steps (the --pace option). */
  step(): Promise<void>;
  /** After the run: keep the page up until Enter (or stdin ends), then close the page. */
  hold(): Promise<void>;
  close(): Promise<void>;
}

/** How long a demo with --web waits for a browser to open its page before it starts anyway. */
export const DEMO_WAIT_FOR_PAGE_MS = 60_000;

export async function startDemoWeb(cluster: Cluster, o: { pageSize: number; pageCount: number; title: string; paceMs: number; say: (s: string) => void }): Promise<DemoWeb> {
  const live = new LiveCluster(cluster, { pageSize: o.pageSize, pageCount: o.pageCount });
  const web = await startWebServer(live, { title: o.title });
  const unwatch = live.watch();
  o.say(`live page map: ${web.url}`);
  if (web.clients === 0) {
    o.say(`  waiting for a browser to open it (at most ${DEMO_WAIT_FOR_PAGE_MS / 1000} s; each step then pauses ${o.paceMs} ms so you can follow)`);
    const deadline = Date.now() + DEMO_WAIT_FOR_PAGE_MS;
    while (web.clients === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (web.clients === 0) o.say('  no page opened it: going on');
    await live.poll();
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    unwatch();
    await web.close();
    live.close();
  };
  return {
    live, url: web.url,
    step: () => new Promise((r) => setTimeout(r, o.paceMs)),
    async hold() {
      await live.poll();
      o.say(`the page stays up at ${web.url}: press Enter to stop`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          process.stdin.off('data', done);
          process.stdin.off('end', done);
          process.stdin.off('close', done);
          process.stdin.pause();
          resolve();
        };
        process.stdin.on('data', done);
        process.stdin.on('end', done);
        process.stdin.on('close', done);
        process.stdin.resume();
      });
    },
    close,
  };
}
