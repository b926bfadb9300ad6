// qmatmul on the wasm backend (both builds) and the reference: the shared conformance suite
// (conformance/qmatmul.ts, which states the tolerance), rows computed alone or in the
// kernel's 4-row tiles giving the same bits, and 1 vs 3 threads (every call split) giving
// the same bits. The quantization format itself is tested in quant.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, QMatmulParams } from '../src/backend.js';
import * as errors from '../src/errors.js';
import { quantizeMatrix, type QuantBits } from '../src/quant.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { createWasmBackend, type WasmBackend } from '../src/wasm/backend.js';
import { checkQMatmul, qmatmulCases, qmatmulConformance } from './conformance/qmatmul.js';
import { BUILDS, Twin, describeBuilds, expectBitsEqual, randF32, rng } from './helpers.js';

/** Uploads x and a quantized random weight to `be` and returns a runner of out = x @ W^T. */
function setup(be: Backend, m: number, n: number, k: number, bits: QuantBits, seed: number) {
  const r = rng(seed);
  const x = randF32(r, m * k);
  const qm = quantizeMatrix(randF32(r, n * k), n, k, { bits, groupSize: 32 });
  const put = (a: Float32Array | Int32Array) => {
    const s = be.alloc(a.length * 4);
    be.write(s, a);
    return { storage: s, offset: 0 };
  };
  const p: QMatmulParams = { x: put(x), q: put(qm.q), scales: put(qm.scales), out: put(new Float32Array(m * n)), m, n, k, bits, groupSize: 32 };
  return () => {
    be.qmatmul!(p);
    return be.readSync(p.out.storage, 'f32');
  };
}

describe('qmatmul [reference]', () => {
  it('is an optional extension kernel the reference backend supplies', () => {
    expect(typeof new ReferenceBackend().qmatmul).toBe('function');
  });
});

describeBuilds('qmatmul', (twin) => {
  qmatmulConformance(twin);

  it('gives a row the same bits alone (m = 1) as in a 4-row tile or the tail rows', async () => {
    const be = twin().dev;
    for (const bits of [8, 4] as const) {
      const [m, n, k] = [7, 5, 96];
      const all = setup(be, m, n, k, bits, 11)();
      // Each row of x again, alone: same weights (same seed), x row i of the 7.
      const r = rng(11);
      const x = randF32(r, m * k);
      const qm = quantizeMatrix(randF32(r, n * k), n, k, { bits, groupSize: 32 });
      for (let i = 0; i < m; i++) {
        const t = new Twin(new ReferenceBackend(), be, errors);
        const X = t.upload(x.subarray(i * k, (i + 1) * k), 0, 0);
        const Q = t.upload(qm.q, 0, 0);
        const S = t.upload(qm.scales, 0, 0);
        const O = t.empty(n, 0, 0);
        be.qmatmul!({ x: t.d(X, 'dev'), q: t.d(Q, 'dev'), scales: t.d(S, 'dev'), out: t.d(O, 'dev'), m: 1, n, k, bits, groupSize: 32 });
        expectBitsEqual(be.readSync(O.dev, 'f32'), all.subarray(i * n, (i + 1) * n), `int${bits} row ${i}`);
        t.free(X, Q, S, O);
      }
    }
  });
});

const threadsAvailable = typeof SharedArrayBuffer !== 'undefined';
for (const build of BUILDS) {
  const d = build.supported && threadsAvailable ? describe : describe.skip;
  d(`qmatmul: 3 threads vs 1, bit for bit [${build.name}]`, () => {
    let one: WasmBackend;
    let many: WasmBackend;
    beforeAll(async () => {
      one = await createWasmBackend({ simd: build.simd, threads: 1 });
      many = await createWasmBackend({ simd: build.simd, threads: 3 });
      many.ctx.splitAlways = true;
    });
    afterAll(() => {
      one.dispose();
      many.dispose();
    });

    it('every shape of the conformance suite, int8 and int4', () => {
      let seed = 50;
      for (const c of qmatmulCases()) {
        if (c.k === 0) continue;
        const a = setup(one, c.m, c.n, c.k, c.bits, seed)();
        const b = setup(many, c.m, c.n, c.k, c.bits, seed)();
        seed++;
        expectBitsEqual(b, a, `int${c.bits} m=${c.m} n=${c.n} k=${c.k}`);
      }
    });

    it('the threaded backend also passes the conformance checks', async () => {
      const t = new Twin(new ReferenceBackend(), many, errors);
      await checkQMatmul(t, { m: 17, n: 33, k: 160, bits: 4, groupSize: 32 }, 7);
      await checkQMatmul(t, { m: 1, n: 65, k: 256, bits: 8, groupSize: 128 }, 8);
    });
  });
}
