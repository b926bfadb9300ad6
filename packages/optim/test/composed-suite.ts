/**
 * Fused vs composed optimizer steps, parametrised by backend (run here on the
 * reference and both wasm builds, and by packages/webgpu/test/composed.test.ts
 * on WebGPU): SGD, Adam and AdamW with every option, one optimizer on the
 * backend as it is (the fused sgdStep/adamStep kernels) and one on
 * `withoutFusedKernels(be)` (the same rule as in-place tensor ops), fed the
 * same parameters and gradients for 6 steps. Parameters and every state buffer
 * agree to |composed - fused| <= 1e-5 * (|fused| + mean|fused|) after each step.
 */

import { withoutFusedKernels, type Backend } from '@tessera/core';
import { setBackend, tensor, type Tensor } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, AdamW, SGD, type Optimizer } from '../src/index.js';
import { expectClose } from '../../tensor/test/helpers.js';
import { rng } from '../../core/test/checks.js';

/** Tolerance of every comparison (see the file comment). */
export const OPTIM_RTOL = 1e-5;
const STEPS = 6;

type Make = (params: Tensor[]) => Optimizer<object>;

/** Every option combination the fused kernels take, by name. */
export const optimizerConfigs: [string, Make][] = [
  ['SGD plain', (p) => new SGD(p, { lr: 0.1 })],
  ['SGD weight decay', (p) => new SGD(p, { lr: 0.1, weightDecay: 0.05 })],
  ['SGD momentum + dampening', (p) => new SGD(p, { lr: 0.05, momentum: 0.9, dampening: 0.3 })],
  ['SGD nesterov + weight decay', (p) => new SGD(p, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 })],
  ['Adam plain', (p) => new Adam(p, { lr: 0.01 })],
  ['Adam L2 weight decay', (p) => new Adam(p, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 })],
  ['Adam amsgrad + weight decay', (p) => new Adam(p, { lr: 0.02, weightDecay: 0.05, amsgrad: true })],
  ['AdamW decoupled decay', (p) => new AdamW(p, { lr: 0.01, weightDecay: 0.1 })],
  ['AdamW amsgrad', (p) => new AdamW(p, { lr: 0.01, betas: [0.5, 0.9], weightDecay: 0.2, amsgrad: true })],
];

/** The values of a parameter and its state buffers, read asynchronously. */
async function snapshot(opt: Optimizer<object>, params: Tensor[]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  const sd = await opt.stateDict();
  for (let i = 0; i < params.length; i++) out.set(`param ${i}`, (await params[i].data()) as Float32Array);
  for (const [i, st] of Object.entries(sd.state)) {
    for (const [name, buf] of Object.entries(st.buffers)) out.set(`param ${i} ${name}`, Float32Array.from(buf));
  }
  return out;
}

/** Runs `make`'s optimizer for STEPS steps on `be` from fixed parameters and gradients, snapshotting after each. */
async function trajectory(be: Backend, make: Make): Promise<Map<string, Float32Array>[]> {
  await setBackend(be);
  const r = rng(7);
  const shapes = [[3, 5], [7]];
  const params = shapes.map((s) => tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => 2 * r() - 1), s, { requiresGrad: true }));
  const opt = make(params);
  const snaps: Map<string, Float32Array>[] = [];
  for (let step = 0; step < STEPS; step++) {
    for (const p of params) p.grad = tensor(Float32Array.from({ length: p.size }, () => 2 * r() - 1), p.shape.slice());
    opt.step();
    snaps.push(await snapshot(opt, params));
  }
  opt.dispose();
  for (const p of params) p.dispose();
  return snaps;
}

/**
 * Declares the suite for the backend `make` returns (called once, in beforeAll).
 * @example composedOptimizerSuite('wasm simd128', () => createWasmBackend({ simd: 'simd128' }));
 */
export function composedOptimizerSuite(label: string, make: () => Backend | Promise<Backend>, skip?: string): void {
  const d = skip ? describe.skip : describe;
  d(skip ? `${label}: fused and composed optimizer steps [skipped: ${skip}]` : `${label}: fused and composed optimizer steps`, () => {
    let fused: Backend;
    let composed: Backend;
    beforeAll(async () => {
      fused = await make();
      composed = withoutFusedKernels(fused);
    });
    for (const [name, makeOpt] of optimizerConfigs) {
      it(name, async () => {
        const want = await trajectory(fused, makeOpt);
        const got = await trajectory(composed, makeOpt);
        for (let s = 0; s < STEPS; s++) {
          expect([...got[s].keys()].sort()).toEqual([...want[s].keys()].sort());
          for (const [k, w] of want[s]) expectClose(got[s].get(k)!, w, OPTIM_RTOL, `${name} step ${s + 1} ${k}`);
        }
      });
    }
  });
}
