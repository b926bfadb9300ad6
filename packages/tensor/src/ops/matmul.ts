/**
 * Matrix multiplication with PyTorch semantics: 1-D operands are promoted
 * (and the added dim removed), batch dims broadcast. Transposed operands are
 * passed to the kernel with transA/transB instead of being copied, and a
 * batch that is a single stride apart (or broadcast, stride 0) needs no copy.
 */

import { ShapeError, fmtShape, sizeOf, type Dense } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { backendOf, copyContiguous, dense, empty, expectDType } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { broadcastFor } from './elementwise.js';
import { sumToShape } from './reduce.js';
import { reshape, squeeze, transpose, unsqueeze } from './shape.js';

interface Operand {
  d: Dense;
  trans: boolean;
  stride: number;
  temp: Tensor | null;
}

/** How the kernel reads x ([..., rows, cols]) broadcast over `batchShape`. */
function plan(x: Tensor, batchShape: readonly number[]): Operand {
  const r = x.rank;
  const rows = x.shape[r - 2];
  const cols = x.shape[r - 1];
  const sr = x.strides[r - 2];
  const sc = x.strides[r - 1];
  let trans: boolean | null = null;
  if ((sc === 1 || cols === 1) && (sr === cols || rows === 1)) trans = false;
  else if ((sr === 1 || rows === 1) && (sc === rows || cols === 1)) trans = true;

  // Batch strides after broadcasting; usable when they are one linear stride S apart.
  const lead = batchShape.length - (r - 2);
  const bs = batchShape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : x.strides[i - lead]));
  let S = 0;
  let linear = true;
  let after = 1;
  let seen = false;
  for (let i = batchShape.length - 1; i >= 0; i--) {
    if (batchShape[i] === 1) continue;
    if (!seen) {
      S = bs[i];
      seen = true;
    } else if (bs[i] !== S * after) linear = false;
    after *= batchShape[i];
  }
  if (trans !== null && linear && S >= 0) return { d: { storage: x._ref.storage, offset: x.offset }, trans, stride: S, temp: null };

  const full = [...batchShape, rows, cols];
  const v = x._view(full, [...bs, sr, sc], x.offset, false);
  try {
    const temp = copyContiguous(v, false);
    return { d: dense(temp), trans: false, stride: rows * cols, temp };
  } finally {
    v.dispose();
  }
}

/** a: [..., m, k] @ b: [..., k, n] with broadcast batch dims. */
function mm(a: Tensor, b: Tensor): Tensor {
  const be = backendOf('matmul', a, b);
  const m = a.shape[a.rank - 2];
  const k = a.shape[a.rank - 1];
  const n = b.shape[b.rank - 1];
  const batchShape = broadcastFor('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = empty(be, [...batchShape, m, n], 'f32');
  if (out.size > 0 && k === 0) be.fill({ out: dense(out), n: out.size, value: 0, dtype: 'f32' });
  else if (out.size > 0) {
    const pa = plan(a, batchShape);
    const pb = plan(b, batchShape);
    try {
      be.matmul({
        a: pa.d,
        b: pb.d,
        out: dense(out),
        m,
        n,
        k,
        transA: pa.trans,
        transB: pb.trans,
        batch: sizeOf(batchShape),
        strideA: pa.stride,
        strideB: pb.stride,
      });
    } finally {
      pa.temp?.dispose();
      pb.temp?.dispose();
    }
  }
  const as = a.shape;
  const bs = b.shape;
  return attachGrad('Matmul', out, [a, b], (save, needs) => {
    const A = needs[1] ? save(a) : null;
    const B = needs[0] ? save(b) : null;
    // dA = g @ B^T, dB = A^T @ g, summed over broadcast batch dims.
    return (g) => [
      needs[0] ? sumToShape(mm(g, transpose(B!, -2, -1)), as) : null,
      needs[1] ? sumToShape(mm(transpose(A!, -2, -1), g), bs) : null,
    ];
  });
}

/**
 * Matrix product like torch.matmul: 1-D x 1-D is a dot product, 1-D operands
 * are treated as a row (left) or column (right) vector, and batch dims
 * broadcast ([B, T, C] @ [C, D] -> [B, T, D]).
 * @example matmul(x, w) // [B, T, C] @ [C, D]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  backendOf('matmul', a, b);
  expectDType('matmul', a, 'f32', 'a');
  expectDType('matmul', b, 'f32', 'b');
  if (a.rank === 0 || b.rank === 0) {
    throw new ShapeError(`matmul: both operands need at least one dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const ka = a.shape[a.rank - 1];
  const kb = b.rank === 1 ? b.shape[0] : b.shape[b.rank - 2];
  if (ka !== kb) {
    throw new ShapeError(`matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not fit: a has ${ka} columns but b has ${kb} rows`);
  }
  return tidy(() => {
    if (a.rank === 1 && b.rank === 1) return reshape(mm(unsqueeze(a, 0), unsqueeze(b, 1)), []);
    if (a.rank === 1) return squeeze(mm(unsqueeze(a, 0), b), -2);
    if (b.rank === 1) return squeeze(mm(a, unsqueeze(b, 1)), -1);
    if (b.rank === 2 && a.rank > 2) {
      // Fold the batch into rows: one [B*T, C] @ [C, D] product.
      const lead = a.shape.slice(0, -1);
      return reshape(mm(reshape(a, [sizeOf(lead), ka]), b), [...lead, b.shape[1]]);
    }
    return mm(a, b);
  });
}
