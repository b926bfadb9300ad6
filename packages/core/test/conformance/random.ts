// Counter-based random kernel conformance: the device under test against src/random.ts via
// the reference backend. Tolerances: uniform must be bit-exact (integer hash, exact scale);
// normal within 1e-6 absolute (Box-Muller: |z| <= 5.8, so ~2e-7 relative, with the device's
// own log and cos vs the JS engine's libm).
import { expect, it } from 'vitest';
import type { RandomParams } from '../../src/backend.js';
import { ODD_SIZES, expectClose, expectSameValues } from '../checks.js';
import type { Twin } from './twin.js';

export interface RandomOptions {
  /** Least share of normal draws bit-identical to the reference (wasm: 0.99, its Box-Muller runs in float64); none where unset. */
  minBitIdentical?: number;
}

/** Draws n values at element `offset` of a fresh buffer on both sides; the whole storages. */
export async function drawRandom(t: Twin, dist: RandomParams['dist'], n: number, seed: number, counter: number, offset = 3) {
  const out = t.empty(n, offset);
  t.run((be, s) => be.random({ out: t.d(out, s), n, seed, counter, dist }));
  const res = await t.readAll(out, 'f32');
  t.free(out);
  return res;
}

const SEEDS = [0, 42, -1, 2 ** 31 - 1, 0x9e3779b9, 1234567];
// Includes counters past 2^32: the hash sees ToInt32(counter + i), so they wrap.
const COUNTERS = [0, 5, 2 ** 32 - 3, 2 ** 40 + 7];

/** The shared random tests; call inside the backend's describe. */
export function randomConformance(twin: () => Twin, opts: RandomOptions = {}): void {
  it('uniform reproduces src/random.ts bit for bit at odd sizes, seeds and counters', async () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 1000]) {
      for (const seed of SEEDS) {
        for (const counter of COUNTERS) {
          const res = await drawRandom(t, 'uniform', n, seed, counter);
          expectSameValues(res.dev, res.ref, `uniform n=${n} seed=${seed} counter=${counter}`);
        }
      }
    }
  });

  it(`normal matches src/random.ts within 1e-6 absolute${opts.minBitIdentical ? ', nearly always bit for bit' : ''}`, async () => {
    const t = twin();
    let exact = 0;
    let total = 0;
    for (const n of [...ODD_SIZES, 5000]) {
      for (const seed of SEEDS) {
        for (const counter of COUNTERS) {
          const res = await drawRandom(t, 'normal', n, seed, counter);
          expectClose(res.dev, res.ref, 0, 1e-6, `normal n=${n} seed=${seed} counter=${counter}`);
          for (let i = 0; i < res.ref.length; i++) {
            total++;
            if (Object.is(res.ref[i], res.dev[i])) exact++;
          }
        }
      }
    }
    if (process.env.TESSERA_ACCURACY) console.log(`random normal: ${exact} of ${total} values bit-identical to the JS reference`);
    if (opts.minBitIdentical) expect(exact / total).toBeGreaterThan(opts.minBitIdentical);
  });

  it('element i depends only on (seed, counter + i): split draws equal one draw', async () => {
    const t = twin();
    for (const dist of ['uniform', 'normal'] as const) {
      const whole = (await drawRandom(t, dist, 129, 7, 1000)).dev;
      const a = (await drawRandom(t, dist, 50, 7, 1000, 0)).dev;
      const b = (await drawRandom(t, dist, 79, 7, 1050, 0)).dev;
      expectSameValues(whole.subarray(3, 3 + 129), [...a.subarray(0, 50), ...b.subarray(0, 79)], `${dist} split`);
    }
  });
}
