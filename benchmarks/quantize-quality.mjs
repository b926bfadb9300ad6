// Quality of weight-only quantization on a model trained by `tessera train` on the bundled Moby
// Dick: validation loss and perplexity of the f32 model against int8 and int4 copies (groups 32,
// 64, 128), on the trainer's own validation batches (the last 10% of the corpus, the same fixed
// windows `tessera train` validates on), so the f32 row reproduces the loss the trainer printed.
// The "int8 activations" rows quantize with { activations: 'int8' } and measure that mode in
// every product: the backend, which takes int8 activations only for products of a few rows
// (decode steps), is told for these rows that they pay at any row count, so the batched
// validation forward computes what token-by-token decoding with the mode computes.
//
//   node packages/cli/bin/tessera.js train --preset small --steps 1000 --eval-every 500 --sample 0 --out base
//   node benchmarks/quantize-quality.mjs --model base [--iters 10] [--batch 32]
//
// Targets (issue #14): int8 perplexity within +1% of f32, int4 within +5%. The batch and the
// number of validation batches default to the trainer's (read from the checkpoint's
// trainer_state.json when it is there; else 10 batches of 32 windows).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2, quantize } from '@tessera/models';
import { noGrad, setBackend, tensor } from '@tessera/tensor';
import { TokenSplit, loadCorpus } from '../packages/cli/dist/data/corpus.js';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const dir = opt('model');
if (!dir) {
  console.error('usage: node benchmarks/quantize-quality.mjs --model DIR [--iters N] [--batch N]');
  process.exit(2);
}
const state = existsSync(join(dir, 'trainer_state.json')) ? JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) : {};
const settings = state.settings ?? {};
const batch = Number(opt('batch', settings.batch ?? 32));
const iters = Number(opt('iters', state.cadence?.evalIters ?? 10));

const be = await setBackend('wasm');
const policy = be.kernelPolicy;
const { text } = await loadCorpus(settings.data ?? undefined);

/** Mean loss over the trainer's fixed validation batches, as `tessera train` computes it. */
function validationLoss(model, split) {
  let sum = 0;
  for (let i = 0; i < iters; i++) {
    const b = split.valBatch(i, iters, batch);
    sum += noGrad(() => {
      const x = tensor(b.x, [b.batch, b.context], 'i32');
      const y = tensor(b.y, [b.batch, b.context], 'i32');
      const loss = model.loss(x, y);
      const v = loss.itemSync();
      for (const t of [x, y, loss]) t.dispose();
      return v;
    });
  }
  return sum / iters;
}

const rows = [];
const variants = [null];
for (const activations of ['f32', 'int8']) for (const bits of [8, 4]) for (const groupSize of [32, 64, 128]) variants.push({ bits, groupSize, activations });
for (const variant of variants) {
  const model = (await GPT2.fromPretrained(dir)).eval();
  if (variant && model.config.n_embd % variant.groupSize !== 0) {
    console.error(`skipping int${variant.bits} group ${variant.groupSize}: n_embd ${model.config.n_embd} is not a multiple of it`);
    model.dispose();
    continue;
  }
  const split = new TokenSplit(Int32Array.from(model.tokenizer.encode(text)), settings.context ?? model.config.n_positions);
  if (variant) await quantize(model, variant);
  const a8 = variant?.activations === 'int8';
  // Every product with int8 activations (see the file comment); the backend's own policy after.
  if (a8) be.kernelPolicy = { ...policy, qmatmulInt8Rows: Number.MAX_SAFE_INTEGER };
  let loss;
  try {
    loss = validationLoss(model, split);
  } finally {
    be.kernelPolicy = policy;
  }
  model.dispose();
  rows.push({ name: variant ? `int${variant.bits}, group ${variant.groupSize}${a8 ? ', int8 activations' : ''}` : 'f32', loss, ppl: Math.exp(loss) });
}
const base = rows[0].ppl;
console.log(`model ${dir}: ${iters} validation batches of ${batch} windows\n`);
console.log('| weights | validation loss | perplexity | vs f32 | target |');
console.log('| --- | ---: | ---: | ---: | --- |');
let failed = false;
for (const r of rows) {
  const rel = r.ppl / base - 1;
  const limit = r.name.startsWith('int8') ? 0.01 : r.name.startsWith('int4') ? 0.05 : null;
  const ok = limit === null || rel <= limit;
  failed ||= !ok;
  console.log(`| ${r.name} | ${r.loss.toFixed(4)} | ${r.ppl.toFixed(3)} | ${limit === null ? '' : `${rel >= 0 ? '+' : ''}${(rel * 100).toFixed(2)}%`} | ${limit === null ? '' : `≤ +${limit * 100}%: ${ok ? 'met' : 'MISSED'}`} |`);
}
process.exitCode = failed ? 1 : 0;
