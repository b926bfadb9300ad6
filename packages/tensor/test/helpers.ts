/** Test helpers: a seeded host RNG, input builders, closeness checks, finite-difference gradients. */

import { ReferenceBackend } from '@tessera/core';
import { mulberry32 as rng } from '@tessera/testing';
import { expect } from 'vitest';
import { mul, noGrad, setBackend, sum, tensor, tidy, type Tensor } from '../src/index.js';

/** mulberry32: a small seeded PRNG for host-side test data. */
export { rng };

/** How a test input is generated. */
export type InputSpec =
  | { shape: number[]; kind?: 'normal' }
  | { shape: number[]; kind: 'positive' }
  | { shape: number[]; kind: 'int'; low: number; high: number }
  | { shape: number[]; kind: 'values'; values: number[]; dtype?: 'f32' | 'i32' };

/** Host data for a spec: normal(0, 1), positive in [0.5, 2], or integers in [low, high). */
export function hostData(spec: InputSpec, seed: number): { data: Float64Array | Int32Array; dtype: 'f32' | 'i32' } {
  const r = rng(seed);
  const n = spec.shape.reduce((p, q) => p * q, 1);
  if (spec.kind === 'values') return { data: spec.dtype === 'i32' ? Int32Array.from(spec.values) : Float64Array.from(spec.values), dtype: spec.dtype ?? 'f32' };
  if (spec.kind === 'int') return { data: Int32Array.from({ length: n }, () => spec.low + Math.floor(r() * (spec.high - spec.low))), dtype: 'i32' };
  if (spec.kind === 'positive') return { data: Float64Array.from({ length: n }, () => 0.5 + 1.5 * r()), dtype: 'f32' };
  return {
    data: Float64Array.from({ length: n }, () => {
      const u1 = 1 - r();
      const u2 = r();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }),
    dtype: 'f32',
  };
}

/** Makes tensors for specs on the active backend; f32 ones require grad when `grad`. */
export function makeInputs(specs: readonly InputSpec[], seed: number, grad: boolean): Tensor[] {
  return specs.map((s, i) => {
    const { data, dtype } = hostData(s, seed * 131 + i);
    return tensor(data, s.shape, { dtype, requiresGrad: grad && dtype === 'f32' });
  });
}

/** Asserts |a - b| <= rtol * (|b| + mean|b|) + atol elementwise (relative to the output's typical magnitude; the mean over finite entries). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string, atol = 0): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  let finite = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isFinite(expected[i])) {
      scale += Math.abs(expected[i]);
      finite++;
    }
  }
  scale = finite ? scale / finite : 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(b)) {
      expect(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`).toBe(true);
      continue;
    }
    if (!Number.isFinite(b)) {
      expect(a, `${what}[${i}]`).toBe(b);
      continue;
    }
    const tol = rtol * (Math.abs(b) + scale) + atol;
    if (!(Math.abs(a - b) <= tol)) {
      throw new Error(`${what}[${i}]: got ${a}, expected ${b} (|diff| ${Math.abs(a - b)} > tol ${tol})`);
    }
  }
}

/** Reads a tensor's values at full precision on the float64 reference backend. */
export function readF64(be: ReferenceBackend, t: Tensor): Float64Array {
  const c = t.isContiguous() ? t : t.contiguous();
  const d = c.dense();
  const out = be.readF64(d.storage, d.offset, c.size);
  if (c !== t) c.dispose();
  return out;
}

let f64: ReferenceBackend | null = null;
/** The shared float64 reference backend, made active. */
export async function useF64(): Promise<ReferenceBackend> {
  f64 ??= new ReferenceBackend({ float64: true });
  await setBackend(f64);
  return f64;
}

/**
 * Central finite differences in float64 against the analytic gradient of
 * sum(fn(inputs) * R) for fixed random R, so every output element's
 * gradient is checked (not only their sum).
 */
export async function gradCheck(
  fn: (...xs: Tensor[]) => Tensor,
  specs: readonly InputSpec[],
  opts: { seed?: number; eps?: number; rtol?: number; atol?: number; wrt?: readonly number[] } = {},
): Promise<void> {
  const be = await useF64();
  const seed = opts.seed ?? 1;
  const eps = opts.eps ?? 1e-6;
  const rtol = opts.rtol ?? 1e-6;
  const atol = opts.atol ?? 1e-7;
  const inputs = makeInputs(specs, seed, true);
  const out0 = noGrad(() => fn(...inputs));
  const R = tensor(hostData({ shape: out0.shape.slice() }, seed + 999).data, out0.shape.slice());
  out0.dispose();
  const objective = () => tidy(() => sum(mul(fn(...inputs), R)));
  const loss = objective();
  loss.backward();
  loss.dispose();
  const wrt = opts.wrt ?? inputs.map((t, i) => (t.dtype === 'f32' ? i : -1)).filter((i) => i >= 0);
  for (const i of wrt) {
    const x = inputs[i];
    expect(x.grad, `input ${i} received no gradient`).not.toBeNull();
    const analytic = readF64(be, x.grad!);
    const d = x.dense();
    const numeric = new Float64Array(x.size);
    for (let j = 0; j < x.size; j++) {
      const orig = be.readF64(d.storage, d.offset + j, 1)[0];
      const evalAt = (v: number) => {
        be.write(d.storage, Float64Array.of(v), d.offset + j);
        return noGrad(() => {
          const l = objective();
          const r = readF64(be, l)[0];
          l.dispose();
          return r;
        });
      };
      const plus = evalAt(orig + eps);
      const minus = evalAt(orig - eps);
      be.write(d.storage, Float64Array.of(orig), d.offset + j);
      numeric[j] = (plus - minus) / (2 * eps);
    }
    for (let j = 0; j < x.size; j++) {
      const tol = atol + rtol * Math.abs(numeric[j]);
      if (!(Math.abs(analytic[j] - numeric[j]) <= tol)) {
        throw new Error(`gradient of input ${i} ${JSON.stringify(specs[i].shape)} at ${j}: analytic ${analytic[j]}, numeric ${numeric[j]} (tol ${tol})`);
      }
    }
  }
  for (const t of [...inputs, R]) t.dispose();
}
