/**
 * In-place updates for optimizers and initialisers. They record no autograd
 * history, bump the storage's version (so a backward that needs the old
 * values fails loudly), and are refused on tensors that require grad while
 * gradients are on: run them inside `noGrad`.
 */

import { DTypeError, ShapeError, broadcastShapes, fmtShape, type BinaryOp } from '@tessera/core';
import { beginWrite, isGradEnabled, noGrad } from '../mode.js';
import { backendOf, broadcastOperand, copyContiguous, dense, expectDType, scalarOn, strided } from '../kernels.js';
import { Tensor, type Operand } from '../tensor.js';
import { binaryRaw, mul } from './elementwise.js';

function checkBroadcastTo(op: string, src: Tensor, t: Tensor): void {
  let ok: boolean;
  try {
    const s = broadcastShapes(t.shape, src.shape);
    ok = s.length === t.rank && s.every((d, i) => d === t.shape[i]);
  } catch {
    ok = false;
  }
  if (!ok) throw new ShapeError(`${op}: a source of shape ${fmtShape(src.shape)} does not broadcast to the target's shape ${fmtShape(t.shape)}`);
}

/** A source that cannot overlap `t` in a way an elementwise kernel would trip on. */
function unaliased(src: Tensor, t: Tensor): Tensor {
  if (src._ref !== t._ref) return src;
  const same = src.offset === t.offset && src.rank === t.rank && src.shape.every((d, i) => d === t.shape[i] && src.strides[i] === t.strides[i]);
  return same ? src : copyContiguous(src, false);
}

/** Copies `src` (a tensor broadcast to t's shape, or a number) into `t`. */
export function assign(t: Tensor, src: Operand): void {
  beginWrite('assign', t);
  const be = backendOf('assign', t, ...(src instanceof Tensor ? [src] : []));
  const s = src instanceof Tensor ? src : scalarOn(be, src, t.dtype);
  if (s.dtype !== t.dtype) throw new DTypeError(`assign: dtype mismatch: target ${fmtShape(t.shape)} ${t.dtype}, source ${fmtShape(s.shape)} ${s.dtype}`);
  checkBroadcastTo('assign', s, t);
  const u = unaliased(s, t);
  try {
    if (t.size > 0) be.copy({ x: broadcastOperand(u, t.shape), out: strided(t), shape: t.shape });
  } finally {
    if (u !== s) u.dispose();
    if (s !== src) s.dispose();
  }
}

/** t = t op (alpha * other), in place. */
export function binaryInPlace(t: Tensor, op: BinaryOp, other: Operand, alpha: number): void {
  beginWrite(`${op}_`, t);
  expectDType(`${op}_`, t, 'f32');
  const be = backendOf(`${op}_`, t, ...(other instanceof Tensor ? [other] : []));
  if (other instanceof Tensor) {
    expectDType(`${op}_`, other, 'f32', 'other');
    checkBroadcastTo(`${op}_`, other, t);
  }
  const scaled = alpha === 1 ? other : noGrad(() => (other instanceof Tensor ? mul(other, alpha) : other * alpha));
  const o = scaled instanceof Tensor ? scaled : scalarOn(be, scaled);
  const u = unaliased(o, t);
  try {
    if (t.size === 0) return;
    if (t.isContiguous()) {
      // out aliases a element for element, which every elementwise kernel supports.
      be.binary({ op, a: strided(t), b: broadcastOperand(u, t.shape), out: dense(t), shape: t.shape });
    } else {
      const r = binaryRaw(op, t, u);
      try {
        be.copy({ x: strided(r), out: strided(t), shape: t.shape });
      } finally {
        r.dispose();
      }
    }
  } finally {
    if (u !== o) u.dispose();
    if (o !== scaled) o.dispose();
    if (scaled !== other && scaled instanceof Tensor) scaled.dispose();
  }
}

/** Fills `t` with `value`, in place. */
export function fillInPlace(t: Tensor, value: number): void {
  beginWrite('fill_', t);
  const be = backendOf('fill_', t);
  if (t.dtype === 'i32' && !Number.isInteger(value)) throw new DTypeError(`fill_: value ${value} is not an integer (dtype i32)`);
  if (t.size === 0) return;
  if (t.isContiguous()) be.fill({ out: dense(t), n: t.size, value, dtype: t.dtype });
  else assign(t, value);
}
