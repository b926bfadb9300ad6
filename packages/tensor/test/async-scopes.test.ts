/**
 * tidy and noGrad in concurrent async tasks. Where the runtime has
 * AsyncLocalStorage (Node, Deno, Bun) each task has its own scopes and flag;
 * the browser fallback (one global stack and flag) is exercised by loading the
 * package again with `process.getBuiltinModule` hidden.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as T from '../src/index.js';
import { asyncScopesIsolated, isGradEnabled, keep, noGrad, ones, setBackend, tidy, type Tensor } from '../src/index.js';
// A plain .mjs module, shared with the script run in Deno and Bun (test/runtimes/async-scopes.mjs).
import { noGradBeside, tick, tidyClosesBeside } from './runtimes/scope-checks.mjs';
import { ReferenceBackend } from '@tessera/core';

/** Two async tidies whose bodies interleave: A makes tensors while B's scope is open, and the other way round. */
async function interleaved(api: typeof T): Promise<{ a: Tensor[]; b: Tensor[]; aResult: Tensor; bResult: Tensor }> {
  const a: Tensor[] = [];
  const b: Tensor[] = [];
  let gate!: () => void;
  const bOpen = new Promise<void>((r) => (gate = r));
  const pa = api.tidy(async () => {
    await bOpen; // B's scope is open from here on
    a.push(api.ones([2]));
    await tick(5);
    a.push(api.ones([3]));
    return api.ones([4]);
  });
  const pb = api.tidy(async () => {
    gate();
    await tick(1);
    b.push(api.ones([5]));
    return api.ones([6]);
  });
  const bResult = await pb;
  const aResult = await pa;
  return { a, b, aResult, bResult };
}

describe('async scopes in Node (AsyncLocalStorage)', () => {
  beforeAll(async () => {
    await setBackend(new ReferenceBackend());
  });

  it('is the isolated mode here', () => {
    expect(asyncScopesIsolated()).toBe(true);
  });

  it('two interleaved async tidies each free only their own tensors', async () => {
    const before = T.memory().numTensors;
    const { a, b, aResult, bResult } = await interleaved(T);
    // Each scope freed its own intermediates and handed its result to the caller.
    expect(b.map((t) => t.isDisposed)).toEqual([true]);
    expect(a.map((t) => t.isDisposed)).toEqual([true, true]);
    expect(aResult.isDisposed).toBe(false);
    expect(bResult.isDisposed).toBe(false);
    aResult.dispose();
    bResult.dispose();
    expect(T.memory().numTensors).toBe(before);
  });

  it('B closing first leaves the tensors A is still using alive', async () => {
    expect(await tidyClosesBeside(T)).toEqual({ aliveWhenBClosed: true, freedByA: true, value: 2 });
  });

  it('an async noGrad task beside a recording task: the latter still records', async () => {
    expect(await noGradBeside(T)).toEqual({ enabledBeside: true, recorded: true, grad: [2, 2, 2], offInside: true, enabledAfter: true });
  });

  it('synchronous nesting is unchanged: the inner tidy returns into the outer one, noGrad restores the flag', () => {
    let inner: Tensor | null = null;
    const out = tidy(() => {
      inner = tidy(() => ones([2]).add(1));
      expect(inner.isDisposed).toBe(false);
      noGrad(() => expect(isGradEnabled()).toBe(false));
      expect(isGradEnabled()).toBe(true);
      return keep(inner.mul(2));
    });
    expect(inner!.isDisposed).toBe(true);
    expect(Array.from(out.dataSync())).toEqual([4, 4]);
    out.dispose();
  });
});

describe('async scopes in browsers (the global fallback)', () => {
  let api: typeof T;
  const proc = process as { getBuiltinModule?: unknown };
  const saved = proc.getBuiltinModule;
  beforeAll(async () => {
    proc.getBuiltinModule = undefined;
    vi.resetModules();
    api = await import('../src/index.js');
    proc.getBuiltinModule = saved;
    await api.setBackend(new ReferenceBackend());
  });
  afterAll(() => {
    proc.getBuiltinModule = saved;
  });

  it('is the shared mode', () => {
    expect(api.asyncScopesIsolated()).toBe(false);
  });

  it('one stack: a tensor goes to the scope innermost when it is created, whichever task made it', async () => {
    const { a, b, aResult, bResult } = await interleaved(api);
    // A's first tensor was made while B was innermost, so B's close freed it; B's result moved to
    // the scope below B on the stack, which is A's, so A's close freed it too: the browser caveat.
    expect(a.map((t) => t.isDisposed)).toEqual([true, true]);
    expect(b.map((t) => t.isDisposed)).toEqual([true]);
    expect(aResult.isDisposed).toBe(false);
    expect(bResult.isDisposed).toBe(true);
    aResult.dispose();
  });

  it('keep() protects a tensor from the other task\'s scope', async () => {
    let gate!: () => void;
    const bOpen = new Promise<void>((r) => (gate = r));
    let made: Tensor | null = null;
    let kept: Tensor | null = null;
    const pa = api.tidy(async () => {
      await bOpen;
      made = api.ones([1]);
      kept = api.keep(api.ones([1]));
      await tick(5);
      return null;
    });
    const pb = api.tidy(async () => {
      gate();
      await tick(1);
      return null;
    });
    await pb;
    expect(made!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    await pa;
    kept!.dispose();
  });

  it('an async noGrad turns recording off for all code until it settles', async () => {
    let gate!: () => void;
    const inside = new Promise<void>((r) => (gate = r));
    const task = api.noGrad(async () => {
      gate();
      await tick(5);
    });
    await inside;
    expect(api.isGradEnabled()).toBe(false);
    await task;
    expect(api.isGradEnabled()).toBe(true);
  });
});
