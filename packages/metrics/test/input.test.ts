import { describe, expect, it } from 'vitest';
import { MetricsError, accuracy, isTensorLike, mse, rocAuc, toArray, toMatrix } from '../src/index.js';
import { fakeIntTensor, fakeTensor } from './helpers.js';

describe('MetricsError', () => {
  it('is an Error whose name is the class name', () => {
    const e = new MetricsError('boom');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('MetricsError');
    expect(e.message).toBe('boom');
  });
});

describe('toArray', () => {
  it('accepts number[], Float32Array, Float64Array, Int32Array and tensors, returning a copy', () => {
    const src = new Float64Array([1, 2, 3]);
    const out = toArray(src);
    expect(out).toEqual(new Float64Array([1, 2, 3]));
    out[0] = 99;
    expect(src[0]).toBe(1);
    expect(toArray([1.5, -2])).toEqual(new Float64Array([1.5, -2]));
    expect(toArray(new Float32Array([0.5]))).toEqual(new Float64Array([0.5]));
    expect(toArray(new Int32Array([7, -7]))).toEqual(new Float64Array([7, -7]));
    // A [2, 2] tensor is flattened row-major.
    expect(toArray(fakeTensor([1, 2, 3, 4], [2, 2]))).toEqual(new Float64Array([1, 2, 3, 4]));
  });

  it('rejects a tensor whose data does not match its shape', () => {
    expect(() => toArray(fakeTensor([1, 2, 3], [2, 2]), 'x')).toThrow(/x has shape \[2, 2\] \(4 elements\) but dataSync\(\) returned 3/);
  });

  it('rejects non-numbers in plain arrays, naming the index', () => {
    expect(() => toArray([1, 'a' as unknown as number], 'yTrue')).toThrow(/yTrue\[1\] is not a number \(got string\)/);
  });

  it('isTensorLike recognises the structural interface only', () => {
    expect(isTensorLike(fakeTensor([1], [1]))).toBe(true);
    expect(isTensorLike([1, 2])).toBe(false);
    expect(isTensorLike({ shape: [1] })).toBe(false);
    expect(isTensorLike(null)).toBe(false);
  });
});

describe('toMatrix', () => {
  it('reads flat + cols, nested rows and [.., c] tensors identically', () => {
    const expected = { rows: 2, cols: 3, data: new Float64Array([1, 2, 3, 4, 5, 6]) };
    expect(toMatrix([1, 2, 3, 4, 5, 6], 3)).toEqual(expected);
    expect(toMatrix([[1, 2, 3], [4, 5, 6]])).toEqual(expected);
    expect(toMatrix([new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6])])).toEqual(expected);
    expect(toMatrix(fakeTensor([1, 2, 3, 4, 5, 6], [2, 3]))).toEqual(expected);
    expect(toMatrix(fakeTensor([1, 2, 3, 4, 5, 6], [6]), 3)).toEqual(expected);
    // Leading dimensions are flattened: [1, 2, 3] -> 2 rows of 3.
    expect(toMatrix(fakeTensor([1, 2, 3, 4, 5, 6], [1, 2, 3]))).toEqual(expected);
  });

  it('names the problem on ragged rows, bad lengths and missing column counts', () => {
    expect(() => toMatrix([[1, 2], [3]], undefined, 's')).toThrow(/s\[1\] has length 1 but s\[0\] has length 2/);
    expect(() => toMatrix([1, 2, 3], 2, 's')).toThrow(/s has length 3, which is not a multiple of 2 columns/);
    expect(() => toMatrix([1, 2, 3], undefined, 's')).toThrow(/pass the number of columns/);
    expect(() => toMatrix(fakeTensor([1, 2, 3, 4], [2, 2]), 4, 's')).toThrow(/last dimension 2 is not the given 4/);
  });
});

describe('shared validation', () => {
  it('empty input -> MetricsError', () => {
    expect(() => accuracy([], [])).toThrow(MetricsError);
    expect(() => accuracy([], [])).toThrow(/yTrue is empty/);
    expect(() => mse(new Float64Array(0), new Float64Array(0))).toThrow(/empty/);
  });

  it('mismatched lengths -> MetricsError naming both lengths', () => {
    expect(() => accuracy([0, 1, 1], [0, 1])).toThrow(MetricsError);
    expect(() => accuracy([0, 1, 1], [0, 1])).toThrow('yTrue has length 3 but yPred has length 2');
    expect(() => mse([1, 2], [1, 2, 3, 4])).toThrow('yTrue has length 2 but yPred has length 4');
  });

  it('NaN / Infinity -> MetricsError naming the index', () => {
    expect(() => rocAuc([0, 1], [0.2, NaN])).toThrow('yScore[1] is NaN; expected a finite number');
    expect(() => mse([1, Infinity], [1, 2])).toThrow('yTrue[1] is Infinity');
  });

  it('non-integer labels -> MetricsError naming the value', () => {
    expect(() => accuracy([0.5, 1], [0, 1])).toThrow('yTrue[0] = 0.5 is not an integer label');
    expect(() => accuracy([0, 1], [0, NaN])).toThrow('yPred[1] = NaN is not an integer label');
  });

  it('tensor-likes work anywhere an array is taken', () => {
    // labels as an int32 tensor [4], predictions as a float32 tensor [4, 1]
    expect(accuracy(fakeIntTensor([0, 1, 1, 0], [4]), fakeTensor([0, 1, 0, 0], [4, 1]))).toBe(0.75);
    // (1-2)^2 + (3-3)^2 = 1 over 2 samples
    expect(mse(fakeTensor([1, 3], [2]), [2, 3])).toBe(0.5);
  });
});
