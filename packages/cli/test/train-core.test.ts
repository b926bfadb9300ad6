import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ready } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRESETS, TrainLoop, decodeCorpus, newModel, presetSettings, tokenizeCorpus } from '../src/train-core.js';
import { CliError } from '../src/errors.js';
import { runCli, tempDir } from './helpers.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/** Every module specifier that `entry` imports statically, following relative imports. */
function staticImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  visit(entry);
  return bare;
}

describe('@tessera/cli/train-core', () => {
  beforeAll(async () => {
    await ready();
  });

  it('imports nothing from Node (it runs in browsers): only Tessera packages below the CLI', () => {
    const bare = [...staticImports(join(DIST, 'train-core.js'))].sort();
    expect(bare).toEqual(['@tessera/core', '@tessera/models', '@tessera/optim', '@tessera/tensor']);
  });

  it('presetSettings gives what `tessera train` uses, and TrainLoop the losses it records', async () => {
    const dir = tempDir();
    try {
      const text = 'Call me Ishmael. Some years ago, never mind how long precisely, having little money in my purse. '.repeat(12);
      const data = join(dir, 'corpus.txt');
      await writeFile(data, text);
      const out = join(dir, 'run');
      const steps = 4;
      const r = await runCli(['train', '--preset', 'tiny', '--steps', String(steps), '--eval-every', '2', '--eval-iters', '2', '--sample', '0', '--seed', '11', '--data', data, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const state = JSON.parse(await readFile(join(out, 'trainer_state.json'), 'utf8'));

      const settings = presetSettings('tiny', { steps, seed: 11, data });
      expect({ ...settings, corpusSha256: state.settings.corpusSha256 }).toEqual(state.settings);
      const { tokenizer, split } = await tokenizeCorpus(text, 'corpus', settings);
      const model = newModel(settings, tokenizer);
      const loop = new TrainLoop(model, split, settings);
      try {
        const val = [[0, await loop.evaluate(2)]];
        const train: [number, number][] = [];
        for (let i = 0; i < steps; i++) {
          const s = await loop.trainStep();
          train.push([s.step, s.loss]);
          if (s.step % 2 === 0) val.push([s.step, await loop.evaluate(2)]);
        }
        expect(train).toEqual(state.history.train);
        // Validation after the CLI's periodic checkpoint may take another matmul path (a packed weight):
        // the same sums in another order, so the last bits may differ.
        expect(val.map(([s]) => s)).toEqual(state.history.val.map(([s]: [number, number]) => s));
        val.forEach(([, loss], i) => expect(Math.abs(loss - state.history.val[i][1])).toBeLessThan(1e-6));
        expect(train[steps - 1][1]).toBeLessThan(train[0][1]);
      } finally {
        loop.dispose();
        model.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown preset and undecodable bytes with a CliError naming them', () => {
    expect(() => presetSettings('huge' as keyof typeof PRESETS, { steps: 1 })).toThrow(CliError);
    expect(() => presetSettings('huge' as keyof typeof PRESETS, { steps: 1 })).toThrow(/"huge".*tiny, small/);
    expect(() => decodeCorpus(new Uint8Array([0x61, 0xff, 0x62]), 'dropped file a.txt')).toThrow(/^dropped file a.txt is not UTF-8 text/);
    expect(() => decodeCorpus(new Uint8Array([0x61, 0, 0x62]), 'pasted text')).toThrow(/^pasted text looks binary/);
    expect(decodeCorpus(new Uint8Array([0xff, 0xfe, 0x61, 0]), 'x')).toEqual({ text: 'a', encoding: 'UTF-16LE' });
  });
});
