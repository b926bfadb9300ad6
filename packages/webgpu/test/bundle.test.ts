// A web app that uses only the WebGPU backend must not carry the wasm builds: @tessera/core
// loads them with import() inside createWasmBackend, so they stay out of this bundle's chunks.
// Needs no adapter (nothing runs; the entry is only bundled).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleChunks, chunksWithWasm, staticallyLoaded } from '../../core/test/bundle.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function bundle(treeshake: boolean) {
  return bundleChunks(`import { webgpu } from '@tessera/webgpu';\nexport const be = await webgpu();\n`, {
    alias: { '@tessera/webgpu': join(root, 'dist', 'index.js'), '@tessera/core': join(root, '..', 'core', 'dist', 'index.js') },
    // Dawn's npm package is a native addon that webgpu() imports at run time outside browsers.
    external: ['webgpu'],
    treeshake,
  });
}

describe('bundling @tessera/webgpu', () => {
  it('an entry importing only webgpu() carries no wasm base64', async () => {
    const chunks = await bundle(true);
    expect(chunks.find((c) => c.isEntry)!.code).toContain('navigator.gpu');
    expect(chunksWithWasm(chunks)).toEqual([]);
  });

  it('loaded unbundled (every static import), it loads no wasm either', async () => {
    expect(chunksWithWasm(staticallyLoaded(await bundle(false)))).toEqual([]);
  });
});
