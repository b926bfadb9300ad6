/**
 * Token ids → a train/validation split (the last 10% of the tokens are held out), random training
 * windows and fixed validation windows. Browser-safe: part of `@tessera/cli/train-core`.
 */

import { CliError } from '../errors.js';
import type { Rng } from '../rng.js';

/** Fraction of the tokens (taken from the end) held out for validation. */
export const VAL_FRACTION = 0.1;

/** A batch of `batch` windows: inputs x[b, t] and next-token targets y[b, t], row-major. */
export interface Batch {
  readonly x: Int32Array;
  readonly y: Int32Array;
  readonly batch: number;
  readonly context: number;
}

/** Token ids split into a training part and a held-out validation part. */
export class TokenSplit {
  readonly train: Int32Array;
  readonly val: Int32Array;

  constructor(
    tokens: Int32Array,
    readonly context: number,
  ) {
    const nVal = Math.floor(tokens.length * VAL_FRACTION);
    this.train = tokens.subarray(0, tokens.length - nVal);
    this.val = tokens.subarray(tokens.length - nVal);
    const need = context + 1;
    if (this.train.length < need || this.val.length < need) {
      throw new CliError(
        `the corpus has ${tokens.length} tokens: ${this.train.length} for training and ${this.val.length} for validation, but a window of --context ${context} needs ${need} in each; use a larger --data file or a smaller --context`,
      );
    }
  }

  /** `batch` windows at offsets drawn from `rng` (uniform over the training part). */
  sample(rng: Rng, batch: number): Batch {
    const T = this.context;
    const span = this.train.length - T - 1;
    const offsets = Array.from({ length: batch }, () => rng.int(span + 1));
    return windows(this.train, offsets, T);
  }

  /**
   * Validation batch `i` of `iters`: `batch` windows at fixed offsets spread evenly over the
   * validation part, so every evaluation sees the same tokens and draws nothing from the RNG.
   */
  valBatch(i: number, iters: number, batch: number): Batch {
    const T = this.context;
    const span = this.val.length - T - 1;
    const n = iters * batch;
    const offsets = Array.from({ length: batch }, (_, j) => Math.floor(((i * batch + j) * span) / Math.max(1, n - 1)));
    return windows(this.val, offsets, T);
  }
}

function windows(tokens: Int32Array, offsets: readonly number[], T: number): Batch {
  const B = offsets.length;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  offsets.forEach((o, b) => {
    x.set(tokens.subarray(o, o + T), b * T);
    y.set(tokens.subarray(o + 1, o + T + 1), b * T);
  });
  return { x, y, batch: B, context: T };
}
