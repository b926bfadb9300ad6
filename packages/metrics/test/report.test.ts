import { describe, expect, it } from 'vitest';
import { classificationReport, classificationReportDict } from '../src/index.js';

// yTrue = [0, 1, 2, 2, 2], yPred = [0, 0, 2, 2, 1]
//   ant  (0): predicted {0,1} -> 2, tp 1, support 1 -> P 0.50, R 1.00, F1 2·1/(2+1+0) = 0.67
//   bird (1): predicted {4}   -> 1, tp 0, support 1 -> P 0.00, R 0.00, F1 0.00
//   cat  (2): predicted {2,3} -> 2, tp 2, support 3 -> P 1.00, R 0.67, F1 2·2/(4+0+1) = 0.80
//   accuracy = 3/5 = 0.60
//   macro:    P (0.5 + 0 + 1)/3 = 0.50,  R (1 + 0 + 2/3)/3 = 5/9 = 0.56,  F1 (2/3 + 0 + 4/5)/3 = 22/45 = 0.49
//   weighted: P (0.5 + 0 + 3)/5 = 0.70,  R (1 + 0 + 2)/5 = 0.60,          F1 (2/3 + 0 + 12/5)/5 = 0.6133 = 0.61
// Layout (scikit-learn): width = max(longest name, len('weighted avg') = 12, digits) = 12;
// header = 12 spaces + ' ' + each of the 4 headings right-aligned in ' ' + 9 columns;
// rows = name right-aligned to 12 + ' ' + ' %9.2f' x3 + ' %9d'; the accuracy row leaves P and R blank.
const YT = [0, 1, 2, 2, 2];
const YP = [0, 0, 2, 2, 1];

describe('classificationReport', () => {
  it('lays the table out like scikit-learn', () => {
    const expected = [
      '              precision    recall  f1-score   support',
      '',
      '         ant       0.50      1.00      0.67         1',
      '        bird       0.00      0.00      0.00         1',
      '         cat       1.00      0.67      0.80         3',
      '',
      '    accuracy                           0.60         5',
      '   macro avg       0.50      0.56      0.49         5',
      'weighted avg       0.70      0.60      0.61         5',
      '',
    ].join('\n');
    expect(classificationReport(YT, YP, { targetNames: ['ant', 'bird', 'cat'] })).toBe(expected);
  });

  it('defaults names to the labels and honours digits', () => {
    // digits 3: 2/3 -> 0.667, 5/9 -> 0.556, 22/45 = 0.48888 -> 0.489, 0.61333 -> 0.613
    const expected = [
      '              precision    recall  f1-score   support',
      '',
      '           0      0.500     1.000     0.667         1',
      '           1      0.000     0.000     0.000         1',
      '           2      1.000     0.667     0.800         3',
      '',
      '    accuracy                          0.600         5',
      '   macro avg      0.500     0.556     0.489         5',
      'weighted avg      0.700     0.600     0.613         5',
      '',
    ].join('\n');
    expect(classificationReport(YT, YP, { digits: 3 })).toBe(expected);
  });

  it('widens for long names and rounds exact halves to even like Python', () => {
    // yTrue = [1, 0×7], yPred all 1:
    //   negative (0): predicted 0 times -> P 0 (zero division), R 0/7 = 0, F1 0, support 7
    //   long     (1): predicted 8 times, tp 1 -> P 1/8 = 0.125 -> '0.12' (half to even), R 1, F1 2/(2+7) = 0.22
    //   accuracy 1/8 = 0.125 -> '0.12'
    //   macro: P 0.0625 -> '0.06' (half to even), R 0.50, F1 1/9 = 0.11
    //   weighted: P 0.125/8 = 0.015625 -> '0.02', R 1/8 -> '0.12', F1 (2/9)/8 = 0.0278 -> '0.03'
    // width = len('a rather long name') = 18
    const expected = [
      '                    precision    recall  f1-score   support',
      '',
      '          negative       0.00      0.00      0.00         7',
      'a rather long name       0.12      1.00      0.22         1',
      '',
      '          accuracy                           0.12         8',
      '         macro avg       0.06      0.50      0.11         8',
      '      weighted avg       0.02      0.12      0.03         8',
      '',
    ].join('\n');
    const yTrue = [1, 0, 0, 0, 0, 0, 0, 0];
    const yPred = [1, 1, 1, 1, 1, 1, 1, 1];
    expect(classificationReport(yTrue, yPred, { targetNames: ['negative', 'a rather long name'] })).toBe(expected);
  });

  it('shows a micro avg row instead of accuracy when labels leave a class out', () => {
    // labels [0, 2]: micro over those labels: tp 1 + 2 = 3, predicted 2 + 2 = 4, true 1 + 3 = 4 -> P R F1 0.75 (0.75 -> '0.75')
    const text = classificationReport(YT, YP, { labels: [0, 2] });
    expect(text).toContain('   micro avg       0.75      0.75      0.75         4\n');
    expect(text).not.toContain('accuracy');
  });

  it('rejects a wrong number of target names', () => {
    expect(() => classificationReport(YT, YP, { targetNames: ['a', 'b'] })).toThrow('targetNames has 2 names but there are 3 labels');
  });
});

describe('classificationReportDict', () => {
  it('returns the numbers behind the table', () => {
    const d = classificationReportDict(YT, YP, { targetNames: ['ant', 'bird', 'cat'] });
    expect(d.classes.map((c) => [c.label, c.name, c.support])).toEqual([
      [0, 'ant', 1],
      [1, 'bird', 1],
      [2, 'cat', 3],
    ]);
    expect(d.classes[0].precision).toBe(0.5);
    expect(d.classes[2].f1Score).toBeCloseTo(0.8, 15);
    expect(d.accuracy).toBe(0.6);
    expect(d.microAvg).toBeUndefined();
    expect(d.macroAvg.recall).toBeCloseTo(5 / 9, 15);
    expect(d.macroAvg.f1Score).toBeCloseTo(22 / 45, 15);
    expect(d.weightedAvg.precision).toBeCloseTo(0.7, 15);
    expect(d.weightedAvg.support).toBe(5);
  });
});
