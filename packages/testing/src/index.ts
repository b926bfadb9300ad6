/**
 * @tessera/testing: what the packages' test suites share and the published packages must not
 * carry. Private (never published); a devDependency of each package whose tests use it.
 *
 * The seeded host-side RNGs that generate test data. Tests compare against recorded values and
 * tolerances chosen for these exact streams, so the sequences must never change: the golden
 * values in test/rng.test.ts pin them.
 */

/**
 * mulberry32: uniform floats in [0, 1) from a 32-bit seed (negative and fractional seeds are
 * taken `>>> 0`). The generator of the kernel, tensor, optimizer, model and WebGPU tests.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 32-bit linear congruential generator (multiplier 1664525, increment 1013904223): uniform
 * floats in [0, 1). Kept next to mulberry32 because the wasm matmul and allocator tests were
 * written against its stream.
 */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export {
  CONFUSIONS,
  byteMutations,
  formatPath,
  jsonConfusions,
  jsonPaths,
  runCorpus,
  truncations,
  type CorpusCase,
  type CorpusReport,
} from './file-corpus.js';
