import { createLogger, defineConfig } from 'vite';

/**
 * Cross-origin isolation: with these two headers the page gets SharedArrayBuffer, so the wasm
 * backend runs a worker pool. A host that cannot send them still serves the page, which then
 * trains on one thread and says why.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

/**
 * @tessera/models reaches `node:fs` only inside its Node-only directory functions, through
 * `await import(...)` on first use, which the page never calls; Vite says so once per import.
 */
const logger = createLogger();
const warn = logger.warn.bind(logger);
logger.warn = (msg, options) => {
  if (!/Module "node:[a-z/]+" has been externalized for browser compatibility, imported by "[^"]*packages\/models\/dist\//.test(msg)) warn(msg, options);
};

export default defineConfig({
  customLogger: logger,
  // Relative asset URLs: the built folder works from any path of any static host.
  base: './',
  server: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', chunkSizeWarningLimit: 1500 },
});
