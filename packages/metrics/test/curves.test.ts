import { describe, expect, it } from 'vitest';
import { MetricsError, averagePrecision, precisionRecallCurve, rocAuc, rocCurve } from '../src/index.js';
import { fakeIntTensor, fakeTensor } from './helpers.js';

// Tied-score case:
//   yTrue  : 0    0    1    1    0    1
//   yScore : 0.1  0.5  0.5  0.9  0.3  0.3
// positives {0.5, 0.9, 0.3}, negatives {0.1, 0.5, 0.3}; 3·3 = 9 pairs; win = 1, tie = 1/2.
//   pos 0.5 vs (0.1, 0.5, 0.3) = 1 + 1/2 + 1 = 2.5
//   pos 0.9 vs all             = 3
//   pos 0.3 vs (0.1, 0.5, 0.3) = 1 + 0   + 1/2 = 1.5
// U = 7 -> AUC = 7/9.
const TT = [0, 0, 1, 1, 0, 1];
const TS = [0.1, 0.5, 0.5, 0.9, 0.3, 0.3];

describe('rocCurve', () => {
  it('collapses tied scores into one point per distinct threshold', () => {
    // threshold 0.9: tp 1 fp 0; 0.5: tp 2 fp 1; 0.3: tp 3 fp 2; 0.1: tp 3 fp 3 (3 positives, 3 negatives)
    const r = rocCurve(TT, TS);
    expect(r.thresholds).toEqual([Infinity, 0.9, 0.5, 0.3, 0.1]);
    expect(r.fpr).toEqual([0, 0, 1 / 3, 2 / 3, 1]);
    expect(r.tpr).toEqual([0, 1 / 3, 2 / 3, 1, 1]);
    // trapezoid area: 0 + (1/3)(1/3 + 2/3)/2 + (1/3)(2/3 + 1)/2 + (1/3)(1) = 1/6 + 5/18 + 1/3 = 7/9
  });

  it('matches the scikit-learn docstring example', () => {
    const r = rocCurve([1, 1, 2, 2], [0.1, 0.4, 0.35, 0.8], { posLabel: 2 });
    expect(r.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(r.tpr).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(r.thresholds).toEqual([Infinity, 0.8, 0.4, 0.35, 0.1]);
  });

  it('dropIntermediate removes collinear points', () => {
    // scores 4,3,2,1 with labels 1,1,0,0: points (0,0) (0,.5) (0,1) (.5,1) (1,1);
    // (.5,1) lies on the segment from (0,1) to (1,1), so its threshold (2) is dropped
    const r = rocCurve([1, 1, 0, 0], [4, 3, 2, 1], { dropIntermediate: true });
    expect(r.fpr).toEqual([0, 0, 0, 1]);
    expect(r.tpr).toEqual([0, 0.5, 1, 1]);
    expect(r.thresholds).toEqual([Infinity, 4, 3, 1]);
  });

  it('one class only -> typed error', () => {
    expect(() => rocCurve([1, 1, 1], [0.1, 0.2, 0.3])).toThrow(MetricsError);
  });
});

describe('rocAuc', () => {
  it('counts ties as 1/2 (Mann–Whitney U)', () => {
    expect(rocAuc(TT, TS)).toBeCloseTo(7 / 9, 15);
  });

  it('perfect classifier -> 1, inverted -> 0, all scores equal -> 1/2', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])).toBe(1);
    expect(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])).toBe(0);
    // every one of the 4 pairs is a tie: U = 4 · 1/2 = 2 -> 2/4
    expect(rocAuc([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
  });

  it('scikit-learn docstring example: 0.75', () => {
    // pairs (pos, neg): (0.35, 0.1) win, (0.35, 0.4) loss, (0.8, 0.1) win, (0.8, 0.4) win -> 3/4
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
  });

  it('one class only -> typed error', () => {
    expect(() => rocAuc([1, 1, 1], [0.1, 0.2, 0.3])).toThrow(MetricsError);
    expect(() => rocAuc([0, 0], [0.1, 0.2])).toThrow(
      'only one class present in yTrue (all 2 samples are negative); ROC AUC is not defined in that case',
    );
    // posLabel absent from yTrue also leaves a single class
    expect(() => rocAuc([0, 1], [0.1, 0.2], { posLabel: 5 })).toThrow(/only one class/);
  });

  it('validates labels and scores', () => {
    expect(() => rocAuc([0, 1, 2], [0.1, 0.2, 0.3])).toThrow('yTrue must be binary but contains 3 labels: {0, 1, 2}');
    expect(() => rocAuc([2, 3], [0.1, 0.2])).toThrow('yTrue labels {2, 3} are not {0, 1} or {-1, 1}; pass posLabel');
    expect(rocAuc([2, 3], [0.1, 0.2], { posLabel: 3 })).toBe(1);
    expect(rocAuc([-1, 1], [0.1, 0.2])).toBe(1);
    expect(() => rocAuc([0, 1, 1], [0.3, NaN, 0.1])).toThrow('yScore[1] is NaN');
    expect(() => rocAuc([0, 1, 1], [0.3, 0.1])).toThrow('yTrue has length 3 but yScore has length 2');
    expect(() => rocAuc([], [])).toThrow(/empty/);
  });

  it('accepts tensors', () => {
    expect(rocAuc(fakeIntTensor(TT, [6]), fakeTensor(TS, [6, 1]))).toBeCloseTo(7 / 9, 6);
  });
});

describe('precisionRecallCurve / averagePrecision', () => {
  // yTrue  : 1    0    1    0    1
  // yScore : 0.9  0.8  0.6  0.6  0.1     (3 positives)
  // threshold 0.9: tp 1 fp 0 -> P 1,   R 1/3
  //           0.8: tp 1 fp 1 -> P 1/2, R 1/3
  //           0.6: tp 2 fp 2 -> P 1/2, R 2/3   (the tie at 0.6 is one point)
  //           0.1: tp 3 fp 2 -> P 3/5, R 1
  const yT = [1, 0, 1, 0, 1];
  const yS = [0.9, 0.8, 0.6, 0.6, 0.1];

  it('curve in scikit-learn order (thresholds increasing, final point P = 1, R = 0)', () => {
    const c = precisionRecallCurve(yT, yS);
    expect(c.thresholds).toEqual([0.1, 0.6, 0.8, 0.9]);
    expect(c.precision).toEqual([3 / 5, 1 / 2, 1 / 2, 1, 1]);
    expect(c.recall).toEqual([1, 2 / 3, 1 / 3, 1 / 3, 0]);
  });

  it('AP = sum (R_n - R_{n-1}) P_n', () => {
    // (1/3 - 0)·1 + (1/3 - 1/3)·1/2 + (2/3 - 1/3)·1/2 + (1 - 2/3)·3/5 = 1/3 + 0 + 1/6 + 1/5 = 21/30 = 0.7
    expect(averagePrecision(yT, yS)).toBeCloseTo(0.7, 15);
    // scikit-learn docstring example: 1/2·1 + 1/2·2/3 = 5/6
    expect(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(5 / 6, 15);
  });

  it('perfect ranking -> AP 1; all scores equal -> AP = positive rate', () => {
    expect(averagePrecision([0, 1, 1], [0.1, 0.8, 0.9])).toBe(1);
    // one threshold: P = 2/5, R 0 -> 1
    expect(averagePrecision(yT.map((v) => 1 - v), [1, 1, 1, 1, 1])).toBe(2 / 5);
  });

  it('no positives -> typed error; no negatives is fine', () => {
    expect(() => averagePrecision([0, 0], [0.1, 0.2])).toThrow(/yTrue has no positive samples among 2/);
    expect(() => precisionRecallCurve([0, 0], [0.1, 0.2])).toThrow(MetricsError);
    expect(averagePrecision([1, 1], [0.1, 0.2])).toBe(1);
  });

  it('NaN in scores -> typed error', () => {
    expect(() => averagePrecision([0, 1], [NaN, 0.2])).toThrow('yScore[0] is NaN');
  });
});
