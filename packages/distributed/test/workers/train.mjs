// Trains a tiny GPT-2 (2 layers, width 16, vocabulary 32, context 16, no dropout) on a synthetic
// corpus, printing one JSON line per step. TESSERA_TEST_SPEC (JSON):
//   { mode: 'single' | 'ddp' | 'diloco', steps, batch (the GLOBAL batch), lr, innerSteps?, outerLr?, outerMomentum?, dumpDir? }
// single: one process, batch `batch`. ddp: WORLD_SIZE ranks, `batch / WORLD_SIZE` each, gradients all-reduced.
// diloco: WORLD_SIZE ranks, local AdamW steps, DiLoCo outer steps; with dumpDir, each rank writes its
// pre-sync local weights and the synced weights of every round (f32 little-endian files).
import { writeFileSync } from 'node:fs';
import { ready, tensor } from '@tessera/tensor';
import { AdamW } from '@tessera/optim';
import { GPT2 } from '@tessera/models';
import { DiLoCo, DistributedDataParallel, DistributedSampler, initProcessGroupFromEnv, readWeights, weightsSha256 } from '@tessera/distributed';
import { mix } from './inputs.mjs';

const spec = JSON.parse(process.env.TESSERA_TEST_SPEC ?? '{}');
const out = (o) => console.log(JSON.stringify(o));
const V = 32;
const T = 16;
const EXAMPLES = 96;

/** Example k: a noisy affine sequence mod V, T + 1 tokens (learnable, but not trivially). */
function example(k) {
  const row = new Int32Array(T + 1);
  let t = k % V;
  for (let j = 0; j <= T; j++) {
    row[j] = t;
    t = mix(k, j, 99) % 8 === 0 ? mix(j, k, 7) % V : (5 * t + 3) % V;
  }
  return row;
}

function batchTensor(indices) {
  const data = new Int32Array(indices.length * (T + 1));
  indices.forEach((k, i) => data.set(example(k), i * (T + 1)));
  return tensor(data, [indices.length, T + 1]);
}

let group = null;
try {
  await ready();
  const distributed = spec.mode !== 'single';
  if (distributed) group = await initProcessGroupFromEnv();
  const rank = group?.rank ?? 0;
  const world = group?.worldSize ?? 1;
  if (spec.batch % world !== 0) throw new Error(`batch ${spec.batch} does not split over ${world} ranks`);
  const local = spec.batch / world;
  // Different seeds per rank: only the broadcast of rank 0's weights makes them agree.
  const model = new GPT2({ vocab_size: V, n_positions: T, n_embd: 16, n_layer: 2, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 100 + rank });
  out({ initialSha: await weightsSha256(model) });
  const opt = new AdamW(model.flat.groups(0.1), { lr: spec.lr ?? 1e-2 });
  const sampler = new DistributedSampler({ size: EXAMPLES, rank, worldSize: world, seed: 3, dropLast: true });
  const perEpoch = Math.floor(sampler.numSamples / local);
  let ddp = null;
  let diloco = null;
  if (spec.mode === 'ddp') ddp = await DistributedDataParallel.create(model, opt, group);
  if (spec.mode === 'diloco') {
    diloco = await DiLoCo.create(model, opt, group, { innerSteps: spec.innerSteps, outerLr: spec.outerLr, outerMomentum: spec.outerMomentum, nesterov: spec.nesterov });
  }
  out({ startSha: await weightsSha256(model) });
  for (let step = 0; step < spec.steps; step++) {
    const ids = batchTensor(sampler.batch(Math.floor(step / perEpoch), step % perEpoch, local));
    const x = ids.narrow(1, 0, T);
    const y = ids.narrow(1, 1, T);
    const loss = model.loss(x, y);
    const value = (await loss.data())[0];
    loss.backward();
    for (const t of [loss, x, y, ids]) t.dispose();
    let reported = value;
    if (ddp) [reported] = await ddp.step([value]);
    else if (diloco) {
      if (spec.dumpDir && spec.innerSteps === 1) {
        // H = 1: the inner step, then the weights about to be averaged, then the sync itself.
        opt.step();
        writeFileSync(`${spec.dumpDir}/local-${step}-rank${rank}.f32`, await readWeights(model));
        await diloco.outerStep();
        writeFileSync(`${spec.dumpDir}/synced-${step}-rank${rank}.f32`, await readWeights(model));
      } else await diloco.step();
    } else opt.step();
    model.zeroGrad();
    out({ step, loss: reported, localLoss: value });
  }
  out({ finalSha: await weightsSha256(model), outerSteps: diloco?.outerSteps, traffic: group?.traffic });
  await group?.destroy();
  out({ done: true });
} catch (e) {
  out({ error: e?.name, message: e?.message, stack: e?.stack, missing: e?.missingRanks });
  await group?.destroy().catch(() => {});
  process.exitCode = 3;
}
