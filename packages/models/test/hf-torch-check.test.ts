/**
 * Cross-check with an independent PyTorch reader of Hugging Face's GPT-2
 * conventions (scripts/hf_gpt2_check.py, driven by scripts/hf-gpt2-check.mjs):
 * savePretrained's directory computes, read by it, the logits Tessera
 * computed, and fromPretrained computes the logits of directories it writes.
 * Runs only where python3 (or $TESSERA_PYTHON) imports torch. The script
 * imports the built package (dist/), which `turbo run test` builds first.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PYTHON = process.env.TESSERA_PYTHON || 'python3';
const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const hasTorch = !probe.error && probe.status === 0;
const SCRIPT = fileURLToPath(new URL('../scripts/hf-gpt2-check.mjs', import.meta.url));

describe('Hugging Face GPT-2 conventions, checked by PyTorch', () => {
  it.skipIf(!hasTorch)(
    `savePretrained is read, and fromPretrained reads, as HF's GPT2LMHeadModel (max |logit diff| <= 1e-4)${hasTorch ? '' : ` [skipped: ${PYTHON} cannot import torch]`}`,
    () => {
      const res = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', timeout: 60_000 });
      const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
      expect(res.error, output).toBeUndefined();
      expect(res.status, output).toBe(0);
      const line = /^RESULT (.*)$/m.exec(res.stdout);
      expect(line, output).not.toBeNull();
      const result = JSON.parse(line![1]) as { ok: boolean; maxDiff: Record<string, number> };
      expect(result.ok, output).toBe(true);
      for (const key of ['save', 'loadHf', 'loadLegacy']) expect(result.maxDiff[key], `${key}\n${output}`).toBeLessThanOrEqual(1e-4);
    },
  );
});
