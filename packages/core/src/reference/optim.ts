import type { AdamParams, SgdParams } from '../backend.js';
import type { Views } from './views.js';

export function sgdStep(v: Views, p: SgdParams): void {
  const W = v.f32(p.param.storage);
  const G = v.f32(p.grad.storage);
  const M = p.momentumBuf ? v.f32(p.momentumBuf.storage) : null;
  for (let i = 0; i < p.n; i++) {
    const wi = p.param.offset + i;
    let g = G[p.grad.offset + i] + p.weightDecay * W[wi];
    if (p.momentum !== 0 && M && p.momentumBuf) {
      const mi = p.momentumBuf.offset + i;
      const buf = p.firstStep ? g : p.momentum * M[mi] + (1 - p.dampening) * g;
      M[mi] = buf;
      g = p.nesterov ? g + p.momentum * buf : buf;
    }
    W[wi] = W[wi] - p.lr * g;
  }
}

export function adamStep(v: Views, p: AdamParams): void {
  const W = v.f32(p.param.storage);
  const G = v.f32(p.grad.storage);
  const M = v.f32(p.m.storage);
  const Vv = v.f32(p.v.storage);
  const VM = p.vMax ? v.f32(p.vMax.storage) : null;
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  for (let i = 0; i < p.n; i++) {
    const wi = p.param.offset + i;
    let w = W[wi];
    let g = G[p.grad.offset + i];
    if (p.decoupled) w *= 1 - p.lr * p.weightDecay;
    else g += p.weightDecay * w;
    const m = p.beta1 * M[p.m.offset + i] + (1 - p.beta1) * g;
    const vv = p.beta2 * Vv[p.v.offset + i] + (1 - p.beta2) * g * g;
    M[p.m.offset + i] = m;
    Vv[p.v.offset + i] = vv;
    let vUse = vv;
    if (p.amsgrad && VM && p.vMax) {
      vUse = Math.max(VM[p.vMax.offset + i], vv);
      VM[p.vMax.offset + i] = vUse;
    }
    W[wi] = w - (p.lr * (m / bc1)) / (Math.sqrt(vUse / bc2) + p.eps);
  }
}
