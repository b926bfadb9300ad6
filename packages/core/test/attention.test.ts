// Scaled dot-product attention of the wasm backend (both builds) against the reference: the
// shared conformance suite (conformance/attention.ts, which gives the tolerances) and
// wasm-only error checks.
import { describe, expect, it } from 'vitest';
import { BoundsError, DisposedError } from '../src/errors.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { attentionConformance } from './conformance/attention.js';
import { describeBuilds } from './helpers.js';

describeBuilds('attention', (twin) => {
  attentionConformance(twin, { largeScoreRtol: 1e-5 });
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
