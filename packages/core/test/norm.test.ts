// LayerNorm forward / backward of the wasm backend (both builds) against the reference: the
// shared conformance suite (conformance/norm.ts; row sums in float64 on both sides, the
// elementwise work f32 in wasm) and wasm-only error checks.
import { describe, expect, it } from 'vitest';
import { BoundsError, DisposedError } from '../src/errors.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { normConformance } from './conformance/norm.js';
import { describeBuilds } from './helpers.js';

describeBuilds('layerNorm', (twin) => {
  normConformance(twin, { wide: 768 });
});

describe('layerNorm errors on the wasm backend', () => {
  it('BoundsError for short gamma / dgamma, DisposedError for freed storage; nothing written', async () => {
    const be = await createWasmBackend({ simd: 'simd128' });
    const x = be.alloc(12 * 4);
    const g = be.alloc(3 * 4);
    const out = be.alloc(12 * 4);
    be.write(out, new Float32Array(12).fill(5));
    const d = (s: typeof x, offset = 0) => ({ storage: s, offset });
    const fwd = { x: d(x), gamma: d(g), beta: d(g), out: d(out), mean: d(out, 8), rstd: d(out, 10), rows: 2, cols: 4, eps: 1e-5 };
    expect(() => be.layerNorm(fwd)).toThrow(BoundsError);
    expect(() => be.layerNormBackward({ dy: d(x), x: d(x), gamma: d(x), mean: d(x), rstd: d(x), dx: d(out), dgamma: d(g), dbeta: d(x), rows: 3, cols: 4 })).toThrow(BoundsError);
    expect(Array.from(be.readSync(out, 'f32'))).toEqual(new Array(12).fill(5));
    be.free(g);
    expect(() => be.layerNorm({ ...fwd, cols: 3, rows: 1 })).toThrow(DisposedError);
  });
});
