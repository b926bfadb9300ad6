// Runs inside the throw-away project that scripts/pack-smoke.mjs builds from the packed tarballs
// (never inside the workspace): every package imported by name, then a tiny GPT-2 trained for a
// few AdamW steps on one fixed batch, whose loss must fall. Runs unchanged in Node, Deno and Bun.
import { ReferenceBackend, createWasmBackend } from '@tessera/core';
import { ready, tensor } from '@tessera/tensor';
import { AdamW } from '@tessera/optim';
import { GPT2 } from '@tessera/models';
import { perplexityFromLosses } from '@tessera/metrics';
import { WebGPUBackend, webgpu } from '@tessera/webgpu';
import { EXIT, main } from '@tessera/cli';
import { DistributedSampler, initProcessGroup } from '@tessera/distributed';

const runtime = typeof Deno !== 'undefined' ? 'deno' : typeof Bun !== 'undefined' ? 'bun' : 'node';
const fail = (message) => {
  console.error(`pack smoke (${runtime}): ${message}`);
  process.exit(1);
};

// Imports by name: each entry point loads and has what its README promises.
for (const [name, value] of Object.entries({ ReferenceBackend, createWasmBackend, WebGPUBackend, webgpu, main, initProcessGroup, DistributedSampler })) {
  if (typeof value !== 'function') fail(`${name} is ${typeof value}, not a function`);
}

// The CLI's programmatic entry: `tessera --version` through main() with captured output.
let out = '';
const io = { stdout: { write: (s) => ((out += s), true) }, stderr: { write: (s) => ((out += s), true) } };
if ((await main(['--version'], io)) !== EXIT.ok || !/^tessera \d+\.\d+\.\d+\n$/.test(out)) fail(`tessera --version printed ${JSON.stringify(out)}`);

// A tiny GPT-2 memorising one batch: the loss has to fall.
const backend = await ready();
const T = 8;
const model = new GPT2({ vocab_size: 16, n_positions: T, n_embd: 16, n_layer: 1, n_head: 2, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0 }, { seed: 1 });
const opt = new AdamW(model.flat.groups(0.1), { lr: 1e-2 });
const seq = Int32Array.from({ length: 2 * (T + 1) }, (_, i) => (i * 5 + 3) % 16);
const x = tensor(Int32Array.from([...seq.subarray(0, T), ...seq.subarray(T + 1, 2 * T + 1)]), [2, T], 'i32');
const y = tensor(Int32Array.from([...seq.subarray(1, T + 1), ...seq.subarray(T + 2, 2 * T + 2)]), [2, T], 'i32');
const losses = [];
for (let step = 0; step < 12; step++) {
  const loss = model.loss(x, y);
  loss.backward();
  losses.push(await loss.item());
  loss.dispose();
  opt.step();
  model.zeroGrad();
}
const [first, last] = [losses[0], losses.at(-1)];
if (!(Number.isFinite(last) && last < 0.7 * first)) fail(`the loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
console.log(
  `pack smoke (${runtime}): 8 packages imported by name; ${backend.constructor.name}: GPT-2 loss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${losses.length} AdamW steps (perplexity ${perplexityFromLosses([last]).toFixed(2)})`,
);
x.dispose();
y.dispose();
opt.dispose();
model.dispose();
