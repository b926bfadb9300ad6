/**
 * @tessera/tensor: tensors with broadcasting ops, reverse-mode autograd and
 * memory scopes, over any @tessera/core backend.
 *
 * @example
 * ```ts
 * import { ready, randn, tensor, tidy, mse, noGrad } from '@tessera/tensor';
 * await ready();
 * const w = randn([3, 1], { requiresGrad: true });
 * const x = tensor([[1, 2, 3]]);
 * const loss = tidy(() => mse(x.matmul(w), tensor([[1]])));
 * loss.backward();
 * noGrad(() => w.sub_(w.grad!, 0.1));
 * ```
 */
import './methods.js';

export { ready, setBackend, getBackend, registerBackend } from './backend.js';
export { Tensor, type Operand, type NestedArray } from './tensor.js';
export type { TensorMethods } from './methods.js';
export { AutogradError } from './errors.js';
export { noGrad, isGradEnabled, zeroGrad, type BackwardOptions } from './autograd.js';
export { tidy, keep, memory, type MemoryInfo } from './scope.js';
export { asyncScopesIsolated } from './context.js';
export { manualSeed, initialSeed } from './random.js';
export {
  tensor,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  fullLike,
  arange,
  rand,
  randn,
  randint,
  type CreateOptions,
  type TensorLike,
  type RandomOptions,
} from './ops/creation.js';
export {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  clamp,
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  tanh,
  sigmoid,
  silu,
  relu,
  gelu,
  abs,
  square,
  reciprocal,
  sign,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  where,
  maskedFill,
  cast,
} from './ops/elementwise.js';
export { sum, mean, variance, variance as var, max, min, maxWithIndices, minWithIndices, argmax, argmin, sumToShape } from './ops/reduce.js';
export { matmul, prepackMatmulWeights, releaseMatmulPacks } from './ops/matmul.js';
export { QuantizedWeight, quantizeWeight, dequantizeWeight, quantizedMatmul, type QuantizeWeightOptions } from './ops/quantized.js';
export {
  reshape,
  view,
  contiguous,
  clone,
  transpose,
  permute,
  expand,
  squeeze,
  unsqueeze,
  flatten,
  slice,
  narrow,
  concat,
  stack,
  split,
  type SliceRange,
} from './ops/shape.js';
export { gather, indexSelect, embedding } from './ops/indexing.js';
export {
  softmax,
  logSoftmax,
  layerNorm,
  dropout,
  crossEntropy,
  mse,
  type DropoutOptions,
  type CrossEntropyOptions,
  type Reduction,
} from './ops/nn.js';
export { scaledDotProductAttention, type AttentionOptions } from './ops/attention.js';

