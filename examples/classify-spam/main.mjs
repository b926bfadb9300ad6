// Spam detection on SpamAssassin with a small Transformer trained from scratch: GPT-2 BPE tokens
// of subject + body, a TransformerEncoderClassifier, AdamW, and a scikit-learn-style report.
//
//   node examples/classify-spam/main.mjs [--small]
//   deno run -A examples/classify-spam/main.mjs [--small]
//   bun examples/classify-spam/main.mjs [--small]
//
// Full run (300 steps): spam F1 0.976, ROC-AUC 0.998 in 68 s on 2 shared CPU cores (measured with
// `time node examples/classify-spam/main.mjs`).
// --small (or TESSERA_EXAMPLES_SMALL=1): 40 steps on 64 tokens per e-mail, for CI.
import { ready, tensor, tidy, noGrad, softmax } from '@tessera/tensor';
import { AdamW, WarmupCosineLR, clipGradNormSync } from '@tessera/optim';
import { TransformerEncoderClassifier, loadGPT2Tokenizer } from '@tessera/models';
import { classificationReport, confusionMatrix, rocAuc } from '@tessera/metrics';
import { loadSpamAssassin, stratifiedSplit } from '@tessera/cli';

const small = process.argv.includes('--small') || process.env.TESSERA_EXAMPLES_SMALL === '1';
const T = small ? 64 : 128; // tokens per e-mail
const STEPS = small ? 40 : 300;
const BATCH = 32;

await ready();
const emails = await loadSpamAssassin(); // { label: 0 ham | 1 spam, text: subject + body }
const split = stratifiedSplit(emails.map((e) => e.label), 0.2, 42); // 80/20 within each class
const tokenizer = await loadGPT2Tokenizer();

/** ids [n, T] (right-padded with 0), mask [n, T] (1 = real token), labels [n]. */
function encode(rows) {
  const ids = new Int32Array(rows.length * T);
  const mask = new Float32Array(rows.length * T);
  rows.forEach((r, i) => {
    const t = tokenizer.encode(emails[r].text.slice(0, T * 8)).slice(0, T);
    ids.set(t, i * T);
    mask.fill(1, i * T, i * T + Math.max(1, t.length));
  });
  return { ids, mask, labels: rows.map((r) => emails[r].label), n: rows.length };
}
const train = encode(split.train);
const test = encode(split.test);
console.log(`${train.n} training and ${test.n} test e-mails, first ${T} tokens each`);

const model = new TransformerEncoderClassifier({ vocabSize: tokenizer.vocabSize, numLabels: 2, maxLength: T, dModel: 64, numHeads: 4, numLayers: 1, dropout: 0.1, seed: 0 });
const params = model.parameters();
const opt = new AdamW(
  [
    { params: params.filter((p) => p.rank >= 2), weightDecay: 0.01 }, // matrices and embeddings
    { params: params.filter((p) => p.rank < 2), weightDecay: 0 }, // biases and LayerNorms
  ],
  { lr: 2e-3 },
);
const sched = new WarmupCosineLR(opt, { warmupSteps: Math.round(STEPS / 20), totalSteps: STEPS, minLr: 2e-4 });

const rowsOf = (data, rows) => ({
  ids: tensor(Int32Array.from(rows.flatMap((r) => Array.from(data.ids.subarray(r * T, (r + 1) * T)))), [rows.length, T], 'i32'),
  mask: tensor(Float32Array.from(rows.flatMap((r) => Array.from(data.mask.subarray(r * T, (r + 1) * T)))), [rows.length, T]),
});

let seed = 3;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const started = performance.now();
for (let step = 1; step <= STEPS; step++) {
  const rows = Array.from({ length: BATCH }, () => Math.floor(random() * train.n));
  const loss = tidy(() => {
    const { ids, mask } = rowsOf(train, rows);
    const l = model.loss(ids, rows.map((r) => train.labels[r]), mask);
    l.backward();
    return l.itemSync();
  });
  clipGradNormSync(params, 1.0);
  opt.step();
  model.zeroGrad();
  sched.step();
  if (step % Math.max(1, STEPS / 5) === 0) console.log(`step ${step}/${STEPS}  loss ${loss.toFixed(4)}  ${((performance.now() - started) / 1000).toFixed(1)}s`);
}

// Evaluate: probability of spam for every test e-mail.
model.eval();
const scores = [];
for (let start = 0; start < test.n; start += 64) {
  const rows = Array.from({ length: Math.min(64, test.n - start) }, (_, i) => start + i);
  const probs = noGrad(() => tidy(() => {
    const { ids, mask } = rowsOf(test, rows);
    return softmax(model.forward(ids, mask)).dataSync();
  }));
  rows.forEach((_, i) => scores.push(probs[i * 2 + 1]));
}
const predicted = scores.map((p) => (p >= 0.5 ? 1 : 0));
console.log(`\n${classificationReport(test.labels, predicted, { targetNames: ['ham', 'spam'], digits: 4 })}`);
const [[tn, fp], [fn, tp]] = confusionMatrix(test.labels, predicted, { labels: [0, 1] });
console.log(`confusion matrix: ham→ham ${tn}, ham→spam ${fp}, spam→ham ${fn}, spam→spam ${tp}`);
const auc = rocAuc(test.labels, scores);
console.log(`ROC-AUC ${auc.toFixed(4)}`);
if (!(auc > (small ? 0.75 : 0.98))) {
  console.error('the classifier did not learn');
  process.exit(1);
}
opt.dispose();
model.dispose();
