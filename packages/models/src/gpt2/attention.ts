/** GPT-2's causal self-attention (HF `GPT2Attention`: c_attn, c_proj as Conv1D). */

import { scaledDotProductAttention, tidy, type Tensor } from '@tessera/tensor';
import { attend, mergeHeads, splitHeads } from '../nn/attend.js';
import { Conv1D } from '../nn/conv1d.js';
import { Dropout } from '../nn/dropout.js';
import { deriveSeed } from '../nn/init.js';
import { Module } from '../nn/module.js';
import type { ParameterFactory } from '../nn/parameters.js';
import { layerHeads, type GPT2Config } from './config.js';
import type { LayerCache } from './kv-cache.js';

/** How GPT-2 submodules are built: the config, the parameter factory and a seed. */
export interface GPT2BuildOptions {
  factory?: ParameterFactory;
  seed?: number;
  /** The block's index in the model (default 0): picks its head count when heads were pruned (`config.pruned_heads`). */
  layer?: number;
}

/**
 * Causal multi-head self-attention: c_attn [C, 3A] -> per-head attention -> c_proj [A, C], where
 * A = H D is the layer's attention width: H its heads (n_head less `config.pruned_heads` of this
 * layer) and D = n_embd / n_head, so A = C unless heads were pruned.
 * @example attn.forward(x) // x: [B, T, C]
 */
export class GPT2Attention extends Module {
  readonly c_attn: Conv1D;
  readonly c_proj: Conv1D;
  readonly attn_dropout: Dropout;
  readonly resid_dropout: Dropout;
  readonly numHeads: number;
  readonly headDim: number;

  constructor(config: GPT2Config, options: GPT2BuildOptions = {}) {
    super();
    const C = config.n_embd;
    this.numHeads = layerHeads(config, options.layer ?? 0);
    this.headDim = C / config.n_head;
    const A = this.numHeads * this.headDim;
    const layer = { factory: options.factory, init: false };
    this.c_attn = this.registerModule('c_attn', new Conv1D(C, 3 * A, layer));
    this.c_proj = this.registerModule('c_proj', new Conv1D(A, C, layer));
    this.attn_dropout = this.registerModule('attn_dropout', new Dropout(config.attn_pdrop, { seed: deriveSeed(options.seed, 0) }));
    this.resid_dropout = this.registerModule('resid_dropout', new Dropout(config.resid_pdrop, { seed: deriveSeed(options.seed, 1) }));
  }

  /** x: [B, T, C] -> [B, T, C]; `attentionMask` [B, T]: 1 token, 0 padding. */
  forward(x: Tensor, attentionMask: Tensor | null = null): Tensor {
    return tidy(() => {
      const [q, k, v] = splitHeads(this.c_attn.forward(x), this.numHeads);
      const y = attend(q, k, v, { causal: true, keyPaddingMask: attentionMask, dropout: this.attn_dropout });
      return this.resid_dropout.forward(this.c_proj.forward(mergeHeads(y)));
    });
  }

  /**
   * Incremental attention for batch 1 (inference, no dropout): x [T, C] holds
   * the tokens at positions pos..pos+T-1; their keys and values are written to
   * `cache` and each query attends to positions 0..its own.
   */
  forwardCached(x: Tensor, cache: LayerCache, pos: number): Tensor {
    const H = this.numHeads;
    const D = this.headDim;
    const T = x.shape[0];
    const tk = pos + T;
    return tidy(() => {
      const qkv = this.c_attn.forward(x).view([T, 3, H, D]);
      // [T, 1, H, D] slice -> [H, T, D] (a view)
      const part = (i: number): Tensor => qkv.narrow(1, i, 1).reshape([T, H, D]).permute([1, 0, 2]);
      cache.k.narrow(1, pos, T).assign(part(1));
      cache.v.narrow(1, pos, T).assign(part(2));
      // Rows [0, tk) of the [H, P, D] cache: [H, tk, D] views, each head's rows contiguous and
      // heads P * D apart, which the fused attention reads in place. Causal with Tq = T <= Tk:
      // the T queries are the last T of the tk positions.
      const y = scaledDotProductAttention(part(0), cache.k.narrow(1, 0, tk), cache.v.narrow(1, 0, tk), { causal: true }); // [H, T, D]
      // Heads side by side per token: [T, H, D] as [T, C], the layout c_proj reads (a view when T = 1).
      return this.c_proj.forward(y.permute([1, 0, 2]).reshape([T, H * D]));
    });
  }
}
