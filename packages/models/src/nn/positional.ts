/** Position information added to token embeddings: fixed sinusoids or a learned table. */

import { ShapeError, fmtShape } from '@tessera/core';
import { add, tensor, tidy, type Tensor } from '@tessera/tensor';
import { deriveSeed, normal_ } from './init.js';
import { checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';
import { standaloneParameters } from './parameters.js';

function checkInput(op: string, x: Tensor, maxLength: number, dim: number, offset: number): number {
  if (x.rank < 2 || x.shape[x.rank - 1] !== dim) throw new ShapeError(`${op}: input ${fmtShape(x.shape)} must be [..., time, ${dim}]`);
  const T = x.shape[x.rank - 2];
  if (!Number.isInteger(offset) || offset < 0 || offset + T > maxLength) {
    throw new ShapeError(`${op}: positions ${offset}..${offset + T - 1} exceed the table of ${maxLength} positions`);
  }
  return T;
}

/**
 * Adds "Attention Is All You Need" sinusoids (a fixed buffer, not a
 * parameter): pe[t, 2i] = sin(t / 10000^(2i/d)), pe[t, 2i+1] = cos(...).
 * @example new SinusoidalPositionalEncoding(512, 64).forward(x) // x: [B, T, 64]
 */
export class SinusoidalPositionalEncoding extends Module {
  /** [maxLength, dim] */
  readonly table: Tensor;

  constructor(
    readonly maxLength: number,
    readonly dim: number,
  ) {
    super();
    checkPositiveInt('SinusoidalPositionalEncoding', 'maxLength', maxLength);
    checkPositiveInt('SinusoidalPositionalEncoding', 'dim', dim);
    const pe = new Float64Array(maxLength * dim);
    for (let t = 0; t < maxLength; t++) {
      for (let i = 0; i < dim; i += 2) {
        const angle = t / Math.pow(10000, i / dim);
        pe[t * dim + i] = Math.sin(angle);
        if (i + 1 < dim) pe[t * dim + i + 1] = Math.cos(angle);
      }
    }
    this.table = this.registerBuffer('table', tensor(pe, [maxLength, dim]));
  }

  /** x: [..., T, dim] + table[offset : offset + T] */
  forward(x: Tensor, offset = 0): Tensor {
    const T = checkInput('SinusoidalPositionalEncoding', x, this.maxLength, this.dim, offset);
    return tidy(() => add(x, this.table.narrow(0, offset, T)));
  }

  override extraRepr(): string {
    return `${this.maxLength}, ${this.dim}`;
  }
}

/**
 * Adds a learned [maxLength, dim] position table (BERT / GPT-2 style), initialised N(0, std^2).
 * @example new LearnedPositionalEmbedding(128, 64, { std: 0.02 }).forward(x)
 */
export class LearnedPositionalEmbedding extends Module {
  /** [maxLength, dim] */
  readonly weight: Tensor;

  constructor(
    readonly maxLength: number,
    readonly dim: number,
    options: LayerOptions & { std?: number } = {},
  ) {
    super();
    checkPositiveInt('LearnedPositionalEmbedding', 'maxLength', maxLength);
    checkPositiveInt('LearnedPositionalEmbedding', 'dim', dim);
    const factory = options.factory ?? standaloneParameters;
    this.weight = this.registerParameter('weight', factory.create([maxLength, dim], true));
    if (options.init !== false) normal_(this.weight, { std: options.std ?? 0.02, seed: deriveSeed(options.seed, 0) });
  }

  /** x: [..., T, dim] + weight[offset : offset + T] */
  forward(x: Tensor, offset = 0): Tensor {
    const T = checkInput('LearnedPositionalEmbedding', x, this.maxLength, this.dim, offset);
    return tidy(() => add(x, this.weight.narrow(0, offset, T)));
  }

  override extraRepr(): string {
    return `${this.maxLength}, ${this.dim}`;
  }
}
