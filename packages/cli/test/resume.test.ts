// Resuming is bit-exact: N steps straight give the same loss sequence, validation losses,
// weights and optimizer state as N/2 steps, a checkpoint, and N/2 more steps after --resume.
// Dropout is on, so the per-step reseeding of the global generator is exercised too.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureIo, tempDir } from './helpers.js';

const COMMON = ['--preset', 'tiny', '--eval-every', '4', '--eval-iters', '2', '--sample', '0', '--dropout', '0.1', '--seed', '7'];

async function train(args: string[]): Promise<string> {
  const io = captureIo();
  const code = await main(['train', ...args], io);
  expect(code, io.err()).toBe(0);
  return io.out();
}

const state = (dir: string) => JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8'));
const bytes = (dir: string, file: string) => readFileSync(join(dir, file));

describe('tessera train --resume', () => {
  it('continues bit for bit', async () => {
    const root = tempDir();
    const straight = join(root, 'straight');
    const split = join(root, 'split');
    await train([...COMMON, '--steps', '12', '--out', straight]);
    await train([...COMMON, '--steps', '12', '--out', split, '--stop-at', '6']);
    expect(state(split).step).toBe(6);
    const resumed = await train(['--out', split, '--resume', '--sample', '0']);
    expect(resumed).toContain(`resuming ${split} at step 6`);

    const a = state(straight);
    const b = state(split);
    expect(b.step).toBe(12);
    expect(b.history.train).toHaveLength(12);
    expect(b.history.train).toEqual(a.history.train);
    expect(b.history.val).toEqual(a.history.val);
    expect(b.rng).toEqual(a.rng);
    expect(b.scheduler).toEqual(a.scheduler);
    expect(bytes(split, 'model.safetensors').equals(bytes(straight, 'model.safetensors'))).toBe(true);
    expect(bytes(split, 'training_state.safetensors').equals(bytes(straight, 'training_state.safetensors'))).toBe(true);
  });

  it('refuses a changed setting and a fresh run over an existing checkpoint', async () => {
    const root = tempDir();
    const out = join(root, 'ck');
    await train([...COMMON, '--steps', '12', '--out', out, '--stop-at', '2']);
    let io = captureIo();
    expect(await main(['train', '--out', out, '--resume', '--lr', '0.5'], io)).toBe(2);
    expect(io.err()).toMatch(/--lr 0\.5 differs from the checkpoint's 0\.003/);
    io = captureIo();
    expect(await main(['train', ...COMMON, '--steps', '12', '--out', out], io)).toBe(2);
    expect(io.err()).toMatch(/already holds a checkpoint; pass --resume to continue it or --overwrite/);
  });

  it('--overwrite replaces only a checkpoint Tessera wrote: an existing file or another directory is refused with one line', async () => {
    const root = tempDir();
    const file = join(root, 'model.bin');
    writeFileSync(file, 'user data');
    const other = join(root, 'mine');
    mkdirSync(other);
    writeFileSync(join(other, 'config.json'), '{"mine": true}');
    for (const [out, message] of [
      [file, `${file} is an existing file, not a directory Tessera wrote; refusing to replace it (choose another --out)`],
      [other, `${other} is a directory Tessera did not write (it has no trainer_state.json); refusing to replace it`],
    ] as const) {
      for (const flags of [['--overwrite'], []]) {
        const io = captureIo();
        expect(await main(['train', ...COMMON, '--steps', '2', '--out', out, ...flags], io)).toBe(1);
        expect(io.err().trim().split('\n')).toHaveLength(1);
        expect(io.err()).toContain(message);
        expect(io.err()).not.toMatch(/\n\s+at /);
      }
    }
    expect(readFileSync(file, 'utf8')).toBe('user data');
    expect(readdirSync(other)).toEqual(['config.json']);
    expect(readdirSync(root).sort()).toEqual(['mine', 'model.bin']);
    // A checkpoint of its own is replaced.
    const ck = join(root, 'ck');
    await train([...COMMON, '--steps', '2', '--out', ck]);
    await train([...COMMON, '--steps', '4', '--out', ck, '--overwrite']);
    expect(state(ck).step).toBe(4);
  });

  it('generate and --resume open a checkpoint a killed save left as ck.old-* and clean the debris', async () => {
    const root = tempDir();
    const ck = join(root, 'ck');
    await train([...COMMON, '--steps', '4', '--out', ck, '--stop-at', '2']);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    // A save killed between its renames: the previous checkpoint as ck.old-*, a half-written ck.tmp-*.
    renameSync(ck, `${ck}.old-${dead}-abcd1234`);
    mkdirSync(`${ck}.tmp-${dead}-5678abcd`);
    const io = captureIo();
    expect(await main(['generate', '--model', ck, '--max-tokens', '3', '--seed', '1'], io), io.err()).toBe(0);
    expect(readdirSync(root)).toEqual(['ck']);
    mkdirSync(`${ck}.tmp-${dead}-00000001`);
    mkdirSync(`${ck}.old-${dead}-00000002`);
    expect(await train(['--out', ck, '--resume', '--sample', '0'])).toContain('resuming');
    expect(readdirSync(root)).toEqual(['ck']);
    expect(state(ck).step).toBe(4);
  });

  it('--resume names the field of a trainer state that is missing or wrong (no TypeError)', async () => {
    const ck = join(tempDir(), 'ck');
    await train([...COMMON, '--steps', '4', '--out', ck, '--stop-at', '2']);
    const good = state(ck);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, rng: undefined }, 'lacks rng'],
      [{ ...good, step: -1 }, 'has step = -1, expected an integer >= 0'],
      [{ ...good, history: { train: good.history.train } }, 'lacks history.val'],
      [{ ...good, settings: { ...good.settings, lr: 'fast' } }, 'has settings.lr = "fast", expected a number >= 0'],
      [{ ...good, step: 9 }, 'has step 9 past settings.steps 4'],
      [{ ...good, settings: { ...good.settings, layers: good.settings.layers + 2 } }, `has settings.layers ${good.settings.layers + 2} but the weights' config.json has ${good.settings.layers}`],
    ];
    for (const [bad, message] of cases) {
      writeFileSync(join(ck, 'trainer_state.json'), JSON.stringify(bad));
      const io = captureIo();
      expect(await main(['train', '--out', ck, '--resume', '--sample', '0'], io)).toBe(1);
      expect(io.err()).toContain(message);
      expect(io.err().trim().split('\n')).toHaveLength(1);
      expect(io.err()).not.toMatch(/TypeError/);
    }
  });

  it('writes the checkpoint in the Hugging Face layout with the loss curve beside it', async () => {
    const out = join(tempDir(), 'ck');
    await train(['--preset', 'tiny', '--sample', '0', '--eval-iters', '2', '--out', out, '--steps', '4', '--eval-every', '2']);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'gpt2', n_layer: 1, n_head: 2, n_embd: 32, n_positions: 32, architectures: ['GPT2LMHeadModel'] });
    const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('validation');
    expect(JSON.parse(readFileSync(join(out, 'char_tokenizer.json'), 'utf8')).type).toBe('char');
  });
});
