// Kernel family: elementwise. Unary / binary ops, where, copy and cast over strided
// operands with broadcasting (stride 0), plus fill, random and GELU backward on dense
// buffers. All f32 lanes go through the same f32x4 code (a row's tail is loaded into a
// partial vector), so an element's result never depends on where it sits in the row.
//
// Strided kernels take a params block of i32 words written by the host
// (src/wasm/kernels/elementwise.ts), dims already collapsed:
//   shape[rank] | strides of operand 0..nops-1 [rank each] | counters[rank] = 0 | byte address of each operand
// The innermost dim is a "row" handled by a SIMD loop when its strides are 1 or 0 and by
// a 4-lane gather otherwise; advance() steps the outer dims like an odometer.
//
// The unary and binary ops' bodies live in elementwise-ops.ts, and their row dispatch in
// generated/op-rows.ts (generated from src/ops.ts, as the op codes are).

import {
  gather4, geluGrad4, loadPartial, storePartial,
  cos2piF64, cos2piF64x2, demote2, logF64, logF64x2Normal,
} from './vmath';
import { at } from './elementwise-ops';
import { binaryRow, unaryRow } from './generated/op-rows';

// ---- params block ----

@inline function dimAt(prm: usize, d: i32): i32 {
  return load<i32>(prm + (<usize>d << 2));
}

@inline function strideAt(prm: usize, rank: i32, k: i32, d: i32): i32 {
  return load<i32>(prm + (<usize>(rank * (1 + k) + d) << 2));
}

/** Address of the operand byte addresses (after shape, strides and counters). */
@inline function ptrsAt(prm: usize, rank: i32, nops: i32): usize {
  return prm + (<usize>(rank * (2 + nops)) << 2);
}

/** Number of rows: the product of every dim but the innermost. */
function outerRows(prm: usize, rank: i32): i32 {
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= dimAt(prm, d);
  return rows;
}

/** Moves every operand to the start of the next row (odometer over dims rank-2 .. 0). */
function advance(prm: usize, rank: i32, nops: i32): void {
  const cnt = prm + (<usize>(rank * (1 + nops)) << 2);
  const ptrs = cnt + (<usize>rank << 2);
  for (let d = rank - 2; d >= 0; d--) {
    const c = cnt + (<usize>d << 2);
    const i = load<i32>(c) + 1;
    const dim = dimAt(prm, d);
    const wrap = i >= dim;
    store<i32>(c, wrap ? 0 : i);
    for (let k = 0; k < nops; k++) {
      const st = strideAt(prm, rank, k, d);
      const pk = ptrs + (<usize>k << 2);
      store<i32>(pk, load<i32>(pk) + ((wrap ? -st * (dim - 1) : st) << 2));
    }
    if (!wrap) return;
  }
}

@inline function ptrOf(prm: usize, rank: i32, nops: i32, k: i32): usize {
  return load<usize>(ptrsAt(prm, rank, nops) + (<usize>k << 2));
}

// ---- unary ----

/** out = op(x); operands: x (strided), out (dense). `alpha` is pow's exponent. */
export function ew_unary(op: i32, prm: usize, rank: i32, alpha: f64): void {
  const n = dimAt(prm, rank - 1);
  const sx = strideAt(prm, rank, 0, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    unaryRow(op, ptrOf(prm, rank, 2, 0), sx, ptrOf(prm, rank, 2, 1), n, alpha);
    advance(prm, rank, 2);
  }
}

/** Rank-1 form of ew_unary: out[i] = op(x[i * sx]) with no params block (the host's fast path). */
export function ew_unary_flat(op: i32, px: usize, sx: i32, po: usize, n: i32, alpha: f64): void {
  unaryRow(op, px, sx, po, n, alpha);
}

// ---- binary ----

/** out = a op b; operands: a, b (strided), out (dense). */
export function ew_binary(op: i32, prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sa = strideAt(prm, rank, 0, rank - 1);
  const sb = strideAt(prm, rank, 1, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    binaryRow(op, ptrOf(prm, rank, 3, 0), sa, ptrOf(prm, rank, 3, 1), sb, ptrOf(prm, rank, 3, 2), n);
    advance(prm, rank, 3);
  }
}

/** Rank-1 form of ew_binary: out[i] = a[i * sa] op b[i * sb] with no params block (the host's fast path). */
export function ew_binary_flat(op: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
  binaryRow(op, pa, sa, pb, sb, po, n);
}

// ---- where ----

/** Lanes of `v` loaded at stride s: one vector load when s == 1, a splat when 0, else a gather. */
@inline function load4(p: usize, s: i32): v128 {
  if (s == 1) return v128.load(p);
  if (s == 0) return v128.load32_splat(p);
  return gather4(p, s);
}

@inline function whereVec(condI32: bool, c: v128, a: v128, b: v128): v128 {
  // f32: c != 0 is true for NaN and false for -0, as `C[i] !== 0` in the reference.
  const mask = condI32 ? i32x4.ne(c, i32x4.splat(0)) : f32x4.ne(c, f32x4.splat(0.0));
  return v128.bitselect(a, b, mask);
}

@inline function whereRowT(condI32: bool, pc: usize, sc: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
  let i = 0;
  if (sc == 1 && sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(po + o, whereVec(condI32, v128.load(pc + o), v128.load(pa + o), v128.load(pb + o)));
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      v128.store(po + (<usize>i << 2), whereVec(condI32, load4(at(pc, i, sc), sc), load4(at(pa, i, sa), sa), load4(at(pb, i, sb), sb)));
    }
  }
  if (i < n) {
    const rem = n - i;
    const r = whereVec(condI32, loadPartial(at(pc, i, sc), sc, rem), loadPartial(at(pa, i, sa), sa, rem), loadPartial(at(pb, i, sb), sb, rem));
    storePartial(po + (<usize>i << 2), r, rem);
  }
}

/** out = cond != 0 ? a : b; operands: cond (f32, or i32 when condI32), a, b (strided), out (dense). */
export function ew_where(condI32: i32, prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sc = strideAt(prm, rank, 0, rank - 1);
  const sa = strideAt(prm, rank, 1, rank - 1);
  const sb = strideAt(prm, rank, 2, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    const pc = ptrOf(prm, rank, 4, 0);
    const pa = ptrOf(prm, rank, 4, 1);
    const pb = ptrOf(prm, rank, 4, 2);
    const po = ptrOf(prm, rank, 4, 3);
    if (condI32) whereRowT(true, pc, sc, pa, sa, pb, sb, po, n);
    else whereRowT(false, pc, sc, pa, sa, pb, sb, po, n);
    advance(prm, rank, 4);
  }
}

// ---- copy / cast ----

/**
 * Copies 4-byte elements bit for bit; operands: x, out (both strided). Rows are copied
 * in row-major order (the host routes overlapping x/out through a scratch buffer).
 */
export function ew_copy(prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sx = strideAt(prm, rank, 0, rank - 1);
  const so = strideAt(prm, rank, 1, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    const px = ptrOf(prm, rank, 2, 0);
    const po = ptrOf(prm, rank, 2, 1);
    if (so == 1 && sx == 1) {
      memory.copy(po, px, <usize>n << 2);
    } else if (so == 1) {
      let i = 0;
      for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), load4(at(px, i, sx), sx));
      if (i < n) storePartial(po + (<usize>i << 2), loadPartial(at(px, i, sx), sx, n - i), n - i);
    } else {
      const sxb = <usize>(sx << 2);
      const sob = <usize>(so << 2);
      let a = px;
      let b = po;
      for (let i = 0; i < n; i++) {
        store<i32>(b, load<i32>(a));
        a += sxb;
        b += sob;
      }
    }
    advance(prm, rank, 2);
  }
}

const CAST_SAME = 0;
const CAST_F32_I32 = 1;
const CAST_I32_F32 = 2;

@inline function castVec(mode: i32, v: v128): v128 {
  // f32 -> i32 truncates toward zero, saturates and maps NaN to 0; i32 -> f32 rounds to nearest.
  if (mode == CAST_F32_I32) return i32x4.trunc_sat_f32x4_s(v);
  if (mode == CAST_I32_F32) return f32x4.convert_i32x4_s(v);
  return v;
}

@inline function castRowT(mode: i32, px: usize, sx: i32, po: usize, n: i32): void {
  let i = 0;
  if (sx == 1) {
    for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), castVec(mode, v128.load(px + (<usize>i << 2))));
  } else {
    for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), castVec(mode, load4(at(px, i, sx), sx)));
  }
  if (i < n) storePartial(po + (<usize>i << 2), castVec(mode, loadPartial(at(px, i, sx), sx, n - i)), n - i);
}

/** Converts dtypes; operands: x (strided), out (dense). mode: 0 same dtype, 1 f32 -> i32, 2 i32 -> f32. */
export function ew_cast(mode: i32, prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sx = strideAt(prm, rank, 0, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    const px = ptrOf(prm, rank, 2, 0);
    const po = ptrOf(prm, rank, 2, 1);
    if (mode == CAST_F32_I32) castRowT(CAST_F32_I32, px, sx, po, n);
    else if (mode == CAST_I32_F32) castRowT(CAST_I32_F32, px, sx, po, n);
    else castRowT(CAST_SAME, px, sx, po, n);
    advance(prm, rank, 2);
  }
}

// ---- dense kernels ----

/** Writes the 32-bit pattern `bits` to n elements at po. */
export function ew_fill(po: usize, n: i32, bits: i32): void {
  const v = i32x4.splat(bits);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), v);
  if (i < n) storePartial(po + (<usize>i << 2), v, n - i);
}

// hash32 of src/random.ts: murmur3's finaliser over seed ^ x * golden ratio.
@inline function hash4(seed: v128, x: v128): v128 {
  let h = v128.xor(seed, i32x4.mul(x, i32x4.splat(<i32>0x9e3779b1)));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(<i32>0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(<i32>0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

@inline function hash1(seed: u32, x: u32): u32 {
  let h = seed ^ (x * 0x9e3779b1);
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

@inline function uniform1(seed: u32, x: u32): f64 {
  return <f64>(hash1(seed, x) >>> 8) * (1.0 / 16777216.0);
}

/** out[i] = uniformAt(seed, counter + i) of src/random.ts, bit for bit (24 random bits per value). */
export function ew_random_uniform(po: usize, n: i32, seed: i32, counter: i32): void {
  const sv = i32x4.splat(seed);
  let c = i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3));
  const four = i32x4.splat(4);
  const scale = f32x4.splat(1.0 / 16777216.0);
  let i = 0;
  for (; i < n; i += 4) {
    const h = i32x4.shr_u(hash4(sv, c), 8);
    const u = f32x4.mul(f32x4.convert_i32x4_s(h), scale);
    if (i + 4 <= n) v128.store(po + (<usize>i << 2), u);
    else storePartial(po + (<usize>i << 2), u, n - i);
    c = i32x4.add(c, four);
  }
}

/**
 * out[i] = normalAt(seed, counter + i) of src/random.ts: Box-Muller in float64 on the
 * uniforms at 2c and 2c + 1 (table-free log and cos; within 1e-6 of the JS values).
 */
export function ew_random_normal(po: usize, n: i32, seed: i32, counter: i32): void {
  // Four values a step: their eight uniforms (counters 2c .. 2c + 7) in two hashes, then
  // Box-Muller on two f64x2 halves with the scalar code's operations (the same bits).
  const sv = i32x4.splat(seed);
  const lanes = i32x4(0, 1, 2, 3);
  const scale = f64x2.splat(1.0 / 16777216.0);
  const one = f64x2.splat(1.0);
  const minus2 = f64x2.splat(-2.0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const base = i32x4.splat((counter + i) << 1);
    const ha = i32x4.shr_u(hash4(sv, i32x4.add(base, lanes)), 8);
    const hb = i32x4.shr_u(hash4(sv, i32x4.add(base, i32x4.add(lanes, i32x4.splat(4)))), 8);
    // Even counters give u1, odd ones u2: values 0, 1 from ha and 2, 3 from hb.
    const e = i32x4.shuffle(ha, hb, 0, 2, 4, 6);
    const o = i32x4.shuffle(ha, hb, 1, 3, 5, 7);
    const u1lo = f64x2.sub(one, f64x2.mul(f64x2.convert_low_i32x4_u(e), scale));
    const u1hi = f64x2.sub(one, f64x2.mul(f64x2.convert_low_i32x4_u(i32x4.shuffle(e, e, 2, 3, 0, 1)), scale));
    const u2lo = f64x2.mul(f64x2.convert_low_i32x4_u(o), scale);
    const u2hi = f64x2.mul(f64x2.convert_low_i32x4_u(i32x4.shuffle(o, o, 2, 3, 0, 1)), scale);
    const zlo = f64x2.mul(f64x2.sqrt(f64x2.mul(minus2, logF64x2Normal(u1lo))), cos2piF64x2(u2lo));
    const zhi = f64x2.mul(f64x2.sqrt(f64x2.mul(minus2, logF64x2Normal(u1hi))), cos2piF64x2(u2hi));
    v128.store(po + (<usize>i << 2), demote2(zlo, zhi));
  }
  for (; i < n; i++) {
    const c = <u32>(counter + i);
    const u1 = 1.0 - uniform1(<u32>seed, c << 1);
    const u2 = uniform1(<u32>seed, (c << 1) + 1);
    store<f32>(po + (<usize>i << 2), <f32>(sqrt<f64>(-2.0 * logF64(u1)) * cos2piF64(u2)));
  }
}

/** dx = dy * gelu'(x) (tanh approximation) over n dense elements. */
export function ew_gelu_backward(px: usize, pdy: usize, pdx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(pdx + o, f32x4.mul(v128.load(pdy + o), geluGrad4(v128.load(px + o))));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const rem = n - i;
    storePartial(pdx + o, f32x4.mul(loadPartial(pdy + o, 1, rem), geluGrad4(loadPartial(px + o, 1, rem))), rem);
  }
}
