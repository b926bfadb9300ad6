/**
 * Counter-based random numbers shared by every backend: element i of a draw
 * depends only on (seed, counter + i), so reference, wasm and WebGPU produce the
 * same uniform bits and the same normals (up to libm rounding), in any order and
 * on any number of threads. The AssemblyScript and WGSL versions mirror these.
 */

/** A 32-bit avalanche hash of (seed, x) (murmur3's finaliser over a Weyl step). */
export function hash32(seed: number, x: number): number {
  let h = (seed ^ Math.imul(x | 0, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) with 24 random bits (exactly representable in f32). */
export function uniformAt(seed: number, i: number): number {
  return (hash32(seed, i) >>> 8) * (1 / 16777216);
}

/** Standard normal by Box-Muller from the uniforms at 2i and 2i+1. */
export function normalAt(seed: number, i: number): number {
  const u1 = 1 - uniformAt(seed, 2 * i);
  const u2 = uniformAt(seed, 2 * i + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
