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
import { guardOps } from './scope.js';
export { asyncScopesIsolated } from './context.js';
export { manualSeed, initialSeed } from './random.js';
import * as creation from './ops/creation.js';
import * as elementwise from './ops/elementwise.js';
import * as reduce from './ops/reduce.js';
import * as matmulOps from './ops/matmul.js';
import * as shape from './ops/shape.js';
import * as indexing from './ops/indexing.js';
import * as nn from './ops/nn.js';
import * as attention from './ops/attention.js';
import * as quantized from './ops/quantized.js';

// Every op is exported through guardOp (scope.ts): when one throws, the tensors it
// created are freed, so memory() after a failed call is what it was before.
export const { tensor, zeros, ones, full, zerosLike, onesLike, fullLike, arange, rand, randn, randint } = guardOps(creation);
export const { add, sub, mul, div, pow, maximum, minimum, clamp, neg, exp, log, sqrt, rsqrt, tanh, sigmoid, silu, relu, gelu, abs, square, reciprocal, sign, eq, ne, lt, le, gt, ge, where, maskedFill, cast } = guardOps(elementwise);
export const { sum, mean, variance, max, min, maxWithIndices, minWithIndices, argmax, argmin, sumToShape } = guardOps(reduce);
export const { matmul, prepackMatmulWeights, releaseMatmulPacks } = guardOps(matmulOps);
export const { reshape, view, contiguous, clone, transpose, permute, expand, squeeze, unsqueeze, flatten, slice, narrow, concat, stack, split } = guardOps(shape);
export const { gather, indexSelect, embedding } = guardOps(indexing);
export const { softmax, logSoftmax, layerNorm, dropout, crossEntropy, mse } = guardOps(nn);
export const { scaledDotProductAttention } = guardOps(attention);
export const { quantizeWeight, dequantizeWeight, quantizedMatmul, quantizedEmbedding, quantizedWeightFromHost, quantizedWeightToHost } = guardOps(quantized);
export { QuantizedWeight, checkQuantActivations } from './ops/quantized.js';
export { variance as var };
export type { CreateOptions, TensorLike, RandomOptions } from './ops/creation.js';
export type { SliceRange } from './ops/shape.js';
export type { DropoutOptions, CrossEntropyOptions, Reduction } from './ops/nn.js';
export type { AttentionOptions } from './ops/attention.js';
export type { QuantizeWeightOptions } from './ops/quantized.js';

