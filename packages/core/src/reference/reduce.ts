import type { ReduceParams, SoftmaxBackwardParams, SoftmaxParams } from '../backend.js';
import type { Views } from './views.js';

/** Reduction over the middle axis of [outer, axisLen, inner], float64 accumulation. NaN propagates through max/min. */
export function reduce(v: Views, p: ReduceParams): void {
  const X = v.f32(p.x.storage);
  const isArg = p.op === 'argmax' || p.op === 'argmin';
  const O = isArg ? v.i32(p.out.storage) : v.f32(p.out.storage);
  const { outer, axisLen, inner } = p;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = p.x.offset + o * axisLen * inner + i;
      let acc: number;
      if (p.op === 'sum' || p.op === 'mean') {
        acc = 0;
        for (let a = 0; a < axisLen; a++) acc += X[base + a * inner];
        if (p.op === 'mean') acc = axisLen === 0 ? NaN : acc / axisLen;
      } else {
        // max/min keep the first NaN; argmax/argmin return the first extreme (a NaN counts as the extreme).
        let best = X[base];
        let bestIdx = 0;
        for (let a = 1; a < axisLen; a++) {
          const x = X[base + a * inner];
          if (Number.isNaN(best)) break;
          const better = Number.isNaN(x) || (p.op === 'max' || p.op === 'argmax' ? x > best : x < best);
          if (better) {
            best = x;
            bestIdx = a;
          }
        }
        acc = isArg ? bestIdx : best;
      }
      O[p.out.offset + o * inner + i] = acc;
    }
  }
}

export function softmax(v: Views, p: SoftmaxParams): void {
  const X = v.f32(p.x.storage);
  const O = v.f32(p.out.storage);
  for (let r = 0; r < p.rows; r++) {
    const xo = p.x.offset + r * p.cols;
    const oo = p.out.offset + r * p.cols;
    let mx = -Infinity;
    for (let c = 0; c < p.cols; c++) mx = Math.max(mx, X[xo + c]);
    // A row of all -inf has no finite max; shift by 0 so it yields NaN honestly rather than inf-inf.
    if (!Number.isFinite(mx)) mx = Number.isNaN(mx) ? NaN : 0;
    let s = 0;
    for (let c = 0; c < p.cols; c++) s += Math.exp(X[xo + c] - mx);
    if (p.log) {
      const lse = Math.log(s);
      for (let c = 0; c < p.cols; c++) O[oo + c] = X[xo + c] - mx - lse;
    } else {
      for (let c = 0; c < p.cols; c++) O[oo + c] = Math.exp(X[xo + c] - mx) / s;
    }
  }
}

export function softmaxBackward(v: Views, p: SoftmaxBackwardParams): void {
  const Y = v.f32(p.y.storage);
  const DY = v.f32(p.dy.storage);
  const DX = v.f32(p.dx.storage);
  for (let r = 0; r < p.rows; r++) {
    const yo = p.y.offset + r * p.cols;
    const go = p.dy.offset + r * p.cols;
    const xo = p.dx.offset + r * p.cols;
    let s = 0;
    if (p.log) {
      for (let c = 0; c < p.cols; c++) s += DY[go + c];
      for (let c = 0; c < p.cols; c++) DX[xo + c] = DY[go + c] - Math.exp(Y[yo + c]) * s;
    } else {
      for (let c = 0; c < p.cols; c++) s += DY[go + c] * Y[yo + c];
      for (let c = 0; c < p.cols; c++) DX[xo + c] = Y[yo + c] * (DY[go + c] - s);
    }
  }
}
