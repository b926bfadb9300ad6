// Runs in Node, Deno and Bun against the built package (dist): per-async-context tidy and
// noGrad, plus a forward/backward through fused and composed kernels. Prints one JSON line;
// exits non-zero on a failed check. Driven by test/runtimes.test.ts.
import { ReferenceBackend, createWasmBackend, withoutFusedKernels } from '@tessera/core';
import { asyncScopesIsolated, crossEntropy, isGradEnabled, layerNorm, mul, noGrad, ones, randn, setBackend, tensor, tidy } from '../../dist/index.js';

const checks = [];
const check = (name, ok) => {
  checks.push(name);
  if (!ok) {
    console.error(`failed: ${name}`);
    process.exit(1);
  }
};
const tick = (ms) => new Promise((r) => setTimeout(r, ms));

await setBackend(new ReferenceBackend());
check('async scopes isolated', asyncScopesIsolated());

// Two interleaved async tidies: B closes while A is suspended; A's tensor stays alive.
let gate;
const bOpen = new Promise((r) => (gate = r));
let madeByA = null;
let aliveAfterB = null;
const pa = tidy(async () => {
  await bOpen;
  madeByA = ones([2]);
  await tick(10);
  aliveAfterB = !madeByA.isDisposed;
  return madeByA.add(1);
});
const pb = tidy(async () => {
  gate();
  await tick(1);
  return null;
});
await pb;
const out = await pa;
check('interleaved tidies free only their own tensors', aliveAfterB === true && madeByA.isDisposed && out.dataSync()[0] === 2);
out.dispose();

// An async noGrad beside a recording task.
const w = ones([3], { requiresGrad: true });
let entered;
const inside = new Promise((r) => (entered = r));
const task = noGrad(async () => {
  entered();
  await tick(5);
  return isGradEnabled();
});
await inside;
const loss = mul(w, w).sum();
check('recording beside an async noGrad', isGradEnabled() && loss.requiresGrad);
loss.backward();
check('gradient of the recording task', Array.from(w.grad.dataSync()).join() === '2,2,2');
check('noGrad task saw recording off', (await task) === false);

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
