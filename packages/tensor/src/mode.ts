/**
 * Gradient recording mode (`noGrad`) and the rule for in-place writes. The
 * flag lives in the async context's frame where the runtime isolates async
 * tasks (context.ts), else in one global.
 */

import { fmtShape } from '@tessera/core';
import { currentFrame, frames, isPromiseLike } from './context.js';
import { AutogradError } from './errors.js';
import type { Tensor } from './tensor.js';

let globalGrad = true;

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return frames ? currentFrame().grad : globalGrad;
}

/**
 * Runs `fn` without recording gradients (e.g. an optimizer update or
 * inference). An async `fn` keeps recording off until its promise settles: in
 * Node, Deno and Bun only for the code `fn` runs (a task running beside it
 * still records); in browsers for all code meanwhile (see context.ts).
 * @example noGrad(() => w.sub_(w.grad!.mul(lr)));
 */
export function noGrad<T>(fn: () => T): T {
  if (frames) return frames.run({ scope: currentFrame().scope, grad: false }, fn);
  const prev = globalGrad;
  globalGrad = false;
  let r: T;
  try {
    r = fn();
  } catch (e) {
    globalGrad = prev;
    throw e;
  }
  if (isPromiseLike(r)) {
    return Promise.resolve(r).finally(() => {
      globalGrad = prev;
    }) as T;
  }
  globalGrad = prev;
  return r;
}

/** @internal Checks that `t` may be written in place and bumps its version. */
export function beginWrite(op: string, t: Tensor): void {
  t._assertLive(op);
  if (isGradEnabled() && t.requiresGrad) {
    throw new AutogradError(
      `${op}: in-place update of a tensor of shape ${fmtShape(t.shape)} that requires grad would bypass autograd; run it inside noGrad(() => ...)`,
    );
  }
  t._ref.version++;
}
