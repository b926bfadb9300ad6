/**
 * Fused optimizer steps, one invocation per element (PyTorch's update rules,
 * see SgdParams / AdamParams in core). Param, grad and state may live in one
 * storage (a flat parameter block): they then share a binding.
 */

import type { AdamParams, SgdParams } from '@tessera/core';
import { grid2d, type GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID } from '../wgsl/math.js';

const WG = 256;

export function sgdStep(ctx: GpuContext, p: SgdParams): void {
  if (p.n === 0) return;
  const momentum = p.momentum !== 0 && p.momentumBuf !== undefined;
  const operands = [
    { name: 'w', buffer: bufferOf(p.param.storage), write: true },
    { name: 'g', buffer: bufferOf(p.grad.storage) },
  ];
  if (momentum) operands.push({ name: 'mb', buffer: bufferOf(p.momentumBuf!.storage), write: true });
  const variant = momentum ? `${p.firstStep ? 'first' : 'next'}${p.nesterov ? '.nesterov' : ''}` : 'plain';
  ctx.dispatch({
    key: `sgd.${variant}`,
    operands,
    params: {
      n: ['u32', p.n],
      w_o: ['u32', p.param.offset],
      g_o: ['u32', p.grad.offset],
      mb_o: ['u32', p.momentumBuf?.offset ?? 0],
      lr: ['f32', p.lr],
      momentum: ['f32', p.momentum],
      damp: ['f32', 1 - p.dampening],
      wd: ['f32', p.weightDecay],
    },
    groups: grid2d(Math.ceil(p.n / WG)),
    wgsl: (decls) => `${decls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${GLOBAL_ID(WG)};
  if (i >= P.n) { return; }
  let wi = i32(P.w_o + i);
  let w = w_f(wi);
  var g = g_f(i32(P.g_o + i)) + P.wd * w;
  ${
    momentum
      ? `let mi = i32(P.mb_o + i);
  let buf = ${p.firstStep ? 'g' : 'P.momentum * mb_f(mi) + P.damp * g'};
  mb_sf(mi, buf);
  g = ${p.nesterov ? 'g + P.momentum * buf' : 'buf'};`
      : ''
  }
  w_sf(wi, w - P.lr * g);
}`,
  });
}

export function adamStep(ctx: GpuContext, p: AdamParams): void {
  if (p.n === 0) return;
  const ams = p.amsgrad && p.vMax !== undefined;
  const operands = [
    { name: 'w', buffer: bufferOf(p.param.storage), write: true },
    { name: 'g', buffer: bufferOf(p.grad.storage) },
    { name: 'm', buffer: bufferOf(p.m.storage), write: true },
    { name: 'v', buffer: bufferOf(p.v.storage), write: true },
  ];
  if (ams) operands.push({ name: 'vm', buffer: bufferOf(p.vMax!.storage), write: true });
  // Bias corrections in float64 on the host (beta^step underflows gracefully there).
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  ctx.dispatch({
    key: `adam.${p.decoupled ? 'w' : 'l2'}${ams ? '.ams' : ''}`,
    operands,
    params: {
      n: ['u32', p.n],
      w_o: ['u32', p.param.offset],
      g_o: ['u32', p.grad.offset],
      m_o: ['u32', p.m.offset],
      v_o: ['u32', p.v.offset],
      vm_o: ['u32', p.vMax?.offset ?? 0],
      lr: ['f32', p.lr],
      b1: ['f32', p.beta1],
      b2: ['f32', p.beta2],
      // 1 - beta in float64: f32(0.999) is 1.3e-8 off, which is 1.3e-5 of 1 - beta2.
      omb1: ['f32', 1 - p.beta1],
      omb2: ['f32', 1 - p.beta2],
      eps: ['f32', p.eps],
      wd: ['f32', p.weightDecay],
      decay: ['f32', 1 - p.lr * p.weightDecay],
      bc1: ['f32', bc1],
      bc2: ['f32', bc2],
    },
    groups: grid2d(Math.ceil(p.n / WG)),
    wgsl: (decls) => `${decls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${GLOBAL_ID(WG)};
  if (i >= P.n) { return; }
  let wi = i32(P.w_o + i);
  let mi = i32(P.m_o + i);
  let vi = i32(P.v_o + i);
  var w = w_f(wi);
  var g = g_f(i32(P.g_o + i));
  ${p.decoupled ? 'w = w * P.decay;' : 'g = g + P.wd * w;'}
  let m = P.b1 * m_f(mi) + P.omb1 * g;
  let v = P.b2 * v_f(vi) + P.omb2 * g * g;
  m_sf(mi, m);
  v_sf(vi, v);
  ${
    ams
      ? `let vmi = i32(P.vm_o + i);
  let vu = max(vm_f(vmi), v);
  vm_sf(vmi, vu);`
      : 'let vu = v;'
  }
  w_sf(wi, w - (P.lr * (m / P.bc1)) / (sqrt(vu / P.bc2) + P.eps));
}`,
  });
}
