/**
 * `npm run demo -- --web` and `npm run demo:false-sharing -- --web`: each prints its page's URL,
 * waits for a page to open it, and streams the run: here the "page" is an event-stream client that
 * checks what a browser would draw (node 3 dead, the walk stopped by DSM_ERR_PAGE_LOST, the charts),
 * then ends the demo's stdin (Enter) and expects exit 0.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/run.js';
import { onStates } from './support/sse.js';
import { within } from './support/wait.js';

type View = {
  nodes: { id: number; status: string; process: string }[];
  list: { walks: Record<string, { error?: { code: string; node?: number } }> };
  charts: { id: string; bars: { label: string; value: number }[] }[];
  pages: { lost: number[] };
};

/** Run a demo with --web, open its event stream, and collect views until `done(view)`; then press Enter. */
async function watchDemo(script: string, args: string[], done: (v: View) => boolean, timeoutMs: number): Promise<{ code: number | null; stdout: string; last: View }> {
  const child = spawn(process.execPath, [`${ROOT}dist/demos/${script}`, '--web', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  const urlLine = new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      stdout += l + '\n';
      const m = /^live page map: (http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]+\/)$/.exec(l);
      if (m) resolve(m[1]!);
    });
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  try {
    const url = new URL(await within(urlLine, 15_000, 'the URL line'));
    const last = await within(new Promise<View>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: Number(url.port), path: `${url.pathname}events` }, (res) => {
        onStates<View>(res, (v) => {
          if (!done(v)) return;
          res.destroy();
          resolve(v);
        });
      }).on('error', reject);
    }), timeoutMs, 'the view the test waits for');
    await within(new Promise<void>((r) => {
      const check = (): void => (/press Enter to stop/.test(stdout) ? r() : void setTimeout(check, 20));
      check();
    }), timeoutMs, 'the demo to finish its run');
    child.stdin!.end('\n');
    return { code: await within(exited, 10_000, 'exit'), stdout, last };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('demos with --web', () => {
  it('npm run demo -- --web: the stream shows node 3 dead, both survivors stopped by DSM_ERR_PAGE_LOST naming node 3, and the closing charts; exits 0', async () => {
    const r = await watchDemo('dsm-demo.js', ['--elements', '6', '--pace', '200'], (v) =>
      v.nodes.find((n) => n.id === 3)?.status === 'dead' &&
      [1, 2].every((id) => v.list.walks[id]?.error?.code === 'DSM_ERR_PAGE_LOST' && v.list.walks[id]?.error?.node === 3), 30_000);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/waiting for a browser to open it/);
    expect(r.stdout).toMatch(/^as expected: every node saw the same 6-element list/m);
    expect(r.last.pages.lost.length).toBeGreaterThanOrEqual(341);
    const latency = r.last.charts.find((c) => c.id === 'latency')!;
    expect(latency.bars.reduce((a, b) => a + b.value, 0)).toBeGreaterThan(0);
    expect(r.last.charts.find((c) => c.id === 'retransmits')!.bars.map((b) => b.label)).toEqual(['node 1', 'node 2', 'node 3']);
  });

  it('npm run demo:false-sharing -- --web: the stream gets the page-transfer chart of both runs; exits 0', async () => {
    const r = await watchDemo('false-sharing-demo.js', ['--writes', '20000', '--pace', '0'], (v) => v.charts.some((c) => c.id === 'transfers'), 60_000);
    expect(r.code, r.stdout).toBe(0);
    const t = r.last.charts.find((c) => c.id === 'transfers')!;
    expect(t.bars.map((b) => b.label)).toEqual([expect.stringMatching(/^separate: page \d+$/), expect.stringMatching(/^separate: page \d+$/), expect.stringMatching(/^shared: page \d+$/)]);
    expect(t.bars[2]!.value).toBeGreaterThan(t.bars[0]!.value + t.bars[1]!.value);
  });
});
