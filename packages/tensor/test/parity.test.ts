/**
 * wasm vs reference: every op's forward output and its input gradients (of
 * sum(out * R) for fixed random R) agree to 1e-5 relative to the output's
 * magnitude: |wasm - ref| <= 1e-5 * (|ref| + mean|ref|). Both builds of the
 * wasm backend are covered where the runtime validates them.
 */
import { ReferenceBackend, createWasmBackend, relaxedSimdSupported, type Backend } from '@tessera/core';
import { beforeAll, describe, it } from 'vitest';
import { mul, noGrad, setBackend, sum, tensor, tidy } from '../src/index.js';
import { cases, largeCases, type OpCase } from './cases.js';
import { expectClose, hostData, makeInputs } from './helpers.js';

const RTOL = 1e-5;

interface Result {
  out: Float32Array | Int32Array;
  grads: (Float32Array | null)[];
}

async function run(be: Backend, c: OpCase, seed: number): Promise<Result> {
  await setBackend(be);
  const grad = c.grad !== false;
  const inputs = makeInputs(c.inputs, seed, grad);
  const out = tidy(() => (grad ? c.fn(...inputs) : noGrad(() => c.fn(...inputs))));
  const res: Result = { out: out.dataSync(), grads: [] };
  if (grad) {
    const R = tensor(hostData({ shape: out.shape.slice() }, seed + 999).data, out.shape.slice());
    const loss = tidy(() => sum(mul(out, R)));
    loss.backward();
    res.grads = inputs.map((x) => (x.grad ? (x.grad.dataSync() as Float32Array) : null));
    loss.dispose();
    R.dispose();
  }
  out.dispose();
  for (const x of inputs) x.dispose();
  return res;
}

const builds: [string, () => Promise<Backend>, boolean][] = [
  ['wasm simd128', () => createWasmBackend({ simd: 'simd128' }), true],
  ['wasm relaxed', () => createWasmBackend({ simd: 'relaxed' }), relaxedSimdSupported()],
];

for (const [label, make, supported] of builds) {
  describe.skipIf(!supported)(`${label} matches the reference backend`, () => {
    let wasm: Backend;
    const ref = new ReferenceBackend();
    beforeAll(async () => {
      wasm = await make();
    });
    for (const c of [...cases, ...largeCases]) {
      it(c.name, async () => {
        for (const seed of [1, 2]) {
          const want = await run(ref, c, seed);
          const got = await run(wasm, c, seed);
          expectClose(got.out, want.out, RTOL, `${c.name} output`);
          want.grads.forEach((g, i) => {
            if (g) expectClose(got.grads[i]!, g, RTOL, `${c.name} grad of input ${i}`);
          });
        }
      });
    }
  });
}
