// Kernel family: optim. Fused SGD and Adam/AdamW steps over flat f32 buffers, one SIMD
// pass each (PyTorch's update rules; see SgdParams / AdamParams in src/backend.ts). The
// host folds the scalar hyper-parameters (bias corrections, 1 - beta, ...) in float64.

import { loadPartial, madd4, nmadd4, storePartial } from './vmath';

@inline function ld(p: usize, i: i32, rem: i32): v128 {
  const q = p + (<usize>i << 2);
  return rem >= 4 ? v128.load(q) : loadPartial(q, 1, rem);
}

@inline function st(p: usize, i: i32, rem: i32, v: v128): void {
  const q = p + (<usize>i << 2);
  if (rem >= 4) v128.store(q, v);
  else storePartial(q, v, rem);
}

@inline function sgdT(momentum: bool, first: bool, nesterov: bool, pw: usize, pg: usize, pm: usize, n: i32, lr: f32, mom: f32, damp1: f32, wd: f32): void {
  const lrv = f32x4.splat(lr);
  const mv = f32x4.splat(mom);
  const dv = f32x4.splat(damp1);
  const wdv = f32x4.splat(wd);
  for (let i = 0; i < n; i += 4) {
    const rem = n - i;
    const w = ld(pw, i, rem);
    let g = madd4(wdv, w, ld(pg, i, rem));
    if (momentum) {
      const buf = first ? g : madd4(mv, ld(pm, i, rem), f32x4.mul(dv, g));
      st(pm, i, rem, buf);
      g = nesterov ? madd4(mv, buf, g) : buf;
    }
    st(pw, i, rem, nmadd4(lrv, g, w));
  }
}

/**
 * g = grad + wd p; with momentum: buf = first ? g : momentum buf + damp1 g (damp1 = 1 - dampening),
 * g = nesterov ? g + momentum buf : buf; p -= lr g. pm is unused when momentum == 0.
 */
export function optim_sgd(pw: usize, pg: usize, pm: usize, n: i32, lr: f32, momentum: f32, damp1: f32, nesterov: i32, wd: f32, first: i32): void {
  if (momentum == 0) sgdT(false, false, false, pw, pg, pm, n, lr, momentum, damp1, wd);
  else if (first != 0 && nesterov != 0) sgdT(true, true, true, pw, pg, pm, n, lr, momentum, damp1, wd);
  else if (first != 0) sgdT(true, true, false, pw, pg, pm, n, lr, momentum, damp1, wd);
  else if (nesterov != 0) sgdT(true, false, true, pw, pg, pm, n, lr, momentum, damp1, wd);
  else sgdT(true, false, false, pw, pg, pm, n, lr, momentum, damp1, wd);
}

@inline function adamT(decoupled: bool, amsgrad: bool, pw: usize, pg: usize, pm: usize, pv: usize, pvmax: usize, n: i32, stepSize: f32, b1: f32, c1: f32, b2: f32, c2: f32, rbc2: f32, eps: f32, wd: f32, decay: f32): void {
  const b1v = f32x4.splat(b1);
  const c1v = f32x4.splat(c1);
  const b2v = f32x4.splat(b2);
  const c2v = f32x4.splat(c2);
  const rbc2v = f32x4.splat(rbc2);
  const epsv = f32x4.splat(eps);
  const stepv = f32x4.splat(stepSize);
  const wdv = f32x4.splat(wd);
  const decayv = f32x4.splat(decay);
  for (let i = 0; i < n; i += 4) {
    const rem = n - i;
    let w = ld(pw, i, rem);
    let g = ld(pg, i, rem);
    if (decoupled) w = f32x4.mul(w, decayv);
    else g = madd4(wdv, w, g);
    const m = madd4(b1v, ld(pm, i, rem), f32x4.mul(c1v, g));
    const v = madd4(b2v, ld(pv, i, rem), f32x4.mul(c2v, f32x4.mul(g, g)));
    st(pm, i, rem, m);
    st(pv, i, rem, v);
    let vu = v;
    if (amsgrad) {
      vu = f32x4.max(ld(pvmax, i, rem), v);
      st(pvmax, i, rem, vu);
    }
    const denom = f32x4.add(f32x4.sqrt(f32x4.mul(vu, rbc2v)), epsv);
    st(pw, i, rem, f32x4.sub(w, f32x4.div(f32x4.mul(stepv, m), denom)));
  }
}

/**
 * Adam (L2: g += wd p) or AdamW (decoupled: p *= decay = 1 - lr wd); m = b1 m + c1 g;
 * v = b2 v + c2 g^2; amsgrad: vmax = max(vmax, v) used for v;
 * p -= stepSize m / (sqrt(v rbc2) + eps) with stepSize = lr / (1 - b1^t), rbc2 = 1 / (1 - b2^t).
 */
export function optim_adam(pw: usize, pg: usize, pm: usize, pv: usize, pvmax: usize, n: i32, stepSize: f32, b1: f32, c1: f32, b2: f32, c2: f32, rbc2: f32, eps: f32, wd: f32, decay: f32, decoupled: i32, amsgrad: i32): void {
  if (decoupled != 0) {
    if (amsgrad != 0) adamT(true, true, pw, pg, pm, pv, pvmax, n, stepSize, b1, c1, b2, c2, rbc2, eps, wd, decay);
    else adamT(true, false, pw, pg, pm, pv, pvmax, n, stepSize, b1, c1, b2, c2, rbc2, eps, wd, decay);
  } else if (amsgrad != 0) {
    adamT(false, true, pw, pg, pm, pv, pvmax, n, stepSize, b1, c1, b2, c2, rbc2, eps, wd, decay);
  } else {
    adamT(false, false, pw, pg, pm, pv, pvmax, n, stepSize, b1, c1, b2, c2, rbc2, eps, wd, decay);
  }
}
