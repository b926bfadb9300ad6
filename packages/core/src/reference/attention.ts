import type { AttentionBackwardParams, AttentionParams } from '../backend.js';
import type { Views } from './views.js';

/**
 * probs = softmax(q k^T * scale, causal mask), out = probs v. q: [H, tq, d]; k/v: [H, tk, d]
 * with heads kvHeadStride elements apart (rows contiguous).
 */
export function attention(v: Views, p: AttentionParams): void {
  const Q = v.f32(p.q.storage);
  const K = v.f32(p.k.storage);
  const V = v.f32(p.v.storage);
  const O = v.f32(p.out.storage);
  const P = v.f32(p.probs.storage);
  const { heads, tq, tk, d } = p;
  const scale = p.scale ?? 1 / Math.sqrt(d);
  const kvStride = p.kvHeadStride ?? tk * d;
  const shift = tk - tq;
  const s = new Float64Array(tk);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < tq; i++) {
      const qo = p.q.offset + (h * tq + i) * d;
      const last = p.causal ? i + shift : tk - 1;
      let mx = -Infinity;
      for (let j = 0; j <= last; j++) {
        const ko = p.k.offset + h * kvStride + j * d;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += Q[qo + c] * K[ko + c];
        s[j] = dot * scale;
        mx = Math.max(mx, s[j]);
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) {
        s[j] = Math.exp(s[j] - mx);
        sum += s[j];
      }
      const po = p.probs.offset + (h * tq + i) * tk;
      for (let j = 0; j < tk; j++) P[po + j] = j <= last ? s[j] / sum : 0;
      const oo = p.out.offset + (h * tq + i) * d;
      for (let c = 0; c < d; c++) {
        let acc = 0;
        for (let j = 0; j <= last; j++) acc += (s[j] / sum) * V[p.v.offset + h * kvStride + j * d + c];
        O[oo + c] = acc;
      }
    }
  }
}

/**
 * dv = P^T dOut; dP = dOut v^T; dS = P * (dP - rowsum(dP * P)); dq = dS k * scale; dk = dS^T q * scale.
 * Masked positions have P = 0, so they contribute nothing.
 */
export function attentionBackward(v: Views, p: AttentionBackwardParams): void {
  const Q = v.f32(p.q.storage);
  const K = v.f32(p.k.storage);
  const V = v.f32(p.v.storage);
  const P = v.f32(p.probs.storage);
  const DO = v.f32(p.dOut.storage);
  const DQ = v.f32(p.dq.storage);
  const DK = v.f32(p.dk.storage);
  const DV = v.f32(p.dv.storage);
  const { heads, tq, tk, d } = p;
  const scale = p.scale ?? 1 / Math.sqrt(d);
  const dq = new Float64Array(tq * d);
  const dk = new Float64Array(tk * d);
  const dv = new Float64Array(tk * d);
  const ds = new Float64Array(tk);
  for (let h = 0; h < heads; h++) {
    dq.fill(0);
    dk.fill(0);
    dv.fill(0);
    for (let i = 0; i < tq; i++) {
      const po = p.probs.offset + (h * tq + i) * tk;
      const go = p.dOut.offset + (h * tq + i) * d;
      let rowDot = 0;
      for (let j = 0; j < tk; j++) {
        const pij = P[po + j];
        let dp = 0;
        for (let c = 0; c < d; c++) {
          dp += DO[go + c] * V[p.v.offset + (h * tk + j) * d + c];
          dv[j * d + c] += pij * DO[go + c];
        }
        ds[j] = dp;
        rowDot += dp * pij;
      }
      for (let j = 0; j < tk; j++) ds[j] = P[po + j] * (ds[j] - rowDot) * scale;
      for (let j = 0; j < tk; j++) {
        if (ds[j] === 0) continue;
        for (let c = 0; c < d; c++) {
          dq[i * d + c] += ds[j] * K[p.k.offset + (h * tk + j) * d + c];
          dk[j * d + c] += ds[j] * Q[p.q.offset + (h * tq + i) * d + c];
        }
      }
    }
    DQ.set(dq, p.dq.offset + h * tq * d);
    DK.set(dk, p.dk.offset + h * tk * d);
    DV.set(dv, p.dv.offset + h * tk * d);
  }
}
