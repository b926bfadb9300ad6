/**
 * The Backend interface: storage + kernels. Every accelerator (reference TS,
 * WebAssembly SIMD, WebGPU) implements it; `@tessera/tensor` only talks to it.
 *
 * Conventions shared by every kernel:
 * - Offsets, strides and sizes are counted in elements, never bytes. Both
 *   dtypes (f32, i32) are 4 bytes wide.
 * - An operand is a `Strided` (storage + offset + per-dim strides, a stride of
 *   0 broadcasts) or a `Dense` (storage + offset, row-major contiguous).
 * - Kernels are synchronous calls that enqueue or perform work; results become
 *   visible through `read` (async on every backend) or `readSync` where
 *   `features.syncRead` is true.
 * - Backends validate every operand against its storage before touching
 *   memory: a bad operand throws a `BoundsError`/`ShapeError`, never traps.
 */

import { UnsupportedError } from './errors.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './ops.js';
import type { QuantActivations } from './quant.js';
import { VALIDATORS } from './validate.js';

/** Element types a storage can be read as. */
export type DType = 'f32' | 'i32';

/** The typed array that holds a dtype's values on the host. */
export type ArrayFor<D extends DType> = D extends 'f32' ? Float32Array : Int32Array;

/** Opaque handle to a block of backend memory. Only the owning backend looks inside. */
export interface Storage {
  /** Backend that owns the storage (its `name`). */
  readonly backend: string;
  /** Unique id within the backend; stable for the storage's life. */
  readonly id: number;
  /** Size in bytes as requested (rounded up to whole 4-byte elements). */
  readonly bytes: number;
  /** True once `free` was called. */
  readonly freed: boolean;
}

/** A contiguous operand: `storage` starting at element `offset`. */
export interface Dense {
  storage: Storage;
  offset: number;
}

/** A strided operand: element (i0, i1, ...) lives at offset + sum(ik * strides[k]). */
export interface Strided extends Dense {
  strides: readonly number[];
}

/** What a backend and the runtime under it can do. */
export interface Features {
  /** WebAssembly SIMD128 kernels are in use. */
  simd: boolean;
  /** Relaxed-SIMD (fused multiply-add) kernels are in use. */
  relaxedSimd: boolean;
  /** Kernels may run on more than one thread. */
  threads: boolean;
  /** Number of threads kernels may use. */
  numThreads: number;
  /** Half-precision storage/compute is available. */
  f16: boolean;
  /** `readSync` is available. */
  syncRead: boolean;
}

export { BINARY_OPS, REDUCE_OPS, UNARY_OPS, type BinaryOp, type ReduceOp, type UnaryOp } from './ops.js';

/** out[b] = op(A[b]) @ op(B[b]) (+ out[b] when accumulate). Row-major, f32. */
export interface MatmulParams {
  /** A: [batch, m, k] (or [batch, k, m] when transA), rows contiguous. */
  a: Dense;
  /** B: [batch, k, n] (or [batch, n, k] when transB), rows contiguous. */
  b: Dense;
  /** out: [batch, m, n], contiguous. */
  out: Dense;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Number of matrices; default 1. */
  batch?: number;
  /** Element distance between consecutive A/B matrices; 0 broadcasts one matrix over the batch. Default m*k / k*n. */
  strideA?: number;
  strideB?: number;
  /** Add into `out` instead of overwriting it. */
  accumulate?: boolean;
  /**
   * B already packed by this backend's `prepackMatmulB` (same k, n, transB), for a B used
   * by many products (a weight at inference), read instead of B where every batch shares B
   * (batch 1 or strideB 0). A backend says in its docs where it uses it; the wasm backend
   * reads a transposed B's panels on its packed path (same bits as packing per call) and
   * an untransposed B's transposed copy on its dot-form tiles (A with at most 4 rows, or
   * k >= 256: each row the bits of its one-row product with the copy, not those of the
   * untransposed paths), and ignores it elsewhere.
   */
  bPacked?: Dense;
}

/** B of a matmul ([k, n], or [n, k] when transB) packed ahead into `out` (see MatmulParams.bPacked). */
export interface PrepackMatmulBParams {
  b: Dense;
  /** Receives the packed panels: `prepackedMatmulBElements(k, n)` f32 elements. */
  out: Dense;
  k: number;
  n: number;
  transB?: boolean;
}

/** out = op(x) elementwise over `shape`; `alpha` is pow's exponent. f32. */
export interface UnaryParams {
  op: UnaryOp;
  x: Strided;
  out: Dense;
  shape: readonly number[];
  alpha?: number;
}

/** out = a op b elementwise over `shape` (broadcast by 0-strides). f32 in, f32 out (comparisons give 1/0). */
export interface BinaryParams {
  op: BinaryOp;
  a: Strided;
  b: Strided;
  out: Dense;
  shape: readonly number[];
}

/** out = cond != 0 ? a : b over `shape`; cond has dtype `condDType`. f32 a/b/out. */
export interface WhereParams {
  cond: Strided;
  condDType: DType;
  a: Strided;
  b: Strided;
  out: Dense;
  shape: readonly number[];
}

/**
 * Strided copy of 4-byte elements (either dtype), bit for bit: out[i] = x[i] over `shape`.
 * x and out may overlap: the result is as if all of x were read before out is written.
 */
export interface CopyParams {
  x: Strided;
  out: Strided;
  shape: readonly number[];
}

/** Converts between dtypes over `shape`; f32 -> i32 truncates toward zero. */
export interface CastParams {
  x: Strided;
  out: Dense;
  shape: readonly number[];
  from: DType;
  to: DType;
}

/** Fills `n` elements with `value` (written as `dtype`). */
export interface FillParams {
  out: Dense;
  n: number;
  value: number;
  dtype: DType;
}

/**
 * Counter-based random numbers: element i depends only on (seed, counter + i),
 * so every backend produces the same bits. uniform: [0, 1); normal: N(0, 1).
 */
export interface RandomParams {
  out: Dense;
  n: number;
  seed: number;
  counter: number;
  dist: 'uniform' | 'normal';
}

/**
 * Reduction over the middle axis of x viewed as [outer, axisLen, inner] (contiguous).
 * out: [outer, inner]; f32, or i32 for argmax/argmin. A full reduction is outer = inner = 1.
 */
export interface ReduceParams {
  op: ReduceOp;
  x: Dense;
  out: Dense;
  outer: number;
  axisLen: number;
  inner: number;
}

/** Row-wise (log-)softmax of x: [rows, cols] contiguous. */
export interface SoftmaxParams {
  x: Dense;
  out: Dense;
  rows: number;
  cols: number;
  log?: boolean;
}

/**
 * Gradient of (log-)softmax given its output y and upstream dy.
 * softmax: dx = y * (dy - sum(dy * y)); log-softmax: dx = dy - exp(y) * sum(dy).
 */
export interface SoftmaxBackwardParams {
  y: Dense;
  dy: Dense;
  dx: Dense;
  rows: number;
  cols: number;
  log?: boolean;
}

/** y = (x - mean) * rstd * gamma + beta over rows of [rows, cols]; saves mean/rstd: [rows]. */
export interface LayerNormParams {
  x: Dense;
  gamma: Dense;
  beta: Dense;
  out: Dense;
  mean: Dense;
  rstd: Dense;
  rows: number;
  cols: number;
  eps: number;
}

/** Writes dx and accumulates (+=) dgamma, dbeta: [cols]. */
export interface LayerNormBackwardParams {
  dy: Dense;
  x: Dense;
  gamma: Dense;
  mean: Dense;
  rstd: Dense;
  dx: Dense;
  dgamma: Dense;
  dbeta: Dense;
  rows: number;
  cols: number;
}

/** dx = dy * gelu'(x) for the tanh approximation of GELU, over n elements. */
export interface GeluBackwardParams {
  x: Dense;
  dy: Dense;
  dx: Dense;
  n: number;
}

/**
 * Select along an axis: x viewed as [outer, axisLen, inner], indices (i32): [count];
 * out: [outer, count, inner]. An embedding lookup is outer = 1, inner = dim.
 * Indices outside [0, axisLen) throw an IndexError naming the first bad one.
 */
export interface IndexSelectParams {
  x: Dense;
  indices: Dense;
  out: Dense;
  outer: number;
  axisLen: number;
  inner: number;
  count: number;
}

/** Gradient of indexSelect: dx[o, indices[c], i] += dOut[o, c, i]. dx is accumulated, not cleared. */
export interface IndexAddParams {
  dOut: Dense;
  indices: Dense;
  dx: Dense;
  outer: number;
  axisLen: number;
  inner: number;
  count: number;
}

/**
 * Take along the middle axis: x [outer, axisLen, inner], indices (i32) and out [outer, count, inner]
 * with out[o, c, i] = x[o, indices[o, c, i], i] (torch.gather).
 */
export interface GatherParams {
  x: Dense;
  indices: Dense;
  out: Dense;
  outer: number;
  axisLen: number;
  inner: number;
  count: number;
}

/** Gradient of gather: dx[o, indices[o, c, i], i] += dOut[o, c, i]. */
export interface ScatterAddParams {
  dOut: Dense;
  indices: Dense;
  dx: Dense;
  outer: number;
  axisLen: number;
  inner: number;
  count: number;
}

/**
 * Softmax cross-entropy per row: losses[r] = logsumexp(logits[r]) - logits[r, t_r],
 * and 0 where t_r == ignoreIndex. logits: [rows, cols] f32, targets: [rows] i32.
 * Targets outside [0, cols) other than ignoreIndex throw an IndexError.
 */
export interface CrossEntropyParams {
  logits: Dense;
  targets: Dense;
  losses: Dense;
  rows: number;
  cols: number;
  ignoreIndex: number;
}

/** dLogits[r] = (softmax(logits[r]) - onehot(t_r)) * dLosses[r]; rows with ignoreIndex get 0. */
export interface CrossEntropyBackwardParams {
  logits: Dense;
  targets: Dense;
  dLosses: Dense;
  dLogits: Dense;
  rows: number;
  cols: number;
  ignoreIndex: number;
}

/**
 * Scaled dot-product attention over `heads` independent problems:
 * q: [heads, tq, d], k/v: [heads, tk, d] (each head's rows contiguous, heads
 * `kvHeadStride` elements apart), out: [heads, tq, d], probs (saved for backward):
 * [heads, tq, tk].
 * Causal: query i may see key j iff j <= i + (tk - tq) (so a KV cache of tk - tq
 * earlier positions works). `scale` defaults to 1/sqrt(d).
 */
export interface AttentionParams {
  q: Dense;
  /** Head h's keys are the [tk, d] rows at offset + h * kvHeadStride. */
  k: Dense;
  /** Head h's values are the [tk, d] rows at offset + h * kvHeadStride. */
  v: Dense;
  out: Dense;
  probs: Dense;
  heads: number;
  tq: number;
  tk: number;
  d: number;
  causal: boolean;
  scale?: number;
  /**
   * Element distance between consecutive heads of k and v; default (and minimum) tk * d,
   * dense. A larger stride reads the first tk rows of each head of a preallocated
   * [heads, capacity, d] KV cache in place (stride capacity * d), without a copy.
   */
  kvHeadStride?: number;
}

/** Gradient of attention given the saved probs. dq, dk, dv are overwritten. */
export interface AttentionBackwardParams {
  q: Dense;
  k: Dense;
  v: Dense;
  probs: Dense;
  dOut: Dense;
  dq: Dense;
  dk: Dense;
  dv: Dense;
  heads: number;
  tq: number;
  tk: number;
  d: number;
  scale?: number;
}

/**
 * One SGD step over n flat elements, PyTorch's rule:
 * g = grad + wd*p; if momentum: buf = first ? g : momentum*buf + (1-dampening)*g;
 * g = nesterov ? g + momentum*buf : buf; p -= lr*g.
 */
export interface SgdParams {
  param: Dense;
  grad: Dense;
  /** Momentum buffer, required when momentum != 0. */
  momentumBuf?: Dense;
  n: number;
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  /** True on the first step: the momentum buffer is initialised to g. */
  firstStep: boolean;
}

/**
 * One Adam/AdamW step over n flat elements at step t (1-based), PyTorch's rule.
 * Adam: g += wd*p (L2). AdamW (decoupled): p *= 1 - lr*wd.
 * m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; (amsgrad: vmax = max(vmax, v), use vmax)
 * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 */
export interface AdamParams {
  param: Dense;
  grad: Dense;
  m: Dense;
  v: Dense;
  /** Running max of v, required when amsgrad. */
  vMax?: Dense;
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  amsgrad: boolean;
  step: number;
}

/**
 * out[m, n] = x[m, k] @ dequant(W)^T for a weight-only quantized W (see src/quant.ts for the
 * format): W is held as n rows of k quantized values (the output-major layout of an
 * nn.Linear weight; a [k, n] weight is transposed when it is quantized), each row cut into
 * k / groupSize groups of groupSize consecutive values sharing one f32 scale, so
 * W[j, l] = q[j, l] * scales[j, l / groupSize]. Activations and the result are f32; the
 * products are summed in f32 (float64 on the reference backend).
 */
export interface QMatmulParams {
  /** x: [m, k] f32, rows contiguous. */
  x: Dense;
  /**
   * The quantized values, n rows of k values back to back, in 4-byte elements:
   * bits 8: one int8 per byte, n * k / 4 elements; bits 4: two per byte, n * k / 8 elements
   * (quant.ts says the nibble order). A row is a whole number of elements since
   * groupSize >= 32 divides k.
   */
  q: Dense;
  /** scales: [n, k / groupSize] f32. */
  scales: Dense;
  /** out: [m, n] f32, contiguous. */
  out: Dense;
  m: number;
  n: number;
  k: number;
  /** 8 (int8 in [-127, 127]) or 4 (int4 in [-8, 7]). */
  bits: 8 | 4;
  /** Values per scale: 32, 64 or 128; k must be a multiple of it. */
  groupSize: number;
  /**
   * 'f32' (default): x as given; out equals an f32 matmul of the dequantized weights (to
   * f32 rounding). 'int8': each row of x is quantized per group first (quant.ts
   * `quantizeActivations`: symmetric int8, one scale per groupSize values, ties to even)
   * and each group's dot product is an exact integer sum of int8 x int8 / int4 products,
   * scaled once: out[i, j] = sum_g sx[i, g] * sw[j, g] * sum_{l in g} xq[i, l] * q[j, l].
   * Faster where the products are integer SIMD; the error against 'f32' is bounded by
   * half an activation step per term: |out - out_f32| <= sum_g sx[i, g] / 2 * sum_{l in g}
   * |w[j, l]| plus f32 rounding (the wasm tests check that bound).
   */
  activations?: QuantActivations;
}

/**
 * Row gather from a weight-only quantized table (an embedding lookup on a quantized
 * embedding): out[c, l] = q[indices[c], l] * scales[indices[c], l / groupSize] for c in
 * [0, count), l in [0, k). The table is `QMatmulParams`' weight layout (n rows of k values,
 * core's quant.ts), so a tied embedding / LM head is one quantized copy read by both
 * `qmatmul` and this kernel. Every index must lie in [0, n): an IndexError names the first
 * that does not, and nothing is written.
 */
export interface QEmbeddingParams {
  /** The packed values of the [n, k] table (see QMatmulParams.q). */
  q: Dense;
  /** [n, k / groupSize] f32 scales. */
  scales: Dense;
  /** [count] i32 row indices. */
  indices: Dense;
  /** [count, k] f32, contiguous. */
  out: Dense;
  count: number;
  n: number;
  k: number;
  bits: 8 | 4;
  groupSize: number;
}

/**
 * Every kernel's params, by kernel name: the one list the backends' kernel tables
 * (`KernelTable`), the shared validators (`VALIDATORS`) and `KERNEL_NAMES` are checked
 * against at compile time.
 */
export interface KernelParams {
  matmul: MatmulParams;
  unary: UnaryParams;
  binary: BinaryParams;
  where: WhereParams;
  copy: CopyParams;
  cast: CastParams;
  fill: FillParams;
  random: RandomParams;
  reduce: ReduceParams;
  softmax: SoftmaxParams;
  softmaxBackward: SoftmaxBackwardParams;
  layerNorm: LayerNormParams;
  layerNormBackward: LayerNormBackwardParams;
  geluBackward: GeluBackwardParams;
  indexSelect: IndexSelectParams;
  indexAdd: IndexAddParams;
  gather: GatherParams;
  scatterAdd: ScatterAddParams;
  crossEntropy: CrossEntropyParams;
  crossEntropyBackward: CrossEntropyBackwardParams;
  attention: AttentionParams;
  attentionBackward: AttentionBackwardParams;
  sgdStep: SgdParams;
  adamStep: AdamParams;
  qmatmul: QMatmulParams;
  qembedding: QEmbeddingParams;
}

/** A kernel's name. */
export type KernelName = keyof KernelParams;
/** The params object of kernel `K`. */
export type ParamsOf<K extends KernelName> = KernelParams[K];

/**
 * The kernels every backend must supply. Every other kernel is fused: a faster form of
 * something the tensor layer can also compose from these, so a backend may leave it out.
 */
export const PRIMITIVE_KERNELS = [
  'matmul',
  'unary',
  'binary',
  'where',
  'copy',
  'cast',
  'fill',
  'random',
  'reduce',
  'indexSelect',
  'indexAdd',
  'gather',
  'scatterAdd',
] as const satisfies readonly KernelName[];

/**
 * Kernels that are neither primitives nor fused forms of them: nothing composes them from the
 * primitives (quantized weights need integer unpacking no primitive has), so a backend may
 * leave them out and the tensor op that needs one throws an UnsupportedError naming it.
 */
export const EXTENSION_KERNELS = ['qmatmul', 'qembedding'] as const satisfies readonly KernelName[];

export type PrimitiveKernelName = (typeof PRIMITIVE_KERNELS)[number];
export type ExtensionKernelName = (typeof EXTENSION_KERNELS)[number];
export type FusedKernelName = Exclude<KernelName, PrimitiveKernelName | ExtensionKernelName>;
/** Every kernel a backend may leave out: fused and extension kernels. */
export type OptionalKernelName = Exclude<KernelName, PrimitiveKernelName>;

/** The kernel members of a Backend: primitives required, fused and extension kernels optional. */
export type Kernels = { [K in PrimitiveKernelName]: (p: ParamsOf<K>) => void } & {
  [K in OptionalKernelName]?: (p: ParamsOf<K>) => void;
};

/**
 * Every primitive and fused kernel as a member: the type of a backend that supplies the fused
 * kernels too. Extension kernels stay optional members.
 */
export type AllKernels = { [K in PrimitiveKernelName | FusedKernelName]: (p: ParamsOf<K>) => void } & {
  [K in ExtensionKernelName]?: (p: ParamsOf<K>) => void;
};

/** Storage plus kernels. See the file comment for conventions. */
export interface Backend extends Kernels {
  /** Short name: 'reference', 'wasm', 'webgpu'. */
  readonly name: string;
  readonly features: Features;
  /**
   * True where f32 data is held in float64 (the reference backend's gradient-check mode); such a
   * backend's `write` also takes a Float64Array and keeps its values exactly.
   */
  readonly float64?: boolean;
  /**
   * The largest allocation `alloc` can grant, in bytes, where the backend knows it (wasm32 and
   * reference: 4 GiB; WebGPU: the device's largest bindable buffer). Lets callers refuse a size
   * up front, naming what asked for it, instead of reaching the allocator's message.
   */
  readonly maxBytes?: number;

  /** Allocates at least `bytes` bytes (contents unspecified). */
  alloc(bytes: number): Storage;
  /** Releases storage; later use throws DisposedError. Freeing twice throws too. */
  free(storage: Storage): void;
  /** Copies `data` into storage starting at element `offset` (default 0). */
  write(storage: Storage, data: Float32Array | Int32Array, offset?: number): void;
  /** Reads `length` elements from element `offset` as `dtype` into a new array. */
  read<D extends DType>(storage: Storage, dtype: D, offset?: number, length?: number): Promise<ArrayFor<D>>;
  /** Synchronous read; throws UnsupportedError where `features.syncRead` is false. */
  readSync<D extends DType>(storage: Storage, dtype: D, offset?: number, length?: number): ArrayFor<D>;
  /** Resolves once every enqueued kernel has finished. */
  sync(): Promise<void>;
  /** Bytes currently allocated and the backend's own heap size (e.g. wasm linear memory). */
  memoryInfo(): { allocatedBytes: number; liveStorages: number; heapBytes: number };

  /**
   * Optional (the wasm backend has it): packs a matmul B ahead, for MatmulParams.bPacked.
   * Backends without a packed GEMM leave both members undefined.
   */
  prepackMatmulB?(p: PrepackMatmulBParams): void;
  /** f32 elements `prepackMatmulB` writes for a B of [k, n]. */
  prepackedMatmulBElements?(k: number, n: number): number;

  /**
   * Where the backend's optional kernels pay off, for the tensor layer's choices between
   * modes that a caller allows (see KernelPolicy). Absent: every entry at its default.
   */
  readonly kernelPolicy?: Partial<KernelPolicy>;
}

/**
 * A backend's word on when an allowed cheaper mode of a kernel is worth it; the tensor
 * layer reads it (`int8ActivationRows`) so nothing above it names a backend. The precedent
 * is onnxruntime's MatMulNBits `accuracy_level`: the caller states the least accuracy it
 * accepts, and each backend computes more accurately where that is not slower.
 */
export interface KernelPolicy {
  /**
   * Up to how many rows of x (m) `qmatmul` with `activations: 'int8'` is faster than with
   * f32 activations on this backend, so a weight that allows int8 activations gets them
   * for m <= this and f32 activations above. 0 (the default): never, as on a backend
   * without an int8 kernel (WebGPU) where the mode would be refused or no faster.
   */
  qmatmulInt8Rows: number;
}

/**
 * Names of every kernel, in `KernelParams` order: the keys of the validator table, whose
 * mapped type forces one entry per kernel. A coverage test checks every backend has all.
 */
export const KERNEL_NAMES: readonly KernelName[] = Object.keys(VALIDATORS) as KernelName[];

const PRIMITIVE_SET: ReadonlySet<string> = new Set(PRIMITIVE_KERNELS);
const EXTENSION_SET: ReadonlySet<string> = new Set(EXTENSION_KERNELS);

/** The fused kernels: a backend may leave them out, and the tensor layer composes them from primitives. */
export const FUSED_KERNELS = KERNEL_NAMES.filter((k): k is FusedKernelName => !PRIMITIVE_SET.has(k) && !EXTENSION_SET.has(k));

/** The primitive kernels `kernels` (a backend, or a backend's kernel table) lacks, in list order. */
export function missingPrimitives(kernels: object): PrimitiveKernelName[] {
  return PRIMITIVE_KERNELS.filter((k) => typeof (kernels as Partial<Record<string, unknown>>)[k] !== 'function');
}

/** `be`'s fused (or extension) kernel `name`, bound to it, or undefined when the backend leaves it out. */
export function fusedKernel<K extends OptionalKernelName>(be: Backend, name: K): ((p: ParamsOf<K>) => void) | undefined {
  const k = be[name] as ((p: ParamsOf<K>) => void) | undefined;
  return typeof k === 'function' ? k.bind(be) : undefined;
}

/**
 * The most rows of x for which `be`'s `qmatmul` takes int8 activations when a weight allows
 * them (KernelPolicy.qmatmulInt8Rows; 0 where it has no qmatmul kernel or declares none).
 */
export function int8ActivationRows(be: Backend): number {
  if (!fusedKernel(be, 'qmatmul')) return 0;
  const rows = be.kernelPolicy?.qmatmulInt8Rows ?? 0;
  return Number.isSafeInteger(rows) && rows > 0 ? rows : 0;
}

/** `be`'s fused kernel `name`, bound to it; an UnsupportedError naming the kernel and `op` where it has none. */
export function requireFusedKernel<K extends OptionalKernelName>(be: Backend, name: K, op: string): (p: ParamsOf<K>) => void {
  const k = fusedKernel(be, name);
  if (!k) throw new UnsupportedError(`${op}: backend '${be.name}' has no '${name}' kernel and no composed form of it is available`);
  return k;
}

/**
 * A view of `be` that leaves out the fused or extension kernels `names` (default: every fused kernel) and keeps
 * everything else — storage, primitives, features — of the same backend, so the tensor layer
 * takes its composed paths. For tests of those paths and for measuring what a fused kernel buys.
 */
export function withoutFusedKernels<T extends Backend>(be: T, names: readonly OptionalKernelName[] = FUSED_KERNELS): T {
  const hidden: ReadonlySet<PropertyKey> = new Set(names);
  return new Proxy(be, {
    get(target, key) {
      if (hidden.has(key)) return undefined;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    has(target, key) {
      return !hidden.has(key) && Reflect.has(target, key);
    },
  });
}
