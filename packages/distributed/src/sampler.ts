/**
 * DistributedSampler: every rank draws the same seeded permutation of the
 * dataset for an epoch and takes the interleaved shard `perm[rank::worldSize]`
 * (PyTorch's layout), so the ranks' shards are disjoint and, step by step,
 * the union of the ranks' local batches of b is the single-process batch of
 * b * worldSize: `perm[step*b*N, (step+1)*b*N)`.
 */

import { DistributedConfigError } from './errors.js';

export interface DistributedSamplerOptions {
  /** Number of examples in the dataset. */
  size: number;
  rank: number;
  worldSize: number;
  /** Seed of the shuffle (the same on every rank). Default 0. */
  seed?: number;
  /** Shuffle each epoch (default true); false keeps dataset order. */
  shuffle?: boolean;
  /**
   * Drop the tail that does not divide evenly (default false: pad by wrapping
   * around to the start of the permutation, so every rank gets the same count).
   */
  dropLast?: boolean;
}

/** A 32-bit generator (splitmix32): small, seedable, identical on every runtime. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Fisher-Yates permutation of [0, n) from (seed, epoch). */
export function seededPermutation(n: number, seed: number, epoch: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const next = splitmix32(Math.imul(seed >>> 0, 0x27d4eb2d) ^ Math.imul(epoch + 1, 0x165667b1));
  for (let i = n - 1; i > 0; i--) {
    // Unbiased enough for shuffling: 32 random bits scaled to [0, i].
    const j = Math.floor((next() / 4294967296) * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

export class DistributedSampler {
  readonly size: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** Examples per rank per epoch. */
  readonly numSamples: number;

  constructor(o: DistributedSamplerOptions) {
    const int = (name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw new DistributedConfigError(`DistributedSampler: ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
      }
      return v;
    };
    this.size = int('size', o.size, 1);
    this.worldSize = int('worldSize', o.worldSize, 1);
    this.rank = int('rank', o.rank, 0, this.worldSize - 1);
    this.seed = int('seed', o.seed ?? 0, 0, 2 ** 32 - 1);
    this.shuffle = o.shuffle ?? true;
    this.dropLast = o.dropLast ?? false;
    this.numSamples = this.dropLast ? Math.floor(this.size / this.worldSize) : Math.ceil(this.size / this.worldSize);
    if (this.numSamples === 0) {
      throw new DistributedConfigError(`DistributedSampler: ${this.size} examples with dropLast leave nothing for each of ${this.worldSize} ranks`);
    }
  }

  /** This rank's example indices for `epoch` (numSamples of them). */
  indices(epoch = 0): Int32Array {
    const N = this.worldSize;
    const perm = this.shuffle ? seededPermutation(this.size, this.seed, epoch) : Int32Array.from({ length: this.size }, (_, i) => i);
    const out = new Int32Array(this.numSamples);
    // Past the end (padding) wraps to the start of the permutation, as PyTorch pads.
    for (let k = 0; k < this.numSamples; k++) out[k] = perm[(k * N + this.rank) % this.size];
    return out;
  }

  /** Local batch number `step` of `batchSize` examples in `epoch`. */
  batch(epoch: number, step: number, batchSize: number): Int32Array {
    const per = Math.floor(this.numSamples / batchSize);
    if (!Number.isInteger(step) || step < 0 || step >= per) {
      throw new DistributedConfigError(`DistributedSampler.batch: step ${step} is outside [0, ${per}) (${this.numSamples} examples per rank, batch ${batchSize})`);
    }
    return this.indices(epoch).subarray(step * batchSize, (step + 1) * batchSize);
  }
}
