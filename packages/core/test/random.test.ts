// Counter-based random kernel of the wasm backend (both builds) against src/random.ts via
// the reference backend: the shared conformance suite (conformance/random.ts, which gives
// the tolerances; the Box-Muller here is float64 with the kernel's own table-free log and
// cos, so almost every normal value is bit-identical) and the wasm kernel's own checks.
import { expect, it } from 'vitest';
import { drawRandom, randomConformance } from './conformance/random.js';
import { describeBuilds, expectSameValues } from './helpers.js';

describeBuilds('random', (twin) => {
  randomConformance(twin, { minBitIdentical: 0.99 });

  it('normal: the four-at-a-time steps give the bits of one-value draws (the scalar tail)', async () => {
    const t = twin();
    for (const counter of [0, 2 ** 31 - 2, 2 ** 32 - 3]) {
      const whole = (await drawRandom(t, 'normal', 40, -5, counter, 0)).dev.subarray(0, 40);
      const single: number[] = [];
      for (let i = 0; i < 40; i++) single.push((await drawRandom(t, 'normal', 1, -5, counter + i, 0)).dev[0]);
      expectSameValues(whole, single, `normal counter=${counter}`);
    }
  });

  it('uniform lies in [0, 1) and normal has mean ~0 and variance ~1', async () => {
    const t = twin();
    const u = (await drawRandom(t, 'uniform', 20000, 99, 0, 0)).dev.subarray(0, 20000);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const z = (await drawRandom(t, 'normal', 20000, 99, 0, 0)).dev.subarray(0, 20000);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
