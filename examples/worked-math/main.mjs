// Three small computations done by Tessera and by hand, side by side:
//   1. cross-entropy of a two-class prediction,
//   2. one Adam step (with the bias correction that makes step 1 move each weight by about lr),
//   3. scaled dot-product attention on 3x2 matrices.
// Every Tessera result is checked against the hand calculation; a mismatch exits with code 1.
//
//   node examples/worked-math/main.mjs      deno run -A examples/worked-math/main.mjs      bun examples/worked-math/main.mjs
import { ready, tensor, crossEntropy, log, mul, sum, neg, scaledDotProductAttention, noGrad } from '@tessera/tensor';
import { Adam } from '@tessera/optim';

await ready();

let failures = 0;
const TOL = 1e-5;
/** Prints one comparison line and counts a mismatch (relative tolerance TOL, f32 arithmetic). */
function check(label, tessera, hand) {
  const ok = Math.abs(tessera - hand) <= TOL * Math.max(1, Math.abs(hand));
  if (!ok) failures++;
  console.log(`  ${label.padEnd(26)} tessera ${fmt(tessera)}   by hand ${fmt(hand)}   ${ok ? 'ok' : 'MISMATCH'}`);
}
const fmt = (v) => (v >= 0 ? ' ' : '') + (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(5) : v.toFixed(6));

// ---------------------------------------------------------------------------------------------
console.log('1. Cross-entropy, one-hot y = [1, 0], predicted p = [0.8, 0.2]');
console.log('   H(y, p) = -sum_i y_i ln p_i = -(1 * ln 0.8 + 0 * ln 0.2) = -ln 0.8 = 0.223144');
{
  const p = tensor([[0.8, 0.2]]);
  const y = tensor([[1, 0]]);
  // As a formula over tensors: -sum(y * ln p).
  const direct = await neg(sum(mul(y, log(p)))).item();
  // As the fused classification loss: its input is logits; ln p are logits whose softmax is p
  // (softmax(ln p) = p / sum(p) = p), and the target is class 0.
  const fused = await crossEntropy(log(p), tensor(new Int32Array([0]))).item();
  const hand = -Math.log(0.8);
  check('-sum(y * ln p)', direct, hand);
  check('crossEntropy(ln p, 0)', fused, hand);
}

// ---------------------------------------------------------------------------------------------
console.log('\n2. One Adam step: lr = 0.1, betas = (0.9, 0.999), eps = 1e-8');
{
  const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const w0 = [0.5, -1.0, 2.0];
  const g = [0.2, -0.05, 3.0];
  console.log(`   w = [${w0}], gradient g = [${g}] (loss = sum(g * w), so dloss/dw = g)`);
  console.log('   m1 = (1 - b1) g = 0.1 g          v1 = (1 - b2) g^2 = 0.001 g^2');
  console.log('   m^ = m1 / (1 - b1^1) = g          v^ = v1 / (1 - b2^1) = g^2');
  console.log('   update = lr * m^ / (sqrt(v^) + eps) = lr * g / (|g| + eps) ~ lr * sign(g)');
  console.log('   so the first step moves every weight by about lr = 0.1, whatever the size of its gradient:');

  const w = tensor(w0, undefined, { requiresGrad: true });
  const opt = new Adam([w], { lr, betas: [b1, b2], eps });
  const loss = sum(mul(tensor(g), w));
  loss.backward();
  opt.step();
  const after = w.dataSync();
  const state = (await opt.stateDict()).state[0];
  const m = state.buffers.expAvg;
  const v = state.buffers.expAvgSq;
  for (let i = 0; i < g.length; i++) {
    const m1 = (1 - b1) * g[i];
    const v1 = (1 - b2) * g[i] * g[i];
    const mHat = m1 / (1 - b1);
    const vHat = v1 / (1 - b2);
    const update = (lr * mHat) / (Math.sqrt(vHat) + eps);
    console.log(`   w[${i}]: g = ${g[i]}, m^ = ${mHat.toFixed(6)}, v^ = ${vHat.toFixed(6)}, update = ${update.toFixed(6)}`);
    check(`m1[${i}]`, m[i], m1);
    check(`v1[${i}]`, v[i], v1);
    check(`w[${i}] after the step`, after[i], w0[i] - update);
    check(`|update[${i}]| vs lr`, Math.abs(w0[i] - after[i]), lr);
  }
  noGrad(() => opt.dispose());
}

// ---------------------------------------------------------------------------------------------
console.log('\n3. Scaled dot-product attention, softmax(Q K^T / sqrt(d)) V with d = 2');
{
  const Q = [[1, 0], [0, 1], [1, 1]];
  const K = [[1, 0], [0, 1], [1, 1]];
  const V = [[1, 2], [3, 4], [5, 6]];
  const d = 2;
  console.log(`   Q = ${JSON.stringify(Q)}  K = ${JSON.stringify(K)}  V = ${JSON.stringify(V)}`);

  // By hand, row by row: scores s_ij = q_i . k_j / sqrt(d), a_i = softmax(s_i), out_i = sum_j a_ij v_j.
  const hand = Q.map((q, i) => {
    const s = K.map((k) => (q[0] * k[0] + q[1] * k[1]) / Math.sqrt(d));
    const e = s.map((x) => Math.exp(x - Math.max(...s)));
    const z = e.reduce((a, b) => a + b, 0);
    const a = e.map((x) => x / z);
    const out = [0, 1].map((c) => a.reduce((acc, aj, j) => acc + aj * V[j][c], 0));
    console.log(`   row ${i}: scores [${s.map((x) => x.toFixed(4))}]  weights [${a.map((x) => x.toFixed(4))}]  out [${out.map((x) => x.toFixed(4))}]`);
    return out;
  });

  const out = scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V])).dataSync(); // [1, 3, 2]
  for (let i = 0; i < 3; i++) for (let c = 0; c < 2; c++) check(`out[${i}][${c}]`, out[i * 2 + c], hand[i][c]);
}

console.log(failures === 0 ? '\nAll worked examples match the hand calculations.' : `\n${failures} value(s) differ from the hand calculations.`);
if (failures > 0) process.exit(1);
