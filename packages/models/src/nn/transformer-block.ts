/** A pre-LayerNorm Transformer block. */

import { add, tidy, type Tensor } from '@tessera/tensor';
import { Dropout } from './dropout.js';
import { FeedForward } from './feed-forward.js';
import { deriveSeed } from './init.js';
import { LayerNorm } from './layer-norm.js';
import type { LayerOptions } from './linear.js';
import { Module } from './module.js';
import { MultiHeadAttention } from './multi-head-attention.js';

/** Options of `TransformerBlock` and `TransformerEncoder`. */
export interface TransformerBlockOptions extends LayerOptions {
  dModel: number;
  numHeads: number;
  /** Hidden size of the feed-forward block (default 4 * dModel). */
  dFF?: number;
  /** Dropout on the residual branches and attention probabilities (default 0). */
  dropout?: number;
  /** Causal self-attention (default false: bidirectional). */
  causal?: boolean;
  /** LayerNorm epsilon (default 1e-5). */
  eps?: number;
}

/**
 * x = x + drop(attn(norm1(x))); x = x + ff(norm2(x)) — the GPT-2 / pre-LN layout.
 * @example const block = new TransformerBlock({ dModel: 64, numHeads: 4 }); block.forward(x, { paddingMask })
 */
export class TransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly drop: Dropout;
  readonly norm2: LayerNorm;
  readonly ff: FeedForward;

  constructor(options: TransformerBlockOptions) {
    super();
    const { dModel, numHeads, dropout = 0, seed } = options;
    const layer = { factory: options.factory, init: options.init };
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, { ...layer, eps: options.eps }));
    this.attn = this.registerModule(
      'attn',
      new MultiHeadAttention(dModel, numHeads, { ...layer, causal: options.causal, dropout, seed: deriveSeed(seed, 0) }),
    );
    this.drop = this.registerModule('drop', new Dropout(dropout, { seed: deriveSeed(seed, 1) }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, { ...layer, eps: options.eps }));
    this.ff = this.registerModule('ff', new FeedForward(dModel, options.dFF ?? 4 * dModel, { ...layer, dropout, seed: deriveSeed(seed, 2) }));
  }

  /** x: [B, T, C] -> [B, T, C] */
  forward(x: Tensor, options: { paddingMask?: Tensor | null } = {}): Tensor {
    return tidy(() => {
      const h = add(x, this.drop.forward(this.attn.forward(this.norm1.forward(x), options)));
      return add(h, this.ff.forward(this.norm2.forward(h)));
    });
  }
}
