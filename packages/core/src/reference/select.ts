import type { CrossEntropyBackwardParams, CrossEntropyParams, GatherParams, IndexAddParams, IndexSelectParams, ScatterAddParams, Storage } from '../backend.js';
import { IndexError } from '../errors.js';
import type { Views } from './views.js';

/**
 * Throws an IndexError naming the first index in [offset, offset+n) outside [0, limit),
 * except `ignore`. Called before a kernel writes anything, so a bad index loses no data.
 */
export function checkIndexRange(I: Int32Array, offset: number, n: number, limit: number, what: string, ignore?: number): void {
  for (let i = 0; i < n; i++) {
    const x = I[offset + i];
    if ((x < 0 || x >= limit) && x !== ignore) {
      throw new IndexError(`${what}: index ${x} at position ${i} is out of range [0, ${limit})`);
    }
  }
}

function ints(v: Views, s: Storage): Int32Array {
  return v.i32(s);
}

export function indexSelect(v: Views, p: IndexSelectParams): void {
  const I = ints(v, p.indices.storage);
  checkIndexRange(I, p.indices.offset, p.count, p.axisLen, 'indexSelect');
  const X = v.f32(p.x.storage);
  const O = v.f32(p.out.storage);
  const { outer, axisLen, inner, count } = p;
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < count; c++) {
      const src = p.x.offset + (o * axisLen + I[p.indices.offset + c]) * inner;
      const dst = p.out.offset + (o * count + c) * inner;
      for (let i = 0; i < inner; i++) O[dst + i] = X[src + i];
    }
}

export function indexAdd(v: Views, p: IndexAddParams): void {
  const I = ints(v, p.indices.storage);
  checkIndexRange(I, p.indices.offset, p.count, p.axisLen, 'indexAdd');
  const D = v.f32(p.dOut.storage);
  const DX = v.f32(p.dx.storage);
  const { outer, axisLen, inner, count } = p;
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < count; c++) {
      const dst = p.dx.offset + (o * axisLen + I[p.indices.offset + c]) * inner;
      const src = p.dOut.offset + (o * count + c) * inner;
      for (let i = 0; i < inner; i++) DX[dst + i] += D[src + i];
    }
}

export function gather(v: Views, p: GatherParams): void {
  const { outer, axisLen, inner, count } = p;
  const I = ints(v, p.indices.storage);
  checkIndexRange(I, p.indices.offset, outer * count * inner, axisLen, 'gather');
  const X = v.f32(p.x.storage);
  const O = v.f32(p.out.storage);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < count; c++)
      for (let i = 0; i < inner; i++) {
        const j = (o * count + c) * inner + i;
        O[p.out.offset + j] = X[p.x.offset + (o * axisLen + I[p.indices.offset + j]) * inner + i];
      }
}

export function scatterAdd(v: Views, p: ScatterAddParams): void {
  const { outer, axisLen, inner, count } = p;
  const I = ints(v, p.indices.storage);
  checkIndexRange(I, p.indices.offset, outer * count * inner, axisLen, 'scatterAdd');
  const D = v.f32(p.dOut.storage);
  const DX = v.f32(p.dx.storage);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < count; c++)
      for (let i = 0; i < inner; i++) {
        const j = (o * count + c) * inner + i;
        DX[p.dx.offset + (o * axisLen + I[p.indices.offset + j]) * inner + i] += D[p.dOut.offset + j];
      }
}

/**
 * Softmax pieces of a logits row around its target t, in float64: the row max, e_t = exp(x_t - max)
 * and the sum of exp(x_c - max) over c != t. Keeping the target out of the sum keeps -log p_t and
 * p_t - 1 accurate when p_t -> 1 (a confident prediction), where logsumexp - x_t would cancel.
 */
function splitRow(L: Float32Array, off: number, cols: number, t: number): { mx: number; et: number; others: number } {
  let mx = -Infinity;
  for (let c = 0; c < cols; c++) mx = Math.max(mx, L[off + c]);
  let others = 0;
  for (let c = 0; c < cols; c++) if (c !== t) others += Math.exp(L[off + c] - mx);
  return { mx, et: Math.exp(L[off + t] - mx), others };
}

/**
 * loss = logsumexp(x) - x_t = log((e_t + others) / e_t) = log1p(others / e_t). Far below the max
 * (max - x_t > 1) the form (max - x_t) + log(sum) has no cancellation and survives e_t underflow.
 * A non-finite max is the logsumexp itself: loss = max - x_t.
 */
export function crossEntropy(v: Views, p: CrossEntropyParams): void {
  const T = ints(v, p.targets.storage);
  checkIndexRange(T, p.targets.offset, p.rows, p.cols, 'crossEntropy target', p.ignoreIndex);
  const L = v.f32(p.logits.storage);
  const O = v.f32(p.losses.storage);
  for (let r = 0; r < p.rows; r++) {
    const t = T[p.targets.offset + r];
    const off = p.logits.offset + r * p.cols;
    if (t === p.ignoreIndex) {
      O[p.losses.offset + r] = 0;
      continue;
    }
    const { mx, et, others } = splitRow(L, off, p.cols, t);
    const d = mx - L[off + t];
    O[p.losses.offset + r] = !Number.isFinite(mx) ? d : d > 1 ? d + Math.log(et + others) : Math.log1p(others / et);
  }
}

/** dLogits = (p - onehot(t)) * g with p_c = e_c / sum and p_t - 1 = -others / sum (no cancellation). */
export function crossEntropyBackward(v: Views, p: CrossEntropyBackwardParams): void {
  const T = ints(v, p.targets.storage);
  checkIndexRange(T, p.targets.offset, p.rows, p.cols, 'crossEntropyBackward target', p.ignoreIndex);
  const L = v.f32(p.logits.storage);
  const DL = v.f32(p.dLosses.storage);
  const DX = v.f32(p.dLogits.storage);
  for (let r = 0; r < p.rows; r++) {
    const t = T[p.targets.offset + r];
    const off = p.logits.offset + r * p.cols;
    const doff = p.dLogits.offset + r * p.cols;
    if (t === p.ignoreIndex) {
      for (let c = 0; c < p.cols; c++) DX[doff + c] = 0;
      continue;
    }
    const g = DL[p.dLosses.offset + r];
    const { mx, et, others } = splitRow(L, off, p.cols, t);
    if (!Number.isFinite(mx)) {
      // logsumexp = max here: p = exp(x - max).
      for (let c = 0; c < p.cols; c++) DX[doff + c] = (Math.exp(L[off + c] - mx) - (c === t ? 1 : 0)) * g;
      continue;
    }
    const s = et + others;
    for (let c = 0; c < p.cols; c++) DX[doff + c] = c === t ? (-others / s) * g : (Math.exp(L[off + c] - mx) / s) * g;
  }
}
