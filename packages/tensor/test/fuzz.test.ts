/**
 * Property-based fuzzing (fast-check) of every op in the op table and of the
 * indexing / axis ops called directly. Each run builds its inputs as random
 * views (contiguous, transposed, strided slice, narrowed, permuted) and now and
 * then perturbs them: another dtype, a dimension changed (0 included), indices
 * and axes outside their range. The wasm backend and the reference backend
 * then either agree (values and input gradients within the parity tests'
 * 1e-5 relative tolerance, same shape and dtype) or both throw the same typed
 * TesseraError, never a raw TypeError / RangeError / wasm trap, and after a
 * throw `memory()` is exactly what it was before the call. A successful run
 * leaves nothing behind either.
 *
 * Targets: wasm simd128, the relaxed-SIMD build and the composed view (`withoutFusedKernels`).
 * Seeded: TESSERA_FUZZ_SEED (default 19) replays a run; TESSERA_FUZZ_RUNS
 * (default 6 per op-table case, 60 per direct property) sets the number of
 * runs, e.g. `TESSERA_FUZZ_RUNS=500 npx vitest run test/fuzz.test.ts`.
 */
import { ReferenceBackend, TesseraError, createWasmBackend, relaxedSimdSupported, withoutFusedKernels, type Backend } from '@tessera/core';
import { fc, test } from '@fast-check/vitest';
import { beforeAll, describe, expect } from 'vitest';
import * as T from '../src/index.js';
import { memory, mul, noGrad, setBackend, sum, tensor, tidy, type MemoryInfo, type Tensor } from '../src/index.js';
import { cases, type OpCase } from './cases.js';
import { expectClose, hostData, type InputSpec } from './helpers.js';

const RTOL = 1e-5;
/** Gradients that cancel to (nearly) zero, e.g. layerNorm's over a dimension of size 1 or 2, are compared to this absolute floor as well. */
const GRAD_ATOL = 1e-6;
const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 19);
const RUNS = process.env.TESSERA_FUZZ_RUNS ? Number(process.env.TESSERA_FUZZ_RUNS) : null;
const caseRuns = RUNS ?? 6;
const directRuns = RUNS ?? 60;
/** The other targets (relaxed SIMD, the composed view) run fewer cases by default: a few seconds each. */
const extraCaseRuns = RUNS ?? 2;
const extraDirectRuns = RUNS ?? 15;

type View = 'contiguous' | 'transposed' | 'sliced' | 'narrowed' | 'permuted';
const VIEWS: View[] = ['contiguous', 'transposed', 'sliced', 'narrowed', 'permuted'];

/** How one input of a run is built and perturbed. */
interface InputPlan {
  view: View;
  seed: number;
  /** Flip f32 <-> i32. */
  flipDType: boolean;
  /** Change one dimension's size. */
  resize: { dim: number; size: number } | null;
  /** Widen an integer input's range by this much on both sides (indices out of range). */
  spill: number;
}

const inputPlan: fc.Arbitrary<InputPlan> = fc.record({
  view: fc.constantFrom(...VIEWS),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  flipDType: fc.integer({ min: 0, max: 11 }).map((k) => k === 0),
  resize: fc.option(fc.record({ dim: fc.nat({ max: 7 }), size: fc.integer({ min: 0, max: 5 }) }), { freq: 7 }),
  spill: fc.integer({ min: 0, max: 9 }).map((k) => (k < 7 ? 0 : k - 6)),
});

/** Host data of `shape` for `spec`, possibly perturbed by `plan`. */
function dataFor(spec: InputSpec, plan: InputPlan, shape: number[], size: number): { data: ArrayLike<number>; dtype: 'f32' | 'i32' } {
  let s: InputSpec = { ...spec, shape };
  if (spec.kind === 'values') {
    const lo = Math.min(...spec.values);
    const hi = Math.max(...spec.values) + 1;
    s = size === spec.values.length && plan.spill === 0 ? s : { shape, kind: 'int', low: lo, high: hi };
  }
  if (s.kind === 'int' && plan.spill > 0) s = { ...s, low: s.low - plan.spill, high: s.high + plan.spill };
  const { data, dtype } = hostData(s, plan.seed);
  if (!plan.flipDType) return { data, dtype };
  return dtype === 'f32' ? { data: Int32Array.from(data, (v) => Math.round(v)), dtype: 'i32' } : { data: Float64Array.from(data), dtype: 'f32' };
}

/** An input of the planned shape built as the planned view of a base tensor; the base is what requires grad. */
function build(spec: InputSpec, plan: InputPlan, grad: boolean): { base: Tensor; x: Tensor } {
  const shape = spec.shape.slice();
  if (plan.resize && shape.length > 0) shape[plan.resize.dim % shape.length] = plan.resize.size;
  const r = shape.length;
  let view: View = plan.view;
  if (r < 2 && (view === 'transposed' || view === 'permuted')) view = 'contiguous';
  if (r < 1 && view !== 'contiguous') view = 'contiguous';
  const baseShape = shape.slice();
  if (view === 'transposed') [baseShape[r - 2], baseShape[r - 1]] = [shape[r - 1], shape[r - 2]];
  if (view === 'sliced') baseShape[0] = 2 * shape[0] + 1;
  if (view === 'narrowed') baseShape[r - 1] = shape[r - 1] + 3;
  if (view === 'permuted') baseShape.reverse();
  const size = baseShape.reduce((p, q) => p * q, 1);
  const { data, dtype } = dataFor(spec, plan, baseShape, size);
  const base = tensor(data instanceof Int32Array || data instanceof Float64Array ? data : Float64Array.from(data), baseShape, { dtype, requiresGrad: grad && dtype === 'f32' });
  let x: Tensor;
  if (view === 'transposed') x = base.transpose(-1, -2);
  else if (view === 'sliced') x = base.slice([[1, null, 2]]);
  else if (view === 'narrowed') x = base.narrow(-1, 2, shape[r - 1]);
  else if (view === 'permuted') x = base.permute(baseShape.map((_, i) => r - 1 - i));
  else x = base;
  return { base, x };
}

/** What one backend made of a run. */
type Outcome =
  | { error: string; message: string }
  | { shape: number[]; dtype: string; out: ArrayLike<number>; grads: (ArrayLike<number> | null)[] };

/** Throws (failing the property) unless `e` is a typed Tessera error. */
function expectTyped(e: unknown, what: string): TesseraError {
  if (!(e instanceof TesseraError)) {
    throw new Error(`${what}: raw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)} instead of a TesseraError`, { cause: e });
  }
  return e;
}

/**
 * memory() as before. `strict` (after a throw) compares the backend's own bytes
 * too; after a successful run the wasm backend may keep grown scratch space
 * (matmul packing), which is not a tensor's and not a leak.
 */
function expectMemory(before: MemoryInfo, what: string, strict: boolean): void {
  const now = memory();
  if (now.numTensors !== before.numTensors || now.numBytes !== before.numBytes || (strict && now.backendBytes !== before.backendBytes)) {
    throw new Error(`${what}: memory() changed from ${JSON.stringify(before)} to ${JSON.stringify(now)}`);
  }
}

/** Runs `call` on the active backend: its result and gradients, or its typed error with memory unchanged. */
function observe(what: string, call: () => Tensor | Tensor[], bases: Tensor[], grad: boolean): Outcome {
  const before = memory();
  let result: Tensor | Tensor[];
  try {
    result = call();
  } catch (e) {
    const err = expectTyped(e, what);
    expectMemory(before, `${what} threw ${err.name}`, false);
    if (memory().backendBytes !== before.backendBytes) {
      // A backend's named scratch blocks (strided-op parameters) grow on first use and are kept;
      // a leak grows on every call. The same failing call again must leave memory() exactly as is.
      const again = memory();
      try {
        call();
      } catch {
        expectMemory(again, `${what} threw ${err.name} a second time`, true);
      }
    }
    return { error: err.name, message: err.message };
  }
  const outs = Array.isArray(result) ? result : [result];
  const values: number[] = [];
  for (const o of outs) values.push(...o.dataSync());
  const out = outs.length === 1 ? outs[0] : null;
  const res: Outcome = { shape: out ? out.shape.slice() : [outs.length], dtype: outs.map((o) => o.dtype).join(','), out: values, grads: [] };
  if (grad && out?.requiresGrad) {
    const R = tensor(hostData({ shape: out.shape.slice() }, 4242).data, out.shape.slice());
    const loss = tidy(() => sum(mul(out, R)));
    try {
      loss.backward();
    } catch (e) {
      expectTyped(e, `${what} backward`);
      throw e;
    }
    res.grads = bases.map((b) => (b.grad ? b.grad.dataSync() : null));
    loss.dispose();
    R.dispose();
  }
  for (const o of outs) o.dispose();
  return res;
}

/** Both backends agree: the same typed error, or the same shape, dtype, values and gradients. */
function expectAgree(what: string, got: Outcome, want: Outcome): void {
  if ('error' in want || 'error' in got) {
    const g = 'error' in got ? `${got.error}: ${got.message}` : 'a result';
    const w = 'error' in want ? `${want.error}: ${want.message}` : 'a result';
    expect(g.split(':')[0], `${what}: the backend gave ${g}, reference gave ${w}`).toBe(w.split(':')[0]);
    return;
  }
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  expect(got.dtype, `${what}: dtype`).toBe(want.dtype);
  expectClose(got.out, want.out, RTOL, `${what} output`);
  want.grads.forEach((g, i) => {
    if (g) expectClose(got.grads[i]!, g, RTOL, `${what} grad of input ${i}`, GRAD_ATOL);
    else expect(got.grads[i], `${what} grad of input ${i}`).toBeNull();
  });
}

/**
 * The backends fuzzed against the reference: the wasm simd128 build (every run), the
 * relaxed-SIMD build where this runtime validates it, and the composed view of the wasm backend
 * (`withoutFusedKernels`: softmax, layerNorm, cross-entropy, attention and their gradients built
 * from primitives). WebGPU is not reachable from this package's tests (it is fuzzed nowhere yet).
 */
interface Target {
  name: string;
  make: () => Promise<Backend>;
  supported: boolean;
  caseRuns: number;
  directRuns: number;
}
const TARGETS: Target[] = [
  { name: 'wasm simd128', make: () => createWasmBackend({ simd: 'simd128' }), supported: true, caseRuns, directRuns },
  { name: 'wasm relaxed-simd', make: () => createWasmBackend({ simd: 'relaxed' }), supported: relaxedSimdSupported(), caseRuns: extraCaseRuns, directRuns: extraDirectRuns },
  { name: 'composed (withoutFusedKernels, wasm)', make: async () => withoutFusedKernels(await createWasmBackend({ simd: 'simd128' })), supported: true, caseRuns: extraCaseRuns, directRuns: extraDirectRuns },
];

const ref = new ReferenceBackend();

/** Runs `run` on the reference and then on `be`, checking that nothing is left behind. */
async function onBoth(be: Backend, run: () => Outcome): Promise<[Outcome, Outcome]> {
  const res: Outcome[] = [];
  for (const backend of [ref, be]) {
    await setBackend(backend);
    const start = memory();
    res.push(run());
    expectMemory(start, 'after the run and its inputs were disposed', false);
  }
  return [res[1], res[0]];
}

function caseRun(c: OpCase, plans: InputPlan[]): Outcome {
  const grad = c.grad !== false;
  const built = c.inputs.map((s, i) => build(s, plans[i], grad));
  const xs = built.map((b) => b.x);
  try {
    return observe(c.name, () => tidy(() => (grad ? c.fn(...xs) : noGrad(() => c.fn(...xs)))), built.map((b) => b.base), grad);
  } finally {
    for (const b of built) {
      if (b.x !== b.base) b.x.dispose();
      b.base.dispose();
    }
  }
}

for (const target of TARGETS) {
  describe.skipIf(!target.supported)(`${target.name}: op table under random views, dtypes, shapes and indices equals the reference or both throw a typed error`, () => {
    let be: Backend;
    beforeAll(async () => {
      be = await target.make();
    });
    for (const c of cases) {
      test.prop([fc.tuple(...c.inputs.map(() => inputPlan))], { seed: SEED, numRuns: target.caseRuns })(c.name, async (plans) => {
        const [got, want] = await onBoth(be, () => caseRun(c, plans));
        expectAgree(`${target.name} ${c.name}`, got, want);
      });
    }
  });
}

// ---- ops called directly (no tidy around them), with random shapes, axes and indices ----

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });
const axisArb = fc.integer({ min: -5, max: 4 });

interface Direct {
  name: string;
  /** Views the call needs, made before memory() is read (default: none). */
  prep?: (x: Tensor, i: Tensor) => Tensor[];
  /** One op call on the prepared inputs; its output(s) are compared. */
  call: (x: Tensor, i: Tensor, axis: number, extra: number, prepped: Tensor[]) => Tensor | Tensor[];
}

const DIRECT: Direct[] = [
  { name: 'indexSelect', prep: (_x, i) => [i.reshape([-1])], call: (x, _i, a, _e, [i]) => T.indexSelect(x, a, i) },
  { name: 'gather', call: (x, i, a) => T.gather(x, a, i) },
  { name: 'embedding', call: (x, i) => T.embedding(x, i) },
  { name: 'crossEntropy', call: (x, i, _a, e) => T.crossEntropy(x, i, { reduction: e % 2 ? 'none' : 'mean', ignoreIndex: -1 }) },
  { name: 'sum', call: (x, _i, a) => T.sum(x, a) },
  { name: 'mean keepDims', call: (x, _i, a) => T.mean(x, a, true) },
  { name: 'variance', call: (x, _i, a) => T.variance(x, a) },
  { name: 'max', call: (x, _i, a) => T.max(x, a) },
  { name: 'argmin', call: (x, _i, a) => T.argmin(x, a) },
  { name: 'maxWithIndices', call: (x, _i, a) => { const r = T.maxWithIndices(x, a); return [r.values, r.indices]; } },
  { name: 'softmax', call: (x, _i, a) => T.softmax(x, a) },
  { name: 'logSoftmax', call: (x, _i, a) => T.logSoftmax(x, a) },
  // eps: -1 and NaN are refused. A tiny eps on a 2-element row with close values makes the gradient
  // a cancellation of terms ~1/eps times larger (ill-conditioned in f32), so the valid eps are >= 0.02.
  { name: 'layerNorm', call: (x, _i, _a, e) => T.layerNorm(x, undefined, null, null, e === 0 ? -1 : e === 1 ? Number.NaN : 0.01 * e) },
  { name: 'narrow', call: (x, _i, a, e) => T.narrow(x, a, e - 2, 2) },
  { name: 'transpose', call: (x, _i, a, e) => T.transpose(x, a, e - 3) },
  { name: 'squeeze', call: (x, _i, a) => T.squeeze(x, a) },
  { name: 'unsqueeze', call: (x, _i, a) => T.unsqueeze(x, a) },
  { name: 'split', call: (x, _i, a, e) => T.split(x, e, a) },
  { name: 'concat with itself', call: (x, _i, a) => T.concat([x, x], a) },
  { name: 'stack with itself', call: (x, _i, a) => T.stack([x, x], a) },
  { name: 'flatten', call: (x, _i, a, e) => T.flatten(x, a, e - 3) },
  { name: 'matmul with its transpose', prep: (x) => [x.mT], call: (x, _i, _a, _e, [xt]) => T.matmul(x, xt) },
  { name: 'dropout', call: (x, _i, _a, e) => T.dropout(x, e / 4 - 0.1, { seed: e }) },
  { name: 'cast', call: (x, _i, a) => T.cast(x, a % 2 ? 'i32' : 'f32') },
];

const directArb = fc.record({
  x: fc.record({ shape: shapeArb, plan: inputPlan }),
  index: fc.record({ shape: shapeArb, low: fc.integer({ min: -3, max: 0 }), span: fc.integer({ min: 1, max: 8 }), plan: inputPlan }),
  axis: axisArb,
  extra: fc.integer({ min: 0, max: 5 }),
});

for (const target of TARGETS) {
describe.skipIf(!target.supported)(`${target.name}: indexing and axis ops called directly: random shapes, axes and (out-of-range) indices`, () => {
  let be: Backend;
  beforeAll(async () => {
    be = await target.make();
  });
  for (const d of DIRECT) {
    test.prop([directArb], { seed: SEED, numRuns: target.directRuns })(d.name, async ({ x, index, axis, extra }) => {
      const [got, want] = await onBoth(be, () => {
        const bx = build({ shape: x.shape }, { ...x.plan, resize: null }, true);
        const bi = build({ shape: index.shape, kind: 'int', low: index.low, high: index.low + index.span }, { ...index.plan, resize: null, flipDType: false }, false);
        let prepped: Tensor[] = [];
        try {
          try {
            prepped = d.prep?.(bx.x, bi.x) ?? [];
          } catch (e) {
            return { error: expectTyped(e, `${d.name} inputs`).name, message: (e as Error).message };
          }
          return observe(d.name, () => d.call(bx.x, bi.x, axis, extra, prepped), [bx.base], true);
        } finally {
          for (const t of [...prepped, bx.x, bx.base, bi.x, bi.base]) t.dispose();
        }
      });
      expectAgree(`${target.name} ${d.name} x ${JSON.stringify(x.shape)} axis ${axis}`, got, want);
    });
  }
});
}
