/**
 * Batched matmul: out[b] = alpha * op(A[b]) @ op(B[b]) (+ out[b]).
 *
 * Tiling: a workgroup of 16 x 16 invocations computes a 64 x 64 tile of out;
 * each invocation owns a 4 x 4 register block (four vec4 accumulators). K is
 * walked in steps of 16: the workgroup stages a 64 x 16 slice of A and a
 * 16 x 64 slice of B in workgroup memory (8 KiB, both k-major as vec4 rows),
 * each invocation loading one vec4 of each; the inner loop then reads one
 * vec4 of A and one of B per k and issues 16 multiply-adds. Transposed
 * operands only change how a slice is loaded (a vec4 along m/n is stored
 * directly; a vec4 along k is scattered over four k rows).
 *
 * Global loads/stores use vec4 bindings when every operand's rows are 16-byte
 * aligned (offsets, batch strides and leading dimensions multiples of 4, as in
 * model shapes), else four scalar loads; edge tiles fall back to
 * bounds-checked scalar accesses. `accumulate` is a uniform branch, not a
 * separate shader, to keep the number of pipelines (and compile time on
 * software adapters) down.
 * Batches beyond 65535 are split over several dispatches. Products with one row of A (m = 1,
 * decoding with a KV cache) take the GEMV shaders below instead of 64 x 64 tiles.
 */

import type { MatmulParams } from '@tessera/core';
import type { GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';

/**
 * The inner step of the 64 x 64 tiled products (f32 matmul and the quantized prompt kernel): each
 * invocation's 4 x 4 accumulators take one 16-deep slab of the staged A (As) and B (Bs) tiles.
 */
export const TILE_FMA = `for (var kk = 0; kk < 16; kk++) {
      let a = As[kk * 16 + ty];
      let b = Bs[kk * 16 + tx];
      acc0 = acc0 + a.x * b;
      acc1 = acc1 + a.y * b;
      acc2 = acc2 + a.z * b;
      acc3 = acc3 + a.w * b;
    }`;

/** A matmul on raw buffers (also used by attention with alpha = scale). */
export interface MatmulJob {
  a: { buffer: GPUBuffer; offset: number };
  b: { buffer: GPUBuffer; offset: number };
  out: { buffer: GPUBuffer; offset: number };
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  batch: number;
  strideA: number;
  strideB: number;
  accumulate: boolean;
  alpha: number;
}

const TILE = 64;
const MAX_Z = 65535;

function loadAlongK(dst: 'As' | 'Bs', src: 'a' | 'b', base: string, outer: string, outerLen: string): string {
  // A (not transposed) / B (transposed): rows of the tile's m/n index, contiguous along k.
  return `{
    let r = tid / 4;
    let kq = (tid % 4) * 4;
    let gr = ${outer} + r;
    let gk = k0 + kq;
    var v = vec4<f32>(0.0);
    if (gr < ${outerLen}) {
      let at = ${base} + gr * K + gk;
      if (gk + 3 < K) {
        v = ${src}_v4(at);
      } else {
        for (var q = 0; q < 4; q++) { if (gk + q < K) { v[q] = ${src}_f(at + q); } }
      }
    }
    let r4 = r / 4;
    let rc = r % 4;
    ${dst}[(kq + 0) * 16 + r4][rc] = v.x;
    ${dst}[(kq + 1) * 16 + r4][rc] = v.y;
    ${dst}[(kq + 2) * 16 + r4][rc] = v.z;
    ${dst}[(kq + 3) * 16 + r4][rc] = v.w;
  }`;
}

function loadAcrossK(dst: 'As' | 'Bs', src: 'a' | 'b', base: string, outer: string, outerLen: string): string {
  // A (transposed) / B (not transposed): k rows, contiguous along the tile's m/n index.
  return `{
    let kk = tid / 16;
    let cc = (tid % 16) * 4;
    let gk = k0 + kk;
    let gc = ${outer} + cc;
    var v = vec4<f32>(0.0);
    if (gk < K) {
      let at = ${base} + gk * ${outerLen} + gc;
      if (gc + 3 < ${outerLen}) {
        v = ${src}_v4(at);
      } else {
        for (var q = 0; q < 4; q++) { if (gc + q < ${outerLen}) { v[q] = ${src}_f(at + q); } }
      }
    }
    ${dst}[kk * 16 + cc / 4] = v;
  }`;
}

function shader(decls: string, transA: boolean, transB: boolean): string {
  const loadA = transA ? loadAcrossK('As', 'a', 'aBase', 'row0', 'M') : loadAlongK('As', 'a', 'aBase', 'row0', 'M');
  const loadB = transB ? loadAlongK('Bs', 'b', 'bBase', 'col0', 'N') : loadAcrossK('Bs', 'b', 'bBase', 'col0', 'N');
  const store = [0, 1, 2, 3]
    .map(
      (i) => `{
    let gr = row0 + ty * 4 + ${i};
    if (gr < M) {
      let v = acc${i} * P.alpha;
      let at = cBase + gr * N + gc;
      if (gc + 3 < N) {
        out_sv4(at, select(v, v + out_v4(at), acc));
      } else {
        for (var q = 0; q < 4; q++) { if (gc + q < N) { out_sf(at + q, select(v[q], v[q] + out_f(at + q), acc)); } }
      }
    }
  }`,
    )
    .join('\n  ');
  return `${decls}
var<workgroup> As: array<vec4<f32>, 256>;
var<workgroup> Bs: array<vec4<f32>, 256>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bi = wid.z + P.b0;
  let M = i32(P.m);
  let N = i32(P.n);
  let K = i32(P.k);
  let aBase = i32(P.a_o + bi * P.sa);
  let bBase = i32(P.b_o + bi * P.sb);
  let cBase = i32(P.out_o + bi * P.m * P.n);
  let row0 = i32(wid.y) * ${TILE};
  let col0 = i32(wid.x) * ${TILE};
  let tx = i32(lid.x);
  let ty = i32(lid.y);
  let tid = ty * 16 + tx;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0; k0 < K; k0 = k0 + 16) {
    ${loadA}
    ${loadB}
    workgroupBarrier();
    ${TILE_FMA}
    workgroupBarrier();
  }
  let gc = col0 + tx * 4;
  let acc = P.acc != 0u;
  ${store}
}`;
}

/** x values staged in workgroup memory per pass of the GEMV shaders. */
const GEMV_CHUNK = 256;

/**
 * GEMV (m = 1: one token at decode time): out[j] = alpha * sum_l x[l] op(B)[l, j]. x (A's
 * single row, contiguous whether or not A is transposed) is staged in workgroup memory
 * GEMV_CHUNK values at a time. B untransposed: each of the 64 invocations owns 4
 * consecutive outputs and walks B's rows (neighbouring invocations read neighbouring
 * vec4s). B transposed: each invocation owns one output and walks that row of B.
 */
function gemvShader(decls: string, transB: boolean, vec4: boolean): string {
  const body = transB
    ? `let j = i32(wid.x) * 64 + i32(lid.x);
  var acc = 0.0;
  for (var k0 = 0; k0 < K; k0 = k0 + ${GEMV_CHUNK}) {
    stage(aBase, k0, K, i32(lid.x));
    workgroupBarrier();
    let kn = min(${GEMV_CHUNK}, K - k0);
    if (j < N) {
      let row = bBase + j * K + k0;
      var kk = 0;
      ${vec4 ? `for (; kk + 3 < kn; kk = kk + 4) {
        acc = acc + dot(vec4<f32>(xs[kk], xs[kk + 1], xs[kk + 2], xs[kk + 3]), b_v4(row + kk));
      }` : ''}
      for (; kk < kn; kk++) { acc = acc + xs[kk] * b_f(row + kk); }
    }
    workgroupBarrier();
  }
  if (j < N) {
    let v = acc * P.alpha;
    let at = cBase + j;
    out_sf(at, select(v, v + out_f(at), P.acc != 0u));
  }`
    : `let j = (i32(wid.x) * 64 + i32(lid.x)) * 4;
  var acc = vec4<f32>(0.0);
  for (var k0 = 0; k0 < K; k0 = k0 + ${GEMV_CHUNK}) {
    stage(aBase, k0, K, i32(lid.x));
    workgroupBarrier();
    let kn = min(${GEMV_CHUNK}, K - k0);
    if (j < N) {
      for (var kk = 0; kk < kn; kk++) {
        let at = bBase + (k0 + kk) * N + j;
        var bv = vec4<f32>(0.0);
        if (j + 3 < N) {
          bv = b_v4(at);
        } else {
          for (var q = 0; q < 4; q++) { if (j + q < N) { bv[q] = b_f(at + q); } }
        }
        acc = acc + xs[kk] * bv;
      }
    }
    workgroupBarrier();
  }
  if (j < N) {
    let v = acc * P.alpha;
    let at = cBase + j;
    let add = P.acc != 0u;
    if (j + 3 < N) {
      out_sv4(at, select(v, v + out_v4(at), add));
    } else {
      for (var q = 0; q < 4; q++) { if (j + q < N) { out_sf(at + q, select(v[q], v[q] + out_f(at + q), add)); } }
    }
  }`;
  return `${decls}
var<workgroup> xs: array<f32, ${GEMV_CHUNK}>;
fn stage(aBase: i32, k0: i32, K: i32, t: i32) {
  for (var q = 0; q < ${GEMV_CHUNK / 64}; q++) {
    let kk = t * ${GEMV_CHUNK / 64} + q;
    var v = 0.0;
    if (k0 + kk < K) { v = a_f(aBase + k0 + kk); }
    xs[kk] = v;
  }
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let bi = wid.z + P.b0;
  let N = i32(P.n);
  let K = i32(P.k);
  let aBase = i32(P.a_o + bi * P.sa);
  let bBase = i32(P.b_o + bi * P.sb);
  let cBase = i32(P.out_o + bi * P.n);
  ${body}
}`;
}

/** Encodes a matmul job (no validation; callers validated the public params). */
export function encodeMatmul(ctx: GpuContext, j: MatmulJob): void {
  const { m, n, k, batch } = j;
  if (m === 0 || n === 0 || batch === 0) return;
  const gx = Math.ceil(n / TILE);
  const gy = Math.ceil(m / TILE);
  // vec4 bindings need every row start 16-byte aligned: offset, batch stride and leading dimension % 4 == 0.
  const lda = j.transA ? m : k;
  const ldb = j.transB ? k : n;
  // One flag for all three keeps the variants per transpose pair at two (aligned model shapes, anything else).
  const vec4 =
    j.a.offset % 4 === 0 && j.strideA % 4 === 0 && lda % 4 === 0 && j.b.offset % 4 === 0 && j.strideB % 4 === 0 && ldb % 4 === 0 && j.out.offset % 4 === 0 && n % 4 === 0;
  const gemv = m === 1 && k > 0;
  const key = gemv ? `matmul.gemv.${j.transB ? 't' : 'n'}` : `matmul.${j.transA ? 't' : 'n'}${j.transB ? 't' : 'n'}`;
  // GEMV: 64 invocations own 256 outputs (B untransposed) or 64 (transposed).
  const groups = gemv ? [Math.ceil(n / (j.transB ? 64 : 256)), 1] : [gx, gy];
  for (let b0 = 0; b0 < batch; b0 += MAX_Z) {
    ctx.dispatch({
      key,
      operands: [
        { name: 'a', buffer: j.a.buffer, vec4 },
        { name: 'b', buffer: j.b.buffer, vec4 },
        { name: 'out', buffer: j.out.buffer, write: true, vec4 },
      ],
      params: {
        m: ['u32', m],
        n: ['u32', n],
        k: ['u32', k],
        a_o: ['u32', j.a.offset],
        b_o: ['u32', j.b.offset],
        out_o: ['u32', j.out.offset],
        sa: ['u32', j.strideA],
        sb: ['u32', j.strideB],
        b0: ['u32', b0],
        alpha: ['f32', j.alpha],
        acc: ['u32', j.accumulate ? 1 : 0],
      },
      groups: [groups[0], groups[1], Math.min(MAX_Z, batch - b0)],
      wgsl: (decls) => (gemv ? gemvShader(decls, j.transB, vec4) : shader(decls, j.transA, j.transB)),
    });
  }
}

export function matmul(ctx: GpuContext, p: MatmulParams): void {
  encodeMatmul(ctx, {
    a: { buffer: bufferOf(p.a.storage), offset: p.a.offset },
    b: { buffer: bufferOf(p.b.storage), offset: p.b.offset },
    out: { buffer: bufferOf(p.out.storage), offset: p.out.offset },
    m: p.m,
    n: p.n,
    k: p.k,
    transA: p.transA ?? false,
    transB: p.transB ?? false,
    batch: p.batch ?? 1,
    strideA: p.strideA ?? p.m * p.k,
    strideB: p.strideB ?? p.k * p.n,
    accumulate: p.accumulate ?? false,
    alpha: 1,
  });
}
