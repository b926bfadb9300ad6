#!/usr/bin/env node
/**
 * Writes test/fixtures/pruned-gpt2: a tiny seeded GPT-2 (4 heads, 2 layers) pruned by Tessera
 * (25% of heads globally, then 25% of MLP units), saved with savePretrained, plus
 * expected.json: the ids and the logits transformers computes for it (`hf_prune_check.py`, a
 * transformers that has GPT2Attention.prune_heads, i.e. 4.x). prune.hf.test.ts checks that
 * Tessera still prunes the seeded model to exactly these weights and computes these logits.
 *
 *   TESSERA_PYTHON=python-with-transformers-4 node packages/models/scripts/make-prune-fixture.mjs
 */

import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GPT2, prune } from '@tessera/models';
import { ready } from '@tessera/tensor';
import { PRUNE_FIXTURE, prunedFixtureModel } from './prune-fixture.mjs';

const dir = fileURLToPath(new URL('../test/fixtures/pruned-gpt2', import.meta.url));
const script = fileURLToPath(new URL('./hf_prune_check.py', import.meta.url));
await ready();
const model = await prunedFixtureModel({ GPT2, prune });
await rm(dir, { recursive: true, force: true });
await model.savePretrained(dir);
const python = process.env.TESSERA_PYTHON || 'python3';
const res = spawnSync(python, [script, dir, JSON.stringify(PRUNE_FIXTURE.ids)], { encoding: 'utf8' });
const line = /^RESULT (.*)$/m.exec(res.stdout ?? '');
if (res.status !== 0 || !line) {
  console.error(res.stdout, res.stderr);
  process.exit(1);
}
const result = JSON.parse(line[1]);
await writeFile(`${dir}/expected.json`, `${JSON.stringify({ transformers: result.version, ids: PRUNE_FIXTURE.ids, heads: result.heads, n_inner: result.n_inner, logits: result.logits })}\n`);
console.log(`wrote ${dir} (transformers ${result.version}, heads per layer ${result.heads.join(', ')}, n_inner ${result.n_inner})`);
