// Shared utilities of the kernel tests: a seeded RNG, random arrays, twin storage on the
// reference and wasm backends (conformance/twin.ts), and expectClose reporting the worst element.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import * as errors from '../src/errors.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../src/wasm/backend.js';
import { Twin } from './conformance/twin.js';

export * from './checks.js';
export { Twin, type Side, type TwinBuf } from './conformance/twin.js';

/** The twin of the wasm suites: the reference backend against one wasm build. */
export type WasmTwin = Twin<WasmBackend>;

/** The two wasm builds; `supported` false means the runtime cannot validate it (tests skip visibly). */
export const BUILDS = [
  { name: 'simd128', simd: 'simd128' as const, supported: true },
  { name: 'relaxed-simd', simd: 'relaxed' as const, supported: relaxedSimdSupported() },
];

/** One wasm build as BUILDS lists it. */
export type Build = (typeof BUILDS)[number];

/**
 * Declares `body` once per wasm build (SIMD128 and relaxed-SIMD). The relaxed suite is
 * declared with describe.skip, so it shows up as skipped where the runtime lacks it.
 * `body` gets the suite's twin (reference vs that build) and the build itself.
 */
export function describeBuilds(title: string, body: (get: () => WasmTwin, build: Build) => void): void {
  for (const b of BUILDS) {
    const d = b.supported ? describe : describe.skip;
    d(`${title} [${b.name}${b.supported ? '' : ': relaxed-SIMD not supported by this runtime'}]`, () => {
      let twin: WasmTwin | undefined;
      body(() => {
        if (!twin) throw new Error('twin not ready: call twin() inside a test');
        return twin;
      }, b);
      // Created in beforeAll so that a skipped build never instantiates its module.
      beforeAll(async () => {
        const wasm = await createWasmBackend({ simd: b.simd });
        expect(wasm.features.relaxedSimd).toBe(b.simd === 'relaxed');
        twin = new Twin(new ReferenceBackend(), wasm, errors);
      });
    });
  }
}

/** A one-thread backend and a multi-threaded one of the same build that splits every call. */
export interface ThreadPair {
  one: WasmBackend;
  many: WasmBackend;
}

/**
 * Declares `body` once per wasm build with a ThreadPair (1 vs `threads` threads, every call
 * split across the pool), for kernels whose results must have the same bits on any number of
 * threads. Skipped, saying why, without SharedArrayBuffer or the build.
 */
export function describeThreadPairs(title: string, threads: number, body: (get: () => ThreadPair) => void): void {
  const threadsAvailable = typeof SharedArrayBuffer !== 'undefined';
  for (const b of BUILDS) {
    const d = b.supported && threadsAvailable ? describe : describe.skip;
    const why = !threadsAvailable ? ': no SharedArrayBuffer' : b.supported ? '' : ': relaxed-SIMD not supported by this runtime';
    d(`${title}: ${threads} threads vs 1, bit for bit [${b.name}${why}]`, () => {
      let pair: ThreadPair | undefined;
      beforeAll(async () => {
        const one = await createWasmBackend({ simd: b.simd, threads: 1 });
        const many = await createWasmBackend({ simd: b.simd, threads });
        many.ctx.splitAlways = true;
        pair = { one, many };
      });
      afterAll(() => {
        pair?.one.dispose();
        pair?.many.dispose();
      });
      body(() => {
        if (!pair) throw new Error('thread pair not ready: call it inside a test');
        return pair;
      });
    });
  }
}
