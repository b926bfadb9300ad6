/**
 * The op lists of the `unary`, `binary` and `reduce` kernels: the one place an op is named.
 * The op types derive from them, the validators accept exactly them, backends key their op
 * bodies by them (`Record<UnaryOp, ...>`, so a body left out fails to compile), and the
 * wasm build generates its integer op codes from them (scripts/gen-op-codes.mjs writes
 * assembly/generated/op-codes.ts and src/generated/op-codes.ts: the code of an op is its
 * index here), so the host and the AssemblyScript kernels cannot disagree on a code.
 *
 * Kept as plain `[...] as const` arrays of string literals: the generator reads this file
 * as text.
 */

/** Elementwise f32 -> f32 ops (`pow` takes its exponent as UnaryParams.alpha). */
export const UNARY_OPS = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'gelu', 'abs', 'pow', 'square', 'reciprocal', 'sign', 'step', 'silu'] as const;

/** Elementwise (f32, f32) -> f32 ops; the comparisons give 1 or 0. */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;

/** Reductions over the middle axis of [outer, axisLen, inner]; argmax / argmin give i32. */
export const REDUCE_OPS = ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const;

export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type ReduceOp = (typeof REDUCE_OPS)[number];
