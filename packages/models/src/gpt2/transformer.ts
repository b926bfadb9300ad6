/** The GPT-2 body (HF `GPT2Model`): embeddings, blocks, final LayerNorm. */

import { ArgumentError, DTypeError, ShapeError, fmtShape } from '@tessera/core';
import { add, tensor, tidy, type Tensor } from '@tessera/tensor';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { deriveSeed } from '../nn/init.js';
import { LayerNorm } from '../nn/layer-norm.js';
import { Module } from '../nn/module.js';
import { ModuleList } from '../nn/module-list.js';
import type { GPT2BuildOptions } from './attention.js';
import { GPT2Block } from './block.js';
import type { GPT2Config } from './config.js';
import type { KVCache } from './kv-cache.js';

/** Throws unless ids is an i32 [B, T] tensor with 1 <= T <= n_positions. */
export function checkIds(op: string, ids: Tensor, config: GPT2Config): void {
  if (ids.dtype !== 'i32') throw new DTypeError(`${op}: token ids ${fmtShape(ids.shape)} must be i32, got ${ids.dtype}; make them with tensor(ids, shape, 'i32')`);
  if (ids.rank !== 2) throw new ShapeError(`${op}: token ids must be [batch, time], got ${fmtShape(ids.shape)}`);
  const T = ids.shape[1];
  if (T < 1 || T > config.n_positions) throw new ShapeError(`${op}: sequence length ${T} must be in [1, n_positions = ${config.n_positions}]`);
}

/** Throws unless mask is [B, T] like ids. */
export function checkMask(op: string, mask: Tensor, ids: Tensor): void {
  if (mask.rank !== 2 || mask.shape[0] !== ids.shape[0] || mask.shape[1] !== ids.shape[1]) {
    throw new ShapeError(`${op}: attention mask ${fmtShape(mask.shape)} must have the ids' shape ${fmtShape(ids.shape)}`);
  }
}

/**
 * Token ids [B, T] -> hidden states [B, T, C].
 * @example const h = model.transformer.forward(ids) // [B, T, n_embd]
 */
export class GPT2Model extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly drop: Dropout;
  readonly h: ModuleList<GPT2Block>;
  readonly ln_f: LayerNorm;

  constructor(
    readonly config: GPT2Config,
    options: GPT2BuildOptions = {},
  ) {
    super();
    const C = config.n_embd;
    const layer = { factory: options.factory, init: false };
    this.wte = this.registerModule('wte', new Embedding(config.vocab_size, C, layer));
    this.wpe = this.registerModule('wpe', new Embedding(config.n_positions, C, layer));
    this.drop = this.registerModule('drop', new Dropout(config.embd_pdrop, { seed: deriveSeed(options.seed, 0) }));
    const blocks: GPT2Block[] = [];
    for (let i = 0; i < config.n_layer; i++) blocks.push(new GPT2Block(config, { factory: options.factory, seed: deriveSeed(options.seed, i + 1), layer: i }));
    this.h = this.registerModule('h', new ModuleList(blocks));
    this.ln_f = this.registerModule('ln_f', new LayerNorm(C, { ...layer, eps: config.layer_norm_epsilon }));
  }

  /** ids (i32) [B, T] -> [B, T, C]; `attentionMask` [B, T]: 1 token, 0 padding (keys that are padding are not attended to). */
  forward(ids: Tensor, attentionMask: Tensor | null = null): Tensor {
    checkIds('GPT2Model.forward', ids, this.config);
    if (attentionMask) checkMask('GPT2Model.forward', attentionMask, ids);
    const T = ids.shape[1];
    return tidy(() => {
      // wpe rows 0..T-1 broadcast over the batch.
      let x = this.drop.forward(add(this.wte.forward(ids), this.wpe.weight.narrow(0, 0, T)));
      for (const block of this.h) x = block.forward(x, attentionMask);
      return this.ln_f.forward(x);
    });
  }

  /**
   * Batch-1 incremental forward: `ids` continue the sequence in `cache` (at
   * positions cache.length ...); returns hidden states [T, C] and advances the cache.
   */
  forwardCached(ids: readonly number[], cache: KVCache): Tensor {
    const T = ids.length;
    const pos = cache.length;
    if (T < 1) throw new ArgumentError('GPT2Model.forwardCached: no token ids');
    if (pos + T > cache.capacity) {
      throw new ShapeError(`GPT2Model.forwardCached: ${T} new token(s) after ${pos} cached ones exceed n_positions = ${cache.capacity}`);
    }
    if (cache.layers.length !== this.config.n_layer || cache.layers.some((l, i) => l.k.shape[0] !== this.h.at(i)!.attn.numHeads) || cache.headDim * cache.numHeads !== this.config.n_embd) {
      throw new ShapeError(`GPT2Model.forwardCached: the cache was made for another model shape`);
    }
    const out = tidy(() => {
      const idsT = tensor(Int32Array.from(ids), [T], 'i32');
      let x = add(this.wte.forward(idsT), this.wpe.weight.narrow(0, pos, T)); // [T, C]
      let i = 0;
      for (const block of this.h) x = block.forwardCached(x, cache.layers[i++], pos);
      return this.ln_f.forward(x);
    });
    cache.length = pos + T;
    return out;
  }
}
