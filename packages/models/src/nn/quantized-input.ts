/** The check a layer computing with a quantized weight runs on its input. */

import { isGradEnabled, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { QuantizedModelError } from './errors.js';

/**
 * Throws a QuantizedModelError naming the weight when `x` would need a gradient through it
 * (gradients on and x requires grad): a quantized weight has no gradient path, so a
 * training step on a quantized model stops at its first quantized layer.
 */
export function checkQuantizedInput(layer: string, name: string, qw: QuantizedWeight, x: Tensor): void {
  if (isGradEnabled() && x.requiresGrad) {
    throw new QuantizedModelError(
      `${layer}.forward: ${name} is quantized (int${qw.bits}, group ${qw.groupSize}) and has no gradient, so this model cannot be trained; run inference under noGrad(), or dequantize(model) to train`,
      name,
    );
  }
}
