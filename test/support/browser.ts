/**
 * A real headless Chromium for browser tests: Debian's `chromium` (installed by
 * .ci/install-chromium.sh, which .ci/run calls), driven by playwright-core through its
 * executablePath (npm never downloads a browser here). Each launch gets a fresh profile directory.
 *
 *   const b = await launchBrowser();
 *   if (!b.ok) return ctx.skip(b.reason);          // says why it did not run (CI fails instead)
 *   const page = await b.page();  ...  await b.close();
 *
 * Screenshots go to test-artifacts/ (gitignored), see artifactPath().
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

/** Flags for a quiet, offline, throw-away Chromium. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
] as const;

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)).replace(/\/dist\/?$/, ''));

/** Where a test saves what a person would look at (screenshots); the folder is gitignored. */
export function artifactPath(name: string): string {
  const dir = join(REPO, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** The Chromium binary: $CHROMIUM_PATH, or chromium / chromium-browser / google-chrome on PATH. */
export function findChromium(): string | undefined {
  const env = process.env.CHROMIUM_PATH;
  if (env !== undefined && env !== '' && existsSync(env)) return env;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      const p = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (p !== '' && existsSync(p)) return p;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}

export type Launched =
  | { readonly ok: true; readonly executable: string; page(): Promise<Page>; close(): Promise<void> }
  | { readonly ok: false; readonly reason: string };

/**
 * Start Chromium, or say why not. Under CI (CI set) a missing Chromium is an error: .ci/run
 * installs it, so a browser test that did not run there would hide a broken setup.
 */
export async function launchBrowser(): Promise<Launched> {
  const executable = findChromium();
  if (executable === undefined) {
    const reason = 'no Chromium on this machine (apt-get install chromium, or set CHROMIUM_PATH): the browser test was not run';
    if (process.env.CI) throw new Error(`${reason}; .ci/run should have installed it`);
    process.stderr.write(`${reason}\n`);
    return { ok: false, reason };
  }
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'pagewire-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: executable, headless: true, args: [...CHROMIUM_FLAGS], timeout: 30_000,
      viewport: { width: 1280, height: 900 },
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`Chromium at ${executable} did not start: ${(e as Error).message}`, { cause: e });
  }
  return {
    ok: true,
    executable,
    page: () => context.newPage(),
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * What a page must not do, collected as it happens: console errors, uncaught exceptions, and
 * requests that `allowed(url)` refuses (anything fetched from elsewhere). A test expects it empty.
 */
export function pageErrors(page: Page, allowed: (url: string) => boolean): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!allowed(r.url())) errors.push(`network request: ${r.url()}`);
  });
  return errors;
}
