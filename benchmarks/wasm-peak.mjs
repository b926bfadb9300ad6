// The register-only f32 SIMD peak of one wasm thread (matmul_peak_probe in packages/core/
// assembly/matmul.ts), which the benchmarks print beside achieved GFLOPS.

/** Peak GFLOPS of one thread of `be`'s build: best of 10 samples after a warm-up that lets V8 tier it up. */
export function wasmPeakGflops(be) {
  const { matmul_peak_probe: probe, matmul_peak_flops: flops } = be.ctx.exports;
  for (const t0 = performance.now(); performance.now() - t0 < 300; ) probe(1e6, 1);
  let peak = 0;
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    probe(1e6, 1);
    peak = Math.max(peak, (1e6 * flops()) / ((performance.now() - t0) / 1e3) / 1e9);
  }
  return peak;
}
