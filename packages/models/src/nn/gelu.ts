/** GELU activation (tanh approximation, GPT-2's `gelu_new`). */

import { gelu, type Tensor } from '@tessera/tensor';
import { Module } from './module.js';

/**
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise.
 * @example new GELU().forward(x)
 */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return gelu(x);
  }

  override extraRepr(): string {
    return "approximate='tanh'";
  }
}
