/** Embedding table lookup. */

import { embedding, type Tensor } from '@tessera/tensor';
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
  /** [numEmbeddings, dim] */
  readonly weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: LayerOptions & { std?: number } = {},
  ) {
    super();
    checkPositiveInt('Embedding', 'numEmbeddings', numEmbeddings);
    checkPositiveInt('Embedding', 'embeddingDim', embeddingDim);
    const factory = options.factory ?? standaloneParameters;
    this.weight = this.registerParameter('weight', factory.create([numEmbeddings, embeddingDim], true));
    if (options.init !== false) normal_(this.weight, { std: options.std ?? 1, seed: deriveSeed(options.seed, 0) });
  }

  /** ids (i32): [...] -> [..., dim]; an id outside [0, numEmbeddings) throws an IndexError. */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}
