/// <reference lib="dom" />
/**
 * The HTML space-time diagram in a real headless Chromium (test/support/browser.ts): it loads with
 * no console error, shows the fixture's arrows, hides everything but page 684 when filtered by
 * page (and closes up the rows), and a screenshot of each state is saved in test-artifacts/.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mergeTrace, readTraceDir, renderHtml } from '../trace/index.js';
import { artifactPath, launchBrowser, pageErrors, type Launched } from './support/browser.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/trace/figures', import.meta.url));

let browser: Launched | undefined;
afterAll(async () => {
  if (browser?.ok) await browser.close();
});

describe('HTML space-time diagram in Chromium', () => {
  it('loads with no console errors, draws the arrows, filters by page, and saves screenshots', async (ctx) => {
    browser = await launchBrowser();
    if (!browser.ok) return ctx.skip(browser.reason);
    const file = join(mkdtempSync(join(tmpdir(), 'pagewire-html-')), 'fixture.html');
    const merged = mergeTrace(readTraceDir(FIXTURE));
    writeFileSync(file, renderHtml(merged, { title: 'fixture trace' }));
    const page = await browser.page();
    const errors = pageErrors(page, (url) => url.startsWith('file:'));
    await page.goto(pathToFileURL(file).href, { timeout: 15_000 });
    const visible = (sel: string) => page.$$eval(sel, (els) => els.filter((e) => !e.classList.contains('hidden')).length);
    expect(await visible('g.arrow')).toBe(6);
    expect(await visible('g.arrow.drop')).toBe(1);
    expect(await visible('g.ev')).toBe(17);
    await page.screenshot({ path: artifactPath('trace-fixture.png'), fullPage: true });

    // Click node 2's delivery of the retransmitted message: its causal past and future light up.
    const delivered = merged.events.find((e) => e.ev.type === 'message-delivered')!;
    await page.click(`g.ev[data-i="${delivered.i}"] circle`);
    expect(await page.$$eval('g.ev.past', (els) => els.length)).toBe(6); // node 2's receive, node 1's five events before it
    expect(await page.$$eval('g.ev.future', (els) => els.length)).toBe(10);
    expect(await page.$$eval('g.arrow.past', (els) => els.length)).toBe(2); // the dropped datagram, and the retransmission that reached it
    expect(await page.textContent('#cone')).toMatch(/^6 events happened before it, 10 after it/);
    await page.screenshot({ path: artifactPath('trace-fixture-cone.png'), fullPage: true });
    await page.click(`g.ev[data-i="${delivered.i}"] circle`);
    expect(await page.$$eval('g.dim', (els) => els.length)).toBe(0);

    await page.fill('#page', '684');
    await page.waitForFunction(() => document.getElementById('shown')?.textContent === '6', undefined, { timeout: 5_000 });
    expect(await visible('g.arrow')).toBe(2);
    const pages = await page.$$eval('g[data-r]:not(.hidden)', (els) => els.map((e) => (e as SVGElement).dataset.page ?? 'none'));
    expect(new Set(pages)).toEqual(new Set(['684']));
    // The rows closed up: the first event shown is now on the first row.
    const firstY = await page.$eval('g.ev:not(.hidden)', (e) => e.getAttribute('transform'));
    expect(firstY).toBe('translate(0,75)');
    await page.screenshot({ path: artifactPath('trace-fixture-page-684.png'), fullPage: true });

    await page.fill('#page', '');
    await page.uncheck('input[name=layer][value=transport]');
    await page.waitForFunction(() => document.getElementById('shown')?.textContent === '7', undefined, { timeout: 5_000 });
    expect(await visible('g.arrow')).toBe(3); // acquire, grant, and the call never answered
    expect(errors).toEqual([]);
    expect(statSync(artifactPath('trace-fixture.png')).size).toBeGreaterThan(1000);
  });
});
