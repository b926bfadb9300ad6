import { ArgumentError, DTypeError, DisposedError, IndexError, ReferenceBackend, ShapeError, UnsupportedError } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { AutogradError, getBackend, ones, setBackend, tensor, zeros } from '../src/index.js';

const ids = (v: number[], shape?: number[]) => tensor(v, shape, 'i32');

describe('errors', () => {
  // Must run before any backend is set in this file.
  it('asks for a backend when none is set', () => {
    expect(() => getBackend()).toThrow(UnsupportedError);
    expect(() => ones([1])).toThrow(/call `await ready\(\)`/);
  });

  it('shape mismatch in matmul names both shapes', async () => {
    await setBackend('reference');
    expect(() => T.matmul(ones([2, 3]), ones([4, 5]))).toThrow(ShapeError);
    expect(() => T.matmul(ones([2, 3]), ones([4, 5]))).toThrow('matmul: shapes [2, 3] and [4, 5] do not fit: a has 3 columns but b has 4 rows');
    expect(() => T.matmul(ones([3]), ones([4]))).toThrow(/\[3\] and \[4\]/);
    expect(() => T.matmul(ones([2, 2, 3]), ones([3, 3, 4]))).toThrow('matmul: shapes [2, 2, 3] and [3, 3, 4] do not fit: batch shapes [2] and [3] cannot be broadcast together (dimension 0: 2 vs 3)');
    expect(() => T.matmul(ones([]), ones([3]))).toThrow(ShapeError);
  });

  it('broadcast mismatch names the op and the shapes', () => {
    expect(() => T.add(ones([2, 3]), ones([4]))).toThrow(ShapeError);
    expect(() => T.add(ones([2, 3]), ones([4]))).toThrow('add: shapes [2, 3] and [4] cannot be broadcast together (dimension 1: 3 vs 4)');
    expect(() => T.where(ones([2]), ones([3]), 0)).toThrow(/where: shapes \[2\] and \[3\]/);
    expect(() => ones([2, 3]).expand([4, 3])).toThrow(/expand: cannot expand shape \[2, 3\] to \[4, 3\]/);
  });

  it('dtype mismatch and unsupported dtypes', () => {
    expect(() => T.add(ones([2]), ids([1, 2]))).toThrow(DTypeError);
    expect(() => T.add(ones([2]), ids([1, 2]))).toThrow('add: dtype mismatch: [2] f32 vs [2] i32');
    expect(() => T.matmul(ids([1, 2, 3, 4], [2, 2]), ones([2, 2]))).toThrow(DTypeError);
    expect(() => T.matmul(ids([1, 2, 3, 4], [2, 2]), ones([2, 2]))).toThrow(/matmul: a of shape \[2, 2\] has dtype i32, expected f32/);
    expect(() => T.exp(ids([1]))).toThrow(/exp: input of shape \[1\] has dtype i32/);
    expect(() => T.embedding(ones([3, 2]), ones([2]))).toThrow(/embedding: ids of shape \[2\] has dtype f32, expected i32/);
    expect(() => T.crossEntropy(ones([2, 3]), ones([2]))).toThrow(DTypeError);
    expect(() => tensor([1.5], undefined, 'i32')).toThrow(/value 1.5 at flat index 0 is not a 32-bit integer/);
  });

  it('backward on a non-scalar without a gradient', () => {
    const x = ones([2, 3], { requiresGrad: true });
    expect(() => T.mul(x, 2).backward()).toThrow(ShapeError);
    expect(() => T.mul(x, 2).backward()).toThrow(/output has shape \[2, 3\] \(6 elements\)/);
    expect(() => T.mul(x, 2).backward(ones([3, 2]))).toThrow(/gradient of shape \[3, 2\].*\[2, 3\]/);
  });

  it('use after dispose', async () => {
    const x = ones([2, 3]);
    x.dispose();
    expect(x.isDisposed).toBe(true);
    expect(() => T.add(x, 1)).toThrow(DisposedError);
    expect(() => x.dataSync()).toThrow(/dataSync: tensor #\d+ of shape \[2, 3\] \(f32\) was already disposed/);
    await expect(x.data()).rejects.toThrow(DisposedError);
    expect(() => x.reshape([6])).toThrow(DisposedError);
    expect(() => T.matmul(x, ones([3, 1]))).toThrow(DisposedError);
    expect(x.toString()).toBe('tensor(<disposed>, shape=[2, 3], dtype=f32)');
  });

  it('out-of-range gather / embedding / indexSelect / crossEntropy indices name the index and the shapes', () => {
    expect(() => T.gather(ones([2, 5]), 1, ids([0, 7, 1, 2], [2, 2]))).toThrow(IndexError);
    expect(() => T.gather(ones([2, 5]), 1, ids([0, 7, 1, 2], [2, 2]))).toThrow(
      'gather(x [2, 5], axis 1, index [2, 2]): gather: index 7 at position 1 is out of range [0, 5)',
    );
    expect(() => T.embedding(ones([5, 4]), ids([1, 2, 5], [1, 3]))).toThrow(IndexError);
    expect(() => T.embedding(ones([5, 4]), ids([1, 2, 5], [1, 3]))).toThrow(/^embedding\(weight \[5, 4\], ids \[1, 3\]\): .*index 5 at position 2 is out of range \[0, 5\)/);
    expect(() => T.embedding(ones([5, 4]), ids([-1]))).toThrow(/index -1/);
    expect(() => T.indexSelect(ones([3, 2]), 0, ids([3]))).toThrow(/indexSelect\(x \[3, 2\], axis 0, indices \[1\]\).*index 3/);
    expect(() => T.crossEntropy(ones([2, 3]), ids([0, 3]))).toThrow(IndexError);
    expect(() => T.crossEntropy(ones([2, 3]), ids([0, 3]))).toThrow(/crossEntropy\(logits \[2, 3\], targets \[2\]\).*index 3 at position 1/);
  });

  it('bad axes', () => {
    expect(() => T.sum(ones([2, 3]), 2)).toThrow(ArgumentError);
    expect(() => T.sum(ones([2, 3]), 2)).toThrow('sum: axis 2 is out of range for a tensor of rank 2');
    expect(() => T.softmax(ones([2, 3]), -3)).toThrow(/softmax: axis -3 is out of range/);
    expect(() => T.sum(ones([2, 3]), [1, -1])).toThrow(/axis -1 appears twice/);
    expect(() => T.transpose(ones([2, 3]), 0, 5)).toThrow(ArgumentError);
    expect(() => T.permute(ones([2, 3]), [0, 0])).toThrow(/not a permutation/);
    expect(() => T.argmax(ones([2, 3]), 4)).toThrow(/argmax: axis 4/);
    expect(() => T.max(zeros([0, 3]), 0)).toThrow(/max: cannot reduce an empty dimension \(shape \[0, 3\]/);
  });

  it('reshape / view / narrow / concat / split / layerNorm / attention shape errors', () => {
    expect(() => ones([2, 3]).reshape([4, 2])).toThrow('reshape: cannot reshape a tensor of shape [2, 3] (6 elements) into [4, 2] (8 elements)');
    expect(() => ones([2, 3]).reshape([-1, -1])).toThrow(/only one dimension can be -1/);
    expect(() => ones([2, 3]).transpose(0, 1).view([6])).toThrow(/view: tensor of shape \[3, 2\] with strides \[1, 3\] is not contiguous/);
    expect(() => ones([2, 3]).narrow(1, 2, 2)).toThrow(IndexError);
    expect(() => T.concat([ones([2, 3]), ones([3, 3])], 1)).toThrow(/concat: shapes \[2, 3\], \[3, 3\] must match in every dimension except 1/);
    expect(() => T.split(ones([5]), [2, 2])).toThrow(/must be non-negative and sum to 5/);
    expect(() => T.layerNorm(ones([2, 3]), [4])).toThrow(/normalizedShape \[4\] does not match the trailing dims of the input \[2, 3\]/);
    expect(() => T.layerNorm(ones([2, 3]), undefined, ones([4]))).toThrow(/weight of shape \[4\]/);
    expect(() => T.scaledDotProductAttention(ones([2, 5, 4]), ones([2, 3, 4]), ones([2, 3, 4]), { causal: true })).toThrow(/Tq <= Tk/);
    expect(() => T.scaledDotProductAttention(ones([2, 3, 4]), ones([2, 3, 5]), ones([2, 3, 5]))).toThrow(ShapeError);
    expect(() => T.crossEntropy(ones([2, 3]), ids([0, 1, 2]))).toThrow(/targets must have the logits' shape without the last \(class\) dim, \[2\]/);
    expect(() => T.mse(ones([2]), ones([3]))).toThrow(/mse: prediction \[2\] and target \[3\]/);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array: element 1 has shape \[1\] but element 0 has \[2\]/);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => zeros([2, -1])).toThrow(ShapeError);
  });

  it('a second backward through a freed graph', () => {
    const x = ones([2], { requiresGrad: true });
    const y = T.mul(x, x).sum();
    y.backward();
    expect(() => y.backward()).toThrow(AutogradError);
  });

  it('operands on different backends', async () => {
    const a = ones([2]);
    await setBackend(new ReferenceBackend());
    const b = ones([2]);
    expect(() => T.add(a, b)).toThrow(ArgumentError);
    expect(() => T.add(a, b)).toThrow(/different backends/);
    const moved = a.toSync(getBackend());
    expect(Array.from(T.add(moved, b).dataSync())).toEqual([2, 2]);
  });

  it('bad arguments', async () => {
    await setBackend('reference');
    expect(() => T.dropout(ones([2]), 1.5)).toThrow(/dropout: probability p must be in \[0, 1\], got 1.5/);
    expect(() => T.crossEntropy(ones([2, 3]), ids([0, 1]), { reduction: 'avg' as 'mean' })).toThrow(/reduction must be/);
    expect(() => T.arange(0, 5, 0)).toThrow(ArgumentError);
    expect(() => T.randint(5, 5, [2])).toThrow(/need integers low < high/);
    expect(() => T.manualSeed(1.5)).toThrow(ArgumentError);
    expect(() => ones([2, 2]).itemSync()).toThrow(/only a single-element tensor has an item, this one has shape \[2, 2\]/);
    await expect(setBackend('nope')).rejects.toThrow(/unknown backend 'nope'/);
  });
});
