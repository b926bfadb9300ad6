/**
 * qmatmul: out[m, n] = x[m, k] @ dequant(W)^T for a weight-only int8 / int4 W (the format
 * of core's quant.ts: n rows of k values, one f32 scale per group of groupSize values along
 * k; int4 in 32-value blocks with value t in the low nibble of byte t and value t + 16 in
 * its high nibble, stored as q + 8). One invocation per output: it unpacks the row's words
 * in registers, sums x * q per group in f32 and adds scale * (group sum) to the total, the
 * same per-group form as the wasm kernel.
 */

import type { QMatmulParams } from '@tessera/core';
import { grid2d, type GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID } from '../wgsl/math.js';

const WG = 64;

/** The group loop's body: adds x * q over group g into `dot` (x row at xb, weight row j). */
const GROUP_BODY: Record<8 | 4, string> = {
  // Word u of the group holds values 4u..4u+3, byte c the value 4u + c (sign-extended by the shifts).
  8: `for (var u = 0u; u < P.gs / 4u; u++) {
      let l = g * P.gs + 4u * u;
      let w = q_i(i32(P.q_o + (j * P.k + l) / 4u));
      let xl = xb + i32(l);
      dot += x_f(xl) * f32((w << 24u) >> 24u) + x_f(xl + 1) * f32((w << 16u) >> 24u)
           + x_f(xl + 2) * f32((w << 8u) >> 24u) + x_f(xl + 3) * f32(w >> 24u);
    }`,
  // Block b of the group is 4 words; byte t = 4u + c holds values l0 + t (low) and l0 + t + 16 (high).
  4: `for (var b = 0u; b < P.gs / 32u; b++) {
      let l0 = g * P.gs + 32u * b;
      let e = i32(P.q_o + (j * P.k + l0) / 8u);
      let xl = xb + i32(l0);
      for (var u = 0; u < 4; u++) {
        let w = q_u(e + u);
        for (var c = 0u; c < 4u; c++) {
          let t = 4 * u + i32(c);
          let lo = f32(i32((w >> (8u * c)) & 15u) - 8);
          let hi = f32(i32((w >> (8u * c + 4u)) & 15u) - 8);
          dot += x_f(xl + t) * lo + x_f(xl + t + 16) * hi;
        }
      }
    }`,
};

export function qmatmul(ctx: GpuContext, p: QMatmulParams): void {
  const { m, n, k } = p;
  if (m === 0 || n === 0) return;
  ctx.dispatch({
    key: `qmatmul.int${p.bits}`,
    operands: [
      { name: 'x', buffer: bufferOf(p.x.storage) },
      { name: 'q', buffer: bufferOf(p.q.storage) },
      { name: 's', buffer: bufferOf(p.scales.storage) },
      { name: 'out', buffer: bufferOf(p.out.storage), write: true },
    ],
    params: {
      m: ['u32', m],
      n: ['u32', n],
      k: ['u32', k],
      gs: ['u32', p.groupSize],
      x_o: ['u32', p.x.offset],
      q_o: ['u32', p.q.offset],
      s_o: ['u32', p.scales.offset],
      out_o: ['u32', p.out.offset],
    },
    groups: grid2d(Math.ceil((m * n) / WG)),
    wgsl: (decls) => `${decls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let idx = ${GLOBAL_ID(WG)};
  if (idx >= P.m * P.n) { return; }
  let i = idx / P.n;
  let j = idx % P.n;
  let groups = P.k / P.gs;
  let xb = i32(P.x_o + i * P.k);
  var acc = 0.0;
  for (var g = 0u; g < groups; g++) {
    var dot = 0.0;
    ${GROUP_BODY[p.bits]}
    acc += dot * s_f(i32(P.s_o + j * groups + g));
  }
  out_sf(i32(P.out_o + idx), acc);
}`,
  });
}
