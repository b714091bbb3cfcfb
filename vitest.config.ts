import { defineConfig, type Plugin } from 'vitest/config';
import { compiledUrl, isProductionSource } from './test/support/compiled.js';

/**
 * Tests run the TypeScript sources in-process, but worker threads and child processes run compiled
 * JavaScript. The global setup builds first (tsc -b), and this plugin gives every production module
 * the import.meta.url of its compiled file in dist/, so `new URL('./worker.js', import.meta.url)`
 * names the compiled sibling exactly as it does in the installed package: one build, one way to find
 * a worker, no dist/ fallbacks in production code (test/support/compiled.ts explains the layout).
 */
function compiledImportMetaUrl(): Plugin {
  return {
    name: 'pagewire:compiled-import-meta-url',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0]!;
      if (!isProductionSource(file) || !code.includes('import.meta.url')) return undefined;
      return { code: code.replaceAll('import.meta.url', JSON.stringify(compiledUrl(file))), map: null };
    },
  };
}

export default defineConfig({
  plugins: [compiledImportMetaUrl()],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Tests bound their own waits; these are backstops so a bug fails instead of hanging CI.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
