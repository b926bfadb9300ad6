// matmul on WebGPU against the float64 reference: the shared conformance suite
// (core/test/conformance/matmul.ts, which gives the tolerance; element offsets there switch
// the vec4 paths off and aligned ones on, and the kernel sums in 16-wide k slices) and the
// WebGPU-only case of operands sharing one binding.
import { it } from 'vitest';
import { matmulConformance } from '../../core/test/conformance/matmul.js';
import { describeGPU, expectClose, randF32, rng } from './helpers.js';

describeGPU('matmul', (twin) => {
  matmulConformance(twin);

  it('a and b in the same storage, and out beside them (one shared binding)', async () => {
    const t = twin();
    const r = rng(5);
    const [m, n, k] = [17, 9, 13];
    const A = randF32(r, m * k);
    const B = randF32(r, k * n);
    const data = new Float32Array(m * k + k * n + m * n);
    data.set(A, 0);
    data.set(B, m * k);
    const buf = t.upload(data);
    t.run((be, s) =>
      be.matmul({ a: t.d(buf, s, 0), b: t.d(buf, s, m * k), out: t.d(buf, s, m * k + k * n), m, n, k }),
    );
    const res = await t.readAll(buf, 'f32');
    expectClose(res.dev, res.ref, 1e-5, 1e-6, 'matmul within one storage');
    t.free(buf);
  });
});
