// qmatmul on the wasm backend (both builds) and the reference: the shared conformance suite
// (conformance/qmatmul.ts, which states the tolerance), rows computed alone or in the
// kernel's 4-row tiles giving the same bits, and 1 vs 3 threads (every call split) giving
// the same bits; int8ActivationRows reading a backend's KernelPolicy. The quantization format
// itself is tested in quant.test.ts.
import { describe, expect, it } from 'vitest';
import { int8ActivationRows, withoutFusedKernels, type Backend, type QMatmulParams } from '../src/backend.js';
import * as errors from '../src/errors.js';
import { QMATMUL_INT8_ROWS, quantizeActivations, quantizeMatrix, quantizedValue, type QuantBits } from '../src/quant.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import type { WasmBackend } from '../src/wasm/backend.js';
import { checkQMatmul, qmatmulCases, qmatmulConformance } from './conformance/qmatmul.js';
import { Twin, describeBuilds, describeThreadPairs, expectBitsEqual, randF32, rng } from './helpers.js';

/** Uploads x and a quantized random weight to `be` and returns a runner of out = x @ W^T. */
function setup(be: Backend, m: number, n: number, k: number, bits: QuantBits, seed: number, activations: 'f32' | 'int8' = 'f32') {
  const r = rng(seed);
  const x = randF32(r, m * k);
  const qm = quantizeMatrix(randF32(r, n * k), n, k, { bits, groupSize: 32 });
  const put = (a: Float32Array | Int32Array) => {
    const s = be.alloc(a.length * 4);
    be.write(s, a);
    return { storage: s, offset: 0 };
  };
  const p: QMatmulParams = { x: put(x), q: put(qm.q), scales: put(qm.scales), out: put(new Float32Array(m * n)), m, n, k, bits, groupSize: 32, activations };
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

  it('int8 activations: every conformance shape against the reference (same integers) and within the stated bound of the f32 product', async () => {
    let seed = 300;
    for (const c of qmatmulCases()) await checkQMatmul(twin(), { ...c, activations: 'int8' }, seed++);
  });

  it('int8 activations: the quantizer gives quantizeActivations\' integers, scales and group sums bit for bit (ties to even, zero and NaN-free groups)', () => {
    const be = twin().dev as WasmBackend;
    const [m, k, groupSize] = [5, 192, 64];
    const r = rng(21);
    const x = randF32(r, m * k).map((v) => v * 3);
    // Row 1: max 127, so sx = 1 and x / sx is x: exact ties at .5 in both directions.
    for (let l = 0; l < k; l++) x[k + l] = [127, 2.5, -2.5, 3.5, -3.5, 0.5, -0.5, 126.5][l % 8];
    x.fill(0, 2 * k, 2 * k + groupSize); // an all-zero group
    x[3 * k + 5] = -0;
    const put = (bytes: number) => be.alloc(Math.max(bytes, 4));
    const [X, XQ, XS, XSUM] = [put(m * k * 4), put(m * k), put((m * k) / groupSize * 4), put((m * k) / groupSize * 4)];
    be.write(X, x);
    const a = (s: typeof X) => be.ctx.addr({ storage: s, offset: 0 });
    be.ctx.exports.qmatmul_quantize_rows(a(X), a(XQ), a(XS), a(XSUM), m, k, groupSize);
    const want = quantizeActivations(x, m, k, groupSize);
    const gotQ = new Int8Array(be.readSync(XQ, 'i32').buffer, 0, m * k);
    for (let l = 0; l < m * k; l++) if (gotQ[l] !== want.xq[l]) expect.fail(`xq[${l}] = ${gotQ[l]}, want ${want.xq[l]} (x ${x[l]})`);
    expectBitsEqual(be.readSync(XS, 'f32').subarray(0, want.scales.length), want.scales, 'scales');
    const sums = Array.from({ length: want.scales.length }, (_, gi) => want.xq.subarray(gi * groupSize, (gi + 1) * groupSize).reduce((s, v) => s + v, 0));
    expect(Array.from(be.readSync(XSUM, 'i32').subarray(0, sums.length))).toEqual(sums);
    expect(Array.from(want.xq.subarray(k + 1, k + 8))).toEqual([2, -2, 4, -4, 0, 0, 126]);
    [X, XQ, XS, XSUM].forEach((s) => be.free(s));
  });

  it('int8 activations: the integer dot products equal a plain integer reference bit for bit (random and extreme values)', () => {
    const be = twin().dev as WasmBackend;
    for (const bits of [8, 4] as const) {
      for (const groupSize of [32, 128] as const) {
        const [m, n, k] = [3, 5, 256];
        const r = rng(bits * 1000 + groupSize);
        // Random weights, plus a row at the extremes (+/-127, or int4's -8 and 7).
        const w = randF32(r, n * k);
        for (let l = 0; l < k; l++) w[(n - 1) * k + l] = l % 3 === 0 ? -1 : 1;
        const qm = quantizeMatrix(w, n, k, { bits, groupSize });
        const xq = new Int8Array(m * k).map(() => Math.round((r() * 2 - 1) * 127));
        xq.fill(127, 0, k / 2);
        xq.fill(-127, k / 2, k);
        const groups = k / groupSize;
        const xsum = new Int32Array(m * groups).map((_, gi) => xq.subarray(gi * groupSize, (gi + 1) * groupSize).reduce((s, v) => s + v, 0));
        const put = (a: Int32Array) => {
          const s = be.alloc(a.length * 4);
          be.write(s, a);
          return s;
        };
        const [XQ, XSUM, Q, D] = [put(new Int32Array(xq.buffer)), put(xsum), put(qm.q), be.alloc(m * n * groups * 4)];
        const a = (s: typeof XQ) => be.ctx.addr({ storage: s, offset: 0 });
        be.ctx.exports.qmatmul_int8x_dots(a(XQ), a(XSUM), a(Q), a(D), m, n, k, bits, groupSize);
        const got = be.readSync(D, 'i32');
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            for (let g = 0; g < groups; g++) {
              let want = 0;
              for (let l = g * groupSize; l < (g + 1) * groupSize; l++) want += xq[i * k + l] * quantizedValue(qm.q, 0, bits, k, j, l);
              const at = (i * n + j) * groups + g;
              if (got[at] !== want) expect.fail(`int${bits} g${groupSize}: dot[${i}, ${j}, ${g}] = ${got[at]}, want ${want}`);
            }
          }
        }
        [XQ, XSUM, Q, D].forEach((s) => be.free(s));
      }
    }
  });

  it('gives a row the same bits at every m of one path: GEMV rows alone, in 4-row tiles and 4-column passes; dot-form rows at 5-64; GEMM rows past 64', () => {
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
      // Dot-form path (up to 64 rows, k >= 256): a row has the same bits at gemmRows, 17 and 64.
      const dot = run(64);
      for (const m of [gemmRows, 17]) expectBitsEqual(run(m), dot.subarray(0, m * n), `int${bits} dot form m=${m} vs 64`);
      // Packed GEMM path (more rows): the rows of m = 70 (past MC = 48) have the bits of the same rows at 65.
      const all = run(70);
      expectBitsEqual(run(65), all.subarray(0, 65 * n), `int${bits} GEMM m=65 vs 70`);
      t.free(Q, S);
    }
  });
});

describeThreadPairs('qmatmul', 3, (pair) => {
  it('every shape of the conformance suite, int8 and int4', () => {
    const { one, many } = pair();
    let seed = 50;
    for (const c of qmatmulCases()) {
      if (c.k === 0) continue;
      for (const activations of ['f32', 'int8'] as const) {
        const a = setup(one, c.m, c.n, c.k, c.bits, seed, activations)();
        const b = setup(many, c.m, c.n, c.k, c.bits, seed, activations)();
        expectBitsEqual(b, a, `int${c.bits} m=${c.m} n=${c.n} k=${c.k} ${activations} activations`);
      }
      seed++;
    }
  });

  it('the threaded backend also passes the conformance checks', async () => {
    const { many } = pair();
    const t = new Twin(new ReferenceBackend(), many, errors);
    await checkQMatmul(t, { m: 17, n: 33, k: 160, bits: 4, groupSize: 32 }, 7);
    await checkQMatmul(t, { m: 1, n: 65, k: 256, bits: 8, groupSize: 128 }, 8);
    await checkQMatmul(t, { m: 17, n: 33, k: 160, bits: 4, groupSize: 32, activations: 'int8' }, 9);
  });
});

describe('int8ActivationRows (KernelPolicy.qmatmulInt8Rows)', () => {
  it('reads the backend\'s declared rows: reference QMATMUL_INT8_ROWS; 0 without a declaration, without qmatmul, or for a value that is not a positive integer', () => {
    const ref = new ReferenceBackend();
    expect(int8ActivationRows(ref)).toBe(QMATMUL_INT8_ROWS);
    expect(int8ActivationRows(withoutFusedKernels(ref, ['qmatmul']))).toBe(0);
    const withPolicy = (kernelPolicy: unknown): Backend => Object.assign(Object.create(ref) as Backend, { kernelPolicy });
    expect(int8ActivationRows(withPolicy(undefined))).toBe(0);
    expect(int8ActivationRows(withPolicy({}))).toBe(0);
    expect(int8ActivationRows(withPolicy({ qmatmulInt8Rows: 16 }))).toBe(16);
    for (const bad of [-1, 0.5, Number.NaN, Infinity]) expect(int8ActivationRows(withPolicy({ qmatmulInt8Rows: bad })), String(bad)).toBe(0);
  });
});
