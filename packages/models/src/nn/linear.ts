/** Linear layer, PyTorch layout: y = x @ W^T + b with W [out, in]. */

import { ArgumentError } from '@tessera/core';
import { add, matmul, quantizedMatmul, tidy, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { deriveSeed, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { standaloneParameters, type ParameterFactory } from './parameters.js';

/** Options shared by layers that own parameters. */
export interface LayerOptions {
  /** Where parameter tensors come from (default: standalone tensors). */
  factory?: ParameterFactory;
  /** Seed for the initial values (default: the global generator). */
  seed?: number;
  /** Initialise the parameters (default true); false leaves the factory's values (e.g. before loading weights). */
  init?: boolean;
}

/** Throws unless n is a positive integer. */
export function checkPositiveInt(op: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new ArgumentError(`${op}: ${name} must be a positive integer, got ${n}`);
}

/**
 * Applies y = x W^T + b over the last dim of x: [..., in] -> [..., out].
 * Initialised like PyTorch: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
 * @example const fc = new Linear(768, 3072, { seed: 0 }); fc.forward(x) // [B, T, 3072]
 */
export class Linear extends Module {
  /** [out, in] */
  readonly weight: Tensor;
  /** [out], or null without bias. */
  readonly bias: Tensor | null;
  /** The weight's quantized copy that forward multiplies by instead (set by `quantize(model)`), or null. */
  quantizedWeight: QuantizedWeight | null = null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    const factory = options.factory ?? standaloneParameters;
    this.weight = this.registerParameter('weight', factory.create([outFeatures, inFeatures], true));
    this.bias = options.bias === false ? null : this.registerParameter('bias', factory.create([outFeatures], false));
    if (options.init !== false) {
      // PyTorch's default: kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)); the bias uses the same bound.
      kaimingUniform_(this.weight, { a: Math.sqrt(5), seed: deriveSeed(options.seed, 0) });
      const bound = 1 / Math.sqrt(inFeatures);
      if (this.bias) uniform_(this.bias, { low: -bound, high: bound, seed: deriveSeed(options.seed, 1) });
    }
  }

  /** x: [..., in] -> [..., out] */
  protected override matmulWeights(): { weight: Tensor; transposed: boolean }[] {
    // A quantized layer multiplies by its quantized copy: nothing of the f32 weight to pack.
    return this.quantizedWeight ? [] : [{ weight: this.weight, transposed: true }];
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const y = this.quantizedWeight ? quantizedMatmul(x, this.quantizedWeight) : matmul(x, this.weight.T);
      return this.bias ? add(y, this.bias) : y;
    });
  }

  protected override disposeOwned(): void {
    this.quantizedWeight?.dispose();
    this.quantizedWeight = null;
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}
