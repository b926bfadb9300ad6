// Scaled dot-product attention conformance: the device under test against the reference.
// Tolerances: probs and out 1e-5 relative with a 1e-6 absolute floor (f32 dot products over
// d and f32 probs-weighted sums vs float64 in the reference); backward 1e-5 relative with an
// absolute floor of 1e-5 times the gradient's scale (f32 accumulation over tq / tk).
import { expect, it } from 'vitest';
import type { AttentionParams } from '../../src/backend.js';
import { expectClose, maxAbs, randF32, rng } from '../checks.js';
import type { Twin } from './twin.js';

export interface AttentionOptions {
  /**
   * Relative tolerance of the output at scale 50 (scores ~50): 1e-5 as everywhere on wasm;
   * WebGPU keeps 2e-5, since scores of ~50 magnify the f32 rounding of q.k (~1e-7 relative)
   * into e^(50 * 1e-7) - 1 ~ 5e-6.
   */
  largeScoreRtol: number;
}

/** One attention call: the params besides the operands. */
export type AttentionCase = Pick<AttentionParams, 'heads' | 'tq' | 'tk' | 'd' | 'causal' | 'scale' | 'kvHeadStride'>;

const CASES: AttentionCase[] = [
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

function setupAttention(t: Twin, c: AttentionCase, seed: number) {
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

const attentionLabel = (c: AttentionCase) =>
  `h${c.heads} tq${c.tq} tk${c.tk} d${c.d}${c.causal ? ' causal' : ''}${c.scale ? ` scale ${c.scale}` : ''}${c.kvHeadStride !== undefined ? ` kvHeadStride ${c.kvHeadStride}` : ''}`;

/**
 * k/v heads kvHeadStride elements apart: the first tk rows of each head of a [heads, cap, d]
 * KV cache (stride cap * d), and strides that are no multiple of d.
 */
const STRIDED_CASES: AttentionCase[] = [
  { heads: 3, tq: 1, tk: 9, d: 16, causal: true, kvHeadStride: 20 * 16 }, // one new token, cache of capacity 20
  { heads: 2, tq: 5, tk: 13, d: 7, causal: true, kvHeadStride: 13 * 7 + 5 }, // KV-cache offset 8, stride no multiple of d
  { heads: 2, tq: 3, tk: 11, d: 9, causal: false, kvHeadStride: 11 * 9 + 1 },
  { heads: 4, tq: 3, tk: 70, d: 65, causal: true, kvHeadStride: 97 * 65 }, // crosses the 64-row matmul tile
  { heads: 2, tq: 4, tk: 4, d: 3, causal: true, kvHeadStride: 4 * 3 }, // the dense stride given explicitly
  { heads: 2, tq: 2, tk: 0, d: 4, causal: false, kvHeadStride: 5 }, // no keys: zero output
];

/** Sentinel in the gaps between k/v heads: read by mistake, it would swamp the scores. */
const GAP = 1e3;

/**
 * q and outputs as setupAttention; k and v as `heads` blocks of [tk, d] rows kvHeadStride apart
 * with GAP between them, plus the same rows packed densely (kDense, vDense).
 */
function setupStridedAttention(t: Twin, c: AttentionCase, seed: number) {
  const r = rng(seed);
  const { heads, tq, tk, d } = c;
  const stride = c.kvHeadStride ?? tk * d;
  const q = randF32(r, heads * tq * d, -1, 1);
  const kd = randF32(r, heads * tk * d, -1, 1);
  const vd = randF32(r, heads * tk * d, -1, 1);
  const spread = (rows: Float32Array) => {
    const s = new Float32Array(heads === 0 ? 0 : (heads - 1) * stride + tk * d).fill(GAP);
    for (let h = 0; h < heads; h++) s.set(rows.subarray(h * tk * d, (h + 1) * tk * d), h * stride);
    return s;
  };
  return {
    q: t.upload(q, 1),
    k: t.upload(spread(kd), 2),
    v: t.upload(spread(vd), 3),
    kDense: t.upload(kd, 1),
    vDense: t.upload(vd, 2),
    out: t.empty(heads * tq * d, 2),
    probs: t.empty(heads * tq * tk, 1),
    outDense: t.empty(heads * tq * d, 2),
    probsDense: t.empty(heads * tq * tk, 1),
  };
}

/** The shared attention tests; call inside the backend's describe. */
export function attentionConformance(twin: () => Twin, opts: AttentionOptions): void {
  it('forward: probs (masked entries 0) and outputs, causal with KV-cache offsets', async () => {
    const t = twin();
    for (const [i, c] of CASES.entries()) {
      const b = setupAttention(t, c, 110 + i);
      t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
      const probs = await t.readAll(b.probs, 'f32');
      expectClose(probs.dev, probs.ref, 1e-5, 1e-7, `probs ${attentionLabel(c)}`);
      const out = await t.readAll(b.out, 'f32');
      expectClose(out.dev, out.ref, 1e-5, 1e-6, `out ${attentionLabel(c)}`);
      t.free(...Object.values(b));
    }
  });

  it('forward with k/v heads kvHeadStride apart (a KV cache read in place) equals the dense call', async () => {
    const t = twin();
    for (const [i, c] of STRIDED_CASES.entries()) {
      const b = setupStridedAttention(t, c, 160 + i);
      t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
      const { kvHeadStride: _, ...dense } = c;
      t.run((be, s) =>
        be.attention({ q: t.d(b.q, s), k: t.d(b.kDense, s), v: t.d(b.vDense, s), out: t.d(b.outDense, s), probs: t.d(b.probsDense, s), ...dense }),
      );
      const probs = await t.readAll(b.probs, 'f32');
      const out = await t.readAll(b.out, 'f32');
      expectClose(probs.dev, probs.ref, 1e-5, 1e-7, `probs ${attentionLabel(c)}`);
      expectClose(out.dev, out.ref, 1e-5, 1e-6, `out ${attentionLabel(c)}`);
      // The reference's strided call does the dense call's arithmetic in the same order, so its
      // bits agree; the device may pick other product paths for other alignments (tolerances).
      const probsDense = await t.readAll(b.probsDense, 'f32');
      const outDense = await t.readAll(b.outDense, 'f32');
      expect(Array.from(probs.ref), `reference probs ${attentionLabel(c)}`).toEqual(Array.from(probsDense.ref));
      expect(Array.from(out.ref), `reference out ${attentionLabel(c)}`).toEqual(Array.from(outDense.ref));
      expectClose(out.dev, outDense.dev, 1e-5, 1e-6, `out vs the dense call ${attentionLabel(c)}`);
      t.free(...Object.values(b));
    }
  });

  it('rejects a kvHeadStride below tk * d or not an integer, and k/v spans past their storage', () => {
    const t = twin();
    const c: AttentionCase = { heads: 3, tq: 2, tk: 4, d: 5, causal: true };
    const b = setupAttention(t, c, 170);
    const call = (extra: Partial<AttentionParams>) => () =>
      t.dev.attention({ q: t.d(b.q, 'dev'), k: t.d(b.k, 'dev'), v: t.d(b.v, 'dev'), out: t.d(b.out, 'dev'), probs: t.d(b.probs, 'dev'), ...c, ...extra });
    for (const bad of [19, -1, 20.5, NaN]) {
      expect(call({ kvHeadStride: bad })).toThrow(t.errors.ArgumentError);
      expect(call({ kvHeadStride: bad })).toThrow(new RegExp(`kvHeadStride must be an integer >= tk \\* d = 4 \\* 5 = 20, got ${bad}`));
    }
    // k: 3 * 20 elements at offset 2 of a 65-element storage; a stride of 22 spans 2 * 22 + 20 = 64.
    expect(call({ kvHeadStride: 22 })).toThrow(t.errors.BoundsError);
    expect(call({ kvHeadStride: 22 })).toThrow(/attention k: elements \[2, 66\)/);
    t.free(...Object.values(b));
  });

  it('forward keeps large scores finite (max-shifted softmax)', async () => {
    const t = twin();
    const c: AttentionCase = { heads: 1, tq: 5, tk: 5, d: 7, causal: true, scale: 50 };
    const b = setupAttention(t, c, 120);
    t.run((be, s) => be.attention({ q: t.d(b.q, s), k: t.d(b.k, s), v: t.d(b.v, s), out: t.d(b.out, s), probs: t.d(b.probs, s), ...c }));
    const out = await t.readAll(b.out, 'f32');
    expect(out.dev.every(Number.isFinite)).toBe(true);
    expectClose(out.dev, out.ref, opts.largeScoreRtol, 1e-6, 'out with scale 50');
    t.free(...Object.values(b));
  });

  it('backward: dq, dk, dv from the same saved probs', async () => {
    const t = twin();
    for (const [i, c] of CASES.entries()) {
      const { heads, tq, tk, d } = c;
      const b = setupAttention(t, c, 130 + i);
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
        const res = await t.readAll(buf, 'f32');
        expectClose(res.dev, res.ref, 1e-5, 1e-5 * maxAbs(res.ref.subarray(buf.offset, buf.offset + buf.length)), `${name} ${attentionLabel(c)}`);
      }
      t.free(...Object.values(b), probs, dOut, dq, dk, dv);
    }
  });

  it('rejects causal attention with more queries than keys', () => {
    const t = twin();
    const c: AttentionCase = { heads: 1, tq: 4, tk: 3, d: 2, causal: true };
    const b = setupAttention(t, c, 150);
    expect(() => t.dev.attention({ q: t.d(b.q, 'dev'), k: t.d(b.k, 'dev'), v: t.d(b.v, 'dev'), out: t.d(b.out, 'dev'), probs: t.d(b.probs, 'dev'), ...c })).toThrow(t.errors.ShapeError);
    t.free(...Object.values(b));
  });
}
