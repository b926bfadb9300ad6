/**
 * Structurally pruned GPT-2 directories as Hugging Face transformers reads them: `n_inner`
 * shrunk for neurons, `pruned_heads` with c_attn / c_proj shrunk for heads (transformers 4.x
 * applies config.pruned_heads with GPT2Attention.prune_heads before loading the weights;
 * transformers 5 dropped head pruning). The committed fixture (test/fixtures/pruned-gpt2,
 * written by scripts/make-prune-fixture.mjs with transformers 4.57) holds a seeded model pruned
 * by Tessera and the logits transformers computed for it, so this runs without Python; where
 * $TESSERA_PYTHON (or python3) imports transformers, a freshly pruned model is checked live.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad, ready, tensor, tidy } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2, prune, readSafetensorsFile } from '../src/index.js';
import { PRUNE_FIXTURE, prunedFixtureModel } from '../scripts/prune-fixture.mjs';
import { useTempDir, values } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/pruned-gpt2', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../scripts/hf_prune_check.py', import.meta.url));
const PYTHON = process.env.TESSERA_PYTHON || 'python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch, transformers; from transformers.models.gpt2 import modeling_gpt2 as m; print("prune_heads" if hasattr(m.GPT2Attention, "prune_heads") else "no_prune_heads")'], { encoding: 'utf8' });
const hasTransformers = !probe.error && probe.status === 0;
const hasPruneHeads = hasTransformers && probe.stdout.includes('prune_heads') && !probe.stdout.includes('no_prune_heads');
const tmp = useTempDir('tessera-prune-hf-');

beforeAll(async () => {
  await ready();
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const logits = (m: GPT2, ids: number[][]): number[] => noGrad(() => tidy(() => values(m.forward(tensor(ids, undefined, 'i32')))));

describe('pruned GPT-2 directories in Hugging Face transformers', () => {
  it('the committed fixture: Tessera prunes the seeded model to exactly its weights, and computes the logits transformers 4.57 computed (<= 1e-4)', async () => {
    const model = await prunedFixtureModel({ GPT2, prune });
    const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as { ids: number[][]; heads: number[]; n_inner: number; logits: number[] };
    const config = JSON.parse(await readFile(join(FIXTURE, 'config.json'), 'utf8'));
    expect(config.pruned_heads).toEqual(model.config.pruned_heads);
    expect(config.n_inner).toBe(model.config.n_inner);
    expect(expected.heads).toEqual([...model.transformer.h].map((b) => b.attn.numHeads));
    const saved = (await readSafetensorsFile(join(FIXTURE, 'model.safetensors'))).tensors;
    for (const [name, p] of model.namedParameters()) {
      const t = saved.get(name);
      expect(t?.shape, name).toEqual(p.shape);
      expect(maxDiff(values(p), t!.data as Float32Array), name).toBe(0);
    }
    const loaded = await GPT2.fromPretrained(FIXTURE);
    expect(maxDiff(logits(loaded, expected.ids), expected.logits)).toBeLessThanOrEqual(1e-4);
    expect(maxDiff(logits(model, PRUNE_FIXTURE.ids), expected.logits)).toBeLessThanOrEqual(1e-4);
    loaded.dispose();
    model.dispose();
  });

  it.skipIf(!hasTransformers)(
    `live: transformers loads a freshly pruned directory (neurons${hasPruneHeads ? ' and heads' : ''}) with no missing, unexpected or mismatched key and computes Tessera's logits (<= 1e-4)${
      hasTransformers ? (hasPruneHeads ? '' : ' [heads: this transformers has no prune_heads, checked to refuse]') : ` [skipped: ${PYTHON} cannot import transformers]`
    }`,
    async () => {
      const run = (dir: string): { status: number | null; out: string; result?: { logits: number[]; heads: number[] } } => {
        const res = spawnSync(PYTHON, [SCRIPT, dir, JSON.stringify(PRUNE_FIXTURE.ids)], { encoding: 'utf8', timeout: 120_000 });
        const line = /^RESULT (.*)$/m.exec(res.stdout ?? '');
        return { status: res.status, out: `${res.stdout}${res.stderr}`, result: line ? JSON.parse(line[1]) : undefined };
      };
      const dense = new GPT2(PRUNE_FIXTURE.config, { seed: 22 });
      const neurons = await prune(dense, { amount: 0.5, method: 'neurons' });
      const dir = join(tmp(), 'neurons');
      await neurons.savePretrained(dir);
      const r = run(dir);
      expect(r.status, r.out).toBe(0);
      expect(maxDiff(r.result!.logits, logits(neurons, PRUNE_FIXTURE.ids)), r.out).toBeLessThanOrEqual(1e-4);
      const both = await prune(neurons, { amount: 0.5, method: 'heads' });
      const dir2 = join(tmp(), 'heads');
      await both.savePretrained(dir2);
      const r2 = run(dir2);
      if (hasPruneHeads) {
        expect(r2.status, r2.out).toBe(0);
        expect(r2.result!.heads).toEqual([2, 2]);
        expect(maxDiff(r2.result!.logits, logits(both, PRUNE_FIXTURE.ids)), r2.out).toBeLessThanOrEqual(1e-4);
      } else {
        expect(r2.status, r2.out).toBe(3);
      }
      for (const m of [both, neurons, dense]) m.dispose();
    },
    // Two Python runs, each importing torch and transformers (about 25 s apiece on a busy 2-core machine).
    180_000,
  );
});
