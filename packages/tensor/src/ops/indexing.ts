/**
 * Integer indexing: gather (torch.gather), indexSelect and embedding. The
 * kernels check every index before writing and throw IndexError; the message
 * is prefixed here with the op and the shapes involved. Backward passes use
 * the fused scatterAdd / indexAdd kernels.
 */

import { ShapeError, fmtShape, sizeOf } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { axisFor, backendOf, dense, empty, expectDType, withContext, withDense } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { slice, type SliceRange } from './shape.js';

/** A zero-filled f32 tensor (for gradients that are scattered into). */
function zerosOn(like: Tensor, shape: readonly number[]): Tensor {
  const be = like._ref.backend;
  const z = empty(be, shape, 'f32');
  if (z.size > 0) be.fill({ out: dense(z), n: z.size, value: 0, dtype: 'f32' });
  return z;
}

/** gather where index matches x in every dim but `a`. */
function gatherSameShape(x: Tensor, a: number, index: Tensor, context: string): Tensor {
  const be = backendOf('gather', x, index);
  const outer = sizeOf(x.shape.slice(0, a));
  const axisLen = x.shape[a];
  const inner = sizeOf(x.shape.slice(a + 1));
  const count = index.shape[a];
  const out = empty(be, index.shape, 'f32');
  if (out.size > 0) {
    withDense([x, index], (xd, id) => withContext(context, () => be.gather({ x: xd, indices: id, out: dense(out), outer, axisLen, inner, count })));
  }
  const xs = x.shape;
  return attachGrad('Gather', out, [x], (save) => {
    const I = save(index);
    return (g) => {
      const gb = backendOf('gather backward', g, I);
      const dx = zerosOn(g, xs);
      if (g.size > 0) withDense([g, I], (gd, id) => gb.scatterAdd({ dOut: gd, indices: id, dx: dense(dx), outer, axisLen, inner, count }));
      return [dx];
    };
  });
}

/**
 * torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1. `index` is
 * i32 with x's rank, and no larger than x in the other dims.
 * @example gather(logProbs, 1, targets.unsqueeze(1))
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  backendOf('gather', x, index);
  expectDType('gather', x, 'f32');
  expectDType('gather', index, 'i32', 'index');
  const a = axisFor('gather', axis, x.rank);
  const context = `gather(x ${fmtShape(x.shape)}, axis ${a}, index ${fmtShape(index.shape)})`;
  if (index.rank !== x.rank) throw new ShapeError(`${context}: index must have the same rank as x`);
  const ranges: SliceRange[] = x.shape.map(() => null);
  let narrower = false;
  for (let d = 0; d < x.rank; d++) {
    if (d === a) continue;
    if (index.shape[d] > x.shape[d]) throw new ShapeError(`${context}: index is larger than x in dimension ${d}`);
    if (index.shape[d] < x.shape[d]) {
      ranges[d] = [0, index.shape[d]];
      narrower = true;
    }
  }
  if (!narrower) return gatherSameShape(x, a, index, context);
  return tidy(() => gatherSameShape(slice(x, ranges), a, index, context));
}

/**
 * Selects entries of `axis` by a 1-D i32 index list (out has indices.size entries there).
 * @example indexSelect(x, 0, tensor([2, 0], undefined, 'i32'))
 */
export function indexSelect(x: Tensor, axis: number, indices: Tensor): Tensor {
  const be = backendOf('indexSelect', x, indices);
  expectDType('indexSelect', x, 'f32');
  expectDType('indexSelect', indices, 'i32', 'indices');
  const a = axisFor('indexSelect', axis, x.rank);
  const context = `indexSelect(x ${fmtShape(x.shape)}, axis ${a}, indices ${fmtShape(indices.shape)})`;
  if (indices.rank > 1) throw new ShapeError(`${context}: indices must be 1-D`);
  if (x.rank === 0) throw new ShapeError(`${context}: x must have at least one dimension`);
  const outer = sizeOf(x.shape.slice(0, a));
  const axisLen = x.shape[a];
  const inner = sizeOf(x.shape.slice(a + 1));
  const count = indices.size;
  const shape = x.shape.slice();
  shape[a] = count;
  const out = empty(be, shape, 'f32');
  if (count > 0) {
    withDense([x, indices], (xd, id) => withContext(context, () => be.indexSelect({ x: xd, indices: id, out: dense(out), outer, axisLen, inner, count })));
  }
  const xs = x.shape;
  return attachGrad('IndexSelect', out, [x], (save) => {
    const I = save(indices);
    return (g) => {
      const gb = backendOf('indexSelect backward', g, I);
      const dx = zerosOn(g, xs);
      if (g.size > 0) withDense([g, I], (gd, id) => gb.indexAdd({ dOut: gd, indices: id, dx: dense(dx), outer, axisLen, inner, count }));
      return [dx];
    };
  });
}

/**
 * Embedding lookup: rows of `weight` [V, D] for i32 `ids` of any shape -> [...ids.shape, D].
 * The backward scatters into a [V, D] gradient with the indexAdd kernel.
 * @example embedding(wte, tokens) // [B, T] -> [B, T, C]
 */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  const be = backendOf('embedding', weight, ids);
  expectDType('embedding', weight, 'f32', 'weight');
  expectDType('embedding', ids, 'i32', 'ids');
  const context = `embedding(weight ${fmtShape(weight.shape)}, ids ${fmtShape(ids.shape)})`;
  if (weight.rank !== 2) throw new ShapeError(`${context}: weight must be 2-D [vocabulary, dim]`);
  const [V, D] = weight.shape;
  const count = ids.size;
  const out = empty(be, [...ids.shape, D], 'f32');
  if (count > 0) {
    withDense([weight, ids], (wd, id) =>
      withContext(context, () => be.indexSelect({ x: wd, indices: id, out: dense(out), outer: 1, axisLen: V, inner: D, count })),
    );
  }
  const ws = weight.shape;
  return attachGrad('Embedding', out, [weight], (save) => {
    const I = save(ids);
    return (g) => {
      const gb = backendOf('embedding backward', g, I);
      const dw = zerosOn(g, ws);
      if (g.size > 0) withDense([g, I], (gd, id) => gb.indexAdd({ dOut: gd, indices: id, dx: dense(dw), outer: 1, axisLen: V, inner: D, count }));
      return [dw];
    };
  });
}
