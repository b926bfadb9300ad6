/**
 * Operand validation shared by every backend. Each kernel's parameters are
 * checked here before any backend touches memory, so a bad call throws a typed
 * error naming the operand, its span and its storage size, and nothing out of
 * bounds ever reaches wasm memory or a GPU buffer.
 */

import type {
  AdamParams,
  AttentionBackwardParams,
  AttentionParams,
  BinaryParams,
  CastParams,
  CopyParams,
  CrossEntropyBackwardParams,
  CrossEntropyParams,
  Dense,
  FillParams,
  GatherParams,
  GeluBackwardParams,
  IndexAddParams,
  IndexSelectParams,
  KernelName,
  LayerNormBackwardParams,
  LayerNormParams,
  MatmulParams,
  ParamsOf,
  QMatmulParams,
  QEmbeddingParams,
  RandomParams,
  ReduceParams,
  ScatterAddParams,
  SgdParams,
  SoftmaxBackwardParams,
  SoftmaxParams,
  Storage,
  Strided,
  UnaryParams,
  WhereParams,
} from './backend.js';
import { ArgumentError, BoundsError, DisposedError, ShapeError, fmtShape } from './errors.js';
import { BINARY_OPS, REDUCE_OPS, UNARY_OPS } from './ops.js';
import { checkQuantFormat, quantizedElements } from './quant.js';
import { checkShape, sizeOf } from './shape.js';

const UNARY: ReadonlySet<string> = new Set(UNARY_OPS);
const BINARY: ReadonlySet<string> = new Set(BINARY_OPS);
const REDUCE: ReadonlySet<string> = new Set(REDUCE_OPS);

/** Throws unless `s` is live storage of backend `backend`. */
export function checkStorage(backend: string, s: Storage, what: string): void {
  if (s == null || typeof s !== 'object') throw new ArgumentError(`${what}: expected a Storage, got ${String(s)}`);
  if (s.backend !== backend) {
    throw new ArgumentError(`${what}: storage #${s.id} belongs to backend '${s.backend}', not '${backend}'`);
  }
  if (s.freed) throw new DisposedError(`${what}: storage #${s.id} (${s.bytes} bytes) was already freed`);
}

/** Throws unless v is a non-negative safe integer. */
export function checkCount(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError(`${what} must be a non-negative integer, got ${v}`);
}

function checkFinite(v: number, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${what} must be a finite number, got ${v}`);
}

/** Checks that `count` contiguous elements from d.offset fit in d.storage. */
export function checkDense(backend: string, d: Dense, count: number, what: string): void {
  checkStorage(backend, d.storage, what);
  checkCount(d.offset, `${what}.offset`);
  checkCount(count, `${what} element count`);
  const elems = Math.floor(d.storage.bytes / 4);
  if (count > 0 && d.offset + count > elems) {
    throw new BoundsError(
      `${what}: elements [${d.offset}, ${d.offset + count}) exceed storage #${d.storage.id} of ${elems} elements (${d.storage.bytes} bytes)`,
    );
  }
}

/** Checks that every element a strided view of `shape` touches lies inside its storage. */
export function checkStrided(backend: string, s: Strided, shape: readonly number[], what: string): void {
  checkStorage(backend, s.storage, what);
  checkShape(shape, `${what} shape`);
  if (s.strides.length !== shape.length) {
    throw new ShapeError(`${what}: ${s.strides.length} strides given for shape ${fmtShape(shape)}`);
  }
  checkCount(s.offset, `${what}.offset`);
  if (sizeOf(shape) === 0) return;
  let lo = s.offset;
  let hi = s.offset;
  for (let i = 0; i < shape.length; i++) {
    const st = s.strides[i];
    if (!Number.isSafeInteger(st)) throw new ArgumentError(`${what}: stride ${st} at dim ${i} is not an integer`);
    const span = st * (shape[i] - 1);
    if (span < 0) lo += span;
    else hi += span;
  }
  const elems = Math.floor(s.storage.bytes / 4);
  if (lo < 0 || hi >= elems) {
    throw new BoundsError(
      `${what}: view of shape ${fmtShape(shape)} strides ${fmtShape(s.strides)} offset ${s.offset} spans elements [${lo}, ${hi}] outside storage #${s.storage.id} of ${elems} elements`,
    );
  }
}

/**
 * Checks that two dense operands do not overlap. Only used where a kernel
 * would compute wrong results on aliasing (outputs written while inputs are read).
 */
export function checkNoOverlap(a: Dense, na: number, b: Dense, nb: number, what: string): void {
  if (a.storage !== b.storage || na === 0 || nb === 0) return;
  if (a.offset < b.offset + nb && b.offset < a.offset + na) {
    throw new ArgumentError(`${what}: output [${a.offset}, ${a.offset + na}) overlaps input [${b.offset}, ${b.offset + nb}) in storage #${a.storage.id}`);
  }
}

export function validateMatmul(be: string, p: MatmulParams): void {
  checkCount(p.m, 'matmul m');
  checkCount(p.n, 'matmul n');
  checkCount(p.k, 'matmul k');
  const batch = p.batch ?? 1;
  checkCount(batch, 'matmul batch');
  const sa = p.strideA ?? p.m * p.k;
  const sb = p.strideB ?? p.k * p.n;
  checkCount(sa, 'matmul strideA');
  checkCount(sb, 'matmul strideB');
  if (batch === 0) return;
  checkDense(be, p.a, sa * (batch - 1) + p.m * p.k, 'matmul a');
  checkDense(be, p.b, sb * (batch - 1) + p.k * p.n, 'matmul b');
  checkDense(be, p.out, batch * p.m * p.n, 'matmul out');
  checkNoOverlap(p.out, batch * p.m * p.n, p.a, sa * (batch - 1) + p.m * p.k, 'matmul');
  checkNoOverlap(p.out, batch * p.m * p.n, p.b, sb * (batch - 1) + p.k * p.n, 'matmul');
}

export function validateUnary(be: string, p: UnaryParams): void {
  if (!UNARY.has(p.op)) throw new ArgumentError(`unknown unary op '${p.op}'`);
  if (p.op === 'pow') checkFinite(p.alpha ?? NaN, 'unary pow exponent (alpha)');
  checkStrided(be, p.x, p.shape, `unary ${p.op} x`);
  checkDense(be, p.out, sizeOf(p.shape), `unary ${p.op} out`);
}

export function validateBinary(be: string, p: BinaryParams): void {
  if (!BINARY.has(p.op)) throw new ArgumentError(`unknown binary op '${p.op}'`);
  checkStrided(be, p.a, p.shape, `binary ${p.op} a`);
  checkStrided(be, p.b, p.shape, `binary ${p.op} b`);
  checkDense(be, p.out, sizeOf(p.shape), `binary ${p.op} out`);
}

export function validateWhere(be: string, p: WhereParams): void {
  if (p.condDType !== 'f32' && p.condDType !== 'i32') throw new ArgumentError(`where: unknown cond dtype '${p.condDType}'`);
  checkStrided(be, p.cond, p.shape, 'where cond');
  checkStrided(be, p.a, p.shape, 'where a');
  checkStrided(be, p.b, p.shape, 'where b');
  checkDense(be, p.out, sizeOf(p.shape), 'where out');
}

export function validateCopy(be: string, p: CopyParams): void {
  checkStrided(be, p.x, p.shape, 'copy x');
  checkStrided(be, p.out, p.shape, 'copy out');
}

export function validateCast(be: string, p: CastParams): void {
  for (const d of [p.from, p.to]) if (d !== 'f32' && d !== 'i32') throw new ArgumentError(`cast: unknown dtype '${d}'`);
  checkStrided(be, p.x, p.shape, 'cast x');
  checkDense(be, p.out, sizeOf(p.shape), 'cast out');
}

export function validateFill(be: string, p: FillParams): void {
  if (p.dtype === 'i32' ? !Number.isInteger(p.value) : typeof p.value !== 'number') {
    throw new ArgumentError(`fill: value ${p.value} is not a valid ${p.dtype}`);
  }
  checkDense(be, p.out, p.n, 'fill out');
}

export function validateRandom(be: string, p: RandomParams): void {
  if (p.dist !== 'uniform' && p.dist !== 'normal') throw new ArgumentError(`random: unknown distribution '${p.dist}'`);
  if (!Number.isInteger(p.seed)) throw new ArgumentError(`random: seed must be an integer, got ${p.seed}`);
  checkCount(p.counter, 'random counter');
  checkDense(be, p.out, p.n, 'random out');
}

export function validateReduce(be: string, p: ReduceParams): void {
  if (!REDUCE.has(p.op)) throw new ArgumentError(`unknown reduction '${p.op}'`);
  checkCount(p.outer, 'reduce outer');
  checkCount(p.inner, 'reduce inner');
  checkCount(p.axisLen, 'reduce axisLen');
  if (p.axisLen === 0 && p.op !== 'sum' && p.op !== 'mean') {
    throw new ShapeError(`reduce ${p.op} over an empty axis (outer ${p.outer}, axis 0, inner ${p.inner}) has no identity`);
  }
  checkDense(be, p.x, p.outer * p.axisLen * p.inner, `reduce ${p.op} x`);
  checkDense(be, p.out, p.outer * p.inner, `reduce ${p.op} out`);
}

export function validateSoftmax(be: string, p: SoftmaxParams): void {
  checkCount(p.rows, 'softmax rows');
  checkCount(p.cols, 'softmax cols');
  checkDense(be, p.x, p.rows * p.cols, 'softmax x');
  checkDense(be, p.out, p.rows * p.cols, 'softmax out');
}

export function validateSoftmaxBackward(be: string, p: SoftmaxBackwardParams): void {
  checkCount(p.rows, 'softmaxBackward rows');
  checkCount(p.cols, 'softmaxBackward cols');
  const n = p.rows * p.cols;
  checkDense(be, p.y, n, 'softmaxBackward y');
  checkDense(be, p.dy, n, 'softmaxBackward dy');
  checkDense(be, p.dx, n, 'softmaxBackward dx');
}

export function validateLayerNorm(be: string, p: LayerNormParams): void {
  checkCount(p.rows, 'layerNorm rows');
  checkCount(p.cols, 'layerNorm cols');
  if (!(p.eps >= 0) || !Number.isFinite(p.eps)) throw new ArgumentError(`layerNorm eps must be a finite number >= 0, got ${p.eps}`);
  checkDense(be, p.x, p.rows * p.cols, 'layerNorm x');
  checkDense(be, p.gamma, p.cols, 'layerNorm gamma');
  checkDense(be, p.beta, p.cols, 'layerNorm beta');
  checkDense(be, p.out, p.rows * p.cols, 'layerNorm out');
  checkDense(be, p.mean, p.rows, 'layerNorm mean');
  checkDense(be, p.rstd, p.rows, 'layerNorm rstd');
}

export function validateLayerNormBackward(be: string, p: LayerNormBackwardParams): void {
  checkCount(p.rows, 'layerNormBackward rows');
  checkCount(p.cols, 'layerNormBackward cols');
  const n = p.rows * p.cols;
  checkDense(be, p.dy, n, 'layerNormBackward dy');
  checkDense(be, p.x, n, 'layerNormBackward x');
  checkDense(be, p.gamma, p.cols, 'layerNormBackward gamma');
  checkDense(be, p.mean, p.rows, 'layerNormBackward mean');
  checkDense(be, p.rstd, p.rows, 'layerNormBackward rstd');
  checkDense(be, p.dx, n, 'layerNormBackward dx');
  checkDense(be, p.dgamma, p.cols, 'layerNormBackward dgamma');
  checkDense(be, p.dbeta, p.cols, 'layerNormBackward dbeta');
}

export function validateGeluBackward(be: string, p: GeluBackwardParams): void {
  checkDense(be, p.x, p.n, 'geluBackward x');
  checkDense(be, p.dy, p.n, 'geluBackward dy');
  checkDense(be, p.dx, p.n, 'geluBackward dx');
}

function checkSelectDims(p: { outer: number; axisLen: number; inner: number; count: number }, what: string): void {
  checkCount(p.outer, `${what} outer`);
  checkCount(p.axisLen, `${what} axisLen`);
  checkCount(p.inner, `${what} inner`);
  checkCount(p.count, `${what} count`);
}

export function validateIndexSelect(be: string, p: IndexSelectParams): void {
  checkSelectDims(p, 'indexSelect');
  checkDense(be, p.x, p.outer * p.axisLen * p.inner, 'indexSelect x');
  checkDense(be, p.indices, p.count, 'indexSelect indices');
  checkDense(be, p.out, p.outer * p.count * p.inner, 'indexSelect out');
}

export function validateIndexAdd(be: string, p: IndexAddParams): void {
  checkSelectDims(p, 'indexAdd');
  checkDense(be, p.dOut, p.outer * p.count * p.inner, 'indexAdd dOut');
  checkDense(be, p.indices, p.count, 'indexAdd indices');
  checkDense(be, p.dx, p.outer * p.axisLen * p.inner, 'indexAdd dx');
}

export function validateGather(be: string, p: GatherParams): void {
  checkSelectDims(p, 'gather');
  checkDense(be, p.x, p.outer * p.axisLen * p.inner, 'gather x');
  checkDense(be, p.indices, p.outer * p.count * p.inner, 'gather indices');
  checkDense(be, p.out, p.outer * p.count * p.inner, 'gather out');
}

export function validateScatterAdd(be: string, p: ScatterAddParams): void {
  checkSelectDims(p, 'scatterAdd');
  checkDense(be, p.dOut, p.outer * p.count * p.inner, 'scatterAdd dOut');
  checkDense(be, p.indices, p.outer * p.count * p.inner, 'scatterAdd indices');
  checkDense(be, p.dx, p.outer * p.axisLen * p.inner, 'scatterAdd dx');
}

export function validateCrossEntropy(be: string, p: CrossEntropyParams): void {
  checkCount(p.rows, 'crossEntropy rows');
  checkCount(p.cols, 'crossEntropy cols');
  if (!Number.isInteger(p.ignoreIndex)) throw new ArgumentError(`crossEntropy ignoreIndex must be an integer, got ${p.ignoreIndex}`);
  checkDense(be, p.logits, p.rows * p.cols, 'crossEntropy logits');
  checkDense(be, p.targets, p.rows, 'crossEntropy targets');
  checkDense(be, p.losses, p.rows, 'crossEntropy losses');
}

export function validateCrossEntropyBackward(be: string, p: CrossEntropyBackwardParams): void {
  checkCount(p.rows, 'crossEntropyBackward rows');
  checkCount(p.cols, 'crossEntropyBackward cols');
  if (!Number.isInteger(p.ignoreIndex)) throw new ArgumentError(`crossEntropyBackward ignoreIndex must be an integer, got ${p.ignoreIndex}`);
  checkDense(be, p.logits, p.rows * p.cols, 'crossEntropyBackward logits');
  checkDense(be, p.targets, p.rows, 'crossEntropyBackward targets');
  checkDense(be, p.dLosses, p.rows, 'crossEntropyBackward dLosses');
  checkDense(be, p.dLogits, p.rows * p.cols, 'crossEntropyBackward dLogits');
}

function checkAttentionDims(p: { heads: number; tq: number; tk: number; d: number; scale?: number }, what: string): void {
  checkCount(p.heads, `${what} heads`);
  checkCount(p.tq, `${what} tq`);
  checkCount(p.tk, `${what} tk`);
  checkCount(p.d, `${what} d`);
  if (p.scale !== undefined) checkFinite(p.scale, `${what} scale`);
}

/**
 * The element distance between heads of attention's k and v: `kvHeadStride`, or tk * d
 * (dense) when absent. Throws an ArgumentError naming it unless it is a safe integer
 * >= tk * d, since a smaller stride would make one head's rows overlap the next head's.
 */
function attentionKvHeadStride(p: Pick<AttentionParams, 'tk' | 'd' | 'kvHeadStride'>): number {
  const rows = p.tk * p.d;
  const s = p.kvHeadStride ?? rows;
  if (!Number.isSafeInteger(s) || s < rows) {
    throw new ArgumentError(`attention kvHeadStride must be an integer >= tk * d = ${p.tk} * ${p.d} = ${rows}, got ${s}`);
  }
  return s;
}

export function validateAttention(be: string, p: AttentionParams): void {
  checkAttentionDims(p, 'attention');
  if (p.causal && p.tq > p.tk) {
    throw new ShapeError(`attention: causal attention needs tq <= tk (queries are the last tq of tk positions), got tq ${p.tq}, tk ${p.tk}`);
  }
  const kvStride = attentionKvHeadStride(p);
  const kvSpan = p.heads === 0 ? 0 : (p.heads - 1) * kvStride + p.tk * p.d;
  checkDense(be, p.q, p.heads * p.tq * p.d, 'attention q');
  checkDense(be, p.k, kvSpan, 'attention k');
  checkDense(be, p.v, kvSpan, 'attention v');
  checkDense(be, p.out, p.heads * p.tq * p.d, 'attention out');
  checkDense(be, p.probs, p.heads * p.tq * p.tk, 'attention probs');
  // probs doubles as the score scratch and out is written head by head while later heads'
  // inputs are still to be read, so neither may alias an input (k/v: their whole span,
  // the gaps between strided heads included).
  for (const [name, o, n] of [['out', p.out, p.heads * p.tq * p.d], ['probs', p.probs, p.heads * p.tq * p.tk]] as const) {
    checkNoOverlap(o, n, p.q, p.heads * p.tq * p.d, `attention ${name} and q`);
    checkNoOverlap(o, n, p.k, kvSpan, `attention ${name} and k`);
    checkNoOverlap(o, n, p.v, kvSpan, `attention ${name} and v`);
  }
}

export function validateAttentionBackward(be: string, p: AttentionBackwardParams): void {
  checkAttentionDims(p, 'attentionBackward');
  const nq = p.heads * p.tq * p.d;
  const nk = p.heads * p.tk * p.d;
  checkDense(be, p.q, nq, 'attentionBackward q');
  checkDense(be, p.k, nk, 'attentionBackward k');
  checkDense(be, p.v, nk, 'attentionBackward v');
  checkDense(be, p.probs, p.heads * p.tq * p.tk, 'attentionBackward probs');
  checkDense(be, p.dOut, nq, 'attentionBackward dOut');
  checkDense(be, p.dq, nq, 'attentionBackward dq');
  checkDense(be, p.dk, nk, 'attentionBackward dk');
  checkDense(be, p.dv, nk, 'attentionBackward dv');
}

export function validateSgd(be: string, p: SgdParams): void {
  checkCount(p.n, 'sgd n');
  for (const [k, v] of [['lr', p.lr], ['momentum', p.momentum], ['dampening', p.dampening], ['weightDecay', p.weightDecay]] as const) {
    checkFinite(v, `sgd ${k}`);
  }
  checkDense(be, p.param, p.n, 'sgd param');
  checkDense(be, p.grad, p.n, 'sgd grad');
  if (p.momentum !== 0) {
    if (!p.momentumBuf) throw new ArgumentError('sgd: momentum != 0 needs a momentumBuf');
    checkDense(be, p.momentumBuf, p.n, 'sgd momentumBuf');
  }
}

export function validateAdam(be: string, p: AdamParams): void {
  checkCount(p.n, 'adam n');
  for (const [k, v] of [['lr', p.lr], ['beta1', p.beta1], ['beta2', p.beta2], ['eps', p.eps], ['weightDecay', p.weightDecay]] as const) {
    checkFinite(v, `adam ${k}`);
  }
  if (!Number.isInteger(p.step) || p.step < 1) throw new ArgumentError(`adam step must be an integer >= 1, got ${p.step}`);
  checkDense(be, p.param, p.n, 'adam param');
  checkDense(be, p.grad, p.n, 'adam grad');
  checkDense(be, p.m, p.n, 'adam m');
  checkDense(be, p.v, p.n, 'adam v');
  if (p.amsgrad) {
    if (!p.vMax) throw new ArgumentError('adam: amsgrad needs a vMax buffer');
    checkDense(be, p.vMax, p.n, 'adam vMax');
  }
}

export function validateQMatmul(be: string, p: QMatmulParams): void {
  checkCount(p.m, 'qmatmul m');
  checkCount(p.n, 'qmatmul n');
  checkCount(p.k, 'qmatmul k');
  checkQuantFormat(p.bits, p.groupSize, p.k, `qmatmul (x [${p.m}, ${p.k}], weight [${p.n}, ${p.k}])`);
  if (p.activations !== undefined && p.activations !== 'f32' && p.activations !== 'int8') {
    throw new ArgumentError(`qmatmul: activations must be 'f32' or 'int8', got ${String(p.activations)}`);
  }
  const nq = quantizedElements(p.n, p.k, p.bits);
  const ns = (p.n * p.k) / p.groupSize;
  checkDense(be, p.x, p.m * p.k, `qmatmul x [${p.m}, ${p.k}]`);
  checkDense(be, p.q, nq, `qmatmul q (int${p.bits} [${p.n}, ${p.k}])`);
  checkDense(be, p.scales, ns, `qmatmul scales [${p.n}, ${p.k / p.groupSize}]`);
  checkDense(be, p.out, p.m * p.n, `qmatmul out [${p.m}, ${p.n}]`);
  checkNoOverlap(p.out, p.m * p.n, p.x, p.m * p.k, 'qmatmul');
  checkNoOverlap(p.out, p.m * p.n, p.q, nq, 'qmatmul');
  checkNoOverlap(p.out, p.m * p.n, p.scales, ns, 'qmatmul');
}

export function validateQEmbedding(be: string, p: QEmbeddingParams): void {
  checkCount(p.count, 'qembedding count');
  checkCount(p.n, 'qembedding n');
  checkCount(p.k, 'qembedding k');
  checkQuantFormat(p.bits, p.groupSize, p.k, `qembedding (table [${p.n}, ${p.k}])`);
  const nq = quantizedElements(p.n, p.k, p.bits);
  const ns = (p.n * p.k) / p.groupSize;
  checkDense(be, p.q, nq, `qembedding q (int${p.bits} [${p.n}, ${p.k}])`);
  checkDense(be, p.scales, ns, `qembedding scales [${p.n}, ${p.k / p.groupSize}]`);
  checkDense(be, p.indices, p.count, `qembedding indices [${p.count}]`);
  checkDense(be, p.out, p.count * p.k, `qembedding out [${p.count}, ${p.k}]`);
  checkNoOverlap(p.out, p.count * p.k, p.q, nq, 'qembedding');
  checkNoOverlap(p.out, p.count * p.k, p.scales, ns, 'qembedding');
  checkNoOverlap(p.out, p.count * p.k, p.indices, p.count, 'qembedding');
}

/** A kernel's shared validator: throws a typed error naming the bad operand or value of `p`. */
export type Validator<K extends KernelName> = (backend: string, p: ParamsOf<K>) => void;

/**
 * The validator of every kernel, by name. The mapped type makes a kernel without a validator
 * a compile error, and `KERNEL_NAMES` is this table's keys, so the kernel list, its params
 * types and its validation cannot drift apart. Backends do not call these themselves:
 * `bindKernels` runs the kernel's validator before its table entry.
 */
export const VALIDATORS: { readonly [K in KernelName]: Validator<K> } = {
  matmul: validateMatmul,
  unary: validateUnary,
  binary: validateBinary,
  where: validateWhere,
  copy: validateCopy,
  cast: validateCast,
  fill: validateFill,
  random: validateRandom,
  reduce: validateReduce,
  softmax: validateSoftmax,
  softmaxBackward: validateSoftmaxBackward,
  layerNorm: validateLayerNorm,
  layerNormBackward: validateLayerNormBackward,
  geluBackward: validateGeluBackward,
  indexSelect: validateIndexSelect,
  indexAdd: validateIndexAdd,
  gather: validateGather,
  scatterAdd: validateScatterAdd,
  crossEntropy: validateCrossEntropy,
  crossEntropyBackward: validateCrossEntropyBackward,
  attention: validateAttention,
  attentionBackward: validateAttentionBackward,
  sgdStep: validateSgd,
  adamStep: validateAdam,
  qmatmul: validateQMatmul,
  qembedding: validateQEmbedding,
};
