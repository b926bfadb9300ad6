/** toString follows PyTorch's printing rules (torch/_tensor_str.py); expected strings are what PyTorch prints. */
import { beforeAll, describe, expect, it } from 'vitest';
import { arange, mul, ones, setBackend, tensor, zeros } from '../src/index.js';

beforeAll(async () => {
  await setBackend('reference');
});

describe('toString', () => {
  it('integer-valued floats print as `1.`', () => {
    expect(tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1., 2.],\n        [3., 4.]])');
  });

  it('fractional values use 4 decimals, right-aligned', () => {
    expect(tensor([1.5, -2.25, 3]).toString()).toBe('tensor([ 1.5000, -2.2500,  3.0000])');
    expect(tensor([[0.1, 20.25], [-3, 4]]).toString()).toBe('tensor([[ 0.1000, 20.2500],\n        [-3.0000,  4.0000]])');
  });

  it('scalars, i32 and empty tensors', () => {
    expect(tensor(3.5).toString()).toBe('tensor(3.5000)');
    expect(tensor([1, 22, 3], undefined, 'i32').toString()).toBe('tensor([ 1, 22,  3], dtype=i32)');
    expect(zeros([0]).toString()).toBe('tensor([])');
    expect(zeros([0, 3]).toString()).toBe('tensor([], size=(0, 3))');
    expect(zeros([3]).toString()).toBe('tensor([0., 0., 0.])');
  });

  it('scientific notation for wide ranges or tiny values', () => {
    expect(tensor([1e-5, 1]).toString()).toBe('tensor([1.0000e-05, 1.0000e+00])');
    expect(tensor([1, 5000]).toString()).toBe('tensor([1.0000e+00, 5.0000e+03])');
    expect(tensor([0.5, 2000.5]).toString()).toBe('tensor([5.0000e-01, 2.0005e+03])');
  });

  it('nan and inf, and Python-style rounding of exact ties', () => {
    expect(tensor([1, NaN, Infinity, -Infinity]).toString()).toBe('tensor([1., nan, inf, -inf])');
    expect(tensor([0.03125, 0.09375, -0.03125]).toString()).toBe('tensor([ 0.0312,  0.0938, -0.0312])');
  });

  it('autograd suffixes', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    expect(x.toString()).toBe('tensor([1., 2.], requires_grad=True)');
    expect(mul(x, 2).toString()).toBe('tensor([2., 4.], grad_fn=<MulBackward>)');
  });

  it('wraps long rows at 80 columns', () => {
    expect(arange(30).toString()).toBe(
      'tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n' +
        '        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n' +
        '        28., 29.])',
    );
  });

  it('nests dims with blank lines between 3-D blocks', () => {
    expect(arange(8).reshape([2, 2, 2]).toString()).toBe('tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])');
  });

  it('summarises past 1000 elements with ...', () => {
    expect(arange(2000).toString()).toBe('tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])');
    const row = '[1., 1., 1.,  ..., 1., 1., 1.]';
    const rows = [row, row, row, '...', row, row, row];
    expect(ones([40, 30]).toString()).toBe(`tensor([${rows.join(',\n        ')}])`);
  });

  it('prints a non-contiguous view in logical order', () => {
    expect(tensor([[1, 2, 3], [4, 5, 6]]).transpose(0, 1).toString()).toBe('tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])');
  });
});
