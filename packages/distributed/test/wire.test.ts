/** The wire formats and the sampler, in process (no server). */
import { describe, expect, it } from 'vitest';
import { DistributedSampler, referenceAllReduce, roundThroughWire, segmentRange } from '@tessera/distributed';

describe('rounding through the wire formats (nearest even)', () => {
  it('f16', () => {
    const x = new Float32Array([1, 65504, 65519.99, 65520, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -0]);
    roundThroughWire(x, 'f16');
    // Largest finite, the midpoint to infinity rounds up, smallest subnormal, ties to even (zero; 1; 1 + 2^-9).
    expect([...x]).toEqual([1, 65504, 65504, Infinity, 2 ** -24, 0, 2 ** -24, 1, 1 + 2 ** -9, -0]);
  });

  it('bf16, and f32 is left alone', () => {
    const x = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 3.4e38, NaN]);
    const y = x.slice();
    roundThroughWire(x, 'bf16');
    expect([...x]).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7, Infinity, NaN]);
    roundThroughWire(y, 'f32');
    expect(y[2]).toBe(Math.fround(1 + 2 ** -8 + 2 ** -20));
  });
});

describe('referenceAllReduce and segments', () => {
  it('sums in rank order in f32 and rounds the mean once', () => {
    // In f32, (2^24 + 1) + 1 = 2^24 (each +1 is lost), but 1 + 1 + 2^24 = 2^24 + 2.
    const big = new Float32Array([2 ** 24]);
    const one = new Float32Array([1]);
    expect(referenceAllReduce([big, one, one], 'sum')[0]).toBe(2 ** 24);
    expect(referenceAllReduce([one, one, big], 'sum')[0]).toBe(2 ** 24 + 2);
    expect(referenceAllReduce([one, one, big], 'mean')[0]).toBe(Math.fround((2 ** 24 + 2) / 3));
  });

  it('segments tile the buffer', () => {
    for (const [n, N] of [[1, 4], [7, 3], [1_000_003, 4]]) {
      let next = 0;
      for (let r = 0; r < N; r++) {
        const [a, b] = segmentRange(n, N, r);
        expect(a).toBe(next);
        expect(b - a).toBeGreaterThanOrEqual(Math.floor(n / N));
        expect(b - a).toBeLessThanOrEqual(Math.ceil(n / N));
        next = b;
      }
      expect(next).toBe(n);
    }
  });
});

describe('DistributedSampler', () => {
  it('gives disjoint shards whose step-wise union is the single-process batch', () => {
    const size = 103;
    const N = 4;
    const b = 3;
    const single = new DistributedSampler({ size, rank: 0, worldSize: 1, seed: 5 });
    const shards = [...Array(N).keys()].map((rank) => new DistributedSampler({ size, rank, worldSize: N, seed: 5, dropLast: true }));
    const seen = new Set<number>();
    for (const s of shards) for (const i of s.indices(2)) {
      expect(seen.has(i)).toBe(false);
      seen.add(i);
    }
    expect(seen.size).toBe(Math.floor(size / N) * N);
    for (let step = 0; step < 8; step++) {
      const union = shards.flatMap((s) => [...s.batch(2, step, b)]).sort((x, y) => x - y);
      const whole = [...single.batch(2, step, b * N)].sort((x, y) => x - y);
      expect(union).toEqual(whole);
    }
    // Another epoch, another order; the same seed and epoch, the same order.
    expect([...single.indices(3)]).not.toEqual([...single.indices(2)]);
    expect([...new DistributedSampler({ size, rank: 0, worldSize: 1, seed: 5 }).indices(2)]).toEqual([...single.indices(2)]);
  });

  it('pads by wrapping (no dropLast) so every rank has the same count', () => {
    const s = [0, 1, 2].map((rank) => new DistributedSampler({ size: 10, rank, worldSize: 3, shuffle: false }));
    expect(s.map((x) => [...x.indices()])).toEqual([[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]);
    expect(() => s[0].batch(0, 2, 2)).toThrow(/step 2 is outside \[0, 2\)/);
    expect(() => new DistributedSampler({ size: 10, rank: 3, worldSize: 3 })).toThrow(/rank must be an integer in \[0, 2\], got 3/);
  });
});
