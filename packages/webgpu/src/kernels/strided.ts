/**
 * Strided operands of the elementwise kernels: dimension coalescing on the
 * host (so most views become rank 0-2), shape/stride parameters, the WGSL that
 * turns a linear index into per-operand element offsets, and snapshots of
 * inputs that overlap the output in the same storage.
 */

import type { Dense, Strided } from '@tessera/core';
import type { GpuContext } from '../runtime/context.js';
import type { Params } from '../runtime/layout.js';
import { bufferOf } from '../storage.js';

/** An operand as the elementwise kernels see it: a buffer, an element offset and strides over the shared shape. */
export interface View {
  name: string;
  buffer: GPUBuffer;
  offset: number;
  strides: number[];
}

/** Row-major strides of a contiguous `shape`. */
export function contiguous(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

/** A view of a Strided operand. */
export function stridedView(name: string, s: Strided): View {
  return { name, buffer: bufferOf(s.storage), offset: s.offset, strides: s.strides.slice() };
}

/** A view of a Dense operand laid out over `shape`. */
export function denseView(name: string, d: Dense, shape: readonly number[]): View {
  return { name, buffer: bufferOf(d.storage), offset: d.offset, strides: contiguous(shape) };
}

/**
 * Drops size-1 dimensions and merges neighbours that every view walks
 * contiguously (stride[d] == stride[d+1] * shape[d+1]), keeping the row-major
 * element order. Returns the reduced shape; the views' strides are rewritten.
 */
export function coalesce(shape: readonly number[], views: View[]): number[] {
  const dims: number[] = [];
  const strides: number[][] = views.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && views.every((v, j) => strides[j][last] === v.strides[d] * shape[d])) {
      dims[last] *= shape[d];
      views.forEach((v, j) => (strides[j][last] = v.strides[d]));
      continue;
    }
    dims.push(shape[d]);
    views.forEach((v, j) => strides[j].push(v.strides[d]));
  }
  views.forEach((v, j) => (v.strides = strides[j]));
  return dims;
}

/** Parameters n, sh0.., and per view `${name}_o`, `${name}_s0`... */
export function stridedParams(shape: readonly number[], views: readonly View[], n: number): Params {
  const p: Params = { n: ['u32', n] };
  shape.forEach((d, k) => (p[`sh${k}`] = ['u32', d]));
  for (const v of views) {
    p[`${v.name}_o`] = ['u32', v.offset];
    v.strides.forEach((s, k) => (p[`${v.name}_s${k}`] = ['i32', s]));
  }
  return p;
}

/** WGSL declaring `o_${name}: i32` for each view from the linear index `gi` (u32). */
export function stridedIndexWGSL(rank: number, names: readonly string[]): string {
  const lines = names.map((n) => `var o_${n} = i32(P.${n}_o);`);
  if (rank > 0) lines.push('var rem = gi;');
  for (let d = rank - 1; d >= 0; d--) {
    if (d > 0) lines.push(`let c${d} = rem % P.sh${d};`, `rem = rem / P.sh${d};`);
    else lines.push('let c0 = rem;');
    for (const n of names) lines.push(`o_${n} = o_${n} + i32(c${d}) * P.${n}_s${d};`);
  }
  return lines.join('\n  ');
}

/** Lowest and highest element a view of `shape` touches (shape non-empty). */
export function span(v: { offset: number; strides: readonly number[] }, shape: readonly number[]): [number, number] {
  let lo = v.offset;
  let hi = v.offset;
  shape.forEach((d, k) => {
    const s = v.strides[k] * (d - 1);
    if (s < 0) lo += s;
    else hi += s;
  });
  return [lo, hi];
}

function sameMapping(a: View, b: View, shape: readonly number[]): boolean {
  return a.offset === b.offset && shape.every((d, k) => d === 1 || a.strides[k] === b.strides[k]);
}

/**
 * When input `x` shares a buffer with the output `out`, overlaps it, and does
 * not walk it element for element (an in-place update), copies the span of x
 * to a scratch buffer first, so the kernel reads x as it was before any write
 * (the semantics of every backend). Returns the scratch buffers to release once encoded.
 */
export function snapshotOverlaps(ctx: GpuContext, inputs: View[], out: View, shape: readonly number[]): GPUBuffer[] {
  const scratch: GPUBuffer[] = [];
  if (shape.some((d) => d === 0)) return scratch;
  const [olo, ohi] = span(out, shape);
  for (const x of inputs) {
    if (x.buffer !== out.buffer || sameMapping(x, out, shape)) continue;
    const [lo, hi] = span(x, shape);
    if (hi < olo || lo > ohi) continue;
    const bytes = (hi - lo + 1) * 4;
    const tmp = ctx.storagePool.acquire(bytes);
    ctx.copyBuffer(x.buffer, lo * 4, tmp, 0, bytes);
    x.buffer = tmp;
    x.offset -= lo;
    scratch.push(tmp);
  }
  return scratch;
}
