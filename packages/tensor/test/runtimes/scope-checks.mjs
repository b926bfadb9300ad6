// Scenarios of per-async-context tidy and noGrad, written once for test/async-scopes.test.ts
// (on the source) and test/runtimes/async-scopes.mjs (on the built package in Node, Deno and
// Bun). Each takes the package's namespace and returns what it observed; callers assert.

export const tick = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Two async tidies: A makes a tensor once B's scope is open, B closes while A is suspended,
 * then A returns that tensor plus one. Returns whether A's tensor outlived B's close, whether
 * A's close freed it, and A's result value.
 */
export async function tidyClosesBeside(api) {
  let gate;
  const bOpen = new Promise((r) => (gate = r));
  let madeByA = null;
  let aliveWhenBClosed = null;
  const pa = api.tidy(async () => {
    await bOpen;
    madeByA = api.ones([1]);
    await tick(10);
    aliveWhenBClosed = !madeByA.isDisposed;
    return madeByA.add(1);
  });
  const pb = api.tidy(async () => {
    gate();
    await tick(1);
    return null;
  });
  await pb;
  const out = await pa;
  const value = (await out.data())[0];
  out.dispose();
  return { aliveWhenBClosed, freedByA: madeByA.isDisposed, value };
}

/**
 * An async noGrad task suspended while this task computes sum(w * w) and backward. Returns
 * whether this task recorded, w's gradient, and whether the noGrad task saw recording off.
 */
export async function noGradBeside(api) {
  const w = api.ones([3], { requiresGrad: true });
  let entered;
  const inside = new Promise((r) => (entered = r));
  const task = api.noGrad(async () => {
    entered();
    await tick(10);
    const y = api.mul(w, 2);
    const off = !api.isGradEnabled() && !y.requiresGrad;
    y.dispose();
    return off;
  });
  await inside;
  const enabledBeside = api.isGradEnabled();
  const loss = api.mul(w, w).sum();
  const recorded = loss.requiresGrad;
  loss.backward();
  const grad = Array.from(await w.grad.data());
  const offInside = await task;
  loss.dispose();
  w.dispose();
  return { enabledBeside, recorded, grad, offInside, enabledAfter: api.isGradEnabled() };
}
