/** Hugging Face's Conv1D: a linear layer with the weight stored [in, out] (GPT-2's layout). */

import { add, matmul, quantizedMatmul, tidy, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { deriveSeed, normal_, zeros_ } from './init.js';
import { checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';
import { checkQuantizedInput } from './quantized-input.js';
import { standaloneParameters } from './parameters.js';

/**
 * y = x @ W + b with W [in, out] (HF `transformers.pytorch_utils.Conv1D`).
 * Initialised like HF: W ~ N(0, 0.02^2), b = 0.
 * @example const c_attn = new Conv1D(768, 2304); c_attn.forward(x) // [B, T, 2304]
 */
export class Conv1D extends Module {
  /**
   * The weight's quantized copy ([out, in], output-major) that forward multiplies by (set by
   * `quantize(model)` or a quantized checkpoint; the f32 weight is then freed), or null.
   */
  quantizedWeight: QuantizedWeight | null = null;
  /** The weight's dotted name in its model, for errors (set with quantizedWeight). */
  quantizedName = 'weight';

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LayerOptions & { std?: number } = {},
  ) {
    super();
    checkPositiveInt('Conv1D', 'inFeatures', inFeatures);
    checkPositiveInt('Conv1D', 'outFeatures', outFeatures);
    const factory = options.factory ?? standaloneParameters;
    this.registerParameter('weight', factory.create([inFeatures, outFeatures], true));
    this.registerParameter('bias', factory.create([outFeatures], false));
    if (options.init !== false) {
      normal_(this.weight, { std: options.std ?? 0.02, seed: deriveSeed(options.seed, 0) });
      zeros_(this.bias);
    }
  }

  /** [in, out]; a QuantizedModelError once the layer is quantized (its f32 weight is freed). */
  get weight(): Tensor {
    return this.parameter('weight');
  }

  /** [out] */
  get bias(): Tensor {
    return this.parameter('bias');
  }

  protected override matmulWeights(): { weight: Tensor; transposed: boolean }[] {
    return this.quantizedWeight ? [] : [{ weight: this.weight, transposed: false }];
  }

  /** x: [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    const qw = this.quantizedWeight;
    if (qw) checkQuantizedInput('Conv1D', this.quantizedName, qw, x);
    return tidy(() => add(qw ? quantizedMatmul(x, qw) : matmul(x, this.weight), this.bias));
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
