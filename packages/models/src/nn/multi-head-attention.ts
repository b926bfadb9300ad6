/** Multi-head self-attention with a fused q/k/v projection. */

import { ArgumentError, ShapeError, fmtShape } from '@tessera/core';
import { tidy, type Tensor } from '@tessera/tensor';
import { attend, mergeHeads, splitHeads } from './attend.js';
import { Dropout } from './dropout.js';
import { deriveSeed } from './init.js';
import { Linear, checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';

/** Options of `MultiHeadAttention`. */
export interface MultiHeadAttentionOptions extends LayerOptions {
  /** Causal (decoder) or bidirectional (encoder) attention; default false. */
  causal?: boolean;
  /** Dropout on the attention probabilities (default 0). */
  dropout?: number;
  /** Biases on the projections (default true). */
  bias?: boolean;
}

/**
 * Self-attention over x: [B, T, C] with `numHeads` heads of C / numHeads dims:
 * `qkv` (Linear C -> 3C), attention per head, `out` (Linear C -> C).
 * A padding mask [B, T] (1 token, 0 padding) stops queries from attending to padding.
 * @example const mha = new MultiHeadAttention(64, 4, { causal: true }); mha.forward(x, { paddingMask })
 */
export class MultiHeadAttention extends Module {
  readonly qkv: Linear;
  readonly out: Linear;
  readonly attnDropout: Dropout;
  readonly causal: boolean;
  readonly headDim: number;

  constructor(
    readonly dModel: number,
    readonly numHeads: number,
    options: MultiHeadAttentionOptions = {},
  ) {
    super();
    checkPositiveInt('MultiHeadAttention', 'dModel', dModel);
    checkPositiveInt('MultiHeadAttention', 'numHeads', numHeads);
    if (dModel % numHeads !== 0) throw new ArgumentError(`MultiHeadAttention: dModel ${dModel} is not divisible by numHeads ${numHeads}`);
    this.causal = options.causal ?? false;
    this.headDim = dModel / numHeads;
    const layer = (i: number): LayerOptions & { bias?: boolean } => ({ ...options, seed: deriveSeed(options.seed, i), bias: options.bias });
    this.qkv = this.registerModule('qkv', new Linear(dModel, 3 * dModel, layer(0)));
    this.out = this.registerModule('out', new Linear(dModel, dModel, layer(1)));
    this.attnDropout = this.registerModule('attnDropout', new Dropout(options.dropout ?? 0, { seed: deriveSeed(options.seed, 2) }));
  }

  /** x: [B, T, C] -> [B, T, C]; `paddingMask`: [B, T]. */
  forward(x: Tensor, options: { paddingMask?: Tensor | null } = {}): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dModel) {
      throw new ShapeError(`MultiHeadAttention: input ${fmtShape(x.shape)} must be [batch, time, ${this.dModel}]`);
    }
    return tidy(() => {
      const [q, k, v] = splitHeads(this.qkv.forward(x), this.numHeads);
      const y = attend(q, k, v, { causal: this.causal, keyPaddingMask: options.paddingMask, dropout: this.attnDropout });
      return this.out.forward(mergeHeads(y));
    });
  }

  override extraRepr(): string {
    return `d_model=${this.dModel}, num_heads=${this.numHeads}, causal=${this.causal ? 'True' : 'False'}`;
  }
}
