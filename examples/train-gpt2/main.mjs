// Train a character-level GPT-2 on Moby Dick with the library directly (no CLI): tokenizer,
// model, AdamW with warmup + cosine decay, gradient clipping, a held-out validation loss, a
// Hugging Face model directory, and a sample.
//
//   node examples/train-gpt2/main.mjs [--small] [--out dir]
//   deno run -A examples/train-gpt2/main.mjs [--small]
//   bun examples/train-gpt2/main.mjs [--small]
//
// --small (or TESSERA_EXAMPLES_SMALL=1) trains a tiny model for a few seconds, for CI.
import { fileURLToPath } from 'node:url';
import { ready, tensor, noGrad } from '@tessera/tensor';
import { AdamW, WarmupCosineLR, clipGradNormSync } from '@tessera/optim';
import { GPT2, CharTokenizer } from '@tessera/models';
import { perplexityFromLosses } from '@tessera/metrics';
import { mobyDick } from '@tessera/cli';

const args = process.argv.slice(2);
const small = args.includes('--small') || process.env.TESSERA_EXAMPLES_SMALL === '1';
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : fileURLToPath(new URL('../.out/gpt2', import.meta.url));

const cfg = small
  ? { layers: 1, heads: 2, embd: 32, context: 32, batch: 8, steps: 40, lr: 3e-3 }
  : { layers: 2, heads: 4, embd: 128, context: 64, batch: 32, steps: 600, lr: 4e-3 };

const backend = await ready(); // the WebAssembly SIMD backend
console.log(`backend: ${backend.constructor.name}, runtime: ${typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'node'}`);

// Data: characters → ids; the last 10% is held out.
const text = await mobyDick();
const tokenizer = CharTokenizer.fromCorpus(text);
const ids = Int32Array.from(tokenizer.encode(text));
const nVal = Math.floor(ids.length / 10);
const train = ids.subarray(0, ids.length - nVal);
const val = ids.subarray(ids.length - nVal);

let seed = 1;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
/** `cfg.batch` windows: inputs and next-character targets, both [B, T]. */
function batch(source, offsets) {
  const T = cfg.context;
  const x = new Int32Array(offsets.length * T);
  const y = new Int32Array(offsets.length * T);
  offsets.forEach((o, b) => {
    x.set(source.subarray(o, o + T), b * T);
    y.set(source.subarray(o + 1, o + T + 1), b * T);
  });
  return [tensor(x, [offsets.length, T], 'i32'), tensor(y, [offsets.length, T], 'i32')];
}

const model = new GPT2(
  { vocab_size: tokenizer.vocabSize, n_positions: cfg.context, n_embd: cfg.embd, n_layer: cfg.layers, n_head: cfg.heads, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0 },
  { seed: 1 },
);
console.log(`GPT-2: ${cfg.layers} layer(s), ${cfg.heads} heads, width ${cfg.embd}, ${model.numParameters().toLocaleString('en-US')} parameters, ${tokenizer.vocabSize} characters`);

// Weight decay on matrices and embeddings only: the model keeps them in one flat block.
const opt = new AdamW(model.flat.groups(0.1), { lr: cfg.lr, betas: [0.9, 0.99] });
const sched = new WarmupCosineLR(opt, { warmupSteps: Math.round(cfg.steps / 20), totalSteps: cfg.steps, minLr: cfg.lr / 10 });

function validationLoss(iters = 8) {
  model.eval();
  const losses = [];
  for (let i = 0; i < iters; i++) {
    const offsets = Array.from({ length: cfg.batch }, (_, j) => Math.floor(((i * cfg.batch + j) * (val.length - cfg.context - 1)) / (iters * cfg.batch)));
    const [x, y] = batch(val, offsets);
    losses.push(noGrad(() => {
      const loss = model.loss(x, y);
      const v = loss.itemSync();
      loss.dispose();
      return v;
    }));
    x.dispose();
    y.dispose();
  }
  model.train();
  return losses.reduce((a, b) => a + b, 0) / iters;
}

const started = performance.now();
for (let step = 1; step <= cfg.steps; step++) {
  const [x, y] = batch(train, Array.from({ length: cfg.batch }, () => Math.floor(random() * (train.length - cfg.context - 1))));
  const loss = model.loss(x, y);
  loss.backward();
  const value = loss.itemSync();
  loss.dispose();
  x.dispose();
  y.dispose();
  clipGradNormSync([model.flat.all], 1.0);
  opt.step();
  model.zeroGrad();
  sched.step();
  if (step % Math.max(1, cfg.steps / 10) === 0) console.log(`step ${step}/${cfg.steps}  train loss ${value.toFixed(3)}  ${((performance.now() - started) / 1000).toFixed(1)}s`);
}
const valLoss = validationLoss();
console.log(`validation loss ${valLoss.toFixed(4)} nats/char, perplexity ${perplexityFromLosses([valLoss]).toFixed(2)}`);
if (!Number.isFinite(valLoss) || valLoss > 4.2) {
  console.error('training did not reduce the loss');
  process.exit(1);
}

await model.savePretrained(out, { tokenizer });
console.log(`saved to ${out} (config.json, model.safetensors, char_tokenizer.json)`);

model.eval();
const generated = await model.generate(tokenizer.encode('The whale '), { maxNewTokens: 120, temperature: 0.8, topK: 40, seed: 7, stopTokens: [] });
console.log(`sample: The whale ${tokenizer.decode(generated)}`);
opt.dispose();
model.dispose();
