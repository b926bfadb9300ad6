// @tessera/tensor's autograd, unchanged, on the WebGPU backend: every case of the tensor
// package's op table (forward outputs and the input gradients of sum(out * R) for fixed
// random R) against the reference backend, read with the async API only. Tolerance as the
// tensor package's wasm parity test: |gpu - ref| <= 1e-5 * (|ref| + mean|ref|).
//
// The case table is the tensor package's own (packages/tensor/test/cases.ts), imported with
// its source so that ops and the active backend come from the same module instance.
import { ReferenceBackend, UnsupportedError, type Backend } from '@tessera/core';
import { expect, it } from 'vitest';
import { mul, noGrad, setBackend, sum, tensor, tidy } from '../../tensor/src/index.js';
import { cases, largeCases, type OpCase } from '../../tensor/test/cases.js';
import { expectClose, hostData, makeInputs } from '../../tensor/test/helpers.js';
import { describeGPU } from './helpers.js';

interface Result {
  out: Float32Array | Int32Array;
  grads: (Float32Array | null)[];
}

async function run(be: Backend, c: OpCase, seed: number): Promise<Result> {
  await setBackend(be);
  const grad = c.grad !== false;
  const inputs = makeInputs(c.inputs, seed, grad);
  const out = tidy(() => (grad ? c.fn(...inputs) : noGrad(() => c.fn(...inputs))));
  const res: Result = { out: await out.data(), grads: [] };
  if (grad) {
    const R = tensor(hostData({ shape: out.shape.slice() }, seed + 999).data, out.shape.slice());
    const loss = tidy(() => sum(mul(out, R)));
    loss.backward();
    for (const x of inputs) res.grads.push(x.grad ? ((await x.grad.data()) as Float32Array) : null);
    loss.dispose();
    R.dispose();
  }
  out.dispose();
  for (const x of inputs) x.dispose();
  return res;
}

describeGPU('tensor ops and gradients', (twin) => {
  const ref = new ReferenceBackend();
  it.each([...cases, ...largeCases].map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    for (const seed of [1, 2]) {
      const want = await run(ref, c, seed);
      const got = await run(twin().dev, c, seed);
      expectClose(got.out, want.out, 1e-5, `${c.name} output`);
      want.grads.forEach((g, i) => {
        if (g) expectClose(got.grads[i]!, g, 1e-5, `${c.name} grad of input ${i}`);
      });
    }
  });

  it('synchronous reads are refused with a pointer to the async API', async () => {
    await setBackend(twin().dev);
    const t = tensor([1, 2, 3]);
    expect(() => t.dataSync()).toThrow(UnsupportedError);
    expect(() => t.dataSync()).toThrow(/await t.data\(\)/);
    expect(() => tensor([5]).itemSync()).toThrow(UnsupportedError);
    expect(String(t)).toBe('tensor(<on webgpu, read with await t.data() or await t.array()>, shape=[3], dtype=f32)');
    expect(Array.from(await t.data())).toEqual([1, 2, 3]);
    t.dispose();
  });
});
