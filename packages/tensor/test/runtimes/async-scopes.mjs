// Runs in Node, Deno and Bun against the built package (dist): per-async-context tidy and
// noGrad, plus a forward/backward through fused and composed kernels. Prints one JSON line;
// exits non-zero on a failed check. Driven by test/runtimes.test.ts.
import { ReferenceBackend, createWasmBackend, withoutFusedKernels } from '@tessera/core';
import * as api from '../../dist/index.js';
import { noGradBeside, tidyClosesBeside } from './scope-checks.mjs';

const { asyncScopesIsolated, crossEntropy, layerNorm, randn, setBackend, tensor, tidy } = api;

const checks = [];
const check = (name, ok) => {
  checks.push(name);
  if (!ok) {
    console.error(`failed: ${name}`);
    process.exit(1);
  }
};

await setBackend(new ReferenceBackend());
check('async scopes isolated', asyncScopesIsolated());

const scopes = await tidyClosesBeside(api);
check('interleaved tidies free only their own tensors', scopes.aliveWhenBClosed === true && scopes.freedByA && scopes.value === 2);
const grads = await noGradBeside(api);
check('recording beside an async noGrad', grads.enabledBeside && grads.recorded);
check('gradient of the recording task', grads.grad.join() === '2,2,2');
check('noGrad task saw recording off', grads.offInside && grads.enabledAfter);

// Fused vs composed on the best wasm build.
const wasm = await createWasmBackend();
const run = async (be) => {
  await setBackend(be);
  const x = randn([4, 6], { seed: 3, requiresGrad: true });
  const l = tidy(() => crossEntropy(layerNorm(x, [6]), tensor([0, 5, 2, 1], undefined, 'i32')));
  l.backward();
  return [l.dataSync()[0], Array.from(x.grad.dataSync())];
};
const [lf, gf] = await run(wasm);
const [lc, gc] = await run(withoutFusedKernels(wasm));
const close = (a, b) => Math.abs(a - b) <= 1e-5 * (1 + Math.abs(b));
check('fused and composed losses agree', close(lc, lf));
check('fused and composed gradients agree', gc.every((v, i) => close(v, gf[i])));
console.log(JSON.stringify({ runtime: typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'node', wasm: wasm.name, checks: checks.length }));
