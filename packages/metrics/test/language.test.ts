import { describe, expect, it } from 'vitest';
import { MetricsError, crossEntropy, perplexity, perplexityFromLosses, tokenCrossEntropy } from '../src/index.js';
import { fakeIntTensor, fakeTensor } from './helpers.js';

describe('crossEntropy / perplexity from logits', () => {
  it('uniform logits over V classes: loss ln V, perplexity V', () => {
    for (const V of [2, 5, 1000]) {
      const n = 3;
      // softmax of equal logits is 1/V everywhere -> -ln(1/V) = ln V per token
      const logits = new Float32Array(n * V).fill(7.5);
      const targets = [0, V - 1, Math.floor(V / 2)];
      expect(crossEntropy(logits, targets, { vocabSize: V })).toBeCloseTo(Math.log(V), 12);
      expect(perplexity(logits, targets, { vocabSize: V })).toBeCloseTo(V, 9);
    }
  });

  it('known per-token values', () => {
    // row 0: logits (0, 0),     target 0 -> ln(e^0 + e^0) - 0 = ln 2
    // row 1: logits (0, ln 3),  target 1 -> ln(1 + 3) - ln 3 = ln(4/3)
    const logits = [
      [0, 0],
      [0, Math.log(3)],
    ];
    const losses = tokenCrossEntropy(logits, [0, 1]);
    expect(losses[0]).toBeCloseTo(Math.LN2, 15);
    expect(losses[1]).toBeCloseTo(Math.log(4 / 3), 15);
    // mean = (ln 2 + ln 4/3) / 2 = ln(8/3) / 2 -> perplexity sqrt(8/3)
    expect(crossEntropy(logits, [0, 1])).toBeCloseTo(Math.log(8 / 3) / 2, 15);
    expect(perplexity(logits, [0, 1])).toBeCloseTo(Math.sqrt(8 / 3), 14);
  });

  it('is stable for huge logits (float64 log-sum-exp)', () => {
    // logits (1000, 0): target 0 -> ln(1 + e^-1000) ≈ 0; target 1 -> 1000 + ln(1 + e^-1000) ≈ 1000
    const losses = tokenCrossEntropy([1000, 0, 1000, 0], [0, 1], { vocabSize: 2 });
    expect(losses[0]).toBe(0);
    expect(losses[1]).toBe(1000);
    expect(crossEntropy([[-1e4, -1e4 + Math.log(3)]], [1])).toBeCloseTo(Math.log(4 / 3), 9);
  });

  it('ignoreIndex skips tokens (their per-token loss is 0)', () => {
    const logits = [
      [0, 0],
      [5, -5],
      [0, Math.log(3)],
    ];
    // token 1 ignored: mean over tokens 0 and 2 = (ln 2 + ln 4/3) / 2
    expect(crossEntropy(logits, [0, -100, 1], { ignoreIndex: -100 })).toBeCloseTo(Math.log(8 / 3) / 2, 15);
    expect(tokenCrossEntropy(logits, [0, -100, 1], { ignoreIndex: -100 })[1]).toBe(0);
    expect(() => crossEntropy(logits, [-100, -100, -100], { ignoreIndex: -100 })).toThrow(
      'all 3 targets equal ignoreIndex -100; nothing to score',
    );
  });

  it('accepts a [batch, time, vocab] tensor with [batch, time] targets', () => {
    // 2 × 2 tokens over V = 4, all logits equal -> perplexity 4
    const logits = fakeTensor(new Array(2 * 2 * 4).fill(0.25), [2, 2, 4]);
    expect(perplexity(logits, fakeIntTensor([0, 1, 2, 3], [2, 2]))).toBeCloseTo(4, 5);
  });

  it('masked (-Infinity) logits are allowed; NaN / +Infinity are not', () => {
    // logits (0, -inf, 0): softmax (1/2, 0, 1/2) -> target 0 costs ln 2, target 1 costs Infinity
    expect(crossEntropy([[0, -Infinity, 0]], [0])).toBeCloseTo(Math.LN2, 15);
    expect(crossEntropy([[0, -Infinity, 0]], [1])).toBe(Infinity);
    expect(() => crossEntropy([[0, NaN]], [0])).toThrow('logits[0][1] is NaN; expected a finite number or -Infinity');
    expect(() => crossEntropy([[Infinity, 0]], [0])).toThrow(/logits\[0\]\[0\] is Infinity/);
    expect(() => crossEntropy([[-Infinity, -Infinity]], [0])).toThrow('logits row 0 is entirely -Infinity');
  });

  it('validates targets and shapes', () => {
    expect(() => crossEntropy([[0, 0]], [2])).toThrow('targets[0] = 2 is not a token index in [0, 2)');
    expect(() => crossEntropy([[0, 0]], [0.5])).toThrow('targets[0] = 0.5 is not a token index in [0, 2)');
    expect(() => crossEntropy([0, 0, 0, 0], [0], { vocabSize: 2 })).toThrow('targets has length 1 but logits has 2 rows');
    expect(() => crossEntropy([0, 0, 0], [0])).toThrow(/pass the number of columns/);
    expect(() => crossEntropy([], [], { vocabSize: 3 })).toThrow(MetricsError);
  });
});

describe('perplexityFromLosses', () => {
  it('is exp(mean loss)', () => {
    // mean(ln 2, ln 8) = ln 16 / 2 = ln 4 -> 4
    expect(perplexityFromLosses([Math.log(2), Math.log(8)])).toBeCloseTo(4, 14);
    expect(perplexityFromLosses(new Float32Array([0, 0, 0]))).toBe(1);
    expect(perplexityFromLosses(fakeTensor([Math.log(5)], [1]))).toBeCloseTo(5, 5);
  });

  it('rejects empty input and NaN', () => {
    expect(() => perplexityFromLosses([])).toThrow('losses is empty');
    expect(() => perplexityFromLosses([1, NaN])).toThrow('losses[1] is NaN');
  });

  it('rejects negative losses (a cross-entropy in nats is >= 0) and -Infinity, naming the value', () => {
    expect(() => perplexityFromLosses([0.5, -0.25])).toThrow(MetricsError);
    expect(() => perplexityFromLosses([0.5, -0.25])).toThrow('losses[1] is -0.25; a cross-entropy loss in nats is a number >= 0 (or +Infinity)');
    expect(() => perplexityFromLosses([-Infinity])).toThrow('losses[0] is -Infinity');
    expect(perplexityFromLosses([0, Infinity])).toBe(Infinity);
  });
});
