import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // CPU-bound suites; two workers match the machine's two cores.
    maxWorkers: 2,
    // --expose-gc lets the FinalizationRegistry test force a collection;
    // Node 20 validates relaxed-SIMD only behind its flag (not allowed in NODE_OPTIONS).
    execArgv: ['--expose-gc', '--experimental-wasm-relaxed-simd'],
    testTimeout: 60_000,
    // beforeAll builds models and backends; on two busy cores that can take longer than the 10 s default.
    hookTimeout: 60_000,
  },
});
