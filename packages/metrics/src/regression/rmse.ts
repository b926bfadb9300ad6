import type { ArrayInput } from '../input.js';
import { mse } from './mse.js';

/**
 * Root mean squared error √mse.
 * @example rmse([0, 0], [3, 4]) // √12.5 = 3.5355
 */
export function rmse(yTrue: ArrayInput, yPred: ArrayInput): number {
  return Math.sqrt(mse(yTrue, yPred));
}
