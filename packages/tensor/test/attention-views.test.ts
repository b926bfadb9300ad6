/**
 * scaledDotProductAttention on k/v views of a KV cache [H, P, D] narrowed to its first Tk rows
 * ([H, Tk, D] with a head stride of P * D): the fused kernel reads them in place (no copy
 * kernel runs) and gives the values of the same call on contiguous copies; the composed path
 * gives the copies' values and gradients too (the cache rows past Tk get a zero gradient).
 * On the reference backend and both wasm builds (where the runtime validates them).
 */
import { ReferenceBackend, createWasmBackend, relaxedSimdSupported, withoutFusedKernels, type Backend } from '@tessera/core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { mul, scaledDotProductAttention, setBackend, sum, tensor, tidy, type Tensor } from '../src/index.js';
import { expectClose, hostData } from './helpers.js';

/** Heads, cache capacity P, attended positions Tk, queries Tq (the last Tq of Tk), head dim D. */
const H = 3;
const P = 11;
const TK = 7;
const TQ = 2;
const D = 9;

const backends: [string, () => Promise<Backend>, boolean][] = [
  ['reference', async () => new ReferenceBackend(), true],
  ['wasm simd128', () => createWasmBackend({ simd: 'simd128' }), true],
  ['wasm relaxed', () => createWasmBackend({ simd: 'relaxed' }), relaxedSimdSupported()],
];

const input = (shape: number[], seed: number, requiresGrad = false): Tensor => tensor(hostData({ shape }, seed).data, shape, { requiresGrad });

for (const [label, make, supported] of backends) {
  describe.skipIf(!supported)(`attention on KV-cache views [${label}]`, () => {
    let be: Backend;
    beforeAll(async () => {
      be = await make();
    });

    it('fused: reads the [H, Tk, D] view of a [H, P, D] cache in place, with the values of contiguous copies', async () => {
      await setBackend(be);
      const q = input([H, TQ, D], 1);
      const cacheK = input([H, P, D], 2);
      const cacheV = input([H, P, D], 3);
      const k = cacheK.narrow(1, 0, TK);
      const v = cacheV.narrow(1, 0, TK);
      expect(k.isContiguous()).toBe(false);
      const copy = vi.spyOn(be, 'copy');
      const got = scaledDotProductAttention(q, k, v, { causal: true });
      expect(copy, 'no operand was copied dense').not.toHaveBeenCalled();
      copy.mockRestore();
      const want = tidy(() => scaledDotProductAttention(q, k.contiguous(), v.contiguous(), { causal: true }));
      expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
      for (const t of [q, cacheK, cacheV, got, want]) t.dispose();
    });

    it('composed: forward and gradients through the views equal those through contiguous copies', async () => {
      await setBackend(withoutFusedKernels(be));
      const R = input([H, TQ, D], 4);
      const run = (contiguous: boolean) => {
        const q = input([H, TQ, D], 1, true);
        const cacheK = input([H, P, D], 2, true);
        const cacheV = input([H, P, D], 3, true);
        const view = (c: Tensor) => (contiguous ? c.narrow(1, 0, TK).contiguous() : c.narrow(1, 0, TK));
        const out = tidy(() => scaledDotProductAttention(q, view(cacheK), view(cacheV), { causal: true }));
        const loss = tidy(() => sum(mul(out, R)));
        loss.backward();
        const res = [out, q.grad!, cacheK.grad!, cacheV.grad!].map((t) => Array.from(t.dataSync()));
        for (const t of [q, cacheK, cacheV, out, loss]) t.dispose();
        return res;
      };
      const got = run(false);
      const want = run(true);
      for (const [i, what] of ['output', 'dq', 'dk (cache)', 'dv (cache)'].entries()) expectClose(got[i], want[i], 1e-6, what);
      // Cache rows Tk..P-1 take no part: their gradient is zero.
      for (let h = 0; h < H; h++) expect(got[2].slice((h * P + TK) * D, (h + 1) * P * D).every((x) => x === 0), `head ${h}`).toBe(true);
      R.dispose();
    });
  });
}
