// tessera prune and tessera train --from: prune a trained checkpoint (magnitude, neurons, heads),
// fine-tune the pruned directory with a new optimizer (its zeros stay zero), generate from it,
// and the typed errors of bad amounts and methods.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2, sparsity } from '@tessera/models';
import { ready } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureIo, tempDir } from './helpers.js';

const COMMON = ['--eval-every', '4', '--eval-iters', '2', '--sample', '0', '--seed', '3'];

async function run(args: string[]): Promise<string> {
  const io = captureIo();
  const code = await main(args, io);
  expect(code, io.err()).toBe(0);
  return io.out();
}

async function fails(args: string[]): Promise<{ code: number; err: string }> {
  const io = captureIo();
  const code = await main(args, io);
  expect(code).not.toBe(0);
  return { code, err: io.err() };
}

/** Indices of exact zeros of every Conv1D weight, by name. */
async function zeros(dir: string): Promise<Map<string, number[]>> {
  const m = await GPT2.fromPretrained(dir);
  const out = new Map<string, number[]>();
  for (const [name, p] of m.namedParameters()) {
    if (!/\.(c_attn|c_proj|c_fc)\.weight$/.test(name)) continue;
    const d = (await p.data()) as Float32Array;
    out.set(name, [...d.keys()].filter((i) => d[i] === 0));
  }
  m.dispose();
  return out;
}

describe('tessera prune, train --from, generate', () => {
  let root = '';
  let base = '';
  beforeAll(async () => {
    await ready();
    root = tempDir();
    base = join(root, 'base');
    await run(['train', '--preset', 'tiny', '--heads', '4', '--steps', '8', ...COMMON, '--out', base]);
  });

  it('magnitude: 50% zeros; train --from keeps them through fine-tuning; generate runs on the result', async () => {
    const pruned = join(root, 'mag');
    const out = await run(['prune', '--model', base, '--amount', '0.5', '--method', 'magnitude', '--out', pruned]);
    expect(out).toMatch(/pruned by magnitude \(amount 0\.5\): 50\.0% of the Linear\/Conv1D weights are zero/);
    const before = await zeros(pruned);
    const tuned = join(root, 'mag-ft');
    const log = await run(['train', '--from', pruned, '--steps', '8', '--stop-at', '4', '--lr', '0.003', ...COMMON, '--out', tuned]);
    expect(log).toContain(`starting from ${pruned}`);
    expect(log).toMatch(/pruned: 50\.0% of the Linear\/Conv1D weights are zero and stay zero/);
    expect(await zeros(tuned)).toEqual(before);
    // --resume of the fine-tuning run re-derives the masks from the checkpoint's zeros.
    const resumed = await run(['train', '--out', tuned, '--resume', '--sample', '0']);
    expect(resumed).toMatch(/pruned: 50\.0% of the Linear\/Conv1D weights are zero and stay zero/);
    expect(resumed).toMatch(/validation loss \d/);
    expect(JSON.parse(readFileSync(join(tuned, 'trainer_state.json'), 'utf8')).step).toBe(8);
    expect(await zeros(tuned)).toEqual(before);
    const gen = await run(['generate', '--model', tuned, '--prompt', 'The ', '--max-tokens', '12', '--seed', '1']);
    expect(gen.length).toBeGreaterThan(4);
  });

  it('neurons and heads shrink the model; the result trains --from and generates', async () => {
    const slim = join(root, 'slim');
    expect(await run(['prune', '--model', base, '--amount', '0.25', '--method', 'neurons', '--out', slim])).toMatch(/n_inner 128 -> 96; parameters/);
    const fewer = join(root, 'fewer');
    expect(await run(['prune', '--model', slim, '--amount', '0.5', '--method', 'heads', '--out', fewer])).toMatch(/heads per layer 2 \(of 4\); pruned_heads \{"0":\[\d,\d\]\}/);
    const config = JSON.parse(readFileSync(join(fewer, 'config.json'), 'utf8'));
    expect(config.n_inner).toBe(96);
    expect(Object.keys(config.pruned_heads)).toEqual(['0']);
    const tuned = join(root, 'fewer-ft');
    await run(['train', '--from', fewer, '--steps', '4', ...COMMON, '--out', tuned]);
    const m = await GPT2.fromPretrained(tuned);
    expect(m.config.pruned_heads).toEqual(config.pruned_heads);
    expect((await sparsity(m)).overall.zeros).toBe(0);
    m.dispose();
    const gen = await run(['generate', '--model', tuned, '--prompt', 'The ', '--max-tokens', '8', '--seed', '1']);
    expect(gen.length).toBeGreaterThan(4);
  });

  it('refuses bad amounts, methods, all heads of a layer and --from with architecture flags, in one line', async () => {
    const out = join(root, 'bad');
    expect((await fails(['prune', '--model', base, '--amount', '1', '--out', out])).err).toMatch(/amount must be a fraction in \[0, 1\), got 1/);
    expect((await fails(['prune', '--model', base, '--amount', '-0.5', '--out', out])).err).toMatch(/amount must be a fraction in \[0, 1\), got -0\.5/);
    expect((await fails(['prune', '--model', base, '--amount', '0.5', '--method', 'rows', '--out', out])).err).toMatch(/rows/);
    expect((await fails(['prune', '--model', base, '--amount', '0.9', '--method', 'heads', '--out', out])).err).toMatch(/would remove all 4 remaining heads of layer 0/);
    expect((await fails(['prune', '--amount', '0.5', '--out', out])).err).toMatch(/needs --model/);
    expect((await fails(['train', '--from', base, '--layers', '3', '--out', join(root, 'x')])).err).toMatch(/--layers cannot be combined with --from/);
    expect((await fails(['train', '--from', join(root, 'missing'), '--out', join(root, 'y')])).err).toMatch(/cannot read --from/);
  });
});
