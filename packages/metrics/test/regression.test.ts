import { describe, expect, it } from 'vitest';
import { MetricsError, mae, mse, r2, rmse } from '../src/index.js';
import { fakeTensor } from './helpers.js';

// yTrue = [3, -0.5, 2, 7], yPred = [2.5, 0, 2, 8]
// residuals 0.5, -0.5, 0, -1 -> SS_res = 0.25 + 0.25 + 0 + 1 = 1.5
// mean(yTrue) = 11.5 / 4 = 2.875; deviations 0.125, -3.375, -0.875, 4.125
// SS_tot = 0.015625 + 11.390625 + 0.765625 + 17.015625 = 29.1875
// R² = 1 - 1.5 / 29.1875 = 1 - 24/467 = 443/467 ≈ 0.948608
const T = [3, -0.5, 2, 7];
const P = [2.5, 0, 2, 8];

describe('regression metrics', () => {
  it('mse / rmse / mae', () => {
    expect(mse(T, P)).toBe(0.375); // 1.5 / 4
    expect(rmse(T, P)).toBe(Math.sqrt(0.375));
    expect(mae(T, P)).toBe(0.5); // (0.5 + 0.5 + 0 + 1) / 4
    expect(rmse([0, 0], [3, 4])).toBeCloseTo(Math.sqrt(12.5), 15); // (9 + 16) / 2
  });

  it('r2 known value', () => {
    expect(r2(T, P)).toBeCloseTo(443 / 467, 15);
    expect(r2(T, T)).toBe(1);
    // predicting the mean gives 0; worse than the mean is negative
    expect(r2([1, 2, 3], [2, 2, 2])).toBe(0);
    // SS_res = 4 + 0 + 4 = 8, SS_tot = 2 -> 1 - 4 = -3
    expect(r2([1, 2, 3], [3, 2, 1])).toBe(-3);
  });

  it('r2 with constant yTrue follows force_finite: 1 if perfect else 0', () => {
    expect(r2([2, 2, 2], [2, 2, 2])).toBe(1);
    expect(r2([2, 2, 2], [1, 2, 3])).toBe(0);
    // constant detected exactly even though the float mean of 0.1s is not 0.1
    expect(r2([0.1, 0.1, 0.1], [0.1, 0.1, 0.1])).toBe(1);
    expect(r2([0.1, 0.1, 0.1], [0.1, 0.1, 0.2])).toBe(0);
  });

  it('r2 needs two samples', () => {
    expect(() => r2([1], [1])).toThrow('R² needs at least two samples, got 1');
  });

  it('accepts typed arrays and tensors', () => {
    expect(mse(new Float32Array(T), fakeTensor(P, [2, 2]))).toBe(0.375);
    expect(mae(new Int32Array([1, 2]), new Int32Array([2, 4]))).toBe(1.5);
  });

  it('validates input', () => {
    expect(() => mae([], [])).toThrow(MetricsError);
    expect(() => mae([1, 2, 3], [1, 2])).toThrow('yTrue has length 3 but yPred has length 2');
    expect(() => r2([1, 2], [1, NaN])).toThrow('yPred[1] is NaN');
  });
});
