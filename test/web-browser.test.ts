/// <reference lib="dom" />
/**
 * The live page map in a real headless Chromium (test/support/browser.ts), driven by a console
 * session over a real 3-node cluster: the page loads with no console error and fetches nothing
 * from elsewhere; the page map changes owner after a write fault; after `kill 3` node 3 shows dead
 * and the list's pointer into node 3's page turns red (DSM_ERR_PAGE_LOST); a second tab comes and
 * goes mid-stream; a button pauses a node. Every wait is on DOM state, bounded. A screenshot is
 * saved in test-artifacts/. Without Chromium the test says it was not run and why.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../demos/cluster.js';
import { ConsoleSession } from '../demos/console.js';
import { LiveCluster } from '../demos/live.js';
import { artifactPath, launchBrowser, pageErrors, type Launched } from './support/browser.js';

let browser: Launched | undefined;
let cluster: Cluster | undefined;
let live: LiveCluster | undefined;
let session: ConsoleSession | undefined;
afterAll(async () => {
  if (browser?.ok) await browser.close();
  await session?.close();
  live?.close();
  await cluster?.close();
});

describe('the live page map in Chromium', () => {
  it('loads clean, shows an owner change after a write fault, node 3 dead and the red pointer after kill 3, survives a second tab, and its buttons work', async (ctx) => {
    browser = await launchBrowser();
    if (!browser.ok) return ctx.skip(browser.reason);
    cluster = await startCluster({ ids: [1, 2, 3], echoStderr: false });
    live = new LiveCluster(cluster, { pageSize: 4096, pageCount: 1024 });
    const out: string[] = [];
    session = new ConsoleSession(live, (s) => out.push(s));
    const url = await session.startWeb();
    const origin = new URL(url).origin;
    const run = async (line: string): Promise<string> => {
      const from = out.length;
      await session!.line(line);
      return out.slice(from).join('\n');
    };

    const page = await browser.page();
    const errors = pageErrors(page, (u) => u.startsWith(origin));
    await page.goto(url, { timeout: 15_000 });
    const wait = (selector: string, timeout = 10_000) => page.waitForSelector(selector, { timeout, state: 'attached' });
    await wait('[data-node="3"][data-status="alive"]');
    await wait('.cell[data-page="342"][data-owner="2"]');

    // A write fault moves page 342 from node 2 to node 1; the grid says so.
    expect(await run('alloc 16 on 2')).toMatch(/0x00156000 \(page 342/);
    const tw = Date.now();
    expect(await run('write 0x156000 1 on 1')).toMatch(/write fault on page 342/);
    const written = Date.now();
    await wait('.cell[data-page="342"][data-owner="1"]', 5_000);
    const ownerShown = Date.now();
    // The protocol's messages were drawn between the nodes as they happened.
    await page.waitForFunction(() => (window as unknown as { pagewire: { flows: number } }).pagewire.flows > 0, undefined, { timeout: 5_000 });

    // The chapter's list, walked, each node stamping its own elements.
    await run('list new avoid 3');
    await run('list push 1 2 3 4 5 6');
    expect(await run('list walk')).toMatch(/node 1: 6 elements/);
    await run('list stamp');
    await page.waitForFunction(() => document.querySelectorAll('#list g.box').length === 7, undefined, { timeout: 5_000 });
    expect(await page.$$eval('#list .ptr.broken', (els) => els.length)).toBe(0);

    // A second tab comes and goes mid-stream.
    const other = await browser.page();
    await other.goto(url, { timeout: 15_000 });
    await other.waitForFunction(() => (window as unknown as { pagewire: { views: number } }).pagewire.views > 0, undefined, { timeout: 5_000 });
    await other.close();

    // Kill node 3: the survivors declare it dead; their walk stops at the first pointer into its page.
    const tk = Date.now();
    expect(await run('kill 3')).toMatch(/node 3 killed/);
    const walk = await run('list walk');
    expect(walk).toMatch(/then DSM_ERR_PAGE_LOST at 0x002ac010 \(page 684, node 3\)/);
    await wait('[data-node="3"][data-status="dead"]', 10_000);
    const deadShown = Date.now();
    const decided = live.events.find((e) => e.kind === 'membership' && / peer 3 dead/.test(e.text))!.t;
    const broken = await wait('#list .ptr.broken[data-code="DSM_ERR_PAGE_LOST"]', 10_000);
    expect(await broken.getAttribute('data-to')).toBe(String(0x2ac010));
    expect(await page.$$eval('.cell.lost', (els) => els.length)).toBeGreaterThanOrEqual(341); // node 3's pages
    expect(await page.textContent('#walk')).toMatch(/DSM_ERR_PAGE_LOST at 0x002ac010 \(page 684, node 3\)/);

    // A button: pause node 2 for a second; the card shows it paused, then running again.
    await page.click('[data-node="2"] button[data-cmd="pause 2 1"]');
    await wait('[data-node="2"][data-process="paused"]', 5_000);
    await wait('[data-node="2"][data-process="running"]', 5_000);
    await page.waitForFunction(() => /node 2 paused \(SIGSTOP\) for 1 s/.test(document.getElementById('output')?.textContent ?? ''), undefined, { timeout: 5_000 });
    expect(out.join('\n')).toMatch(/\[web\] pause 2 1/);

    await page.screenshot({ path: artifactPath('console-web.png'), fullPage: true });
    expect(statSync(artifactPath('console-web.png')).size).toBeGreaterThan(10_000);
    const lat = await page.evaluate(() => (window as unknown as { pagewire: { latencies: number[] } }).pagewire.latencies);
    const sorted = [...lat].sort((a, b) => a - b);
    process.stdout.write(`live page map, event → screen: ${lat.length} views, p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms; ` +
      `write command → new owner on screen ${ownerShown - tw} ms (the command itself ${written - tw} ms); ` +
      `kill → node 3 dead on screen ${deadShown - tk} ms (decided by the nodes ${decided - tk} ms after the kill)\n`);
    expect(lat.length).toBeGreaterThan(3);
    expect(errors).toEqual([]);
  });
});
