import { describe, expect, it } from 'vitest';
import {
  MetricsError,
  accuracy,
  confusionMatrix,
  f1Score,
  fbetaScore,
  precisionRecallFscoreSupport,
  precisionScore,
  recallScore,
  topKAccuracy,
} from '../src/index.js';
import { fakeIntTensor, fakeTensor } from './helpers.js';

// 10-sample binary case (positive label 1):
//   index : 0 1 2 3 4 5 6 7 8 9
//   yTrue : 1 1 1 1 0 0 0 0 0 1
//   yPred : 1 1 1 0 1 0 0 0 0 0
// TP = {0,1,2} = 3, FN = {3,9} = 2, FP = {4} = 1, TN = {5,6,7,8} = 4.
const BT = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1];
const BP = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0];

// 3-class case:
//   index : 0 1 2 3 4 5 6 7 8 9
//   yTrue : 0 0 0 0 1 1 1 2 2 2      support = [4, 3, 3]
//   yPred : 0 0 1 2 1 1 0 2 2 1
// class 0: predicted at {0,1,6} -> 3, tp {0,1} = 2, true 4  -> P 2/3, R 2/4, F1 2·2/(2·2+1+2) = 4/7
// class 1: predicted at {2,4,5,9} -> 4, tp {4,5} = 2, true 3 -> P 2/4, R 2/3, F1 4/(4+2+1) = 4/7
// class 2: predicted at {3,7,8} -> 3, tp {7,8} = 2, true 3  -> P 2/3, R 2/3, F1 4/(4+1+1) = 2/3
const MT = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
const MP = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];

describe('accuracy', () => {
  it('counts matches', () => {
    // matches at 0,1,2,5,6,7,8 -> 7 of 10
    expect(accuracy(BT, BP)).toBe(0.7);
    expect(accuracy(BT, BP, { normalize: false })).toBe(7);
    // 3-class: matches at 0,1,4,5,7,8 -> 6 of 10
    expect(accuracy(MT, MP)).toBe(0.6);
  });
});

describe('binary precision / recall / F', () => {
  it('matches the hand counts', () => {
    expect(precisionScore(BT, BP)).toBe(3 / 4); // TP / (TP + FP) = 3 / 4
    expect(recallScore(BT, BP)).toBe(3 / 5); // TP / (TP + FN) = 3 / 5
    expect(f1Score(BT, BP)).toBeCloseTo(2 / 3, 15); // 2·3 / (2·3 + 1 + 2) = 6/9
  });

  it('F-beta with beta = 2 and 0.5', () => {
    // F2 = 5·TP / (5·TP + 4·FN + FP) = 15 / (15 + 8 + 1) = 15/24 = 0.625
    // (check: (1+4)·0.75·0.6 / (4·0.75 + 0.6) = 2.25 / 3.6 = 0.625)
    expect(fbetaScore(BT, BP, { beta: 2 })).toBeCloseTo(0.625, 15);
    // F0.5 = 1.25·3 / (1.25·3 + 0.25·2 + 1) = 3.75 / 5.25 = 5/7
    expect(fbetaScore(BT, BP, { beta: 0.5 })).toBeCloseTo(5 / 7, 15);
    // beta = Infinity is recall, beta = 0 is precision
    expect(fbetaScore(BT, BP, { beta: Infinity })).toBe(0.6);
    expect(fbetaScore(BT, BP, { beta: 0 })).toBe(0.75);
    expect(() => fbetaScore(BT, BP, { beta: -1 })).toThrow(/beta must be a number >= 0, got -1/);
  });

  it('posLabel switches the positive class', () => {
    // positive = 0: TP = TN above = 4, FP = predicted 0 but true 1 = {3,9} = 2, FN = {4} = 1
    expect(precisionScore(BT, BP, { posLabel: 0 })).toBe(4 / 6);
    expect(recallScore(BT, BP, { posLabel: 0 })).toBe(4 / 5);
  });

  it('works with {-1, 1} labels and rejects multiclass data or a foreign posLabel', () => {
    expect(precisionScore([-1, 1, 1], [1, 1, -1])).toBe(1 / 2);
    expect(() => precisionScore(MT, MP)).toThrow(/average 'binary' needs at most two labels but yTrue and yPred contain 3: \{0, 1, 2\}/);
    expect(() => precisionScore([2, 3], [3, 3])).toThrow('posLabel 1 is not one of the labels {2, 3}');
    expect(precisionScore([2, 3], [3, 3], { posLabel: 3 })).toBe(1 / 2);
  });

  it('zero division: no predicted positives -> 0 by default (1 or NaN on request), no warning', () => {
    // yPred has no 1s: precision = 0 / 0 -> zeroDivision; recall = 0 / 2 = 0 is well defined.
    const t = [0, 0, 1, 1];
    const p = [0, 0, 0, 0];
    expect(precisionScore(t, p)).toBe(0);
    expect(precisionScore(t, p, { zeroDivision: 1 })).toBe(1);
    expect(precisionScore(t, p, { zeroDivision: NaN })).toBeNaN();
    expect(recallScore(t, p, { zeroDivision: 1 })).toBe(0);
    // F1 = 2·0 / (2·0 + 0 + 2) = 0: defined, so zeroDivision does not apply.
    expect(f1Score(t, p, { zeroDivision: 1 })).toBe(0);
    // One class only (all negatives, all predicted negative): every ratio is 0/0.
    expect(precisionScore([0, 0, 0], [0, 0, 0])).toBe(0);
    expect(recallScore([0, 0, 0], [0, 0, 0])).toBe(0);
    expect(f1Score([0, 0, 0], [0, 0, 0], { zeroDivision: 1 })).toBe(1);
    expect(() => precisionScore(t, p, { zeroDivision: 0.5 })).toThrow(/zeroDivision must be 0, 1 or NaN, got 0.5/);
  });

  it('all predictions equal (all positive)', () => {
    // yPred all 1: TP = 5, FP = 5, FN = 0 -> P = 1/2, R = 1, F1 = 10/15
    const allOnes = new Array(10).fill(1);
    expect(precisionScore(BT, allOnes)).toBe(0.5);
    expect(recallScore(BT, allOnes)).toBe(1);
    expect(f1Score(BT, allOnes)).toBeCloseTo(2 / 3, 15);
  });
});

describe('multiclass averages', () => {
  it("average 'none' gives per-class scores in label order", () => {
    expect(precisionScore(MT, MP, { average: 'none' })).toEqual([2 / 3, 2 / 4, 2 / 3]);
    expect(recallScore(MT, MP, { average: 'none' })).toEqual([2 / 4, 2 / 3, 2 / 3]);
    const f = f1Score(MT, MP, { average: 'none' });
    [4 / 7, 4 / 7, 2 / 3].forEach((v, i) => expect(f[i]).toBeCloseTo(v, 15));
    const all = precisionRecallFscoreSupport(MT, MP, { average: 'none' });
    expect(all.labels).toEqual([0, 1, 2]);
    expect(all.support).toEqual([4, 3, 3]);
  });

  it('micro = pooled counts = accuracy here', () => {
    // sum TP = 6, sum predicted = sum true = 10 -> P = R = F1 = 0.6
    expect(precisionScore(MT, MP, { average: 'micro' })).toBe(0.6);
    expect(recallScore(MT, MP, { average: 'micro' })).toBe(0.6);
    expect(f1Score(MT, MP, { average: 'micro' })).toBe(0.6);
  });

  it('macro = unweighted mean over classes', () => {
    // P = (2/3 + 1/2 + 2/3) / 3 = 11/18; R = (1/2 + 2/3 + 2/3) / 3 = 11/18
    // F1 = (4/7 + 4/7 + 2/3) / 3 = (24/21 + 14/21) / 3 = 38/63
    expect(precisionScore(MT, MP, { average: 'macro' })).toBeCloseTo(11 / 18, 15);
    expect(recallScore(MT, MP, { average: 'macro' })).toBeCloseTo(11 / 18, 15);
    expect(f1Score(MT, MP, { average: 'macro' })).toBeCloseTo(38 / 63, 15);
  });

  it('weighted = support-weighted mean over classes', () => {
    // P = (4·2/3 + 3·1/2 + 3·2/3) / 10 = (16/6 + 9/6 + 12/6) / 10 = 37/60
    // R = (4·1/2 + 3·2/3 + 3·2/3) / 10 = 6/10 (weighted recall is always accuracy)
    // F1 = (4·4/7 + 3·4/7 + 3·2/3) / 10 = (4 + 2) / 10 = 0.6
    expect(precisionScore(MT, MP, { average: 'weighted' })).toBeCloseTo(37 / 60, 15);
    expect(recallScore(MT, MP, { average: 'weighted' })).toBeCloseTo(0.6, 15);
    expect(f1Score(MT, MP, { average: 'weighted' })).toBeCloseTo(0.6, 15);
    const r = precisionRecallFscoreSupport(MT, MP, { average: 'weighted' });
    expect(r.support).toBe(10);
  });

  it('macro F-beta with beta = 2', () => {
    // F2_c = 5·tp / (5·tp + 4·fn + fp)
    // class 0: tp 2, fn 2, fp 1 -> 10/19; class 1: tp 2, fn 1, fp 2 -> 10/16; class 2: tp 2, fn 1, fp 1 -> 10/15
    expect(fbetaScore(MT, MP, { beta: 2, average: 'macro' })).toBeCloseTo((10 / 19 + 10 / 16 + 10 / 15) / 3, 15);
    expect(precisionRecallFscoreSupport(MT, MP, { beta: 2, average: 'micro' }).fScore).toBeCloseTo(0.6, 15);
  });

  it('explicit labels add absent classes (scored zeroDivision) and fix the order', () => {
    // label 3 never occurs: P = R = F = 0 -> macro P = (2/3 + 1/2 + 2/3 + 0) / 4 = 11/24
    expect(precisionScore(MT, MP, { average: 'macro', labels: [0, 1, 2, 3] })).toBeCloseTo(11 / 24, 15);
    // with zeroDivision NaN the absent class is skipped by the average (back to 11/18)
    expect(precisionScore(MT, MP, { average: 'macro', labels: [0, 1, 2, 3], zeroDivision: NaN })).toBeCloseTo(11 / 18, 15);
    expect(recallScore(MT, MP, { average: 'none', labels: [2, 0] })).toEqual([2 / 3, 2 / 4]);
    // micro over labels {0, 1} only: tp = 4, predicted = 3 + 4 = 7, true = 4 + 3 = 7
    expect(precisionScore(MT, MP, { average: 'micro', labels: [0, 1] })).toBe(4 / 7);
    expect(() => precisionScore(MT, MP, { average: 'macro', labels: [0, 0] })).toThrow('labels[1] = 0 is a duplicate label');
  });

  it('rejects an unknown average', () => {
    expect(() => precisionScore(MT, MP, { average: 'samples' as 'macro' })).toThrow(/average must be one of/);
  });
});

describe('confusionMatrix', () => {
  it('rows = true labels, columns = predictions', () => {
    // binary: true 0 -> predicted 0 four times (TN), 1 once (FP); true 1 -> 0 twice (FN), 1 three times (TP)
    expect(confusionMatrix(BT, BP)).toEqual([
      [4, 1],
      [2, 3],
    ]);
    // 3-class: row 0 = preds of {0,1,2,3} = 0,0,1,2; row 1 = preds of {4,5,6} = 1,1,0; row 2 = preds of {7,8,9} = 2,2,1
    expect(confusionMatrix(MT, MP)).toEqual([
      [2, 1, 1],
      [1, 2, 0],
      [0, 1, 2],
    ]);
  });

  it('explicit labels reorder, add empty rows and drop unlisted samples', () => {
    expect(confusionMatrix(MT, MP, { labels: [2, 0, 5] })).toEqual([
      [2, 0, 0],
      [1, 2, 0],
      [0, 0, 0],
    ]);
    expect(() => confusionMatrix([0, 1], [0, 1], { labels: [7, 8] })).toThrow('none of labels {7, 8} occurs in yTrue');
  });

  it('normalizes over rows, columns or everything', () => {
    expect(confusionMatrix(BT, BP, { normalize: 'true' })).toEqual([
      [4 / 5, 1 / 5],
      [2 / 5, 3 / 5],
    ]);
    expect(confusionMatrix(BT, BP, { normalize: 'pred' })).toEqual([
      [4 / 6, 1 / 4],
      [2 / 6, 3 / 4],
    ]);
    expect(confusionMatrix(BT, BP, { normalize: 'all' })).toEqual([
      [0.4, 0.1],
      [0.2, 0.3],
    ]);
  });
});

describe('topKAccuracy', () => {
  // row 0: true 0 is the max                      -> rank 1
  // row 1: true 1 (0.4) is the max                -> rank 1
  // row 2: true 2 (0.2) behind 0.4, 0.3           -> rank 3
  // row 3: true 2 (0.1) behind 0.7 and tied with class 1 (lower index wins the tie) -> rank 3
  const yTrue = [0, 1, 2, 2];
  const rows = [
    [0.5, 0.2, 0.2, 0.1],
    [0.3, 0.4, 0.2, 0.1],
    [0.4, 0.3, 0.2, 0.1],
    [0.7, 0.1, 0.1, 0.1],
  ];

  it('counts the true class within the k best (nested rows)', () => {
    expect(topKAccuracy(yTrue, rows, 1)).toBe(0.5); // rows 0, 1
    expect(topKAccuracy(yTrue, rows, 2)).toBe(0.5);
    expect(topKAccuracy(yTrue, rows, 3)).toBe(1);
    expect(topKAccuracy(yTrue, rows, 9)).toBe(1); // k >= classes: always a hit
    expect(topKAccuracy(yTrue, rows, 1, { normalize: false })).toBe(2);
  });

  it('accepts flat + numClasses and a [n, c] tensor', () => {
    expect(topKAccuracy(yTrue, rows.flat(), 3, { numClasses: 4 })).toBe(1);
    expect(topKAccuracy(fakeIntTensor(yTrue, [4]), fakeTensor(rows.flat(), [4, 4]), 1)).toBe(0.5);
  });

  it('k = 1 agrees with a first-max argmax on ties', () => {
    expect(topKAccuracy([0, 1], [[0.5, 0.5], [0.5, 0.5]], 1)).toBe(0.5);
  });

  it('validates k, class indices, rows and scores', () => {
    expect(() => topKAccuracy(yTrue, rows, 0)).toThrow('k must be a positive integer, got 0');
    expect(() => topKAccuracy([0, 4, 1, 1], rows, 1)).toThrow('yTrue[1] = 4 is not a class index in [0, 4)');
    expect(() => topKAccuracy([0, 1], rows, 1)).toThrow('yTrue has length 2 but yScore has 4 rows');
    expect(() => topKAccuracy([0], [[0.1, NaN]], 1)).toThrow('yScore[1] is NaN');
    expect(() => topKAccuracy([], [], 1, { numClasses: 3 })).toThrow(MetricsError);
  });
});
