// Scaled dot-product attention of the wasm backend (both builds) against the reference.
// Tolerances: probs and out 1e-5 relative with a 1e-6 absolute floor (f32 dot products
// over d and f32 probs-weighted sums vs float64 in the reference); backward 1e-5 relative
// with an absolute floor of 1e-5 times the gradient's scale (f32 accumulation over tq / tk).
import { describe, expect, it } from 'vitest';
import { BoundsError, DisposedError, ShapeError } from '../src/errors.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { describeBuilds, expectClose, maxAbs, randF32, rng, type Twin } from './helpers.js';


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

describeBuilds('attention', (twin) => {
  it('forward: probs (masked entries 0) and outputs, causal with KV-cache offsets', () => {
    const t = twin();
    for (const [i, c] of CASES.entries()) {
      const b = setup(t, c, 110 + i);
      t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
      const probs = t.readAll(b.probs, 'f32');
      expectClose(probs.wasm, probs.ref, 1e-5, 1e-7, `probs ${label(c)}`);
      const out = t.readAll(b.out, 'f32');
      expectClose(out.wasm, out.ref, 1e-5, 1e-6, `out ${label(c)}`);
      t.free(...Object.values(b));
    }
  });

  it('forward keeps large scores finite (max-shifted softmax)', () => {
    const t = twin();
    const c: Case = { heads: 1, tq: 5, tk: 5, d: 7, causal: true, scale: 50 };
    const b = setup(t, c, 120);
    t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
    const out = t.readAll(b.out, 'f32');
    expect(out.wasm.every(Number.isFinite)).toBe(true);
    expectClose(out.wasm, out.ref, 1e-5, 1e-6, 'out with scale 50');
    t.free(...Object.values(b));
  });

  it('backward: dq, dk, dv from the same saved probs', () => {
    const t = twin();
    for (const [i, c] of CASES.entries()) {
      const { heads, tq, tk, d } = c;
      const b = setup(t, c, 130 + i);
      // Identical probs on both sides: the reference's forward.
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
        const res = t.readAll(buf, 'f32');
        expectClose(res.wasm, res.ref, 1e-5, 1e-5 * maxAbs(res.ref.subarray(buf.offset, buf.offset + buf.length)), `${name} ${label(c)}`);
      }
      t.free(...Object.values(b), probs, dOut, dq, dk, dv);
    }
  });

  it('rejects causal attention with more queries than keys', () => {
    const t = twin();
    const c: Case = { heads: 1, tq: 4, tk: 3, d: 2, causal: true };
    const b = setup(t, c, 150);
    expect(() => t.wasm.attention({ q: t.d(b.q, 'wasm'), k: t.d(b.k, 'wasm'), v: t.d(b.v, 'wasm'), out: t.d(b.out, 'wasm'), probs: t.d(b.probs, 'wasm'), ...c })).toThrow(ShapeError);
    t.free(...Object.values(b));
  });
});

describe('attention errors on the wasm backend', () => {
  it('BoundsError for a short probs buffer, DisposedError for freed storage; nothing written', async () => {
    const be = await createWasmBackend({ simd: 'simd128' });
    const q = be.alloc(2 * 3 * 4 * 4);
    const probs = be.alloc(2 * 3 * 3 * 4 - 4);
    const out = be.alloc(2 * 3 * 4 * 4);
    be.write(out, new Float32Array(24).fill(5));
    const d = (s: typeof q) => ({ storage: s, offset: 0 });
    const p = { q: d(q), k: d(q), v: d(q), out: d(out), probs: d(probs), heads: 2, tq: 3, tk: 3, d: 4, causal: true };
    expect(() => be.attention(p)).toThrow(BoundsError);
    expect(() => be.attentionBackward({ ...p, dOut: d(q), dq: d(out), dk: d(out), dv: d(out) })).toThrow(BoundsError);
    expect(Array.from(be.readSync(out, 'f32'))).toEqual(new Array(24).fill(5));
    be.free(q);
    expect(() => be.attention({ ...p, probs: d(out) })).toThrow(DisposedError);
  });
});
