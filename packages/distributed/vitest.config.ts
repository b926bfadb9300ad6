import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test spawns rank processes (and its own nats-server); on a 2-core machine more
    // than one file at a time only makes the ranks' timeouts race each other.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 30_000,
  },
});
