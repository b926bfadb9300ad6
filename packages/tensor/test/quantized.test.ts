// Weight-only quantized products: quantizedMatmul against matmul with the dequantized weight
// on the reference and wasm backends (both weight layouts, batched x), the typed errors
// (no gradient, shapes, a backend without the qmatmul kernel) and dequantizeWeight within
// half a step of the original. Tolerance: |got - want| <= 1e-5 * sum_l |x_l w_l| + 1e-7
// per output, as core's qmatmul conformance suite states it.
import { DTypeError, IndexError, ReferenceBackend, ShapeError, UnsupportedError, createWasmBackend, withoutFusedKernels, type Backend } from '@tessera/core';
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
