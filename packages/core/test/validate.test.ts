import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.js';
import { ArgumentError, BoundsError, DisposedError, ShapeError } from '../src/errors.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, normalizeAxis } from '../src/shape.js';

const backends: [string, () => Promise<Backend>][] = [
  ['reference', async () => new ReferenceBackend()],
  ['wasm', () => createWasmBackend()],
];

describe.each(backends)('operand validation on %s', (_name, make) => {
  it('rejects a strided view that reaches past its storage, naming the span', async () => {
    const be = await make();
    const x = be.alloc(4 * 6);
    const out = be.alloc(4 * 6);
    expect(() => be.unary({ op: 'neg', x: { storage: x, offset: 0, strides: [3, 1] }, out: { storage: out, offset: 0 }, shape: [3, 3] })).toThrow(BoundsError);
    expect(() => be.unary({ op: 'neg', x: { storage: x, offset: 0, strides: [3, 1] }, out: { storage: out, offset: 0 }, shape: [3, 3] })).toThrow(/spans elements \[0, 8\]/);
  });

  it('rejects negative-stride views that start before their storage', async () => {
    const be = await make();
    const x = be.alloc(16);
    const out = be.alloc(16);
    expect(() => be.unary({ op: 'neg', x: { storage: x, offset: 1, strides: [-1] }, out: { storage: out, offset: 0 }, shape: [4] })).toThrow(BoundsError);
  });

  it('rejects freed storage with DisposedError and double free', async () => {
    const be = await make();
    const x = be.alloc(16);
    const out = be.alloc(16);
    be.free(x);
    expect(() => be.unary({ op: 'exp', x: { storage: x, offset: 0, strides: [1] }, out: { storage: out, offset: 0 }, shape: [4] })).toThrow(DisposedError);
    expect(() => be.free(x)).toThrow(DisposedError);
    expect(() => be.readSync(x, 'f32')).toThrow(DisposedError);
  });

  it('rejects storage from another backend', async () => {
    const be = await make();
    const other = new ReferenceBackend();
    const foreign = be.name === 'reference' ? (await createWasmBackend()).alloc(16) : other.alloc(16);
    const out = be.alloc(16);
    expect(() => be.fill({ out: { storage: foreign, offset: 0 }, n: 4, value: 0, dtype: 'f32' })).toThrow(ArgumentError);
    expect(() => be.fill({ out: { storage: out, offset: 2 }, n: 4, value: 0, dtype: 'f32' })).toThrow(BoundsError);
  });

  it('rejects bad counts, unknown ops and bad hyper-parameters', async () => {
    const be = await make();
    const s = be.alloc(64);
    const d = { storage: s, offset: 0 };
    expect(() => be.matmul({ a: d, b: d, out: { storage: be.alloc(64), offset: 0 }, m: -1, n: 2, k: 2 })).toThrow(ArgumentError);
    expect(() => be.unary({ op: 'nope' as never, x: { ...d, strides: [1] }, out: d, shape: [1] })).toThrow(/unknown unary op 'nope'/);
    expect(() => be.adamStep({ param: d, grad: d, m: d, v: d, n: 4, lr: NaN, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true, amsgrad: false, step: 1 })).toThrow(/adam lr must be a finite number/);
    expect(() => be.reduce({ op: 'max', x: d, out: d, outer: 1, axisLen: 0, inner: 1 })).toThrow(ShapeError);
  });

  it('rejects an output that overlaps a matmul input', async () => {
    const be = await make();
    const s = be.alloc(4 * 32);
    expect(() => be.matmul({ a: { storage: s, offset: 0 }, b: { storage: s, offset: 4 }, out: { storage: s, offset: 2 }, m: 2, n: 2, k: 2 })).toThrow(/overlaps/);
  });

  it('rejects an attention kvHeadStride below tk * d, naming it', async () => {
    const be = await make();
    const d = { storage: be.alloc(4 * 64), offset: 0 };
    const p = { q: d, k: d, v: d, out: { storage: be.alloc(4 * 64), offset: 0 }, probs: { storage: be.alloc(4 * 64), offset: 0 }, heads: 2, tq: 2, tk: 3, d: 4, causal: true };
    expect(() => be.attention({ ...p, kvHeadStride: 11 })).toThrow(ArgumentError);
    expect(() => be.attention({ ...p, kvHeadStride: 11 })).toThrow(/kvHeadStride must be an integer >= tk \* d = 3 \* 4 = 12, got 11/);
    expect(() => be.attention({ ...p, kvHeadStride: 53 })).toThrow(/attention k: elements \[0, 65\)/);
  });

  it('rejects attention outputs that overlap an input, strided k/v spans included', async () => {
    const be = await make();
    const s = be.alloc(4 * 256);
    const at = (offset: number) => ({ storage: s, offset });
    // q [2, 2, 4] at 0, k/v [2, 3, 4] with heads 20 apart at 16 and 48 (spans 32), out at 80, probs at 96.
    const p = { q: at(0), k: at(16), v: at(48), out: at(80), probs: at(96), heads: 2, tq: 2, tk: 3, d: 4, causal: true, kvHeadStride: 20 };
    expect(() => be.attention(p)).not.toThrow();
    expect(() => be.attention({ ...p, out: at(30) })).toThrow(/attention out and k: output \[30, 46\) overlaps input \[16, 48\)/);
    expect(() => be.attention({ ...p, probs: at(10) })).toThrow(/attention probs and q/);
    expect(() => be.attention({ ...p, probs: at(70) })).toThrow(/attention probs and v/);
  });

  it('round-trips writes and reads at offsets for both dtypes', async () => {
    const be = await make();
    const s = be.alloc(4 * 10);
    be.write(s, new Float32Array([1.5, -2.25]), 3);
    be.write(s, new Int32Array([7, -9]), 7);
    expect(Array.from(be.readSync(s, 'f32', 3, 2))).toEqual([1.5, -2.25]);
    expect(Array.from(await be.read(s, 'i32', 7, 2))).toEqual([7, -9]);
    expect(() => be.write(s, new Float32Array(3), 8)).toThrow(BoundsError);
  });
});

describe('shape helpers', () => {
  it('broadcasts like NumPy and names both shapes on failure', () => {
    expect(broadcastShapes([3, 1, 5], [4, 1])).toEqual([3, 4, 5]);
    expect(broadcastShapes([], [2, 3])).toEqual([2, 3]);
    expect(() => broadcastShapes([2, 3], [4, 3])).toThrow(/\[2, 3\] and \[4, 3\]/);
    expect(broadcastStrides([4, 1], contiguousStrides([4, 1]), [3, 4, 5])).toEqual([0, 1, 0]);
  });

  it('normalises axes and rejects out-of-range ones', () => {
    expect(normalizeAxis(-1, 3)).toBe(2);
    expect(() => normalizeAxis(3, 3)).toThrow(/axis 3 is out of range for a tensor of rank 3/);
  });
});
