import { ArgumentError } from '@tessera/core';
import { noGrad, tidy, type Tensor } from '@tessera/tensor';
import { gradsOf } from './params.js';

/**
 * Clamps every gradient of `params` into [-clipValue, clipValue] in place
 * (torch.nn.utils.clip_grad_value_). Parameters without a gradient are skipped.
 *
 * @example
 * loss.backward(); clipGradValue(model.parameters(), 0.5); opt.step();
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue) || clipValue < 0) {
    throw new ArgumentError(`clipGradValue: clipValue must be a number >= 0, got ${clipValue}`);
  }
  const grads = gradsOf('clipGradValue', params);
  noGrad(() => tidy(() => grads.forEach((g) => g.assign(g.clamp(-clipValue, clipValue)))));
}
