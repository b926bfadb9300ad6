/**
 * qmatmul: out[m, n] = x[m, k] @ dequant(W)^T for a weight-only int8 / int4 W (the format
 * of core's quant.ts: n rows of k values, one f32 scale per group of groupSize values along
 * k; int4 in 32-value blocks with value t in the low nibble of byte t and value t + 16 in
 * its high nibble, stored as q + 8). Two shaders, chosen by m:
 *
 * - Decode (m < TILED_MIN_ROWS): a dequantizing GEMV, one invocation per output: it unpacks
 *   the row's words in registers, sums x * q per group in f32 and adds scale * (group sum)
 *   to the total (the wasm GEMV's per-group form). Each weight byte is read once per row of
 *   x, which for one row is the least any kernel can read.
 * - Prompt (many rows): tiled like the f32 matmul. A workgroup of 16 x 16 invocations owns
 *   a 64 x 64 tile of out, each invocation a 4 x 4 block of accumulators. K is walked 16
 *   values at a time (inside one scale group, since groups are multiples of 32): the
 *   workgroup stages 64 rows x 16 of x and the 64 weight rows' 16 values dequantized
 *   (f32(q) * scale, the dequantized weight itself) in workgroup memory (8 KiB), one
 *   4-value word per invocation for each, so every weight value is unpacked once per 64
 *   rows of x instead of once per row; the inner loop then does 16 multiply-adds per 2
 *   vec4 reads. Rows past m and columns past n stage zeros and are not stored.
 */

import { UnsupportedError, type QMatmulParams } from '@tessera/core';
import { grid2d, type GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { TILE_FMA } from './matmul.js';
import { ENTRY_ARGS, GLOBAL_ID } from '../wgsl/math.js';

const WG = 64;

/** Rows of x from which the tiled shader runs (below it the GEMV's per-output walk reads less). */
export const TILED_MIN_ROWS = 8;
const TILE = 64;

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

/**
 * The tiled shader's staging of the weight: invocation t dequantizes values k0 + kq .. + 3
 * (kq = 4 (t % 4)) of weight row col0 + t / 4, one 32-bit word of q, into Bs[(kq + c) * 16 +
 * (t / 4) / 4][(t / 4) % 4] (k-major vec4s of 4 columns).
 */
const STAGE_W: Record<8 | 4, string> = {
  8: `let w = q_i(i32(P.q_o) + (j * K + k0 + kq) / 4);
      for (var c = 0; c < 4; c++) { wv[c] = f32((w << u32(24 - 8 * c)) >> 24u); }`,
  4: `let l = k0 + kq;
      let t = l & 31;
      let w = q_u(i32(P.q_o) + (j * K / 2 + 16 * (l >> 5) + (t & 15)) / 4);
      let sh = select(0u, 4u, t >= 16);
      for (var c = 0; c < 4; c++) { wv[c] = f32(i32((w >> (8u * u32(c) + sh)) & 15u) - 8); }`,
};

function tiledShader(decls: string, bits: 8 | 4): string {
  return `${decls}
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = i32(P.m);
  let N = i32(P.n);
  let K = i32(P.k);
  let groups = K / i32(P.gs);
  let row0 = i32(wid.y) * ${TILE};
  let col0 = i32(wid.x) * ${TILE};
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let tid = ty * 16 + tx;
  let r = tid / 4;
  let kq = (tid % 4) * 4;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0; k0 < K; k0 = k0 + 16) {
    {
      // x rows row0 + r, values k0 + kq .. + 3 (K is a multiple of 32: no k edge).
      let i = row0 + r;
      var xv = vec4<f32>(0.0);
      if (i < M) {
        let at = i32(P.x_o) + i * K + k0 + kq;
        xv = vec4<f32>(x_f(at), x_f(at + 1), x_f(at + 2), x_f(at + 3));
      }
      for (var c = 0; c < 4; c++) { As[(kq + c) * 16 + r / 4][r % 4] = xv[c]; }
    }
    {
      let j = col0 + r;
      var wv = vec4<f32>(0.0);
      if (j < N) {
        ${STAGE_W[bits]}
        wv = wv * s_f(i32(P.s_o) + j * groups + k0 / i32(P.gs));
      }
      for (var c = 0; c < 4; c++) { Bs[(kq + c) * 16 + r / 4][r % 4] = wv[c]; }
    }
    workgroupBarrier();
    ${TILE_FMA}
    workgroupBarrier();
  }
  let gc = col0 + tx * 4;
  ${[0, 1, 2, 3]
    .map(
      (i) => `{
    let gr = row0 + ty * 4 + ${i};
    if (gr < M) {
      for (var q = 0; q < 4; q++) { if (gc + q < N) { out_sf(i32(P.out_o) + gr * N + gc + q, acc${i}[q]); } }
    }
  }`,
    )
    .join('\n  ')}
}`;
}

export function qmatmul(ctx: GpuContext, p: QMatmulParams): void {
  const { m, n, k } = p;
  if (p.activations === 'int8') {
    // WGSL's f32 division is not correctly rounded (2.5 ulp), so the activations' integers
    // could differ from quant.ts quantizeActivations' at ties; f32 activations only.
    throw new UnsupportedError(`qmatmul: activations 'int8' is not implemented on WebGPU (f32 activations are; [${m}, ${k}] x int${p.bits} [${n}, ${k}])`);
  }
  if (m === 0 || n === 0) return;
  // The tiled grid is 64 rows a workgroup along y (at most 65535 workgroups).
  const tiled = m >= TILED_MIN_ROWS && k > 0 && Math.ceil(m / TILE) <= 65535;
  ctx.dispatch({
    key: `qmatmul.${tiled ? 'tiled' : 'gemv'}.int${p.bits}`,
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
    groups: tiled ? [Math.ceil(n / TILE), Math.ceil(m / TILE), 1] : grid2d(Math.ceil((m * n) / WG)),
    wgsl: (decls) => tiled ? tiledShader(decls, p.bits) : `${decls}
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
