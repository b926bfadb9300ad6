/**
 * Matrix multiplication with PyTorch semantics: 1-D operands are promoted
 * (and the added dim removed), batch dims broadcast. Transposed operands are
 * passed to the kernel with transA/transB instead of being copied, and a
 * batch that is a single stride apart (or broadcast, stride 0) needs no copy.
 */

import { ArgumentError, ShapeError, broadcastShapes, fmtShape, sizeOf, type Backend, type Dense } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { backendOf, copyContiguous, dense, empty, expectDType } from '../kernels.js';
import { tidy } from '../scope.js';
import { counters } from '../storage.js';
import type { Tensor } from '../tensor.js';
import { broadcastFor } from './elementwise.js';
import { sumToShapeRaw as sumToShape } from './broadcast.js';
import { reshape, squeeze, transpose, unsqueeze } from './shape.js';

interface Operand {
  d: Dense;
  trans: boolean;
  stride: number;
  temp: Tensor | null;
}

/** Whether a [rows, cols] view with strides [sr, sc] is laid out row-major without gaps. */
function rowMajor(rows: number, cols: number, sr: number, sc: number): boolean {
  return (sc === 1 || cols === 1) && (sr === cols || rows === 1);
}

/** How the kernel reads x ([..., rows, cols]) broadcast over `batchShape`. */
function plan(x: Tensor, batchShape: readonly number[]): Operand {
  const r = x.rank;
  const rows = x.shape[r - 2];
  const cols = x.shape[r - 1];
  const sr = x.strides[r - 2];
  const sc = x.strides[r - 1];
  let trans: boolean | null = null;
  if (rowMajor(rows, cols, sr, sc)) trans = false;
  else if (rowMajor(cols, rows, sc, sr)) trans = true;

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

/** The key of a packed B: where it starts in its storage, its shape and layout. */
const packKey = (offset: number, k: number, n: number, trans: boolean) => `${offset}:${k}:${n}:${trans ? 't' : 'n'}`;

/**
 * b's packed copy for a product with this k, n and layout, when prepackMatmulWeights made
 * one: repacked first if b's storage was written since (its version moved on).
 */
function packedB(b: Tensor, k: number, n: number, trans: boolean): Dense | undefined {
  const ref = b._ref;
  const entry = ref.packs?.get(packKey(b.offset, k, n, trans));
  if (!entry) return undefined;
  if (entry.version !== ref.version) {
    ref.backend.prepackMatmulB!({ b: dense(b), out: { storage: entry.storage, offset: 0 }, k, n, transB: trans });
    entry.version = ref.version;
  }
  return { storage: entry.storage, offset: 0 };
}

/**
 * Packs 2-D f32 matrices that will be the right-hand operand (B) of many products — the
 * weights of a model at inference — into the layout of the backend's packed GEMM, once:
 * every later `matmul(x, w)` with one of them then skips packing it (with `transposed`,
 * `matmul(x, w.t())`, as nn.Linear computes). On the wasm backend a transposed matrix is
 * packed into the GEMM's panels (the same bits as without), an untransposed one into its
 * transposed copy, which x reads with the faster dot-form tiles when k >= 256 or x has at
 * most 4 rows (each row: the bits of its one-row product with the copy; the same sums in
 * another order, so the results agree with the unpacked product to float rounding, not bit
 * for bit). The
 * cost is a packed copy per matrix (about its own size) until the matrix's storage is
 * freed or `releaseMatmulPacks` is called. A write to the storage (an optimizer step)
 * makes the next product repack the copy first. Backends without a packed GEMM
 * (reference, WebGPU) ignore this; so do products too small to pack B (few rows of x).
 * @example prepackMatmulWeights(weights) // then y = matmul(x, weights[i])
 */
export function prepackMatmulWeights(weights: readonly Tensor[], options: { transposed?: boolean } = {}): void {
  const trans = options.transposed ?? false;
  for (const w of weights) {
    const be = backendOf('prepackMatmulWeights', w);
    expectDType('prepackMatmulWeights', w, 'f32');
    if (w.rank !== 2) throw new ShapeError(`prepackMatmulWeights: expected 2-D matrices, got ${fmtShape(w.shape)}`);
    const [rows, cols] = w.shape;
    const [sr, sc] = w.strides;
    if (!rowMajor(rows, cols, sr, sc)) {
      throw new ArgumentError(`prepackMatmulWeights: the matrix ${fmtShape(w.shape)} with strides [${sr}, ${sc}] is not contiguous (pack a contiguous copy)`);
    }
    if (!be.prepackMatmulB || !be.prepackedMatmulBElements) continue;
    // As B, w is [k, n]; transposed, matmul reads w^T = [cols, rows] from w's rows.
    if (trans) prepackOne(be, w, cols, rows, true);
    else prepackOne(be, w, rows, cols, false);
  }
}

function prepackOne(be: Backend, w: Tensor, k: number, n: number, trans: boolean): void {
  const ref = w._ref;
  const key = packKey(w.offset, k, n, trans);
  if (ref.packs?.has(key)) return;
  const storage = be.alloc(be.prepackedMatmulBElements!(k, n) * 4);
  counters.bytes += storage.bytes;
  try {
    be.prepackMatmulB!({ b: dense(w), out: { storage, offset: 0 }, k, n, transB: trans });
  } catch (e) {
    counters.bytes -= storage.bytes;
    be.free(storage);
    throw e;
  }
  (ref.packs ??= new Map()).set(key, { storage, version: ref.version });
}

/**
 * Frees the packed copies prepackMatmulWeights made of these matrices: both layouts, or
 * only the one `transposed` names. Packs of other matrices in the same storage (the
 * other weights of a model's flat parameter block) stay. Matrices without a pack are
 * skipped.
 * @example releaseMatmulPacks([w]) // after prepackMatmulWeights([w])
 */
export function releaseMatmulPacks(weights: readonly Tensor[], options: { transposed?: boolean } = {}): void {
  const layouts = options.transposed === undefined ? [false, true] : [options.transposed];
  for (const w of weights) {
    if (w.rank !== 2) throw new ShapeError(`releaseMatmulPacks: expected 2-D matrices, got ${fmtShape(w.shape)}`);
    const [rows, cols] = w.shape;
    // The keys prepackMatmulWeights used: as B [k, n] = [rows, cols], transposed [cols, rows].
    for (const trans of layouts) w._ref.dropPack(trans ? packKey(w.offset, cols, rows, true) : packKey(w.offset, rows, cols, false));
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
      const batch = sizeOf(batchShape);
      be.matmul({
        a: pa.d,
        b: pb.d,
        out: dense(out),
        m,
        n,
        k,
        transA: pa.trans,
        transB: pb.trans,
        batch,
        strideA: pa.stride,
        strideB: pb.stride,
        bPacked: pb.temp === null && (batch === 1 || pb.stride === 0) ? packedB(b, k, n, pb.trans) : undefined,
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
  if (a.rank > 2 && b.rank > 2) {
    try {
      broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    } catch (e) {
      // Name the operands' whole shapes, not only their batch dims.
      if (e instanceof ShapeError) throw new ShapeError(`matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not fit: batch ${e.message}`);
      throw e;
    }
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
