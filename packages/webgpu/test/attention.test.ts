// Scaled dot-product attention of the WebGPU backend against the reference.
// Tolerances (as the wasm tests): probs and out 1e-5 relative with a 1e-6 absolute floor
// (f32 dot products over d and f32 probs-weighted sums vs float64 in the reference);
// backward 1e-5 relative with an absolute floor of 1e-5 times the gradient's scale.
import { ShapeError } from '@tessera/core';
import { expect, it } from 'vitest';
import { describeGPU, expectClose, maxAbs, randF32, rng, type Twin } from './helpers.js';

interface Case {
  heads: number;
  tq: number;
  tk: number;
  d: number;
  causal: boolean;
  scale?: number;
}

const CASES: Case[] = [
  { heads: 1, tq: 1, tk: 1, d: 1, causal: true },
  { heads: 2, tq: 3, tk: 3, d: 17, causal: true },
  { heads: 2, tq: 5, tk: 9, d: 63, causal: false },
  { heads: 1, tq: 4, tk: 4, d: 129, causal: false },
  { heads: 3, tq: 17, tk: 17, d: 8, causal: true },
  { heads: 2, tq: 1, tk: 9, d: 16, causal: true }, // one new token against a KV cache of 8
  { heads: 2, tq: 3, tk: 17, d: 3, causal: true }, // KV-cache offset 14
  { heads: 1, tq: 6, tk: 11, d: 32, causal: false, scale: 0.3 },
  { heads: 2, tq: 65, tk: 70, d: 12, causal: true }, // crosses the 64-row matmul tile
  { heads: 1, tq: 2, tk: 0, d: 4, causal: false }, // no keys: zero output
];

function setup(t: Twin, c: Case, seed: number) {
  const r = rng(seed);
  const { heads, tq, tk, d } = c;
  return {
    q: t.upload(randF32(r, heads * tq * d, -1, 1), 1),
    k: t.upload(randF32(r, heads * tk * d, -1, 1), 2),
    v: t.upload(randF32(r, heads * tk * d, -1, 1), 3),
    out: t.empty(heads * tq * d, 2),
    probs: t.empty(heads * tq * tk, 1),
  };
}

const label = (c: Case) => `h${c.heads} tq${c.tq} tk${c.tk} d${c.d}${c.causal ? ' causal' : ''}${c.scale ? ` scale ${c.scale}` : ''}`;

describeGPU('attention', (twin) => {
  it('forward: probs (masked entries 0) and outputs, causal with KV-cache offsets', async () => {
    const t = twin();
    for (const [i, c] of CASES.entries()) {
      const b = setup(t, c, 110 + i);
      t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
      const probs = await t.readAll(b.probs, 'f32');
      expectClose(probs.gpu, probs.ref, 1e-5, 1e-7, `probs ${label(c)}`);
      const out = await t.readAll(b.out, 'f32');
      expectClose(out.gpu, out.ref, 1e-5, 1e-6, `out ${label(c)}`);
      t.free(...Object.values(b));
    }
  });

  it('forward keeps large scores finite (max-shifted softmax)', async () => {
    const t = twin();
    const c: Case = { heads: 1, tq: 5, tk: 5, d: 7, causal: true, scale: 50 };
    const b = setup(t, c, 120);
    t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
    const out = await t.readAll(b.out, 'f32');
    expect(out.gpu.every(Number.isFinite)).toBe(true);
    // Scores of ~50 magnify the f32 rounding of q.k (~1e-7 relative) into e^(50 * 1e-7) - 1 ~ 5e-6.
    expectClose(out.gpu, out.ref, 2e-5, 1e-6, 'out with scale 50');
    t.free(...Object.values(b));
  });

  it('backward: dq, dk, dv from the same saved probs', async () => {
    const t = twin();
    for (const [i, c] of CASES.entries()) {
      const { heads, tq, tk, d } = c;
      const b = setup(t, c, 130 + i);
      t.ref.attention({ q: t.d(b.q, 'ref'), k: t.d(b.k, 'ref'), v: t.d(b.v, 'ref'), out: t.d(b.out, 'ref'), probs: t.d(b.probs, 'ref'), ...c });
      const probs = t.upload(t.ref.readSync(b.probs.ref, 'f32', b.probs.offset, heads * tq * tk), 2);
      const r = rng(140 + i);
      const dOut = t.upload(randF32(r, heads * tq * d, -1, 1), 1);
      const dq = t.empty(heads * tq * d, 1);
      const dk = t.empty(heads * tk * d, 2);
      const dv = t.empty(heads * tk * d, 3);
      t.run((be, s) =>
        be.attentionBackward({
          q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), probs: t.d(probs, s), dOut: t.d(dOut, s),
          dq: t.d(dq, s), dk: t.d(dk, s), dv: t.d(dv, s), heads, tq, tk, d, scale: c.scale,
        }),
      );
      for (const [name, buf] of [['dq', dq], ['dk', dk], ['dv', dv]] as const) {
        const res = await t.readAll(buf, 'f32');
        expectClose(res.gpu, res.ref, 1e-5, 1e-5 * maxAbs(res.ref.subarray(buf.offset, buf.offset + buf.length)), `${name} ${label(c)}`);
      }
      t.free(...Object.values(b), probs, dOut, dq, dk, dv);
    }
  });

  it('rejects causal attention with more queries than keys', () => {
    const t = twin();
    const c: Case = { heads: 1, tq: 4, tk: 3, d: 2, causal: true };
    const b = setup(t, c, 150);
    expect(() => t.gpu.attention({ q: t.d(b.q, 'gpu'), k: t.d(b.k, 'gpu'), v: t.d(b.v, 'gpu'), out: t.d(b.out, 'gpu'), probs: t.d(b.probs, 'gpu'), ...c })).toThrow(ShapeError);
    t.free(...Object.values(b));
  });
});
