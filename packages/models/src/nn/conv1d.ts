/** Hugging Face's Conv1D: a linear layer with the weight stored [in, out] (GPT-2's layout). */

import { add, matmul, quantizedMatmul, tidy, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { deriveSeed, normal_, zeros_ } from './init.js';
import { checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';
import { standaloneParameters } from './parameters.js';

/**
 * y = x @ W + b with W [in, out] (HF `transformers.pytorch_utils.Conv1D`).
 * Initialised like HF: W ~ N(0, 0.02^2), b = 0.
 * @example const c_attn = new Conv1D(768, 2304); c_attn.forward(x) // [B, T, 2304]
 */
export class Conv1D extends Module {
  /** [in, out] */
  readonly weight: Tensor;
  /** [out] */
  readonly bias: Tensor;
  /** The weight's quantized copy that forward multiplies by instead (set by `quantize(model)`), or null. */
  quantizedWeight: QuantizedWeight | null = null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerOptions & { std?: number } = {},
  ) {
    super();
    checkPositiveInt('Conv1D', 'inFeatures', inFeatures);
    checkPositiveInt('Conv1D', 'outFeatures', outFeatures);
    const factory = options.factory ?? standaloneParameters;
    this.weight = this.registerParameter('weight', factory.create([inFeatures, outFeatures], true));
    this.bias = this.registerParameter('bias', factory.create([outFeatures], false));
    if (options.init !== false) {
      normal_(this.weight, { std: options.std ?? 0.02, seed: deriveSeed(options.seed, 0) });
      zeros_(this.bias);
    }
  }

  /** x: [..., in] -> [..., out] */
  protected override matmulWeights(): { weight: Tensor; transposed: boolean }[] {
    // A quantized layer multiplies by its quantized copy: nothing of the f32 weight to pack.
    return this.quantizedWeight ? [] : [{ weight: this.weight, transposed: false }];
  }

  forward(x: Tensor): Tensor {
    return tidy(() => add(this.quantizedWeight ? quantizedMatmul(x, this.quantizedWeight) : matmul(x, this.weight), this.bias));
  }

  protected override disposeOwned(): void {
    this.quantizedWeight?.dispose();
    this.quantizedWeight = null;
  }

  override extraRepr(): string {
    // HF prints Conv1D(nf, nx): output features first.
    return `nf=${this.outFeatures}, nx=${this.inFeatures}`;
  }
}
