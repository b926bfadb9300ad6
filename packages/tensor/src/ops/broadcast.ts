/**
 * Summing a broadcast gradient back to an input's shape, for the backward
 * closures of broadcasting ops (which run with recording off). It calls the
 * reduce kernel directly and imports no other op, so the view ops (expand's
 * gradient is this sum) and the reductions (sum's gradient is an expand)
 * both build on it without importing each other.
 */

import { ShapeError, fmtShape, sizeOf } from '@tessera/core';
import { backendOf, dense, empty, withDense } from '../kernels.js';
import type { Tensor } from '../tensor.js';

/** The dims of `from` that a tensor of `shape` was broadcast along: the leading extra dims and the size-1 dims of `shape`. */
export function broadcastAxes(op: string, from: readonly number[], shape: readonly number[]): number[] {
  const lead = from.length - shape.length;
  if (lead < 0) throw new ShapeError(`${op}: cannot reduce shape ${fmtShape(from)} to the longer ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < lead; i++) axes.push(i);
  shape.forEach((d, i) => {
    const gd = from[i + lead];
    if (d === 1 && gd !== 1) axes.push(i + lead);
    else if (d !== gd) throw new ShapeError(`${op}: shape ${fmtShape(from)} does not broadcast from ${fmtShape(shape)} (dimension ${i + lead}: ${gd} vs ${d})`);
  });
  return axes;
}

/**
 * `g` summed over the dims it was broadcast along, as `shape`; `g` itself when the shapes
 * match. No autograd: for backward closures. Same sums, in the same order, as `sumToShape`.
 */
export function sumToShapeRaw(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const axes = broadcastAxes('sumToShape', g.shape, shape);
  const be = backendOf('sumToShape', g);
  const out = empty(be, shape, 'f32');
  const consecutive = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  // v: g with the summed dims adjacent, read as [outer, axisLen, inner].
  let v = g;
  let s = axes[0];
  let e = axes[axes.length - 1] + 1;
  if (!consecutive) {
    const order = [...g.shape.map((_, i) => i).filter((i) => !axes.includes(i)), ...axes];
    v = g._view(order.map((i) => g.shape[i]), order.map((i) => g.strides[i]), g.offset, false);
    s = g.rank - axes.length;
    e = g.rank;
  }
  try {
    const outer = sizeOf(v.shape.slice(0, s));
    const axisLen = sizeOf(v.shape.slice(s, e));
    const inner = sizeOf(v.shape.slice(e));
    if (out.size > 0) withDense([v], (xd) => be.reduce({ op: 'sum', x: xd, out: dense(out), outer, axisLen, inner }));
  } finally {
    if (v !== g) v.dispose();
  }
  return out;
}
