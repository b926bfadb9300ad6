import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The machine has two cores shared by every package's suite.
    maxWorkers: 2,
  },
});
