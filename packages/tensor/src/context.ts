/**
 * Per-async-context state of tidy scopes and gradient mode.
 *
 * Where the runtime has AsyncLocalStorage (Node >= 20.16, Deno 2, Bun 1) each
 * async task sees its own innermost tidy scope and its own noGrad flag: a
 * `tidy(async () => ...)` or `noGrad(async () => ...)` affects only the code
 * it runs, including that code's awaited continuations, never a task running
 * beside it. The storage is reached through `process.getBuiltinModule`, not a
 * static `node:` import, so browser bundles do not pull it in.
 *
 * Elsewhere (browsers) there is no per-task storage: scopes form one global
 * stack and the flag is one global, so while two async tidies or an async
 * noGrad are open at the same time, a tensor is tracked by whichever scope is
 * innermost when it is created, and recording is off for all code until the
 * noGrad's promise settles. Synchronous code behaves the same either way.
 */

import type { Scope } from './scope.js';

/** The state one async context sees. */
export interface Frame {
  /** The innermost tidy scope this context opened (it may have closed since; see scope.ts). */
  readonly scope: Scope | null;
  /** False inside noGrad. */
  readonly grad: boolean;
}

/** The part of AsyncLocalStorage used here. */
interface FrameStorage {
  getStore(): Frame | undefined;
  run<R>(store: Frame, fn: () => R): R;
}

interface NodeLikeProcess {
  getBuiltinModule?: (id: string) => unknown;
}

function openStorage(): FrameStorage | null {
  const proc = (globalThis as { process?: NodeLikeProcess }).process;
  let mod: { AsyncLocalStorage?: new () => FrameStorage } | undefined;
  try {
    mod = proc?.getBuiltinModule?.('node:async_hooks') as typeof mod;
  } catch {
    return null;
  }
  return mod?.AsyncLocalStorage ? new mod.AsyncLocalStorage() : null;
}

/** The per-async-context storage, or null where the runtime has none (browsers; see the file comment). */
export const frames: FrameStorage | null = openStorage();

const ROOT: Frame = { scope: null, grad: true };

/** The current context's frame (only meaningful when `frames` is set). */
export function currentFrame(): Frame {
  return frames?.getStore() ?? ROOT;
}

/**
 * True where tidy scopes and noGrad are per async context (AsyncLocalStorage is available);
 * false where they are one global stack and flag (browsers).
 */
export function asyncScopesIsolated(): boolean {
  return frames !== null;
}

/** True for a thenable (an async fn's result). */
export function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}
