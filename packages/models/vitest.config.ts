import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The machine has two cores shared by every package's suite.
    maxWorkers: 2,
    // The GPT-2 tokenizer suite encodes all of Moby Dick twice (ours and gpt-tokenizer's).
    testTimeout: 60_000,
    // beforeAll builds models and backends; on two busy cores that can take longer than the 10 s default.
    hookTimeout: 60_000,
  },
});
