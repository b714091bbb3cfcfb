/**
 * The live page map's HTTP endpoints (demos/web.ts) against a real 3-node cluster, as a hostile or
 * careless client would use them: wrong paths, hosts, methods, content types and sizes; two pages
 * at once, one vanishing mid-stream; more streams than allowed; garbage on the socket. Clear
 * statuses, nothing crashes, the other pages keep updating.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../demos/cluster.js';
import { ConsoleSession } from '../demos/console.js';
import { LiveCluster } from '../demos/live.js';
import { MAX_CLIENTS, startWebServer, type WebServer } from '../demos/web.js';
import { onStates } from './support/sse.js';
import { waitFor } from './support/wait.js';

let cluster: Cluster;
let live: LiveCluster;
let session: ConsoleSession;
let url: URL;
const printed: string[] = [];

beforeAll(async () => {
  cluster = await startCluster({ ids: [1, 2, 3], echoStderr: false });
  live = new LiveCluster(cluster, { pageSize: 4096, pageCount: 1024 });
  session = new ConsoleSession(live, (s) => printed.push(s));
  url = new URL(await session.startWeb());
});
afterAll(async () => {
  await session?.close();
  live?.close();
  await cluster?.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(path: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(url.port), path, method: o.method ?? 'GET', headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const base = (): string => url.pathname; // "/<token>/"
const command = (line: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
  request(`${base()}command`, { method: 'POST', headers, body: JSON.stringify({ line }) });

/** An event stream: every `state` view it received, parsed. */
function stream(): Promise<{ views: Record<string, unknown>[]; req: http.ClientRequest; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const views: Record<string, unknown>[] = [];
    const req = http.get({ host: '127.0.0.1', port: Number(url.port), path: `${base()}events` }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      onStates(res, (v) => views.push(v));
      resolve({ views, req, res });
    });
    req.on('error', () => undefined);
  });
}

describe('the live page map over HTTP', () => {
  it('serves the page, its script and style, and the view, with a Content-Security-Policy that allows nothing from elsewhere', async () => {
    for (const [path, type] of [['', 'text/html'], ['app.js', 'text/javascript'], ['app.css', 'text/css'], ['state', 'application/json']]) {
      const r = await request(`${base()}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toMatch(new RegExp(`^${type}`));
      expect(r.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'/);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
    const page = (await request(base())).body;
    expect(page).not.toMatch(/https?:\/\//); // no asset from the internet
    const view = JSON.parse((await request(`${base()}state`)).body) as { nodes: { id: number; status: string }[]; pages: { owner: number[] }; controls: boolean };
    expect(view.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
    expect(view.pages.owner).toHaveLength(1024);
    expect(view.pages.owner[1]).toBe(1);
    expect(view.pages.owner[1023]).toBe(3);
    expect(view.controls).toBe(true);
    expect((await request('/favicon.ico')).status).toBe(204);
  });

  it('refuses wrong paths, hosts, methods, content types, sizes and commands with a status and a reason', async () => {
    const cases: [Promise<Reply>, number, RegExp][] = [
      [request('/'), 404, /open the URL the console printed \(it carries a token\)/],
      [request('/0000/state'), 404, /carries a token/],
      [request(`${base()}secrets`), 404, /not found: secrets/],
      [request(`${base()}state`, { headers: { Host: 'attacker.example:80' } }), 421, /answers only as 127\.0\.0\.1:\d+/],
      [request(`${base()}state`, { method: 'POST' }), 405, /only GET here/],
      [request(`${base()}command`), 405, /POST a JSON/],
      [command('heal', { 'Content-Type': 'text/plain' }), 415, /Content-Type: application\/json/],
      [request(`${base()}command`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"line": "heal"' }), 400, /must be JSON/],
      [command(42), 400, /"line": "<a console command/],
      [command('x'.repeat(201)), 400, /at most 200 characters/],
      [request(`${base()}command`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: Buffer.alloc(10_000, 32) }), 413, /at most 4096 bytes/],
    ];
    for (const [p, status, body] of cases) {
      const r = await p;
      expect(r.status, r.body).toBe(status);
      expect(r.body).toMatch(body);
    }
    // Well-formed, but not what the buttons may do, or not a command at all: the console's own errors.
    expect(JSON.parse((await command('read 0x1000 on 1')).body).output).toMatch(/^error CONSOLE_ERR_BAD_ARGUMENT: the page's buttons run kill, pause, partition, heal, loss only/);
    expect(JSON.parse((await command('kill 99')).body).output).toMatch(/^error CONSOLE_ERR_BAD_ARGUMENT: no node "99"/);
    expect(JSON.parse((await command('rm -rf /')).body).output).toMatch(/^error CONSOLE_ERR_UNKNOWN_COMMAND/);
    const bare = await startWebServer(live); // not started from the console: no controls
    try {
      const u = new URL(bare.url);
      const r = await new Promise<number>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: Number(u.port), path: `${u.pathname}command`, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.end('{"line":"kill 1"}');
      });
      expect(r).toBe(403);
    } finally {
      await bare.close();
    }
    expect(live.nodes.get(1)!.process).toBe('running');
  });

  it('streams views to two pages at once; one vanishing mid-stream leaves the other updating; a button runs its command', async () => {
    const a = await stream();
    const b = await stream();
    await waitFor(() => a.views.length > 0 && b.views.length > 0, 'both first views', 5_000);
    b.res.destroy(); // the browser tab closes mid-stream
    b.req.destroy();
    const r = JSON.parse((await command('loss 0.1')).body) as { output: string };
    expect(r.output).toMatch(/^loss 0\.1: every node drops 10% of the datagrams it sends/);
    expect(printed.join('\n')).toMatch(/\[web\] loss 0\.1/); // the console shows what the page did
    await waitFor(() => a.views.some((v) => (v.network as { loss: number }).loss === 0.1), 'a view with loss 0.1', 5_000);
    expect(JSON.parse((await command('loss 0')).body).output).toMatch(/^loss 0:/);
    await waitFor(() => (a.views.at(-1)!.network as { loss: number }).loss === 0, 'a view with loss 0', 5_000);
    a.res.destroy();
    a.req.destroy();
  });

  it(`refuses a stream beyond ${MAX_CLIENTS} with 503, survives garbage on the socket, and keeps serving`, async () => {
    const streams = await Promise.all(Array.from({ length: MAX_CLIENTS }, () => stream()));
    try {
      const r = await request(`${base()}events`);
      expect(r.status).toBe(503);
      expect(r.body).toMatch(/too many pages open \(at most 16\)/);
    } finally {
      for (const s of streams) {
        s.res.destroy();
        s.req.destroy();
      }
    }
    const sock = net.connect(Number(url.port), '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('\x00\x01GARBAGE \r\n\r\n\xff\xfe');
    await new Promise((r) => sock.once('close', r));
    // Once the closed streams are gone, a new page gets its view again.
    let s: Awaited<ReturnType<typeof stream>> | undefined;
    for (const deadline = Date.now() + 5_000; s === undefined; ) {
      s = await stream().catch(() => undefined);
      if (s === undefined && Date.now() > deadline) throw new Error('no stream accepted again within 5 s');
    }
    await waitFor(() => s!.views.length > 0, 'a view', 5_000);
    s.res.destroy();
    s.req.destroy();
    expect((await request(`${base()}state`)).status).toBe(200);
  });
});

// The server object itself (stats, client count) for a stream that a client closes.
describe('startWebServer', () => {
  it('forgets a closed stream', async () => {
    const w: WebServer = await startWebServer(live);
    try {
      const u = new URL(w.url);
      const req = http.get({ host: '127.0.0.1', port: Number(u.port), path: `${u.pathname}events` });
      req.on('error', () => undefined); // destroying it below is a "socket hang up" on this side
      await waitFor(() => w.clients === 1, 'the stream to open', 5_000);
      req.destroy();
      await waitFor(() => w.clients === 0, 'the stream to be forgotten', 5_000);
      expect(w.stats.viewsSent).toBeGreaterThanOrEqual(1);
    } finally {
      await w.close();
    }
  });
});
