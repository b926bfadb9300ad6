/**
 * GPT-2 gradients against central finite differences, in float64 (the
 * reference backend's float64 mode), on a sample of elements from every
 * parameter: eps 1e-6, |analytic - numeric| <= 1e-8 + 1e-5 * |numeric|.
 * The looser-than-per-op rtol covers the error of a difference quotient
 * through ~40 composed ops.
 */
import { ReferenceBackend } from '@tessera/core';
import { noGrad, setBackend, tensor, type Tensor } from '@tessera/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, GPT2ForSequenceClassification } from '../src/index.js';
import { randomIds, rng } from './helpers.js';

let be: ReferenceBackend;
beforeAll(async () => {
  be = new ReferenceBackend({ float64: true });
  await setBackend(be);
});
afterAll(async () => {
  await setBackend('wasm');
});

const TINY = { vocab_size: 11, n_positions: 8, n_embd: 8, n_layer: 2, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };

function read(t: Tensor): Float64Array {
  const d = t.dense();
  return be.readF64(d.storage, d.offset, t.size);
}

/** Checks d(loss)/d(param) for `perParam` random elements of every parameter of `model`. */
function checkGradients(model: GPT2 | GPT2ForSequenceClassification, loss: () => Tensor, perParam: number, seed: number): number {
  const l = loss();
  l.backward();
  l.dispose();
  const r = rng(seed);
  const eps = 1e-6;
  let checked = 0;
  let nonTrivial = 0;
  for (const [name, p] of model.namedParameters()) {
    const analytic = read(p.grad!);
    const d = p.dense();
    for (let s = 0; s < Math.min(perParam, p.size); s++) {
      const j = Math.floor(r() * p.size);
      const orig = be.readF64(d.storage, d.offset + j, 1)[0];
      const at = (v: number) => {
        be.write(d.storage, Float64Array.of(v), d.offset + j);
        return noGrad(() => {
          const t = loss();
          const x = read(t)[0];
          t.dispose();
          return x;
        });
      };
      const numeric = (at(orig + eps) - at(orig - eps)) / (2 * eps);
      be.write(d.storage, Float64Array.of(orig), d.offset + j);
      const tol = 1e-8 + 1e-5 * Math.abs(numeric);
      expect(Math.abs(analytic[j] - numeric), `${name}[${j}]: analytic ${analytic[j]}, numeric ${numeric}`).toBeLessThanOrEqual(tol);
      checked++;
      if (Math.abs(numeric) > 1e-4) nonTrivial++;
    }
  }
  // Most sampled gradients must be far from zero, or the check would prove little.
  expect(nonTrivial).toBeGreaterThan(checked / 2);
  return checked;
}

describe('GPT-2 gradients (float64 finite differences)', () => {
  it('language-model loss, fused attention path', () => {
    const m = new GPT2(TINY, { seed: 1 });
    // Larger weights than GPT-2's 0.02 so every path carries a visible gradient.
    noGrad(() => m.flat.all.mul_(10));
    const seq = randomIds(2, 7, 11, 1);
    const x = tensor(seq.map((r) => r.slice(0, 6)), undefined, 'i32');
    const y = tensor(seq.map((r) => r.slice(1)), undefined, 'i32');
    expect(checkGradients(m, () => m.loss(x, y), 3, 1)).toBeGreaterThan(60);
    m.dispose();
  });

  it('with a padding mask (composed attention path) and the sequence-classification head', () => {
    const m = new GPT2ForSequenceClassification({ ...TINY, pad_token_id: 0 }, { numLabels: 3, seed: 2 });
    noGrad(() => m.flat.all.mul_(10));
    const x = tensor([[5, 3, 7, 2, 0, 0], [1, 4, 9, 8, 6, 2]], undefined, 'i32');
    const mask = tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]);
    expect(checkGradients(m, () => m.loss(x, [2, 0], mask), 2, 2)).toBeGreaterThan(40);
    m.dispose();
  });
});
