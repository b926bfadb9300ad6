// Counter-based random kernel of the wasm backend (both builds) against src/random.ts via
// the reference backend. Tolerances: uniform must be bit-exact (integer hash, exact scale);
// normal within 1e-6 absolute (Box-Muller in float64 with the kernel's own table-free log
// and cos vs the JS engine's libm; in practice almost every value is bit-identical).
import { expect, it } from 'vitest';
import type { RandomParams } from '../src/backend.js';
import { ODD_SIZES, describeBuilds, expectClose, expectSameValues, type Twin } from './helpers.js';

function draw(t: Twin, dist: RandomParams['dist'], n: number, seed: number, counter: number, offset = 3) {
  const out = t.empty(n, offset);
  t.run((be, s) => be.random({ out: t.d(out, s), n, seed, counter, dist }));
  const res = t.readAll(out, 'f32');
  t.free(out);
  return res;
}

const SEEDS = [0, 42, -1, 2 ** 31 - 1, 0x9e3779b9, 1234567];
// Includes counters past 2^32: the hash sees ToInt32(counter + i), so they wrap.
const COUNTERS = [0, 5, 2 ** 32 - 3, 2 ** 40 + 7];

describeBuilds('random', (twin) => {
  it('uniform reproduces src/random.ts bit for bit at odd sizes, seeds and counters', () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 1000]) {
      for (const seed of SEEDS) {
        for (const counter of COUNTERS) {
          const res = draw(t, 'uniform', n, seed, counter);
          expectSameValues(res.wasm, res.ref, `uniform n=${n} seed=${seed} counter=${counter}`);
        }
      }
    }
  });

  it('normal matches src/random.ts within 1e-6 absolute, nearly always bit for bit', () => {
    const t = twin();
    let exact = 0;
    let total = 0;
    for (const n of [...ODD_SIZES, 5000]) {
      for (const seed of SEEDS) {
        for (const counter of COUNTERS) {
          const res = draw(t, 'normal', n, seed, counter);
          expectClose(res.wasm, res.ref, 0, 1e-6, `normal n=${n} seed=${seed} counter=${counter}`);
          for (let i = 0; i < res.ref.length; i++) {
            total++;
            if (Object.is(res.ref[i], res.wasm[i])) exact++;
          }
        }
      }
    }
    if (process.env.TESSERA_ACCURACY) console.log(`random normal: ${exact} of ${total} values bit-identical to the JS reference`);
    expect(exact / total).toBeGreaterThan(0.99);
  });

  it('element i depends only on (seed, counter + i): split draws equal one draw', () => {
    const t = twin();
    for (const dist of ['uniform', 'normal'] as const) {
      const whole = draw(t, dist, 129, 7, 1000).wasm;
      const a = draw(t, dist, 50, 7, 1000, 0).wasm;
      const b = draw(t, dist, 79, 7, 1050, 0).wasm;
      expectSameValues(whole.subarray(3, 3 + 129), [...a.subarray(0, 50), ...b.subarray(0, 79)], `${dist} split`);
    }
  });

  it('normal: the four-at-a-time steps give the bits of one-value draws (the scalar tail)', () => {
    const t = twin();
    for (const counter of [0, 2 ** 31 - 2, 2 ** 32 - 3]) {
      const whole = draw(t, 'normal', 40, -5, counter, 0).wasm.subarray(0, 40);
      const single = Array.from({ length: 40 }, (_, i) => draw(t, 'normal', 1, -5, counter + i, 0).wasm[0]);
      expectSameValues(whole, single, `normal counter=${counter}`);
    }
  });

  it('uniform lies in [0, 1) and normal has mean ~0 and variance ~1', () => {
    const t = twin();
    const u = draw(t, 'uniform', 20000, 99, 0, 0).wasm.subarray(0, 20000);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const z = draw(t, 'normal', 20000, 99, 0, 0).wasm.subarray(0, 20000);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
