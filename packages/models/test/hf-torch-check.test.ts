/**
 * Cross-check with an independent PyTorch reader of Hugging Face's GPT-2
 * conventions (scripts/hf_gpt2_check.py, driven by scripts/hf-gpt2-check.mjs):
 * savePretrained's directory computes, read by it, the logits Tessera
 * computed, and fromPretrained computes the logits of directories it writes.
 * Where that Python also imports `transformers`, the same script checks
 * against transformers itself (GPT2LMHeadModel and
 * GPT2ForSequenceClassification, from_pretrained of Tessera's directories and
 * save_pretrained read by Tessera). Runs only where python3 (or
 * $TESSERA_PYTHON) imports torch; CI's .ci/run sets TESSERA_PYTHON to a
 * virtual environment with both when it can install them. The script imports
 * the built package (dist/), which `turbo run test` builds first.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PYTHON = process.env.TESSERA_PYTHON || 'python3';
// One probe for both (importing torch dominates): prints "torch" and then "transformers" as each imports.
const probe = spawnSync(PYTHON, ['-c', 'import torch\nprint("torch", flush=True)\nimport transformers\nprint("transformers")'], { encoding: 'utf8' });
const imported = probe.error ? [] : `${probe.stdout}`.split(/\s+/);
const hasTorch = imported.includes('torch');
const hasTransformers = imported.includes('transformers');
const SCRIPT = fileURLToPath(new URL('../scripts/hf-gpt2-check.mjs', import.meta.url));

interface Result {
  ok: boolean;
  failed: string[];
  maxDiff: Record<string, number>;
  transformers: string | { version: string; loadingInfo: Record<string, Record<string, string[]>> };
}

/** Runs the script once for both tests; each asserts its own keys (the exit status covers all). */
let run: { status: number | null; output: string; result: Result } | undefined;
function check(): { status: number | null; output: string; result: Result } {
  if (run) return run;
  const res = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', timeout: 60_000 });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  expect(res.error, output).toBeUndefined();
  const line = /^RESULT (.*)$/m.exec(res.stdout);
  expect(line, output).not.toBeNull();
  run = { status: res.status, output, result: JSON.parse(line![1]) as Result };
  return run;
}

describe('Hugging Face GPT-2 conventions, checked by PyTorch', () => {
  it.skipIf(!hasTorch)(
    `savePretrained is read, and fromPretrained reads, as HF's GPT2LMHeadModel (max |logit diff| <= 1e-4)${hasTorch ? '' : ` [skipped: ${PYTHON} cannot import torch]`}`,
    () => {
      const { output, result } = check();
      const keys = ['save', 'loadHf', 'loadLegacy'];
      expect(result.failed.filter((k) => keys.includes(k)), output).toEqual([]);
      for (const key of keys) expect(result.maxDiff[key], `${key}\n${output}`).toBeLessThanOrEqual(1e-4);
    },
  );

  it.skipIf(!hasTransformers)(
    `transformers' GPT2LMHeadModel / GPT2ForSequenceClassification load savePretrained's directories with no missing or unexpected keys, and their save_pretrained loads with fromPretrained (max |logit diff| <= 1e-4)${
      hasTransformers ? '' : ` [skipped: ${PYTHON} cannot import ${hasTorch ? 'transformers' : 'torch'}]`
    }`,
    () => {
      const { status, output, result } = check();
      expect(typeof result.transformers, `the script did not run transformers\n${output}`).toBe('object');
      for (const key of ['transformersLoad', 'transformersClsLoad', 'transformersSave', 'transformersClsSave']) {
        expect(result.maxDiff[key], `${key}\n${output}`).toBeLessThanOrEqual(1e-4);
      }
      // GPT2TokenizerFast from Tessera's vocab.json + merges.txt: the same ids on every text, and back.
      expect(result.maxDiff.transformersTokenizer, `transformersTokenizer\n${output}`).toBe(0);
      const { loadingInfo } = result.transformers as Exclude<Result['transformers'], string>;
      expect(Object.keys(loadingInfo).sort(), output).toEqual(['cls', 'lm']);
      for (const [head, info] of Object.entries(loadingInfo)) {
        for (const k of ['missing_keys', 'unexpected_keys', 'mismatched_keys', 'error_msgs']) expect(info[k], `${head} ${k}\n${output}`).toEqual([]);
      }
      expect(result.failed, output).toEqual([]);
      expect(result.ok, output).toBe(true);
      expect(status, output).toBe(0);
    },
  );
});
