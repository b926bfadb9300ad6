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

  it('gives a row the same bits at every m of one path: GEMV rows alone, in 4-row tiles and 4-column passes; GEMM rows at any m', () => {
    const be = twin().dev as WasmBackend;
    // The first m that takes the packed GEMM path (its scratch is not empty).
    let gemmRows = 1;
    while (be.ctx.exports.qmatmul_pack_bytes(gemmRows, 8, 64, 1) === 0) gemmRows++;
    expect(gemmRows).toBeGreaterThan(1);
    const [n, k] = [13, 288];
    for (const bits of [8, 4] as const) {
      const r = rng(11);
      const x = randF32(r, 70 * k);
      const qm = quantizeMatrix(randF32(r, n * k), n, k, { bits, groupSize: 32 });
      const t = new Twin(new ReferenceBackend(), be, errors);
      const Q = t.upload(qm.q, 0, 0);
      const S = t.upload(qm.scales, 0, 0);
      /** out of the first m rows of x. */
      const run = (m: number, row0 = 0) => {
        const X = t.upload(x.subarray(row0 * k, (row0 + m) * k), 0, 0);
        const O = t.empty(m * n, 0, 0);
        be.qmatmul!({ x: t.d(X, 'dev'), q: t.d(Q, 'dev'), scales: t.d(S, 'dev'), out: t.d(O, 'dev'), m, n, k, bits, groupSize: 32 });
        const got = be.readSync(O.dev, 'f32');
        t.free(X, O);
        return got;
      };
      // GEMV path: 4-row tiles (m = 4 when it is below the GEMM path), tail rows, rows alone.
      for (const m of [2, 3, 4].filter((v) => v < gemmRows)) {
        const all = run(m);
        for (let i = 0; i < m; i++) expectBitsEqual(run(1, i), all.subarray(i * n, (i + 1) * n), `int${bits} GEMV m=${m} row ${i}`);
      }
      // GEMM path: the rows of m = 70 (past MC = 48) have the bits of the same rows at gemmRows and 17.
      const all = run(70);
      for (const m of [gemmRows, 17]) expectBitsEqual(run(m), all.subarray(0, m * n), `int${bits} GEMM m=${m} vs 70`);
      t.free(Q, S);
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
