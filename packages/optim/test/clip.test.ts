/**
 * Gradient clipping against hand-computed values (torch.nn.utils semantics).
 * Tolerance 1e-6 relative: the totals are sums of a few f32 values.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '@tessera/core';
import { tensor, type Tensor } from '@tessera/tensor';
import { NonFiniteError, clipGradNormSync, clipGradValue } from '../src/index.js';
import { BACKENDS, backendAvailable, bits, param, useBackend, values } from './helpers.js';

/** Parameters with gradients [-3, 4], [[-12]] and one parameter without a gradient. */
function withGrads(g0: number[] = [-3, 4], g1: number[] = [-12]): Tensor[] {
  const a = param(new Float32Array(2), [2]);
  const b = param(new Float32Array(1), [1, 1]);
  const none = param(new Float32Array(3), [3]);
  a.grad = tensor(g0, [2]);
  b.grad = tensor(g1, [1, 1]);
  return [a, b, none];
}

const near = (got: number, want: number): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));

for (const backend of BACKENDS)
  describe.skipIf(!backendAvailable(backend))(`clipGradNormSync (${backend} backend)`, () => {
    beforeAll(() => useBackend(backend));

    it('returns the total 2-norm and scales every gradient by maxNorm / (norm + 1e-6)', () => {
      const ps = withGrads();
      const total = clipGradNormSync(ps, 6.5);
      expect(total).toBe(13); // sqrt(9 + 16 + 144), exact in f32
      const coef = 6.5 / (13 + 1e-6);
      const [g0, g1] = [values(ps[0].grad!), values(ps[1].grad!)];
      near(g0[0], -3 * coef);
      near(g0[1], 4 * coef);
      near(g1[0], -12 * coef);
      expect(ps[2].grad).toBeNull();
    });

    it('leaves gradients bit-for-bit alone when the norm is below maxNorm', () => {
      const ps = withGrads([0.1, -0.2], [0.3]);
      const before = [bits(values(ps[0].grad!)), bits(values(ps[1].grad!))];
      near(clipGradNormSync(ps, 1), Math.sqrt(0.01 + 0.04 + 0.09));
      expect(bits(values(ps[0].grad!))).toEqual(before[0]);
      expect(bits(values(ps[1].grad!))).toEqual(before[1]);
    });

    it('supports the inf-norm, the 1-norm and any p > 0', () => {
      expect(clipGradNormSync(withGrads(), 100, Infinity)).toBe(12);
      expect(clipGradNormSync(withGrads(), 100, 1)).toBe(19);
      near(clipGradNormSync(withGrads(), 100, 3), Math.cbrt(27 + 64 + 1728));
      near(clipGradNormSync(withGrads(), 100, 0.5), (Math.sqrt(3) + 2 + Math.sqrt(12)) ** 2);
      const ps = withGrads();
      clipGradNormSync(ps, 6, Infinity);
      near(values(ps[1].grad!)[0], (-12 * 6) / (12 + 1e-6));
    });

    it('accepts one tensor, and returns 0 when nothing has a gradient', () => {
      const [a] = withGrads();
      expect(clipGradNormSync(a, 10)).toBe(5);
      expect(clipGradNormSync([param(new Float32Array(2), [2])], 1)).toBe(0);
    });

    it('reports a non-finite norm: NaN / inf by default (like PyTorch), a NonFiniteError on request', () => {
      const nan = withGrads([NaN, 1]);
      expect(() => clipGradNormSync(nan, 1, 2, { errorIfNonfinite: true })).toThrow(NonFiniteError);
      expect(() => clipGradNormSync(nan, 1, 2, { errorIfNonfinite: true })).toThrow(/total 2-norm of the gradients of 2 parameters is NaN/);
      expect(values(nan[1].grad!)[0]).toBe(-12); // untouched after the error
      expect(clipGradNormSync(nan, 1)).toBeNaN();
      const inf = withGrads([Infinity, 1]);
      expect(() => clipGradNormSync(inf, 1, Infinity, { errorIfNonfinite: true })).toThrow(/total inf-norm of the gradients of 2 parameters is Infinity/);
      expect(clipGradNormSync(inf, 1)).toBe(Infinity);
      expect(values(inf[1].grad!)[0]).toBe(-0); // finite entries scaled by 0
    });

    it('rejects bad arguments, naming them', () => {
      const ps = withGrads();
      expect(() => clipGradNormSync(ps, -1)).toThrow(ArgumentError);
      expect(() => clipGradNormSync(ps, -1)).toThrow(/maxNorm must be a number >= 0, got -1/);
      expect(() => clipGradNormSync(ps, NaN)).toThrow(/maxNorm/);
      expect(() => clipGradNormSync(ps, 1, 0)).toThrow(/normType must be a number > 0 or Infinity, got 0/);
      expect(() => clipGradNormSync(ps, 1, -2)).toThrow(/got -2/);
      expect(() => clipGradNormSync(5 as never, 1)).toThrow(/params must be a Tensor or an iterable of tensors, got 5/);
      expect(() => clipGradNormSync([ps[0], 3] as never, 1)).toThrow(/params\[1\] is not a Tensor/);
    });
  });

for (const backend of BACKENDS)
  describe.skipIf(!backendAvailable(backend))(`clipGradValue (${backend} backend)`, () => {
    beforeAll(() => useBackend(backend));

    it('clamps every gradient into [-clipValue, clipValue] in place', () => {
      const ps = withGrads([-3, 0.5], [0.25]);
      clipGradValue(ps, 1);
      expect(Array.from(values(ps[0].grad!))).toEqual([-1, 0.5]);
      expect(Array.from(values(ps[1].grad!))).toEqual([0.25]);
      clipGradValue(ps, 0);
      expect(Array.from(values(ps[0].grad!)).map(Math.abs)).toEqual([0, 0]);
    });

    it('rejects a negative or NaN clipValue', () => {
      expect(() => clipGradValue(withGrads(), -0.5)).toThrow(/clipValue must be a number >= 0, got -0.5/);
      expect(() => clipGradValue(withGrads(), NaN)).toThrow(ArgumentError);
    });
  });
