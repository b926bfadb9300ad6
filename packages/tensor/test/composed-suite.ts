/**
 * The fused-vs-composed op suite, parametrised by backend so every backend
 * package runs the same checks (core's wasm builds and the reference here,
 * WebGPU in packages/webgpu/test/composed.test.ts).
 *
 * Every case of the op table (cases.ts, which reaches every fused kernel and
 * every primitive) runs forward and backward (the input gradients of
 * sum(out * R) for fixed random R) three ways on the backend under test:
 *   - fused: the backend as it is;
 *   - composed: `withoutFusedKernels(be)`, so the tensor layer composes every
 *     fused kernel from primitives and autograd differentiates the composition;
 *   - fused forward, composed backward: only the backward kernels hidden, so
 *     the ops-written backwards of a fused forward run.
 * Each is compared with the float64 reference backend (fused path) and the
 * composed results with the fused ones, by expectClose:
 * |got - want| <= rtol * (|want| + mean|want|), rtol as passed (1e-5 for f32
 * backends, 1e-9 for the float64 reference against itself).
 *
 * Values are read with the async API only, so a backend without synchronous
 * reads runs the suite unchanged. The suite first checks the backend supplies
 * every primitive and the fused kernels it is expected to have, naming any
 * missing one.
 */

import { FUSED_KERNELS, PRIMITIVE_KERNELS, ReferenceBackend, withoutFusedKernels, type Backend, type FusedKernelName } from '@tessera/core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { mul, noGrad, setBackend, sum, tensor, tidy, type Tensor } from '../src/index.js';
import { cases, type OpCase } from './cases.js';
import { expectClose, hostData, makeInputs, readF64, type InputSpec } from './helpers.js';

/** The backward kernels hidden in the "fused forward, composed backward" mode. */
export const BACKWARD_KERNELS: readonly FusedKernelName[] = ['softmaxBackward', 'layerNormBackward', 'geluBackward', 'crossEntropyBackward', 'attentionBackward'];

const n = (...shape: number[]): InputSpec => ({ shape });
const vals = (shape: number[], values: number[], dtype: 'f32' | 'i32' = 'f32'): InputSpec => ({ shape, kind: 'values', values, dtype });

/** Cases that matter to the composed forms only: stability shifts, -inf logits, empty rows, 0-d inputs. */
export const composedCases: OpCase[] = [
  { name: 'softmax of large logits (max-shifted)', inputs: [vals([2, 3], [1000, 1001, 999, -1000, -1002, -1001])], fn: (a) => T.softmax(a) },
  { name: 'logSoftmax of large logits (max-shifted)', inputs: [vals([2, 3], [1000, 1001, 999, -1000, -1002, -1001])], fn: (a) => T.logSoftmax(a) },
  { name: 'softmax with -inf entries', inputs: [vals([2, 3], [0.5, -Infinity, 1.5, -Infinity, 2, -Infinity])], fn: (a) => T.softmax(a), grad: false },
  { name: 'softmax of a 0-d tensor', inputs: [n()], fn: (a) => T.softmax(a) },
  { name: 'crossEntropy every target ignored (sum)', inputs: [n(3, 4), vals([3], [-1, -1, -1], 'i32')], fn: (l, t) => T.crossEntropy(l, t, { ignoreIndex: -1, reduction: 'sum' }) },
  { name: 'crossEntropy ignoreIndex inside the class range', inputs: [n(5, 4), vals([5], [2, 0, 2, 3, 1], 'i32')], fn: (l, t) => T.crossEntropy(l, t, { ignoreIndex: 2 }) },
  { name: 'layerNorm of a constant row (variance 0)', inputs: [vals([2, 3], [2, 2, 2, 1, -1, 0.5]), n(3)], fn: (x, w) => T.layerNorm(x, [3], w) },
  { name: 'attention causal Tq=1 of Tk=4 (KV cache step)', inputs: [n(2, 1, 3), n(2, 4, 3), n(2, 4, 3)], fn: (q, k, v) => T.scaledDotProductAttention(q, k, v, { causal: true }) },
  { name: 'gelu far from 0', inputs: [vals([6], [-8, -3, -0.1, 0.1, 3, 8])], fn: (a) => T.gelu(a) },
];

interface Result {
  out: Float32Array | Int32Array | Float64Array;
  grads: (Float32Array | Float64Array | null)[];
}

async function read(t: Tensor): Promise<Float32Array | Int32Array | Float64Array> {
  const be = t.backend;
  if (be instanceof ReferenceBackend && be.float64) return readF64(be, t);
  return t.data();
}

/** Forward and input gradients of one case on `be`. */
export async function runCase(be: Backend, c: OpCase, seed: number): Promise<Result> {
  await setBackend(be);
  const grad = c.grad !== false;
  const inputs = makeInputs(c.inputs, seed, grad);
  const out = tidy(() => (grad ? c.fn(...inputs) : noGrad(() => c.fn(...inputs))));
  const res: Result = { out: await read(out), grads: [] };
  if (grad) {
    const R = tensor(hostData({ shape: out.shape.slice() }, seed + 999).data, out.shape.slice());
    const loss = tidy(() => sum(mul(out, R)));
    loss.backward();
    for (const x of inputs) res.grads.push(x.grad ? ((await read(x.grad)) as Float32Array | Float64Array) : null);
    loss.dispose();
    R.dispose();
  }
  out.dispose();
  for (const x of inputs) x.dispose();
  return res;
}

function compare(got: Result, want: Result, rtol: number, what: string): void {
  expectClose(got.out, want.out, rtol, `${what} output`);
  want.grads.forEach((g, i) => {
    if (!g) return;
    expect(got.grads[i], `${what}: input ${i} received no gradient`).toBeTruthy();
    expectClose(got.grads[i]!, g, rtol, `${what} grad of input ${i}`);
  });
}

/** Options of `composedOpSuite`. */
export interface ComposedSuiteOptions {
  /** Tolerance of every comparison (see the file comment). */
  rtol: number;
  /** The fused kernels this backend must have (default: all); the suite fails naming any it lacks. */
  fused?: readonly FusedKernelName[];
  /** Skip the suite, with this reason in its title. */
  skip?: string;
}

/** Kernels of `names` that `be` does not have as functions. */
export function missingKernels(be: Backend, names: readonly string[]): string[] {
  return names.filter((k) => typeof (be as unknown as Record<string, unknown>)[k] !== 'function');
}

/**
 * Declares the suite for the backend `make` returns (called once, in beforeAll).
 * @example composedOpSuite('wasm simd128', () => createWasmBackend({ simd: 'simd128' }), { rtol: 1e-5 });
 */
export function composedOpSuite(label: string, make: () => Backend | Promise<Backend>, options: ComposedSuiteOptions): void {
  const d = options.skip ? describe.skip : describe;
  d(options.skip ? `${label}: fused and composed ops [skipped: ${options.skip}]` : `${label}: fused and composed ops`, () => {
    let fused: Backend;
    let composed: Backend;
    let backwardOnly: Backend;
    const f64 = new ReferenceBackend({ float64: true });
    beforeAll(async () => {
      fused = await make();
      composed = withoutFusedKernels(fused);
      backwardOnly = withoutFusedKernels(fused, BACKWARD_KERNELS);
    });

    it('supplies every primitive kernel and the expected fused kernels', () => {
      expect(missingKernels(fused, PRIMITIVE_KERNELS), `backend '${fused.name}' lacks primitive kernels`).toEqual([]);
      expect(missingKernels(fused, options.fused ?? FUSED_KERNELS), `backend '${fused.name}' lacks fused kernels`).toEqual([]);
      expect(missingKernels(composed, FUSED_KERNELS)).toEqual([...FUSED_KERNELS]);
    });

    for (const c of [...cases, ...composedCases]) {
      it(c.name, async () => {
        const want = await runCase(f64, c, 1);
        const a = await runCase(fused, c, 1);
        const b = await runCase(composed, c, 1);
        const m = await runCase(backwardOnly, c, 1);
        compare(a, want, options.rtol, `${c.name} [fused vs float64 reference]`);
        compare(b, want, options.rtol, `${c.name} [composed vs float64 reference]`);
        compare(m, want, options.rtol, `${c.name} [fused forward, composed backward vs float64 reference]`);
        compare(b, a, options.rtol, `${c.name} [composed vs fused]`);
      });
    }
  });
}
