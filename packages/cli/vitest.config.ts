import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Several suites spawn the built CLI; two workers match the machine's two cores.
    maxWorkers: 2,
    testTimeout: 60_000,
    // beforeAll builds models and backends; on two busy cores that can take longer than the 10 s default.
    hookTimeout: 60_000,
  },
});
