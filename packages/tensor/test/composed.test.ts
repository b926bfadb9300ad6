/**
 * Fused vs composed ops (composed-suite.ts) on the reference backend (f32 and
 * float64) and both wasm builds, and the error a backend missing a primitive
 * kernel gives.
 */
import { ReferenceBackend, UnsupportedError, createWasmBackend, relaxedSimdSupported, type Backend } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { matmul, ones, setBackend } from '../src/index.js';
import { composedOpSuite } from './composed-suite.js';

composedOpSuite('reference float64', () => new ReferenceBackend({ float64: true }), { rtol: 1e-9 });
composedOpSuite('reference', () => new ReferenceBackend(), { rtol: 1e-5 });
composedOpSuite('wasm simd128', () => createWasmBackend({ simd: 'simd128' }), { rtol: 1e-5 });
composedOpSuite('wasm relaxed', () => createWasmBackend({ simd: 'relaxed' }), {
  rtol: 1e-5,
  skip: relaxedSimdSupported() ? undefined : 'this runtime does not validate relaxed SIMD',
});

/** A view of `be` without the kernels `names` (primitives included, unlike withoutFusedKernels). */
function lacking(be: Backend, names: readonly string[]): Backend {
  return new Proxy(be, {
    get(target, key) {
      if (names.includes(key as string)) return undefined;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('a backend missing a primitive kernel', () => {
  it('is refused by setBackend with an error naming the kernel', async () => {
    const be = lacking(new ReferenceBackend(), ['matmul', 'scatterAdd']);
    await expect(setBackend(be)).rejects.toThrow(UnsupportedError);
    await expect(setBackend(be)).rejects.toThrow(/'matmul', 'scatterAdd'/);
  });

  it('makes the first op that allocates on it throw an error naming the kernel', async () => {
    const ref = new ReferenceBackend();
    await setBackend(ref);
    const a = ones([2, 2]);
    const broken = lacking(ref, ['binary']);
    // Copying to the view allocates there: refused before any kernel runs.
    expect(() => a.toSync(broken)).toThrow(UnsupportedError);
    expect(() => a.toSync(broken)).toThrow(/lacks the primitive kernel 'binary'/);
    expect(Array.from(matmul(a, a).dataSync())).toEqual([2, 2, 2, 2]);
  });
});
