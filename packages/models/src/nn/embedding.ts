/** Embedding table lookup. */

import { embedding, quantizedEmbedding, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { deriveSeed, normal_ } from './init.js';
import { checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';
import { standaloneParameters } from './parameters.js';

/**
 * Rows of a [numEmbeddings, dim] table for i32 ids of any shape: [...] -> [..., dim].
 * Initialised N(0, std^2) (PyTorch: std 1).
 * @example const wte = new Embedding(50257, 768); wte.forward(ids) // [B, T, 768]
 */
export class Embedding extends Module {
  /**
   * The table's quantized copy ([numEmbeddings, dim], rows of the table) that forward reads
   * rows from (set by `quantize(model)` for a GPT-2's tied embedding, or a quantized
   * checkpoint; the f32 table is then freed), or null.
   */
  quantizedWeight: QuantizedWeight | null = null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: LayerOptions & { std?: number } = {},
  ) {
    super();
    checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', embeddingDim);
    const factory = options.factory ?? standaloneParameters;
    this.registerParameter('weight', factory.create([numEmbeddings, embeddingDim], true));
    if (options.init !== false) normal_(this.weight, { std: options.std ?? 1, seed: deriveSeed(options.seed, 0) });
  }

  /** [numEmbeddings, dim]; a QuantizedModelError once the table is quantized (its f32 values are freed). */
  get weight(): Tensor {
    return this.parameter('weight');
  }

  /** ids (i32): [...] -> [..., dim]; an id outside [0, numEmbeddings) throws an IndexError. */
  forward(ids: Tensor): Tensor {
    return this.quantizedWeight ? quantizedEmbedding(this.quantizedWeight, ids) : embedding(this.weight, ids);
  }

  protected override disposeOwned(): void {
    this.quantizedWeight?.dispose();
    this.quantizedWeight = null;
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}
