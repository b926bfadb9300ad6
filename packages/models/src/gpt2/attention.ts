/** GPT-2's causal self-attention (HF `GPT2Attention`: c_attn, c_proj as Conv1D). */

import { requireFusedKernel } from '@tessera/core';
import { tidy, zeros, type Tensor } from '@tessera/tensor';
import { attend, mergeHeads, splitHeads } from '../nn/attend.js';
import { Conv1D } from '../nn/conv1d.js';
import { Dropout } from '../nn/dropout.js';
import { deriveSeed } from '../nn/init.js';
import { Module } from '../nn/module.js';
import type { ParameterFactory } from '../nn/parameters.js';
import type { GPT2Config } from './config.js';
import type { LayerCache } from './kv-cache.js';

/** How GPT-2 submodules are built: the config, the parameter factory and a seed. */
export interface GPT2BuildOptions {
  factory?: ParameterFactory;
  seed?: number;
}

/**
 * Causal multi-head self-attention: c_attn [C, 3C] -> per-head attention -> c_proj [C, C].
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
    this.numHeads = config.n_head;
    this.headDim = C / config.n_head;
    const layer = { factory: options.factory, init: false };
    this.c_attn = this.registerModule('c_attn', new Conv1D(C, 3 * C, layer));
    this.c_proj = this.registerModule('c_proj', new Conv1D(C, C, layer));
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
    const P = cache.k.shape[1];
    const tk = pos + T;
    return tidy(() => {
      const qkv = this.c_attn.forward(x).view([T, 3, H, D]);
      // [T, 1, H, D] slice -> [H, T, D]
      const part = (i: number): Tensor => qkv.narrow(1, i, 1).reshape([T, H, D]).permute([1, 0, 2]);
      cache.k.narrow(1, pos, T).assign(part(1));
      cache.v.narrow(1, pos, T).assign(part(2));
      const q = part(0).contiguous();
      const out = zeros([H, T, D]);
      const probs = zeros([T, tk]);
      const be = x.backend;
      const qd = q.dense();
      const kd = cache.k.dense();
      const vd = cache.v.dense();
      const od = out.dense({ write: true });
      const pd = probs.dense({ write: true });
      // The cache's heads are P * D apart, so each head is its own problem; causal with
      // tq = T <= tk lets the last T queries see the pos cached positions before them.
      for (let h = 0; h < H; h++) {
        requireFusedKernel(be, 'attention', 'scaledDotProductAttention')({
          q: { storage: qd.storage, offset: qd.offset + h * T * D },
          k: { storage: kd.storage, offset: kd.offset + h * P * D },
          v: { storage: vd.storage, offset: vd.offset + h * P * D },
          out: { storage: od.storage, offset: od.offset + h * T * D },
          probs: pd,
          heads: 1,
          tq: T,
          tk,
          d: D,
          causal: true,
        });
      }
      return this.c_proj.forward(out.permute([1, 0, 2]).reshape([T, H * D]));
    });
  }
}
