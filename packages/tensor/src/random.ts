/**
 * Seed state for random tensors. Draws use the backends' counter-based
 * `random` kernel: element i of a draw depends only on (seed, counter + i), so
 * every backend produces the same numbers.
 */

import { ArgumentError, hash32 } from '@tessera/core';

const DEFAULT_SEED = 0x5eed;
const COUNTER_LIMIT = 2 ** 32;

let seed = DEFAULT_SEED;
// Separate streams per distribution: a normal at counter c consumes uniforms 2c and 2c+1.
const streams = { uniform: { seed: 0, counter: 0 }, normal: { seed: 0, counter: 0 } };

function reset(s: number): void {
  seed = s | 0;
  streams.uniform = { seed: hash32(seed, 0x756e6966) | 0, counter: 0 };
  streams.normal = { seed: hash32(seed, 0x6e6f726d) | 0, counter: 0 };
}
reset(DEFAULT_SEED);

/**
 * Seeds the global generator used by draws that pass no `seed` (the default seed is fixed, so runs are reproducible).
 * @example manualSeed(42); const a = randn([2]); manualSeed(42); const b = randn([2]); // a equals b
 */
export function manualSeed(s: number): void {
  if (!Number.isInteger(s)) throw new ArgumentError(`manualSeed: seed must be an integer, got ${s}`);
  reset(s);
}

/** The global seed last set by `manualSeed`. */
export function initialSeed(): number {
  return seed;
}

/** Reserves `n` consecutive counters of the global stream for `dist`. */
export function nextDraw(dist: 'uniform' | 'normal', n: number): { seed: number; counter: number } {
  const s = streams[dist];
  if (s.counter + n > COUNTER_LIMIT) {
    // The kernels' counters are 32-bit; move to a fresh derived seed rather than repeat the stream.
    s.seed = hash32(s.seed, 0x7e57) | 0;
    s.counter = 0;
  }
  const draw = { seed: s.seed, counter: s.counter };
  s.counter += n;
  return draw;
}
