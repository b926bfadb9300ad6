// Weight-only quantized products: quantizedMatmul against matmul with the dequantized weight
// on the reference and wasm backends (both weight layouts, batched x), the typed errors
// (no gradient, shapes, a backend without the qmatmul kernel) and dequantizeWeight within
// half a step of the original. Tolerance: |got - want| <= 1e-5 * sum_l |x_l w_l| + 1e-7
// per output, as core's qmatmul conformance suite states it.
import { ArgumentError, DTypeError, IndexError, ReferenceBackend, ShapeError, UnsupportedError, createWasmBackend, int8ActivationRows, quantizeActivations, withoutFusedKernels, type Backend, type QuantActivations, type QuantizedMatrix } from '@tessera/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AutogradError,
  dequantizeWeight,
  matmul,
  noGrad,
  quantizeWeight,
  quantizedEmbedding,
  quantizedMatmul,
  quantizedWeightFromHost,
  quantizedWeightToHost,
  randn,
  setBackend,
  tensor,
  type Tensor,
} from '../src/index.js';

function expectProductClose(got: Tensor, want: Tensor, x: Tensor, w: Tensor, transposed: boolean): void {
  const g = got.dataSync();
  const r = want.dataSync();
  const mag = matmul(x.abs(), transposed ? w.abs().T : w.abs());
  const mg = mag.dataSync();
  expect(got.shape).toEqual(want.shape);
  for (let i = 0; i < g.length; i++) {
    if (!(Math.abs(g[i] - r[i]) <= 1e-5 * mg[i] + 1e-7)) expect.fail(`element ${i}: ${g[i]} vs ${r[i]} (mag ${mg[i]})`);
  }
  mag.dispose();
}

const backends: [string, () => Promise<Backend>][] = [
  ['reference', async () => new ReferenceBackend()],
  ['wasm', () => createWasmBackend({ threads: 2 })],
];

/** x quantized per row and group as qmatmul's int8 mode does, then scaled back: xq * sx. */
function dequantizedActivations(x: Float32Array, m: number, k: number, groupSize: number): Float64Array {
  const { xq, scales } = quantizeActivations(x, m, k, groupSize);
  return Float64Array.from(xq, (v, l) => v * scales[Math.floor(l / groupSize)]);
}

/** The backend's qmatmul called directly on host data in `mode`: what quantizedMatmul must give bit for bit. */
function kernelProduct(be: Backend, x: Float32Array, m: number, qm: QuantizedMatrix, mode: QuantActivations): Float32Array {
  const put = (a: Float32Array | Int32Array) => {
    const s = be.alloc(Math.max(a.length, 1) * 4);
    be.write(s, a);
    return { storage: s, offset: 0 };
  };
  const [X, Q, S, O] = [put(x), put(qm.q), put(qm.scales), put(new Float32Array(m * qm.n))];
  be.qmatmul!({ x: X, q: Q, scales: S, out: O, m, n: qm.n, k: qm.k, bits: qm.bits, groupSize: qm.groupSize, activations: mode });
  const out = be.readSync(O.storage, 'f32');
  [X, Q, S, O].forEach((d) => be.free(d.storage));
  return out;
}

function expectBitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]}, the kernel gives ${want[i]}`);
}

/**
 * int8 activations through quantizedMatmul on `make()`'s backend, checked against the same
 * backend's kernel called directly: rows up to the backend's int8ActivationRows take the
 * int8 mode (and differ from the f32 mode, so the mode really changed), more rows the f32
 * mode, both bit for bit. n = 33 and k = 3 groups miss every SIMD block width. Returns the
 * products (by case) for a cross-backend check.
 */
async function checkInt8Activations(make: () => Promise<Backend>): Promise<Map<string, { got: Float32Array; mag: Float64Array }>> {
  const be = await setBackend(await make());
  const rows = int8ActivationRows(be);
  expect(rows).toBe(2);
  const n = 33;
  const out = new Map<string, { got: Float32Array; mag: Float64Array }>();
  for (const bits of [8, 4] as const) {
    for (const groupSize of [32, 64, 128] as const) {
      const k = 3 * groupSize;
      const w = randn([n, k], { seed: bits * 1000 + groupSize });
      const qw = await quantizeWeight(w, { bits, groupSize, transposed: true, activations: 'int8' });
      expect(qw.activations).toBe('int8');
      const host = await quantizedWeightToHost(qw);
      for (const m of [1, 2, 3, 17]) {
        const x = randn([m, k], { seed: m * 31 + groupSize });
        const xs = x.dataSync() as Float32Array;
        const got = noGrad(() => quantizedMatmul(x, qw));
        const g = got.dataSync() as Float32Array;
        const what = `${be.name} int${bits} g${groupSize} m=${m}`;
        const mode: QuantActivations = m <= rows ? 'int8' : 'f32';
        expectBitsEqual(g, kernelProduct(be, xs, m, host, mode), `${what} (${mode} activations)`);
        if (mode === 'int8') expect(Array.from(g)).not.toEqual(Array.from(kernelProduct(be, xs, m, host, 'f32')));
        // sum_l |a_l w_l| per output, a = the activations the mode multiplies (int8: xq * sx,
        // which both backends compute to the same integers): the scale of f32 rounding.
        const a = mode === 'int8' ? dequantizedActivations(xs, m, k, groupSize) : xs;
        const wd = (await dequantizeWeight(qw, { transposed: true })).dataSync();
        const mag = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) mag[i * n + j] += Math.abs(a[i * k + l] * wd[j * k + l]);
        out.set(what.slice(be.name.length + 1), { got: g, mag });
        [x, got].forEach((t) => t.dispose());
      }
      w.dispose();
      qw.dispose();
    }
  }
  return out;
}

for (const [name, make] of backends) {
  describe(`quantizedMatmul [${name}]`, () => {
    afterAll(async () => {
      await setBackend('reference');
    });

    it('equals matmul with the dequantized weight (int8 and int4, Linear and Conv1D layouts, batched x)', async () => {
      await setBackend(await make());
      const x = randn([2, 3, 64], { seed: 1 });
      for (const bits of [8, 4] as const) {
        for (const transposed of [true, false]) {
          const w = randn(transposed ? [5, 64] : [64, 5], { seed: 2 });
          const qw = await quantizeWeight(w, { bits, transposed, groupSize: 32 });
          const wd = await dequantizeWeight(qw, { transposed });
          expect(wd.shape).toEqual(w.shape);
          const got = quantizedMatmul(x, qw);
          const want = matmul(x, transposed ? wd.T : wd);
          expectProductClose(got, want, x, wd, transposed);
          // Half a step of the group's scale (plus f32 rounding) from the original weights.
          const scales = qw.scales.dataSync();
          const [wv, dv] = [w.dataSync(), wd.dataSync()];
          for (let i = 0; i < wv.length; i++) {
            const [j, l] = transposed ? [Math.floor(i / 64), i % 64] : [i % 5, Math.floor(i / 5)];
            expect(Math.abs(wv[i] - dv[i])).toBeLessThanOrEqual(scales[j * 2 + (l >> 5)] / 2 + 2 ** -23 * Math.abs(wv[i]));
          }
          expect(qw.bytes).toBe((5 * 64 * bits) / 8 + 5 * 2 * 4);
          [w, wd, got, want].forEach((t) => t.dispose());
          qw.dispose();
          expect(qw.isDisposed).toBe(true);
        }
      }
      x.dispose();
    });

    it('throws typed errors: grad required, wrong input dimension, k not a multiple of the group size', async () => {
      await setBackend(await make());
      const w = randn([4, 64], { seed: 3 });
      const qw = await quantizeWeight(w, { bits: 8, transposed: true });
      const x = randn([2, 64], { seed: 4, requiresGrad: true });
      expect(() => quantizedMatmul(x, qw)).toThrow(AutogradError);
      expect(noGrad(() => quantizedMatmul(x, qw)).shape).toEqual([2, 4]);
      expect(() => noGrad(() => quantizedMatmul(randn([2, 32]), qw))).toThrow(ShapeError);
      expect(() => noGrad(() => quantizedMatmul(randn([2, 32]), qw))).toThrow(/x \[2, 32\] does not end in the weight's input dimension 64/);
      await expect(quantizeWeight(randn([4, 48]), { bits: 4, transposed: true })).rejects.toThrow(/k = 48 .* multiple of groupSize 32/);
      qw.dispose();
    });

    it('quantizedEmbedding gathers the rows of the dequantized table bit for bit; host round trip; typed errors', async () => {
      await setBackend(await make());
      for (const bits of [8, 4] as const) {
        const w = randn([7, 96], { seed: 5 });
        const qw = await quantizeWeight(w, { bits, transposed: true, groupSize: 32 });
        const wd = (await dequantizeWeight(qw, { transposed: true })).dataSync();
        const ids = tensor([[6, 0, 3], [3, 3, 1]], undefined, 'i32');
        const got = quantizedEmbedding(qw, ids);
        expect(got.shape).toEqual([2, 3, 96]);
        const g = got.dataSync();
        [6, 0, 3, 3, 3, 1].forEach((row, c) => {
          for (let l = 0; l < 96; l++) if (!Object.is(g[c * 96 + l], wd[row * 96 + l])) expect.fail(`int${bits} id ${row} value ${l}: ${g[c * 96 + l]} vs ${wd[row * 96 + l]}`);
        });
        // Host round trip: the same packed words and scales, and the same products.
        const host = await quantizedWeightToHost(qw);
        const back = quantizedWeightFromHost(host);
        expect(Array.from(back.q.dataSync())).toEqual(Array.from(qw.q.dataSync()));
        expect(Array.from(back.scales.dataSync())).toEqual(Array.from(qw.scales.dataSync()));
        expect(Array.from(quantizedEmbedding(back, ids).dataSync())).toEqual(Array.from(g));
        expect(() => quantizedEmbedding(qw, tensor([[7]], undefined, 'i32'))).toThrow(IndexError);
        expect(() => quantizedEmbedding(qw, tensor([[7]], undefined, 'i32'))).toThrow(/qembedding: index 7 at position 0 is out of range \[0, 7\)/);
        expect(() => quantizedEmbedding(qw, tensor([[1]]))).toThrow(DTypeError);
        expect(() => quantizedWeightFromHost({ ...host, scales: host.scales.subarray(1) })).toThrow(/quantizedWeightFromHost: 20 scales given for \[7, 96\] in groups of 32, which takes 21/);
        expect(() => quantizedWeightFromHost({ ...host, q: host.q.subarray(1) })).toThrow(ShapeError);
        [w, got, ids].forEach((t) => t.dispose());
        qw.dispose();
        back.dispose();
      }
    });
  });
}

describe('quantizedMatmul with a weight that allows int8 activations', () => {
  afterAll(async () => {
    await setBackend('reference');
  });

  it('reference and wasm (1 and 2 threads): int8 mode up to int8ActivationRows rows, f32 mode above, each bit for bit the kernel\'s; wasm within f32 rounding of the reference', async () => {
    const ref = await checkInt8Activations(async () => new ReferenceBackend());
    for (const threads of [1, 2]) {
      const wasm = await checkInt8Activations(() => createWasmBackend({ threads }));
      // Both backends quantize x to the same integers (core's quant tests check that bit for
      // bit), so their products differ only by f32 vs float64 accumulation: within 1e-5 of
      // the summed |terms| + 1e-7, the file's tolerance, in either mode.
      for (const [key, r] of ref) {
        const w = wasm.get(key)!;
        for (let i = 0; i < r.got.length; i++) {
          const tol = 1e-5 * r.mag[i] + 1e-7;
          if (!(Math.abs(w.got[i] - r.got[i]) <= tol)) expect.fail(`${threads} thread(s) ${key} element ${i}: wasm ${w.got[i]} vs reference ${r.got[i]}`);
        }
      }
    }
  });

  it('a backend that declares no int8 rows (or lacks qmatmul) gets f32 activations; bad activations are ArgumentErrors', async () => {
    const be = new ReferenceBackend();
    const none = Object.assign(Object.create(be) as ReferenceBackend, { kernelPolicy: { qmatmulInt8Rows: 0 } });
    expect(int8ActivationRows(none)).toBe(0);
    expect(int8ActivationRows(withoutFusedKernels(be, ['qmatmul']))).toBe(0);
    await setBackend(be);
    const qw = await quantizeWeight(randn([5, 64], { seed: 7 }), { bits: 4, transposed: true, activations: 'int8' });
    const x = randn([1, 64], { seed: 8 });
    const host = await quantizedWeightToHost(qw);
    const q2 = quantizedWeightFromHost(host, { activations: 'int8' });
    expect(q2.activations).toBe('int8');
    expect(quantizedWeightFromHost(host).activations).toBe('f32');
    expectBitsEqual(quantizedMatmul(x, q2).dataSync() as Float32Array, kernelProduct(be, x.dataSync() as Float32Array, 1, host, 'int8'), 'reference m=1');
    await expect(quantizeWeight(randn([5, 64]), { bits: 8, transposed: true, activations: 'int4' as QuantActivations })).rejects.toThrow(ArgumentError);
    await expect(quantizeWeight(randn([5, 64]), { bits: 8, transposed: true, activations: 'int4' as QuantActivations })).rejects.toThrow(/quantizeWeight: activations must be 'f32' or 'int8', got 'int4'/);
    expect(() => quantizedWeightFromHost(host, { activations: 'fp16' as QuantActivations })).toThrow(/quantizedWeightFromHost: activations must be 'f32' or 'int8', got 'fp16'/);
    [qw, q2].forEach((q) => q.dispose());
  });
});

describe('quantizedMatmul on a backend without the qmatmul kernel', () => {
  afterAll(async () => {
    await setBackend('reference');
  });
  it('throws an UnsupportedError naming the kernel', async () => {
    await setBackend(withoutFusedKernels(new ReferenceBackend(), ['qmatmul']));
    const qw = await quantizeWeight(randn([4, 32]), { bits: 8, transposed: true });
    expect(() => quantizedMatmul(randn([1, 32]), qw)).toThrow(UnsupportedError);
    expect(() => quantizedMatmul(randn([1, 32]), qw)).toThrow(/no 'qmatmul' kernel/);
  });
  it('quantizedEmbedding throws an UnsupportedError naming qembedding where it is missing', async () => {
    await setBackend(withoutFusedKernels(new ReferenceBackend(), ['qembedding']));
    const qw = await quantizeWeight(randn([4, 32]), { bits: 8, transposed: true });
    expect(() => quantizedEmbedding(qw, tensor([0], undefined, 'i32'))).toThrow(/no 'qembedding' kernel/);
  });
});
