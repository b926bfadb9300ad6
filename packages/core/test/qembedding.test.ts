// qembedding (a row gather from a quantized table) on the wasm backend (both builds) and the
// reference: the shared conformance suite (conformance/qembedding.ts) and 1 vs 3 threads
// (every call split) giving the same bits.
import { describe, expect, it } from 'vitest';
import { quantizeMatrix } from '../src/quant.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { EXTENSION_KERNELS } from '../src/backend.js';
import type { WasmBackend } from '../src/wasm/backend.js';
import { qembeddingConformance } from './conformance/qembedding.js';
import { describeBuilds, describeThreadPairs, expectBitsEqual, randF32, rng } from './helpers.js';

describe('qembedding [reference]', () => {
  it('is an extension kernel the reference backend supplies', () => {
    expect(EXTENSION_KERNELS).toContain('qembedding');
    expect(typeof new ReferenceBackend().qembedding).toBe('function');
  });
});

describeBuilds('qembedding', (twin) => {
  qembeddingConformance(twin);
});

describeThreadPairs('qembedding', 3, (pair) => {
  it('a 1000-row gather split across threads has the bits of one thread (int8, int4)', () => {
    const { one, many } = pair();
    const [n, k, count] = [64, 96, 1000];
    for (const bits of [8, 4] as const) {
      const r = rng(bits);
      const qm = quantizeMatrix(randF32(r, n * k), n, k, { bits, groupSize: 32 });
      const idx = Int32Array.from({ length: count }, () => Math.floor(r() * n));
      const run = (be: WasmBackend) => {
        const put = (a: Float32Array | Int32Array) => {
          const s = be.alloc(a.length * 4);
          be.write(s, a);
          return { storage: s, offset: 0 };
        };
        const p = { q: put(qm.q), scales: put(qm.scales), indices: put(idx), out: put(new Float32Array(count * k)), count, n, k, bits, groupSize: 32 };
        be.qembedding!(p);
        const out = be.readSync(p.out.storage, 'f32');
        for (const s of [p.q, p.scales, p.indices, p.out]) be.free(s.storage);
        return out;
      };
      expectBitsEqual(run(many), run(one), `int${bits}`);
    }
  });
});
