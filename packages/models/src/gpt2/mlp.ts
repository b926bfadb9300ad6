/** GPT-2's MLP (HF `GPT2MLP`): c_fc [C, I] -> GELU -> c_proj [I, C] -> dropout. */

import { gelu, relu, tidy, type Tensor } from '@tessera/tensor';
import { Conv1D } from '../nn/conv1d.js';
import { Dropout } from '../nn/dropout.js';
import { Module } from '../nn/module.js';
import type { GPT2BuildOptions } from './attention.js';
import { innerSize, type GPT2Config } from './config.js';

/**
 * x: [..., C] -> [..., C] through a hidden layer of n_inner (default 4C) units.
 * @example mlp.forward(ln2Out)
 */
export class GPT2MLP extends Module {
  readonly c_fc: Conv1D;
  readonly c_proj: Conv1D;
  readonly dropout: Dropout;
  readonly activation: GPT2Config['activation_function'];

  constructor(config: GPT2Config, options: GPT2BuildOptions = {}) {
    super();
    const C = config.n_embd;
    const I = innerSize(config);
    this.activation = config.activation_function;
    const layer = { factory: options.factory, init: false };
    this.c_fc = this.registerModule('c_fc', new Conv1D(C, I, layer));
    this.c_proj = this.registerModule('c_proj', new Conv1D(I, C, layer));
    this.dropout = this.registerModule('dropout', new Dropout(config.resid_pdrop, { seed: options.seed }));
  }

  /** x: [..., C] -> [..., C]; `applyDropout` false skips dropout even in training mode (KV-cache inference). */
  forward(x: Tensor, applyDropout = true): Tensor {
    return tidy(() => {
      const h = this.c_fc.forward(x);
      const y = this.c_proj.forward(this.activation === 'relu' ? relu(h) : gelu(h));
      return applyDropout ? this.dropout.forward(y) : y;
    });
  }

  override extraRepr(): string {
    return `act=${this.activation}`;
  }
}
