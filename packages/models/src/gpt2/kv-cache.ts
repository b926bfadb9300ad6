/** Preallocated key/value cache for incremental GPT-2 decoding (batch 1). */

import { keep, zeros, type Tensor } from '@tessera/tensor';
import { layerHeads, type GPT2Config } from './config.js';

/** One layer's keys and values: [heads, n_positions, head_dim] each (the layer's heads: n_head less any pruned); rows [0, length) are valid. */
export interface LayerCache {
  readonly k: Tensor;
  readonly v: Tensor;
}

/**
 * Keys and values of every layer for the tokens seen so far, preallocated
 * for the whole context (n_layer * 2 * n_positions * n_embd floats), so a
 * decoding step only computes the new token's q, k, v.
 * @example const cache = model.createKVCache(); model.forwardCached([464, 2068], cache); cache.dispose();
 */
export class KVCache {
  readonly layers: readonly LayerCache[];
  /** Positions filled so far. */
  length = 0;
  readonly capacity: number;
  readonly numHeads: number;
  readonly headDim: number;

  constructor(config: GPT2Config) {
    this.capacity = config.n_positions;
    this.numHeads = config.n_head;
    this.headDim = config.n_embd / config.n_head;
    const layers: LayerCache[] = [];
    // Kept: the cache outlives any tidy() it is created in.
    for (let i = 0; i < config.n_layer; i++) {
      const shape = [layerHeads(config, i), this.capacity, this.headDim];
      layers.push({ k: keep(zeros(shape)), v: keep(zeros(shape)) });
    }
    this.layers = layers;
  }

  /** Positions still free. */
  get remaining(): number {
    return this.capacity - this.length;
  }

  /** Forgets every position (the memory is kept for reuse). */
  reset(): void {
    this.length = 0;
  }

  /** Frees the cache tensors. */
  dispose(): void {
    for (const l of this.layers) {
      l.k.dispose();
      l.v.dispose();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
