import { createWasmBackend, relaxedSimdSupported, type Backend } from '@tessera/core';
import { memory, setBackend, tensor, type Tensor } from '@tessera/tensor';

/** The backends the numeric suites run on: the reference oracle and both wasm builds. */
export const BACKENDS = ['reference', 'wasm-simd128', 'wasm-relaxed'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** False for the relaxed-SIMD build where the runtime does not validate it (its suites are skipped, visibly). */
export function backendAvailable(name: BackendName): boolean {
  return name !== 'wasm-relaxed' || relaxedSimdSupported();
}

const made = new Map<string, Backend>();

/** Makes `name` the active backend for the tests that follow ('wasm' is the best build available). */
export async function useBackend(name: BackendName | 'wasm'): Promise<void> {
  if (name === 'reference' || name === 'wasm') {
    await setBackend(name);
    return;
  }
  let be = made.get(name);
  if (!be) {
    be = await createWasmBackend({ simd: name === 'wasm-relaxed' ? 'relaxed' : 'simd128' });
    made.set(name, be);
  }
  await setBackend(be);
}

/** Deterministic uniform [0, 1) numbers (mulberry32, from @tessera/testing) and n f32 values uniform in [lo, hi) (core's test utilities). */
export { mulberry32 as rng } from '@tessera/testing';
export { randF32 as uniform } from '../../core/test/checks.js';

/** A leaf parameter with the given values. */
export function param(values: Float32Array, shape: readonly number[]): Tensor {
  return tensor(values, shape, { requiresGrad: true });
}

/** The values of a tensor as f32. */
export function values(t: Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** Largest |a - b| / max(|b|, floor) over the elements. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor));
  return worst;
}

/** Bit patterns of an f32 array, for bit-exact comparisons. */
export function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** Live tensor count (to check nothing leaks). */
export function liveTensors(): number {
  return memory().numTensors;
}
