import type { LayerNormBackwardParams, LayerNormParams } from '../backend.js';
import type { Views } from './views.js';

export function layerNorm(v: Views, p: LayerNormParams): void {
  const X = v.f32(p.x.storage);
  const G = v.f32(p.gamma.storage);
  const Bt = v.f32(p.beta.storage);
  const O = v.f32(p.out.storage);
  const M = v.f32(p.mean.storage);
  const R = v.f32(p.rstd.storage);
  const { rows, cols } = p;
  for (let r = 0; r < rows; r++) {
    const xo = p.x.offset + r * cols;
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += X[xo + c];
    mean /= cols;
    let varSum = 0;
    for (let c = 0; c < cols; c++) varSum += (X[xo + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(varSum / cols + p.eps);
    M[p.mean.offset + r] = mean;
    R[p.rstd.offset + r] = rstd;
    for (let c = 0; c < cols; c++) {
      O[p.out.offset + r * cols + c] = (X[xo + c] - mean) * rstd * G[p.gamma.offset + c] + Bt[p.beta.offset + c];
    }
  }
}

/** dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma; dgamma += sum(dy * xhat); dbeta += sum(dy). */
export function layerNormBackward(v: Views, p: LayerNormBackwardParams): void {
  const DY = v.f32(p.dy.storage);
  const X = v.f32(p.x.storage);
  const G = v.f32(p.gamma.storage);
  const M = v.f32(p.mean.storage);
  const R = v.f32(p.rstd.storage);
  const DX = v.f32(p.dx.storage);
  const DG = v.f32(p.dgamma.storage);
  const DB = v.f32(p.dbeta.storage);
  const { rows, cols } = p;
  const dg = new Float64Array(cols);
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const mean = M[p.mean.offset + r];
    const rstd = R[p.rstd.offset + r];
    let sumG = 0;
    let sumGX = 0;
    for (let c = 0; c < cols; c++) {
      const dy = DY[p.dy.offset + r * cols + c];
      const xhat = (X[p.x.offset + r * cols + c] - mean) * rstd;
      const g = dy * G[p.gamma.offset + c];
      sumG += g;
      sumGX += g * xhat;
      dg[c] += dy * xhat;
      db[c] += dy;
    }
    sumG /= cols;
    sumGX /= cols;
    for (let c = 0; c < cols; c++) {
      const xhat = (X[p.x.offset + r * cols + c] - mean) * rstd;
      const g = DY[p.dy.offset + r * cols + c] * G[p.gamma.offset + c];
      DX[p.dx.offset + r * cols + c] = rstd * (g - sumG - xhat * sumGX);
    }
  }
  for (let c = 0; c < cols; c++) {
    DG[p.dgamma.offset + c] += dg[c];
    DB[p.dbeta.offset + c] += db[c];
  }
}
