// What the build generates: the exports declaration read from the binary matches every
// build's real exports, the op codes follow the op lists, relaxed-SIMD detection agrees with
// the relaxed build itself, and the builds are loaded lazily (a bundle that never creates a
// wasm backend carries none of their base64).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BINARY_CODE, REDUCE_CODE, UNARY_CODE, U_IDENT, U_ONE, U_POW_HALF } from '../src/generated/op-codes.js';
import { WASM_EXPORT_NAMES } from '../src/generated/wasm-exports.js';
import { BINARY_OPS, REDUCE_OPS, UNARY_OPS } from '../src/ops.js';
import { loadWasmBuild, relaxedSimdSupported } from '../src/wasm/backend.js';
import { bundleChunks, chunksWithWasm, staticallyLoaded } from './bundle.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('generated from the build', () => {
  it('WasmExports names exactly the function exports of every build', async () => {
    for (const relaxed of [false, true]) {
      for (const shared of [false, true]) {
        const bytes = await loadWasmBuild(relaxed, shared);
        // A relaxed build cannot be compiled where relaxed-SIMD is off; its exports are then checked by the build script.
        if (relaxed && !relaxedSimdSupported()) continue;
        const fns = WebAssembly.Module.exports(new WebAssembly.Module(bytes as BufferSource)).filter((e) => e.kind === 'function');
        expect(fns.map((e) => e.name).sort(), `${relaxed ? 'relaxed' : 'simd'}-${shared ? 'shared' : 'plain'}`).toEqual([...WASM_EXPORT_NAMES]);
      }
    }
  });

  it('op codes are the ops\' indices in the op lists; pow\'s fast paths follow the unary ops', () => {
    expect(Object.entries(UNARY_CODE)).toEqual(UNARY_OPS.map((op, i) => [op, i]));
    expect(Object.entries(BINARY_CODE)).toEqual(BINARY_OPS.map((op, i) => [op, i]));
    expect(Object.entries(REDUCE_CODE)).toEqual(REDUCE_OPS.map((op, i) => [op, i]));
    expect([U_ONE, U_IDENT, U_POW_HALF]).toEqual([0, 1, 2].map((i) => UNARY_OPS.length + i));
  });

  it('relaxedSimdSupported (a 36-byte probe) agrees with validating the relaxed build', async () => {
    expect(relaxedSimdSupported()).toBe(WebAssembly.validate((await loadWasmBuild(true, false)) as BufferSource));
  });
});

/** Bundles `source`, which imports @tessera/core's build (dist/). */
function bundle(source: string, treeshake = true) {
  return bundleChunks(source, { alias: { '@tessera/core': join(root, 'dist', 'index.js') }, treeshake });
}

const REFERENCE_ONLY = `import { ReferenceBackend } from '@tessera/core';\nexport const be = new ReferenceBackend();\n`;

describe('lazy wasm builds', () => {
  it('a bundle that only uses the reference backend carries no wasm', async () => {
    const chunks = await bundle(REFERENCE_ONLY);
    expect(chunks.find((c) => c.isEntry)!.code).toContain('"reference"');
    expect(chunksWithWasm(chunks)).toEqual([]);
  });

  it('loading @tessera/core unbundled (every static import) loads no wasm: the builds are reached only by import()', async () => {
    const chunks = await bundle(REFERENCE_ONLY, false);
    expect(chunksWithWasm(staticallyLoaded(chunks))).toEqual([]);
    expect(chunksWithWasm(chunks).length).toBe(4);
  });

  it('a bundle that creates a wasm backend keeps each build in a chunk of its own, loaded by import()', async () => {
    const chunks = await bundle(`import { createWasmBackend } from '@tessera/core';\nexport const be = await createWasmBackend();\n`);
    expect(chunksWithWasm(staticallyLoaded(chunks))).toEqual([]);
    expect(chunksWithWasm(chunks).length).toBe(4);
  });
});
