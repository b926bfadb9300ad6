import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kernel suites are CPU-bound; two workers match the machine's two cores.
    maxWorkers: 2,
    // Node 20 validates relaxed-SIMD only behind this flag (not allowed in NODE_OPTIONS);
    // passing it to the test workers lets both wasm builds be tested here.
    execArgv: ['--experimental-wasm-relaxed-simd'],
    testTimeout: 60_000,
    // beforeAll builds models and backends; on two busy cores that can take longer than the 10 s default.
    hookTimeout: 60_000,
  },
});
