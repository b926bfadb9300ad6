/** The wire formats and the sampler, in process (no server). */
import { describe, expect, it } from 'vitest';
import { DistributedSampler, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, referenceAllReduce, segmentRange } from '@tessera/distributed';

describe('f16 / bf16 conversions round to nearest even', () => {
  it('f16 against hand values', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff], // largest finite
      [65519.99, 0x7bff], // below the rounding midpoint to infinity
      [65520, 0x7c00], // the midpoint rounds (to even) to infinity
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // half of it: ties to even (zero)
      [1.5 * 2 ** -25, 0x0001],
      [1 + 2 ** -11, 0x3c00], // a tie between 1 and 1+2^-10: even is 1
      [1 + 3 * 2 ** -11, 0x3c02], // a tie between 1+2^-10 and 1+2^-9: even is the upper
      [Infinity, 0x7c00],
      [-0, 0x8000],
    ];
    for (const [x, h] of cases) expect(f32ToF16(x), String(x)).toBe(h);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
    // Every finite f16 survives f16 -> f32 -> f16.
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16(f16ToF32(h))).toBe(h);
    }
  });

  it('bf16 against hand values', () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(f32ToBf16(-1)).toBe(0xbf80);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie: even is 1
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie: even is the upper
    expect(f32ToBf16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie
    expect(bf16ToF32(0x4049)).toBe(3.140625);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
    expect(bf16ToF32(f32ToBf16(3.4e38))).toBe(Infinity);
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
