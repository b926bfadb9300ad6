// The layers above the backend on WebGPU, which has no synchronous reads: @tessera/tensor's
// sync reads refuse with a pointer to their async twins (item, to), @tessera/optim's
// clipGradNormSync clips on the device and clipGradNorm reads the norm, and
// @tessera/models' GPT2.loadStateDict checks a tied lm_head.weight without reading the model.
//
// Tolerance for clipping: gradients within 1e-6 relative of the wasm run's. The norm is summed
// in a different order on the GPU (workgroup trees vs SIMD lanes, ~1e-7), and the on-device
// path computes min(1, maxNorm / (total + 1e-6)) in f32 where the host path uses f64 (one more
// f32 rounding of the coefficient, 6e-8). Gradients under the limit are compared bit for bit.
import { UnsupportedError, createWasmBackend, type Backend } from '@tessera/core';
import { GPT2, type GPT2ConfigInput, type StateDictValue } from '@tessera/models';
import { NonFiniteError, clipGradNorm, clipGradNormSync } from '@tessera/optim';
import { setBackend, tensor, type Tensor } from '@tessera/tensor';
import { beforeAll, expect, it } from 'vitest';
import { describeGPU, expectClose, randF32, rng } from './helpers.js';

/** Parameters with random gradients of the given sizes (one without a gradient) on the active backend. */
function withGrads(seed: number, sizes: number[], scale: number): Tensor[] {
  const r = rng(seed);
  const ps = sizes.map((n) => tensor(new Float32Array(n), [n], { requiresGrad: true }));
  ps.forEach((p, i) => {
    p.grad = tensor(randF32(r, sizes[i], -scale, scale), [sizes[i]]);
  });
  ps.push(tensor([0, 0], [2], { requiresGrad: true }));
  return ps;
}

async function gradsOf(ps: Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ps.filter((p) => p.grad).map(async (p) => (await p.grad!.data()) as Float32Array));
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

const SIZES = [1, 17, 129, 4099];

describeGPU('async paths above the backend', (twin) => {
  let wasm: Backend;
  beforeAll(async () => {
    wasm = await createWasmBackend({ simd: 'simd128' });
  });

  it('tensor: sync reads name their async twins; item and to work', async () => {
    const gpu = twin().dev;
    await setBackend(gpu);
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(() => t.sum().itemSync()).toThrow(UnsupportedError);
    expect(() => t.sum().itemSync()).toThrow(/itemSync: backend 'webgpu' has no synchronous reads .* use await t\.item\(\)/);
    expect(() => t.arraySync()).toThrow(/use await t\.array\(\)/);
    expect(() => t.toSync(wasm)).toThrow(/toSync: backend 'webgpu' has no synchronous reads .* use await t\.to\(backend\)/);
    expect(await t.sum().item()).toBe(21);
    // WebGPU -> wasm through an async read (a transposed view travels row-major) ...
    const onWasm = await t.T.to(wasm);
    expect(onWasm.backend).toBe(wasm);
    expect(onWasm.arraySync()).toEqual([[1, 4], [2, 5], [3, 6]]);
    // ... and back, where toSync() works since wasm reads synchronously.
    const back = onWasm.toSync(gpu);
    expect(await back.array()).toEqual([[1, 4], [2, 5], [3, 6]]);
    expect(await (await onWasm.to(gpu)).array()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  it('clipGradNormSync clips on the device, matching wasm (1e-6 relative), and returns NaN', async () => {
    const gpu = twin().dev;
    for (const [p, maxNorm] of [[2, 1], [1, 3], [Infinity, 0.25], [3, 2]] as const) {
      await setBackend(wasm);
      const host = withGrads(4, SIZES, 0.5);
      const norm = clipGradNormSync(host, maxNorm, p);
      expect(norm).toBeGreaterThan(maxNorm); // the case that scales
      await setBackend(gpu);
      const dev = withGrads(4, SIZES, 0.5);
      const live = gpu.memoryInfo().liveStorages;
      expect(clipGradNormSync(dev, maxNorm, p)).toBeNaN();
      expect(gpu.memoryInfo().liveStorages).toBe(live);
      const [want, got] = [await gradsOf(host), await gradsOf(dev)];
      got.forEach((g, i) => expectClose(g, want[i], 1e-6, 0, `${p}-norm clipped gradient ${i}`));
    }
  });

  it('clipGradNormSync on the device leaves gradients under the limit bit for bit alone; NaN and inf as in PyTorch', async () => {
    await setBackend(twin().dev);
    const small = withGrads(6, SIZES, 1e-3);
    const before = (await gradsOf(small)).map(bits);
    clipGradNormSync(small, 1);
    expect((await gradsOf(small)).map(bits)).toEqual(before);
    const nan = withGrads(7, [3, 5], 1);
    nan[0].grad!.assign(tensor([1, NaN, 2]));
    clipGradNormSync(nan, 1);
    expect((await gradsOf(nan)).every((g) => g.every(Number.isNaN))).toBe(true);
    const inf = withGrads(8, [3, 5], 1);
    inf[0].grad!.assign(tensor([1, Infinity, -2]));
    clipGradNormSync(inf, 1);
    const [g0, g1] = await gradsOf(inf);
    expect(Array.from(g0)).toEqual([0, NaN, -0]); // inf * 0 is NaN, as in PyTorch
    expect(g1.every((v) => v === 0)).toBe(true);
    expect(() => clipGradNormSync(withGrads(9, [3], 1), 1, 2, { errorIfNonfinite: true })).toThrow(/errorIfNonfinite needs the norm on the host.*use await clipGradNorm\(/);
  });

  it('clipGradNorm reads the norm (1e-6 of wasm\'s), clips as the host path does, and honours errorIfNonfinite', async () => {
    const gpu = twin().dev;
    await setBackend(wasm);
    const host = withGrads(10, SIZES, 0.5);
    const want = clipGradNormSync(host, 1);
    await setBackend(gpu);
    const dev = withGrads(10, SIZES, 0.5);
    const got = await clipGradNorm(dev, 1);
    expect(Math.abs(got - want) / want).toBeLessThan(1e-6);
    const [w, g] = [await gradsOf(host), await gradsOf(dev)];
    g.forEach((v, i) => expectClose(v, w[i], 1e-6, 0, `clipped gradient ${i}`));
    const inf = withGrads(11, [4], 1);
    inf[0].grad!.assign(tensor([1, 2, -Infinity, 3]));
    await expect(clipGradNorm(inf, 1, 2, { errorIfNonfinite: true })).rejects.toThrow(NonFiniteError);
    expect(Array.from((await gradsOf(inf))[0])).toEqual([1, 2, -Infinity, 3]);
  });

  it('GPT2.loadStateDict checks a tied lm_head.weight against the values it loads, not by reading the GPU', async () => {
    const config: GPT2ConfigInput = { n_layer: 1, n_head: 2, n_embd: 16, vocab_size: 32, n_positions: 8 };
    await setBackend(wasm);
    const src = new GPT2(config, { seed: 2 });
    const wte = src.transformer.wte.weight;
    await setBackend(twin().dev);
    const model = new GPT2(config, { init: false });
    // Tensors on wasm (synchronously readable) with the head as its own copy of the embedding.
    const head = wte.clone();
    model.loadStateDict(new Map([...src.stateDict(), ['lm_head.weight', head]]));
    expect(await model.transformer.wte.weight.data()).toEqual(wte.dataSync());
    const wrong = (wte.dataSync() as Float32Array).slice();
    wrong[0] += 1;
    const untied = new Map<string, StateDictValue>([...src.stateDict(), ['lm_head.weight', { shape: wte.shape, data: wrong }]]);
    expect(() => model.loadStateDict(untied)).toThrow(
      /lm_head.weight differs from transformer.wte.weight/,
    );
    expect(() => model.loadStateDict({ 'lm_head.weight': wte }, { strict: false })).toThrow(/without synchronous reads \(the model is on backend 'webgpu'\)/);
    src.dispose();
    model.dispose();
  });
});
