// Kernel family: select. indexSelect / indexAdd (whole rows of `inner` floats, SIMD),
// gather / scatterAdd (per-element indices, scalar: wasm has no gather), and softmax
// cross-entropy forward / backward with an ignore index. Indices were range-checked by
// the host before the call, so these kernels trust them.

import { expF64, log1pF64, logF64 } from './vmath';
import { rowAdd, rowExpShift, rowMax, rowScale } from './rowops';

/** out[o, c, :] = x[o, idx[c], :]. x: [outer, axisLen, inner], idx: [count], out: [outer, count, inner]. */
export function sel_index_select(px: usize, pidx: usize, po: usize, outer: i32, axisLen: i32, inner: i32, count: i32): void {
  const rowBytes = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const xo = px + <usize>o * <usize>axisLen * rowBytes;
    const oo = po + <usize>o * <usize>count * rowBytes;
    for (let c = 0; c < count; c++) {
      const i = load<i32>(pidx + (<usize>c << 2));
      memory.copy(oo + <usize>c * rowBytes, xo + <usize>i * rowBytes, rowBytes);
    }
  }
}

/** dx[o, idx[c], :] += dOut[o, c, :], in order of c (repeated indices accumulate). */
export function sel_index_add(pd: usize, pidx: usize, pdx: usize, outer: i32, axisLen: i32, inner: i32, count: i32): void {
  const rowBytes = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const dxo = pdx + <usize>o * <usize>axisLen * rowBytes;
    const dd = pd + <usize>o * <usize>count * rowBytes;
    for (let c = 0; c < count; c++) {
      const i = load<i32>(pidx + (<usize>c << 2));
      rowAdd(dxo + <usize>i * rowBytes, dd + <usize>c * rowBytes, inner);
    }
  }
}

/** out[o, c, i] = x[o, idx[o, c, i], i] (torch.gather along the middle axis). */
export function sel_gather(px: usize, pidx: usize, po: usize, outer: i32, axisLen: i32, inner: i32, count: i32): void {
  const rowBytes = <usize>inner << 2;
  let j: usize = 0;
  for (let o = 0; o < outer; o++) {
    const xo = px + <usize>o * <usize>axisLen * rowBytes;
    for (let c = 0; c < count; c++) {
      for (let i = 0; i < inner; i++) {
        const a = load<i32>(pidx + j);
        store<f32>(po + j, load<f32>(xo + <usize>a * rowBytes + (<usize>i << 2)));
        j += 4;
      }
    }
  }
}

/** dx[o, idx[o, c, i], i] += dOut[o, c, i], in element order. */
export function sel_scatter_add(pd: usize, pidx: usize, pdx: usize, outer: i32, axisLen: i32, inner: i32, count: i32): void {
  const rowBytes = <usize>inner << 2;
  let j: usize = 0;
  for (let o = 0; o < outer; o++) {
    const dxo = pdx + <usize>o * <usize>axisLen * rowBytes;
    for (let c = 0; c < count; c++) {
      for (let i = 0; i < inner; i++) {
        const q = dxo + <usize>load<i32>(pidx + j) * rowBytes + (<usize>i << 2);
        store<f32>(q, load<f32>(q) + load<f32>(pd + j));
        j += 4;
      }
    }
  }
}

/**
 * Softmax pieces of a row around its target t: the row max, e_t = exp(x_t - max) in float64
 * and the sum of exp(x_c - max) over c != t (float64 sum of f32 terms, stored at dst + 4c
 * unless dst is 0). Keeping the target out of the sum lets -log p_t and p_t - 1 stay
 * accurate when p_t -> 1 (a confident prediction), where lse - x_t would cancel.
 */
@inline function splitRow(row: usize, cols: i32, t: i32, dst: usize, out: usize): void {
  const mx = rowMax(row, cols);
  store<f32>(out, mx);
  if (mx - mx != 0) return;
  const tail = <usize>(t + 1) << 2;
  const others = rowExpShift(row, t, mx, dst) + rowExpShift(row + tail, cols - t - 1, mx, dst == 0 ? 0 : dst + tail);
  store<f64>(out + 8, expF64(<f64>load<f32>(row + (<usize>t << 2)) - <f64>mx));
  store<f64>(out + 16, others);
}

/**
 * losses[r] = logsumexp(logits[r]) - logits[r, t_r] = log(1 + others / e_t), or 0 where
 * t_r == ignore. A non-finite row max gives max - x_t, as the reference.
 * parts: 24 bytes of scratch.
 */
export function sel_cross_entropy(pl: usize, pt: usize, ploss: usize, rows: i32, cols: i32, ignore: i32, parts: usize): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(pt + (<usize>r << 2));
    const row = pl + <usize>r * rowBytes;
    let loss: f64 = 0.0;
    if (t != ignore) {
      splitRow(row, cols, t, 0, parts);
      const mx = <f64>load<f32>(parts);
      const d = mx - <f64>load<f32>(row + (<usize>t << 2));
      if (mx - mx != 0) loss = d;
      else {
        const et = load<f64>(parts, 8);
        const others = load<f64>(parts, 16);
        // Far below the max, e_t may underflow: d + log(sum) has no cancellation there.
        loss = d > 1.0 ? d + logF64(et + others) : log1pF64(others / et);
      }
    }
    store<f32>(ploss + (<usize>r << 2), <f32>loss);
  }
}

/**
 * dLogits[r] = (softmax(logits[r]) - onehot(t_r)) * dLosses[r]; zero rows where t_r == ignore.
 * p_c = e_c / sum for c != t and p_t - 1 = -others / sum. A non-finite row max gives
 * exp(x - max) (the reference's exp(x - lse) with lse = max).
 */
export function sel_cross_entropy_backward(pl: usize, pt: usize, pdl: usize, pdx: usize, rows: i32, cols: i32, ignore: i32, parts: usize): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const t = load<i32>(pt + (<usize>r << 2));
    const row = pl + <usize>r * rowBytes;
    const dx = pdx + <usize>r * rowBytes;
    if (t == ignore) {
      memory.fill(dx, 0, rowBytes);
      continue;
    }
    const g = <f64>load<f32>(pdl + (<usize>r << 2));
    splitRow(row, cols, t, dx, parts);
    const mx = load<f32>(parts);
    const q = dx + (<usize>t << 2);
    if (mx - mx != 0) {
      rowExpShift(row, cols, mx, dx);
      rowScale(dx, cols, <f32>g);
      store<f32>(q, <f32>((expF64(<f64>load<f32>(row + (<usize>t << 2)) - <f64>mx) - 1.0) * g));
      continue;
    }
    const s = load<f64>(parts, 8) + load<f64>(parts, 16);
    rowScale(dx, cols, <f32>(g / s));
    store<f32>(q, <f32>(-load<f64>(parts, 16) / s * g));
  }
}
