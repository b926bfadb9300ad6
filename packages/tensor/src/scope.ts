/**
 * Memory scopes: `tidy(fn)` disposes every tensor created while fn runs except
 * the ones it returns and the ones passed to `keep`. Where the runtime isolates
 * async contexts (context.ts) each task has its own innermost scope; elsewhere
 * scopes form one global stack.
 */

import { getBackendIfSet } from './backend.js';
import { currentFrame, frames, isPromiseLike } from './context.js';
import { counters } from './storage.js';
import type { Tensor } from './tensor.js';

/** Marks Tensor instances, so scopes recognise them without importing the class. */
export const TENSOR_BRAND: unique symbol = Symbol('tessera.Tensor');

function isTensor(v: object): v is Tensor {
  return (v as { [TENSOR_BRAND]?: boolean })[TENSOR_BRAND] === true;
}

/** One open tidy scope and the tensors created while it was the innermost. */
export class Scope {
  readonly tracked: Tensor[] = [];
  open = true;
  /** The scope that was innermost when this one opened. */
  constructor(readonly parent: Scope | null) {}
}

/** The open scopes, innermost last, where async contexts are not isolated. */
const stack: Scope[] = [];

/** The nearest scope from `s` up its parents that is still open. */
function openFrom(s: Scope | null): Scope | null {
  while (s && !s.open) s = s.parent;
  return s;
}

/** The scope new tensors go to: this async context's innermost open one, or the top of the global stack. */
function innermost(): Scope | null {
  return frames ? openFrom(currentFrame().scope) : (stack[stack.length - 1] ?? null);
}

/** Records a new tensor in the innermost open scope (if any). */
export function track(t: Tensor): void {
  const top = innermost();
  if (top) {
    top.tracked.push(t);
    t._scope = top;
  }
}

/**
 * The error-path journal. While an op runs under `guardOp`, every Tensor handle
 * created (tracked or not) is appended here; when the outermost guarded call
 * throws, the handles created since it began are disposed, so a failed op
 * leaves `memory()` exactly as it was. A successful outermost call forgets
 * them. Ops are synchronous, so one journal serves every async context.
 */
const journal: Tensor[] = [];
let guardDepth = 0;

/** Called by the Tensor constructor: records `t` while a guarded op runs. */
export function journalTensor(t: Tensor): void {
  if (guardDepth > 0) journal.push(t);
}

/**
 * `fn` wrapped so that, when it throws, every tensor handle it created is
 * disposed before the error propagates (handles passed to `keep` or owned as
 * a leaf's `.grad` are left alone). Nested guarded calls share the outermost
 * call's journal: an inner op's outputs are freed too when the outer op fails.
 */
export function guardOp<F extends (...args: never[]) => unknown>(fn: F): F {
  const guarded = function (this: unknown, ...args: Parameters<F>): ReturnType<F> {
    const mark = journal.length;
    guardDepth++;
    try {
      return fn.apply(this, args) as ReturnType<F>;
    } catch (e) {
      for (let i = journal.length - 1; i >= mark; i--) if (!journal[i]._kept) journal[i].dispose();
      journal.length = mark;
      throw e;
    } finally {
      if (--guardDepth === 0) journal.length = 0;
    }
  };
  Object.defineProperty(guarded, 'name', { value: fn.name });
  return guarded as unknown as F;
}

/** A copy of a module namespace (or object) with every function wrapped by `guardOp`. */
export function guardOps<M extends object>(ns: M): M {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ns)) out[k] = typeof v === 'function' ? guardOp(v as (...args: never[]) => unknown) : v;
  return out as M;
}

/** Removes `t` from scope management: no tidy will dispose it. */
export function keep<T extends Tensor>(t: T): T {
  t._kept = true;
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

function close(scope: Scope, result: unknown): void {
  scope.open = false;
  let parent: Scope | null;
  if (frames) parent = openFrom(scope.parent);
  else {
    const i = stack.lastIndexOf(scope);
    if (i >= 0) stack.splice(i, 1);
    parent = i > 0 ? stack[i - 1] : null;
  }
  const keepers = new Set<Tensor>();
  collect(result, keepers, new Set());
  // Returned tensors move to the nearest scope still open below this one.
  for (const t of scope.tracked) {
    if (t._scope !== scope) continue;
    if (keepers.has(t)) {
      t._scope = parent;
      parent?.tracked.push(t);
    } else {
      t._scope = null;
      if (!t._kept) t.dispose();
    }
  }
  scope.tracked.length = 0;
}

/**
 * Runs `fn` and disposes every tensor it created, except the tensors in its
 * result (a tensor, or arrays / plain objects / Maps holding tensors) and
 * tensors passed to `keep`. Returned tensors belong to the enclosing scope.
 *
 * With an async `fn`, tidy returns a Promise and the scope stays open until
 * that promise settles. In Node, Deno and Bun every async task has its own
 * scopes, so two async tidies running at the same time each free only the
 * tensors their own code created. In browsers scopes are one stack shared by
 * all code: a tensor is tracked by the innermost scope open when it is
 * created, whichever task created it, so while two async tidies run
 * concurrently, return or `keep()` anything that must outlive its scope, or
 * await async tidies one after another.
 *
 * @example
 * const loss = tidy(() => mse(matmul(x, w), y)); // intermediates are freed
 * const out = await tidy(async () => { const y = relu(x); await y.data(); return y; });
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope(innermost());
  let result: T;
  try {
    if (frames) result = frames.run({ scope, grad: currentFrame().grad }, fn);
    else {
      stack.push(scope);
      result = fn();
    }
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (r) => {
        close(scope, r);
        return r;
      },
      (e: unknown) => {
        close(scope, undefined);
        throw e;
      },
    ) as T;
  }
  close(scope, result);
  return result;
}

/** Tensor and byte counts of live tensors, plus the active backend's own numbers. */
export interface MemoryInfo {
  /** Live (not disposed) tensor handles, including views and autograd's saved tensors. */
  numTensors: number;
  /** Bytes of backend storage held by live tensors (shared storage counted once). */
  numBytes: number;
  /** Bytes the active backend has allocated (all its storages, plus its own scratch). */
  backendBytes: number;
  /** The active backend's heap size (e.g. wasm linear memory), in bytes. */
  heapBytes: number;
  /** The largest allocation the active backend can grant (`Backend.maxBytes`; Infinity where it states none). */
  maxBytes: number;
}

/**
 * Memory in use.
 * @example const { numTensors, numBytes } = memory();
 */
export function memory(): MemoryInfo {
  const be = getBackendIfSet();
  const info = be?.memoryInfo();
  return { numTensors: counters.tensors, numBytes: counters.bytes, backendBytes: info?.allocatedBytes ?? 0, heapBytes: info?.heapBytes ?? 0, maxBytes: be?.maxBytes ?? Infinity };
}
