// Small-op overhead: ops/second for add and matmul on tiny tensors through the public
// tensor API, and the per-op dispatch cost on a 1-element tensor, Tessera (wasm backend)
// against TensorFlow.js's wasm backend in the same process. Each timed op also frees its
// result (dispose), as a real loop must.
//
//   node overhead.bench.mjs            writes results/overhead.json
//   node overhead.bench.mjs --quick    shorter runs
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import * as T from '@tessera/tensor';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

const quick = process.argv.includes('--quick');
const TIME_MS = quick ? 300 : 1000;
const here = dirname(fileURLToPath(import.meta.url));

await T.setBackend('wasm');
await tf.setBackend('wasm');
await tf.ready();

const cases = [
  { label: 'add [8,8]', shape: [8, 8], op: 'add' },
  { label: 'matmul [8,8]x[8,8]', shape: [8, 8], op: 'matmul' },
  { label: 'add [1] (dispatch cost)', shape: [1], op: 'add' },
  { label: 'add [64,64]', shape: [64, 64], op: 'add' },
];

const rows = [];
for (const c of cases) {
  const tx = T.randn(c.shape, { seed: 1 });
  const fx = tf.randomNormal(c.shape, 0, 1, 'float32', 1);
  const tOp = c.op === 'add' ? () => T.add(tx, tx).dispose() : () => T.matmul(tx, tx).dispose();
  const fOp = c.op === 'add' ? () => tf.add(fx, fx).dispose() : () => tf.matMul(fx, fx).dispose();
  const bench = new Bench({ time: TIME_MS, warmup: true, warmupTime: 100 });
  bench.add('tessera', tOp).add('tfjs-wasm', fOp);
  await bench.run();
  const [ours, peer] = bench.tasks.map((t) => t.result);
  const oursUs = ours.latency.mean * 1000;
  const peerUs = peer.latency.mean * 1000;
  rows.push({ case: c.label, tesseraUs: oursUs, tfjsUs: peerUs, ratio: peerUs / oursUs });
  tx.dispose();
  fx.dispose();
}

console.log('\n| op (tiny tensors, 1 thread) | Tessera µs/op | tfjs-wasm µs/op | Tessera speed-up |');
console.log('|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.case} | ${r.tesseraUs.toFixed(2)} | ${r.tfjsUs.toFixed(2)} | ${r.ratio.toFixed(2)}x |`);

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results', 'overhead.json'),
  JSON.stringify({ date: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model, node: process.version }, tfjs: tf.version.tfjs, rows }, null, 2),
);
