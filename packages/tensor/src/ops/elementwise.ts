/**
 * Elementwise ops with NumPy broadcasting: arithmetic, unary math,
 * comparisons, where/maskedFill, casts. Kernels read strided operands
 * directly (broadcast dims have stride 0), so views never need copies here.
 */

import { DTypeError, ShapeError, broadcastShapes, fmtShape, fusedKernel, type BinaryOp, type DType, type UnaryOp } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { backendOf, broadcastOperand, dense, empty, expectDType, scalarOn, strided, withDense } from '../kernels.js';
import { Tensor, type Operand } from '../tensor.js';
import { sumToShapeRaw as sumToShape } from './broadcast.js';
import { alias, clone } from './shape.js';

const isT = (v: Operand): v is Tensor => v instanceof Tensor;
const shapeOf = (v: Operand): readonly number[] => (isT(v) ? v.shape : []);

/** Broadcast shape of two shapes, with the op named in the error. */
export function broadcastFor(op: string, a: readonly number[], b: readonly number[]): number[] {
  try {
    return broadcastShapes(a, b);
  } catch (e) {
    if (e instanceof ShapeError) throw new ShapeError(`${op}: ${e.message}`);
    throw e;
  }
}

/** Checks the dtypes of an arithmetic op's operands: both f32. */
function arithmeticDTypes(op: string, a: Operand, b: Operand): void {
  if (isT(a) && isT(b) && a.dtype !== b.dtype) {
    throw new DTypeError(`${op}: dtype mismatch: ${fmtShape(a.shape)} ${a.dtype} vs ${fmtShape(b.shape)} ${b.dtype}; convert one with .float() or .int()`);
  }
  for (const t of [a, b]) if (isT(t)) expectDType(op, t, 'f32');
}

/** Runs `fn` on tensor versions of two operands (numbers become temporary scalars). */
function lifted<R>(op: string, a: Operand, b: Operand, fn: (x: Tensor, y: Tensor) => R): R {
  const like = isT(a) ? a : isT(b) ? b : null;
  if (!like) throw new DTypeError(`${op}: at least one operand must be a tensor, got ${a} and ${b}`);
  const be = backendOf(op, ...[a, b].filter(isT));
  const x = isT(a) ? a : scalarOn(be, a);
  const y = isT(b) ? b : scalarOn(be, b);
  try {
    return fn(x, y);
  } finally {
    if (x !== a) x.dispose();
    if (y !== b) y.dispose();
  }
}

/** @internal out = a op b over the broadcast shape (f32 in, f32 out), no autograd. */
export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const be = backendOf(op, a, b);
  const shape = broadcastFor(op, a.shape, b.shape);
  const out = empty(be, shape, 'f32');
  if (out.size > 0) be.binary({ op, a: broadcastOperand(a, shape), b: broadcastOperand(b, shape), out: dense(out), shape });
  return out;
}

/** out = op(x) elementwise (f32). */
function unaryRaw(op: UnaryOp, x: Tensor, alpha?: number): Tensor {
  const be = backendOf(op, x);
  expectDType(op, x, 'f32');
  const out = empty(be, x.shape, 'f32');
  if (out.size > 0) be.unary({ op, x: strided(x), out: dense(out), shape: x.shape, alpha });
  return out;
}

function arithmetic(op: BinaryOp, a: Operand, b: Operand): Tensor {
  arithmeticDTypes(op, a, b);
  return lifted(op, a, b, (x, y) => binaryRaw(op, x, y));
}

/**
 * a + b with broadcasting.
 * @example add(tensor([1, 2]), 1) // tensor([2., 3.])
 */
export function add(a: Operand, b: Operand): Tensor {
  const out = arithmetic('add', a, b);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad('Add', out, [isT(a) ? a : null, isT(b) ? b : null], (_s, needs) => (g) => [
    needs[0] ? sumToShape(g, sa) : null,
    needs[1] ? sumToShape(g, sb) : null,
  ]);
}

/** a - b with broadcasting. */
export function sub(a: Operand, b: Operand): Tensor {
  const out = arithmetic('sub', a, b);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad('Sub', out, [isT(a) ? a : null, isT(b) ? b : null], (_s, needs) => (g) => [
    needs[0] ? sumToShape(g, sa) : null,
    needs[1] ? sumToShape(neg(g), sb) : null,
  ]);
}

/** a * b with broadcasting. */
export function mul(a: Operand, b: Operand): Tensor {
  const out = arithmetic('mul', a, b);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad('Mul', out, [isT(a) ? a : null, isT(b) ? b : null], (save, needs) => {
    const A = needs[1] && isT(a) ? save(a) : a;
    const B = needs[0] && isT(b) ? save(b) : b;
    return (g) => [needs[0] ? sumToShape(mul(g, B), sa) : null, needs[1] ? sumToShape(mul(g, A), sb) : null];
  });
}

/** a / b with broadcasting. */
export function div(a: Operand, b: Operand): Tensor {
  const out = arithmetic('div', a, b);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad('Div', out, [isT(a) ? a : null, isT(b) ? b : null], (save, needs) => {
    const B = isT(b) ? save(b) : b;
    const Y = needs[1] ? save(out) : null;
    // da = g / b; db = -g * a / b^2 = -(g * out) / b
    return (g) => [needs[0] ? sumToShape(div(g, B), sa) : null, needs[1] && Y ? sumToShape(neg(div(mul(g, Y), B)), sb) : null];
  });
}

/**
 * a ** b. A number exponent uses the unary kernel; a tensor exponent the binary one.
 * @example pow(x, 2); pow(2, x); pow(x, y)
 */
export function pow(a: Operand, b: Operand): Tensor {
  if (isT(a) && !isT(b)) {
    const out = unaryRaw('pow', a, b);
    return attachGrad('Pow', out, [a], (save) => {
      const X = save(a);
      return (g) => [mul(g, mul(pow(X, b - 1), b))];
    });
  }
  const out = arithmetic('pow', a, b);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad('Pow', out, [isT(a) ? a : null, isT(b) ? b : null], (save, needs) => {
    const A = isT(a) ? save(a) : a;
    const B = isT(b) ? save(b) : b;
    const Y = needs[1] ? save(out) : null;
    // da = g * b * a^(b-1); db = g * out * ln(a)
    return (g) => [
      needs[0] ? sumToShape(mul(g, mul(B, pow(A, sub(B, 1)))), sa) : null,
      needs[1] && Y ? sumToShape(mul(mul(g, Y), isT(A) ? log(A) : Math.log(A)), sb) : null,
    ];
  });
}

function extremum(name: 'Maximum' | 'Minimum', op: 'max' | 'min', a: Operand, b: Operand): Tensor {
  const out = arithmetic(op, a, b);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad(name, out, [isT(a) ? a : null, isT(b) ? b : null], (save, needs) => {
    const A = isT(a) ? save(a) : a;
    const B = isT(b) ? save(b) : b;
    // The winner takes the gradient; ties split it evenly (as PyTorch).
    return (g) => {
      const wa = add(op === 'max' ? gt(A, B) : lt(A, B), mul(eq(A, B), 0.5));
      return [needs[0] ? sumToShape(mul(g, wa), sa) : null, needs[1] ? sumToShape(mul(g, sub(1, wa)), sb) : null];
    };
  });
}

/** Elementwise maximum with broadcasting (NaN propagates). */
export function maximum(a: Operand, b: Operand): Tensor {
  return extremum('Maximum', 'max', a, b);
}

/** Elementwise minimum with broadcasting (NaN propagates). */
export function minimum(a: Operand, b: Operand): Tensor {
  return extremum('Minimum', 'min', a, b);
}

/**
 * Clamps to [min, max] (either bound optional); the gradient passes where x is inside.
 * @example clamp(x, 0, 1)
 */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min === undefined && max === undefined) return clone(x);
  let out: Tensor;
  if (min !== undefined && max !== undefined) {
    const lo = arithmetic('max', x, min);
    try {
      out = arithmetic('min', lo, max);
    } finally {
      lo.dispose();
    }
  } else out = min !== undefined ? arithmetic('max', x, min) : arithmetic('min', x, max!);
  return attachGrad('Clamp', out, [x], (save) => {
    const X = save(x);
    return (g) => {
      const inside = min !== undefined && max !== undefined ? mul(ge(X, min), le(X, max)) : min !== undefined ? ge(X, min) : le(X, max!);
      return [mul(g, inside)];
    };
  });
}

/** A unary op whose gradient reads the saved input x and/or output y (only the flagged ones are saved). */
function unaryOp(name: string, op: UnaryOp, x: Tensor, grad: (g: Tensor, x: Tensor, y: Tensor) => Tensor, saveX: boolean, saveY: boolean): Tensor {
  const out = unaryRaw(op, x);
  return attachGrad(name, out, [x], (save) => {
    const X = saveX ? save(x) : null;
    const Y = saveY ? save(out) : null;
    return (g) => [grad(g, X!, Y!)];
  });
}

/** -x */
export function neg(x: Tensor): Tensor {
  return unaryOp('Neg', 'neg', x, (g) => neg(g), false, false);
}
/** e^x */
export function exp(x: Tensor): Tensor {
  return unaryOp('Exp', 'exp', x, (g, _x, y) => mul(g, y), false, true);
}
/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unaryOp('Log', 'log', x, (g, X) => div(g, X), true, false);
}
/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unaryOp('Sqrt', 'sqrt', x, (g, _x, y) => div(mul(g, 0.5), y), false, true);
}
/** 1 / sqrt(x) */
export function rsqrt(x: Tensor): Tensor {
  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  return unaryOp('Rsqrt', 'rsqrt', x, (g, _x, y) => mul(g, mul(pow(y, 3), -0.5)), false, true);
}
/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return unaryOp('Tanh', 'tanh', x, (g, _x, y) => mul(g, sub(1, square(y))), false, true);
}
/** Logistic sigmoid 1 / (1 + e^-x). */
export function sigmoid(x: Tensor): Tensor {
  return unaryOp('Sigmoid', 'sigmoid', x, (g, _x, y) => mul(g, mul(y, sub(1, y))), false, true);
}
/** SiLU (swish): x * sigmoid(x). */
export function silu(x: Tensor): Tensor {
  // d/dx x s(x) = s(x) (1 + x (1 - s(x)))
  return unaryOp('Silu', 'silu', x, (g, X) => {
    const s = sigmoid(X);
    return mul(g, mul(s, add(1, mul(X, sub(1, s)))));
  }, true, false);
}
/** max(x, 0) */
export function relu(x: Tensor): Tensor {
  return unaryOp('Relu', 'relu', x, (g, X) => mul(g, unaryRaw('step', X)), true, false);
}
/** |x| */
export function abs(x: Tensor): Tensor {
  return unaryOp('Abs', 'abs', x, (g, X) => mul(g, unaryRaw('sign', X)), true, false);
}
/** x * x */
export function square(x: Tensor): Tensor {
  return unaryOp('Square', 'square', x, (g, X) => mul(g, mul(X, 2)), true, false);
}
/** 1 / x */
export function reciprocal(x: Tensor): Tensor {
  return unaryOp('Reciprocal', 'reciprocal', x, (g, _x, y) => neg(mul(g, square(y))), false, true);
}
/** -1, 0 or 1 by the sign of x (no gradient). */
export function sign(x: Tensor): Tensor {
  return unaryRaw('sign', x);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * gelu'(x) * g as ops, for the tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + c x^3):
 * 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx, du/dx = sqrt(2/pi) (1 + 3 c x^2).
 */
function geluBackwardComposed(x: Tensor, g: Tensor): Tensor {
  const x2 = square(x);
  const t = tanh(mul(x, add(mul(x2, SQRT_2_OVER_PI * GELU_C), SQRT_2_OVER_PI)));
  const du = add(mul(x2, 3 * SQRT_2_OVER_PI * GELU_C), SQRT_2_OVER_PI);
  return mul(g, add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, square(t))), du)));
}

/**
 * GELU, tanh approximation (GPT-2's). The backward is the backend's fused
 * geluBackward kernel where it has one, else the same derivative as ops.
 * @example gelu(matmul(x, w))
 */
export function gelu(x: Tensor): Tensor {
  const out = unaryRaw('gelu', x);
  return attachGrad('Gelu', out, [x], (save) => {
    const X = save(x);
    return (g) => {
      const be = backendOf('gelu backward', X, g);
      const backward = fusedKernel(be, 'geluBackward');
      if (!backward) return [geluBackwardComposed(X, g)];
      const dx = empty(be, X.shape, 'f32');
      if (dx.size > 0) withDense([X, g], (xd, gd) => backward({ x: xd, dy: gd, dx: dense(dx), n: dx.size }));
      return [dx];
    };
  });
}

function compare(op: BinaryOp, a: Operand, b: Operand): Tensor {
  if (isT(a) && isT(b) && a.dtype !== b.dtype) {
    throw new DTypeError(`${op}: dtype mismatch: ${fmtShape(a.shape)} ${a.dtype} vs ${fmtShape(b.shape)} ${b.dtype}; convert one with .float() or .int()`);
  }
  // The binary kernel compares f32 values, exact for i32 values within +-2^24.
  const asF32 = (v: Operand): Operand => (isT(v) && v.dtype === 'i32' ? castRaw(v, 'f32', false) : v);
  const x = asF32(a);
  const y = asF32(b);
  try {
    return lifted(op, x, y, (p, q) => binaryRaw(op, p, q));
  } finally {
    if (x !== a) (x as Tensor).dispose();
    if (y !== b) (y as Tensor).dispose();
  }
}

/** 1 where a == b, else 0 (f32, no gradient). */
export function eq(a: Operand, b: Operand): Tensor {
  return compare('eq', a, b);
}
/** 1 where a != b, else 0 (f32, no gradient). */
export function ne(a: Operand, b: Operand): Tensor {
  return compare('ne', a, b);
}
/** 1 where a < b, else 0 (f32, no gradient). */
export function lt(a: Operand, b: Operand): Tensor {
  return compare('lt', a, b);
}
/** 1 where a <= b, else 0 (f32, no gradient). */
export function le(a: Operand, b: Operand): Tensor {
  return compare('le', a, b);
}
/** 1 where a > b, else 0 (f32, no gradient). */
export function gt(a: Operand, b: Operand): Tensor {
  return compare('gt', a, b);
}
/** 1 where a >= b, else 0 (f32, no gradient). */
export function ge(a: Operand, b: Operand): Tensor {
  return compare('ge', a, b);
}

/**
 * cond != 0 ? a : b elementwise, broadcasting all three; cond may be f32 or i32.
 * @example where(gt(x, 0), x, 0)
 */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  arithmeticDTypes('where', a, b);
  const out = lifted('where', a, b, (x, y) => {
    const be = backendOf('where', cond, x, y);
    const shape = broadcastFor('where', broadcastFor('where', cond.shape, x.shape), y.shape);
    const o = empty(be, shape, 'f32');
    if (o.size > 0) {
      be.where({
        cond: broadcastOperand(cond, shape),
        condDType: cond.dtype,
        a: broadcastOperand(x, shape),
        b: broadcastOperand(y, shape),
        out: dense(o),
        shape,
      });
    }
    return o;
  });
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  return attachGrad('Where', out, [isT(a) ? a : null, isT(b) ? b : null], (save, needs) => {
    const C = save(cond);
    return (g) => [needs[0] ? sumToShape(where(C, g, 0), sa) : null, needs[1] ? sumToShape(where(C, 0, g), sb) : null];
  });
}

/**
 * x with `value` wherever mask != 0 (mask broadcasts to x).
 * @example maskedFill(scores, causalMask, -Infinity)
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = broadcastFor('maskedFill', x.shape, mask.shape);
  if (shape.length !== x.shape.length || shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(`maskedFill: mask of shape ${fmtShape(mask.shape)} must broadcast to the input's shape ${fmtShape(x.shape)}`);
  }
  return where(mask, value, x);
}

/** Dtype conversion without autograd bookkeeping. */
export function castRaw(x: Tensor, dtype: DType, trackIt = true): Tensor {
  const be = backendOf('cast', x);
  const out = empty(be, x.shape, dtype, trackIt);
  if (out.size > 0) be.cast({ x: strided(x), out: dense(out), shape: x.shape, from: x.dtype, to: dtype });
  return out;
}

/**
 * Converts to `dtype` (f32 -> i32 truncates toward zero). Same dtype gives a new handle on the same storage.
 * @example argmax(x, 1).cast('f32')
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (dtype !== 'f32' && dtype !== 'i32') throw new DTypeError(`cast: unknown dtype '${dtype}'; expected 'f32' or 'i32'`);
  if (x.dtype === dtype) return alias(x);
  return castRaw(x, dtype);
}
