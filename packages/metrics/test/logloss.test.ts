import { describe, expect, it } from 'vitest';
import { MetricsError, logLoss } from '../src/index.js';
import { fakeIntTensor, fakeTensor } from './helpers.js';

describe('logLoss', () => {
  it('binary: mean of -ln p(true label)', () => {
    // yTrue 1, 0, 1 with p(1) = 0.9, 0.2, 0.6 -> p(true) = 0.9, 0.8, 0.6
    // loss = -(ln 0.9 + ln 0.8 + ln 0.6) / 3 = -ln(0.432) / 3 ≈ 0.2797766
    expect(logLoss([1, 0, 1], [0.9, 0.2, 0.6])).toBeCloseTo(-Math.log(0.432) / 3, 14);
    expect(logLoss([1, 0, 1], [0.9, 0.2, 0.6])).toBeCloseTo(0.2797766, 7);
    expect(logLoss([1, 0, 1], [0.9, 0.2, 0.6], { normalize: false })).toBeCloseTo(-Math.log(0.432), 14);
    // an [n, 1] matrix is the same binary case
    expect(logLoss([1, 0, 1], [[0.9], [0.2], [0.6]])).toBeCloseTo(-Math.log(0.432) / 3, 14);
  });

  it('multiclass: -ln P[i][yTrue[i]] averaged', () => {
    // rows: p(0) = 0.7 for sample 0, p(2) = 0.6 for sample 1 -> -(ln 0.7 + ln 0.6) / 2 = -ln(0.42) / 2 ≈ 0.4337503
    const P = [
      [0.7, 0.2, 0.1],
      [0.1, 0.3, 0.6],
    ];
    const expected = -Math.log(0.42) / 2;
    expect(logLoss([0, 2], P)).toBeCloseTo(expected, 14);
    expect(logLoss([0, 2], P)).toBeCloseTo(0.4337503, 7);
    expect(logLoss([0, 2], P.flat(), { numClasses: 3 })).toBeCloseTo(expected, 14);
    expect(logLoss(fakeIntTensor([0, 2], [2]), fakeTensor(P.flat(), [2, 3]))).toBeCloseTo(expected, 6);
  });

  it('clips with eps (default 2^-52, like scikit-learn for float64)', () => {
    // p(true) = 0 -> clipped to eps -> -ln(2^-52) = 52 ln 2 ≈ 36.0437
    expect(logLoss([1], [0])).toBeCloseTo(52 * Math.LN2, 10);
    expect(logLoss([1], [0], { eps: 1e-15 })).toBeCloseTo(-Math.log(1e-15), 10);
    // perfect predictions: -ln(1 - eps) ≈ eps
    expect(logLoss([0, 1], [0, 1])).toBeCloseTo(0, 14);
    expect(logLoss([0, 1], [[1, 0], [0, 1]])).toBeCloseTo(0, 14);
  });

  it('validates labels, probabilities and shapes', () => {
    expect(() => logLoss([0, 2], [0.5, 0.5])).toThrow('yTrue[1] = 2 is not a binary label (0 or 1)');
    expect(() => logLoss([0, 3], [[1, 0, 0], [0, 1, 0]])).toThrow('yTrue[1] = 3 is not a class index in [0, 3)');
    expect(() => logLoss([0, 1], [0.5, 1.5])).toThrow('yProb[1] = 1.5 is not a probability in [0, 1]');
    expect(() => logLoss([0, 1], [0.5, NaN])).toThrow('yProb[1] = NaN is not a probability in [0, 1]');
    expect(() => logLoss([0, 1], [[0.5, 0.2], [0.5, 0.5]])).toThrow(/yProb row 0 sums to 0.7, not 1/);
    expect(() => logLoss([0, 1, 1], [0.5, 0.5])).toThrow('yTrue has length 3 but yProb has length 2');
    expect(() => logLoss([0], [[0.5, 0.5], [0.5, 0.5]])).toThrow('yTrue has length 1 but yProb has 2 rows');
    expect(() => logLoss([], [])).toThrow(MetricsError);
  });
});
