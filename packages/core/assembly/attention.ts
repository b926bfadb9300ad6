// Kernel family: attention. Scaled dot-product attention over `heads` independent
// problems, q: [heads, tq, d], k/v: [heads, tk, d], with the saved probabilities
// probs: [heads, tq, tk] doubling as the score buffer. Causal: query i sees keys
// j <= i + (tk - tq), so a KV cache of tk - tq earlier positions works.
// Dot products over d and the probs-weighted sums of rows are f32x4; softmax sums are f64.

import { madd4, loadPartial, storePartial } from './vmath';
import { rowAxpy, rowDot, rowExpShift, rowMax, rowScale } from './rowops';

/** out_i = sum_j p_j v_j over n rows of v (row stride d), four rows per pass over out_i. */
function weightedRows(out: usize, p: usize, v: usize, n: i32, d: i32): void {
  const rowBytes = <usize>d << 2;
  memory.fill(out, 0, rowBytes);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const pj = p + (<usize>j << 2);
    const v0 = v + <usize>j * rowBytes;
    const v1 = v0 + rowBytes;
    const v2 = v1 + rowBytes;
    const v3 = v2 + rowBytes;
    const p0 = f32x4.splat(load<f32>(pj));
    const p1 = f32x4.splat(load<f32>(pj, 4));
    const p2 = f32x4.splat(load<f32>(pj, 8));
    const p3 = f32x4.splat(load<f32>(pj, 12));
    let c = 0;
    for (; c + 4 <= d; c += 4) {
      const o = <usize>c << 2;
      let acc = v128.load(out + o);
      acc = madd4(p0, v128.load(v0 + o), acc);
      acc = madd4(p1, v128.load(v1 + o), acc);
      acc = madd4(p2, v128.load(v2 + o), acc);
      acc = madd4(p3, v128.load(v3 + o), acc);
      v128.store(out + o, acc);
    }
    if (c < d) {
      const o = <usize>c << 2;
      const rem = d - c;
      let acc = loadPartial(out + o, 1, rem);
      acc = madd4(p0, loadPartial(v0 + o, 1, rem), acc);
      acc = madd4(p1, loadPartial(v1 + o, 1, rem), acc);
      acc = madd4(p2, loadPartial(v2 + o, 1, rem), acc);
      acc = madd4(p3, loadPartial(v3 + o, 1, rem), acc);
      storePartial(out + o, acc, rem);
    }
  }
  for (; j < n; j++) rowAxpy(out, load<f32>(p + (<usize>j << 2)), v + <usize>j * rowBytes, d);
}

/** (sum of a's lanes, sum of b's, of c's, of d's). */
@inline function hsum4x4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * scores[j] = (q . k_j) * scale for j < n (rows of k at stride d): four keys per pass so
 * each chunk of q is loaded once; the last n % 4 keys use rowDot.
 */
function scoreRow(scores: usize, q: usize, k: usize, n: i32, d: i32, scale: f32): void {
  const rowBytes = <usize>d << 2;
  const sv = f32x4.splat(scale);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const k0 = k + <usize>j * rowBytes;
    const k1 = k0 + rowBytes;
    const k2 = k1 + rowBytes;
    const k3 = k2 + rowBytes;
    let a0 = f32x4.splat(0.0);
    let a1 = f32x4.splat(0.0);
    let a2 = f32x4.splat(0.0);
    let a3 = f32x4.splat(0.0);
    let c = 0;
    for (; c + 4 <= d; c += 4) {
      const o = <usize>c << 2;
      const qv = v128.load(q + o);
      a0 = madd4(qv, v128.load(k0 + o), a0);
      a1 = madd4(qv, v128.load(k1 + o), a1);
      a2 = madd4(qv, v128.load(k2 + o), a2);
      a3 = madd4(qv, v128.load(k3 + o), a3);
    }
    if (c < d) {
      const o = <usize>c << 2;
      const rem = d - c;
      const qv = loadPartial(q + o, 1, rem);
      a0 = madd4(qv, loadPartial(k0 + o, 1, rem), a0);
      a1 = madd4(qv, loadPartial(k1 + o, 1, rem), a1);
      a2 = madd4(qv, loadPartial(k2 + o, 1, rem), a2);
      a3 = madd4(qv, loadPartial(k3 + o, 1, rem), a3);
    }
    v128.store(scores + (<usize>j << 2), f32x4.mul(hsum4x4(a0, a1, a2, a3), sv));
  }
  for (; j < n; j++) store<f32>(scores + (<usize>j << 2), rowDot(q, k + <usize>j * rowBytes, d) * scale);
}

/**
 * probs = softmax(q k^T * scale, causal mask) (masked entries 0), out = probs v.
 * A query that sees no key (tk = 0) gets a zero output row.
 */
export function attn_forward(pq: usize, pk: usize, pv: usize, po: usize, pp: usize, heads: i32, tq: i32, tk: i32, d: i32, causal: i32, scale: f32): void {
  const rowBytes = <usize>d << 2;
  const probBytes = <usize>tk << 2;
  const shift = tk - tq;
  for (let h = 0; h < heads; h++) {
    const k = pk + <usize>h * <usize>tk * rowBytes;
    const v = pv + <usize>h * <usize>tk * rowBytes;
    for (let i = 0; i < tq; i++) {
      const row = <usize>(h * tq + i);
      const q = pq + row * rowBytes;
      const p = pp + row * probBytes;
      const out = po + row * rowBytes;
      const n = causal != 0 ? min(i + shift + 1, tk) : tk;
      scoreRow(p, q, k, n, d, scale);
      if (n < tk) memory.fill(p + (<usize>n << 2), 0, <usize>(tk - n) << 2);
      if (n == 0) {
        memory.fill(out, 0, rowBytes);
        continue;
      }
      const mx = rowMax(p, n);
      const s = rowExpShift(p, n, mx, p);
      rowScale(p, n, <f32>(1.0 / s));
      weightedRows(out, p, v, n, d);
    }
  }
}

/**
 * dv = P^T dOut; dP = dOut v^T; dS = P * (dP - rowsum(dP * P)) * scale; dq = dS k; dk = dS^T q.
 * dq, dk, dv are overwritten. Entries with P = 0 (masked) are skipped: they contribute
 * nothing for finite dOut. scratch: 4 * tk bytes for one row of dP.
 */
export function attn_backward(pq: usize, pk: usize, pv: usize, pp: usize, pdo: usize, pdq: usize, pdk: usize, pdv: usize, heads: i32, tq: i32, tk: i32, d: i32, scale: f32, scratch: usize): void {
  const rowBytes = <usize>d << 2;
  const probBytes = <usize>tk << 2;
  memory.fill(pdq, 0, <usize>heads * <usize>tq * rowBytes);
  memory.fill(pdk, 0, <usize>heads * <usize>tk * rowBytes);
  memory.fill(pdv, 0, <usize>heads * <usize>tk * rowBytes);
  for (let h = 0; h < heads; h++) {
    const kvOff = <usize>h * <usize>tk * rowBytes;
    const k = pk + kvOff;
    const v = pv + kvOff;
    const dk = pdk + kvOff;
    const dv = pdv + kvOff;
    for (let i = 0; i < tq; i++) {
      const row = <usize>(h * tq + i);
      const q = pq + row * rowBytes;
      const go = pdo + row * rowBytes;
      const dq = pdq + row * rowBytes;
      const p = pp + row * probBytes;
      let dpp: f64 = 0.0;
      for (let j = 0; j < tk; j++) {
        const pij = load<f32>(p + (<usize>j << 2));
        if (pij == 0) continue;
        const dp = rowDot(go, v + <usize>j * rowBytes, d);
        store<f32>(scratch + (<usize>j << 2), dp);
        dpp += <f64>dp * <f64>pij;
        rowAxpy(dv + <usize>j * rowBytes, pij, go, d);
      }
      const rd = <f32>dpp;
      for (let j = 0; j < tk; j++) {
        const pij = load<f32>(p + (<usize>j << 2));
        if (pij == 0) continue;
        const ds = pij * (load<f32>(scratch + (<usize>j << 2)) - rd) * scale;
        rowAxpy(dq, ds, k + <usize>j * rowBytes, d);
        rowAxpy(dk + <usize>j * rowBytes, ds, q, d);
      }
    }
  }
}
