// Structured pruning's speed-up: the forward pass of a dense GPT-2 against the same model with
// 25% / 50% of its MLP hidden units and 25% of its attention heads removed (prune(), method
// 'neurons' / 'heads'), one wasm thread, weights prepacked, in the same process.
//
//   node prune.bench.mjs           GPT-2 124M shape (prompt 64) and the `medium` preset shape (prompt 128), 7 rounds
//   node prune.bench.mjs --quick   3 rounds
//
// Each round runs every variant once (interleaved, so a busy machine slows all alike); the best
// round counts, by wall time and by the process's CPU time (the steadier one on a shared
// machine). "body" is model.transformer.forward (the blocks), "full" adds the LM head
// ([T, vocab] logits). The FLOP bound printed beside each speed-up is what removing those
// multiply-adds alone would give (matrix products only; attention scores counted).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';

reexecForRelaxedSimd();

const { GPT2, prune } = await import('@tessera/models');
const { noGrad, setBackend, tensor } = await import('@tessera/tensor');

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const here = dirname(fileURLToPath(import.meta.url));
const log = (...a) => console.error(...a);

const be = await setBackend('wasm');
await be.setNumThreads(1);

/** Multiply-adds of one forward over T tokens (matrix products and attention scores). */
function macs(model, T, head) {
  const c = model.config;
  const C = c.n_embd;
  const I = c.n_inner ?? 4 * C;
  let n = 0;
  for (const block of model.transformer.h) {
    const A = block.attn.numHeads * block.attn.headDim;
    n += T * (C * 3 * A + A * C + 2 * C * I) + T * T * A; // projections, MLP, QK^T and AV (causal: about half of 2 T^2 A)
  }
  return head ? n + T * C * c.vocab_size : n;
}

const SHAPES = [
  { name: 'GPT-2 124M', config: {}, prompt: 64 },
  { name: 'medium preset (4L/4H/256, char vocab 83)', config: { n_layer: 4, n_head: 4, n_embd: 256, n_positions: 128, vocab_size: 83 }, prompt: 128 },
];
const VARIANTS = [
  { name: 'neurons 25%', method: 'neurons', amount: 0.25 },
  { name: 'neurons 50%', method: 'neurons', amount: 0.5 },
  { name: 'heads 25%', method: 'heads', amount: 0.25 },
];

const results = [];
for (const shape of SHAPES) {
  const dense = new GPT2(shape.config, { seed: 0 }).eval().prepackWeights();
  const V = dense.config.vocab_size;
  const ids = tensor([Array.from({ length: shape.prompt }, (_, i) => (i * 7919 + 13) % V)], undefined, 'i32');
  // Wall time and the process's CPU time (user + system) of one forward. On a shared machine the
  // CPU time is the steadier of the two: waiting for a core does not count in it.
  const time = (fn) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    noGrad(() => {
      const out = fn();
      out.dataSync();
      out.dispose();
    });
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1e3 };
  };
  const better = (a, b) => ({ wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu) });
  // One pruned variant at a time beside the dense model (two GPT-2 124M with packed weights fit
  // in wasm32's 4 GiB; five do not), each pair interleaved round by round.
  for (const v of VARIANTS) {
    const pruned = (await prune(dense, { amount: v.amount, method: v.method })).eval().prepackWeights();
    const pair = [dense, pruned];
    const none = { wall: Infinity, cpu: Infinity };
    const best = pair.map(() => ({ body: none, full: none }));
    for (const m of pair) time(() => m.forward(ids)); // warm-up (first-call compilation, packing)
    for (let r = 0; r < ROUNDS; r++) {
      pair.forEach((m, i) => {
        best[i].body = better(best[i].body, time(() => m.transformer.forward(ids)));
        best[i].full = better(best[i].full, time(() => m.forward(ids)));
      });
    }
    const row = {
      shape: shape.name,
      prompt: shape.prompt,
      variant: v.name,
      parameters: [dense.numParameters(), pruned.numParameters()],
      bodyMs: best.map((b) => +b.body.wall.toFixed(1)),
      fullMs: best.map((b) => +b.full.wall.toFixed(1)),
      bodyCpuMs: best.map((b) => +b.body.cpu.toFixed(1)),
      fullCpuMs: best.map((b) => +b.full.cpu.toFixed(1)),
      bodySpeedup: +(best[0].body.wall / best[1].body.wall).toFixed(3),
      fullSpeedup: +(best[0].full.wall / best[1].full.wall).toFixed(3),
      bodyCpuSpeedup: +(best[0].body.cpu / best[1].body.cpu).toFixed(3),
      fullCpuSpeedup: +(best[0].full.cpu / best[1].full.cpu).toFixed(3),
      bodyFlopBound: +(macs(dense, shape.prompt, false) / macs(pruned, shape.prompt, false)).toFixed(3),
      fullFlopBound: +(macs(dense, shape.prompt, true) / macs(pruned, shape.prompt, true)).toFixed(3),
    };
    results.push(row);
    log(
      `${shape.name}, prompt ${shape.prompt}, ${v.name.padEnd(11)} ${(row.parameters[1] / 1e6).toFixed(2)}M params: ` +
        `body wall ${row.bodyMs[0]} -> ${row.bodyMs[1]} ms (x${row.bodySpeedup}), cpu ${row.bodyCpuMs[0]} -> ${row.bodyCpuMs[1]} ms (x${row.bodyCpuSpeedup}), FLOP bound x${row.bodyFlopBound}; ` +
        `full wall ${row.fullMs[0]} -> ${row.fullMs[1]} ms (x${row.fullSpeedup}), cpu ${row.fullCpuMs[0]} -> ${row.fullCpuMs[1]} ms (x${row.fullCpuSpeedup}), bound x${row.fullFlopBound}`,
    );
    pruned.dispose();
  }
  ids.dispose();
  dense.dispose();
}

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results', 'prune.json'),
  `${JSON.stringify({ date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, threads: 1, rounds: ROUNDS, results }, null, 2)}\n`,
);
