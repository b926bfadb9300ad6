/** Linear layer, PyTorch layout: y = x @ W^T + b with W [out, in]. */

import { ArgumentError } from '@tessera/core';
import { add, matmul, quantizedMatmul, tidy, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { deriveSeed, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { checkQuantizedInput } from './quantized-input.js';
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
  /** Whether the layer has a bias. */
  readonly hasBias: boolean;
  /**
   * The weight's quantized copy that forward multiplies by (set by `quantize(model)` or a
   * quantized checkpoint; the f32 weight is then freed), or null.
   */
  quantizedWeight: QuantizedWeight | null = null;
  /** The weight's dotted name in its model, for errors (set with quantizedWeight). */
  quantizedName = 'weight';

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    const factory = options.factory ?? standaloneParameters;
    this.registerParameter('weight', factory.create([outFeatures, inFeatures], true));
    this.hasBias = options.bias !== false;
    if (this.hasBias) this.registerParameter('bias', factory.create([outFeatures], false));
    if (options.init !== false) {
      // PyTorch's default: kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(in), 1/sqrt(in)); the bias uses the same bound.
      kaimingUniform_(this.weight, { a: Math.sqrt(5), seed: deriveSeed(options.seed, 0) });
      const bound = 1 / Math.sqrt(inFeatures);
      if (this.bias) uniform_(this.bias, { low: -bound, high: bound, seed: deriveSeed(options.seed, 1) });
    }
  }

  /** [out, in]; a QuantizedModelError once the layer is quantized (its f32 weight is freed). */
  get weight(): Tensor {
    return this.parameter('weight');
  }

  /** [out], or null without bias. */
  get bias(): Tensor | null {
    return this.hasBias ? this.parameter('bias') : null;
  }

  protected override matmulWeights(): { weight: Tensor; transposed: boolean }[] {
    return this.quantizedWeight ? [] : [{ weight: this.weight, transposed: true }];
  }

  /** x: [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    const qw = this.quantizedWeight;
    if (qw) checkQuantizedInput('Linear', this.quantizedName, qw, x);
    return tidy(() => {
      const y = qw ? quantizedMatmul(x, qw) : matmul(x, this.weight.T);
      return this.bias ? add(y, this.bias) : y;
    });
  }

  protected override disposeOwned(): void {
    this.quantizedWeight?.dispose();
    this.quantizedWeight = null;
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.hasBias ? 'True' : 'False'}`;
  }
}
