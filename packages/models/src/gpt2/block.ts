/** One GPT-2 block (HF `GPT2Block`): pre-LayerNorm attention and MLP with residuals. */

import { add, tidy, type Tensor } from '@tessera/tensor';
import { deriveSeed } from '../nn/init.js';
import { LayerNorm } from '../nn/layer-norm.js';
import { Module } from '../nn/module.js';
import { GPT2Attention, type GPT2BuildOptions } from './attention.js';
import type { GPT2Config } from './config.js';
import type { LayerCache } from './kv-cache.js';
import { GPT2MLP } from './mlp.js';

/**
 * x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)).
 * @example block.forward(x) // [B, T, C]
 */
export class GPT2Block extends Module {
  readonly ln_1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln_2: LayerNorm;
  readonly mlp: GPT2MLP;

  constructor(config: GPT2Config, options: GPT2BuildOptions = {}) {
    super();
    const C = config.n_embd;
    const norm = { factory: options.factory, init: false, eps: config.layer_norm_epsilon };
    this.ln_1 = this.registerModule('ln_1', new LayerNorm(C, norm));
    this.attn = this.registerModule('attn', new GPT2Attention(config, { factory: options.factory, seed: deriveSeed(options.seed, 0), layer: options.layer }));
    this.ln_2 = this.registerModule('ln_2', new LayerNorm(C, norm));
    this.mlp = this.registerModule('mlp', new GPT2MLP(config, { factory: options.factory, seed: deriveSeed(options.seed, 1) }));
  }

  /** x: [B, T, C] -> [B, T, C] */
  forward(x: Tensor, attentionMask: Tensor | null = null): Tensor {
    return tidy(() => {
      const h = add(x, this.attn.forward(this.ln_1.forward(x), attentionMask));
      return add(h, this.mlp.forward(this.ln_2.forward(h)));
    });
  }

  /** Incremental forward for batch 1: x [T, C] at positions pos..pos+T-1 (see GPT2Attention.forwardCached). */
  forwardCached(x: Tensor, cache: LayerCache, pos: number): Tensor {
    return tidy(() => {
      const h = add(x, this.attn.forwardCached(this.ln_1.forward(x), cache, pos));
      return add(h, this.mlp.forward(this.ln_2.forward(h), false));
    });
  }
}
