// Resuming is bit-exact: N steps straight give the same loss sequence, validation losses,
// weights and optimizer state as N/2 steps, a checkpoint, and N/2 more steps after --resume.
// Dropout is on, so the per-step reseeding of the global generator is exercised too.
import { readFileSync } from 'node:fs';
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
