import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    pool: 'forks',
    // Tests bound their own waits; these are backstops so a bug fails instead of hanging CI.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
