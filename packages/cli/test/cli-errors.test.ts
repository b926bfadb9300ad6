// The built CLI, spawned as users run it: every failure is exactly one line on stderr, a non-zero
// exit code, and no stack trace unless --debug is given.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

function expectOneLineFailure(r: { code: number | null; stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe('tessera error lines', () => {
  it('unknown option: exit 2 with a suggestion', async () => {
    const r = await runCli(['train', '--stepz', '3']);
    expectOneLineFailure(r, 2, /^tessera train: unknown option --stepz \(did you mean --steps\?\) \(see tessera train --help\)$/);
  });

  it('bad value: exit 2', async () => {
    const r = await runCli(['generate', '--model', 'x', '--temperature', 'hot']);
    expectOneLineFailure(r, 2, /^tessera generate: --temperature must be a number; got "hot"/);
  });

  it('unknown command: exit 2', async () => {
    const r = await runCli(['trian']);
    expectOneLineFailure(r, 2, /^tessera: unknown command "trian" \(did you mean train\?\)/);
  });

  it('missing --data file: exit 1 naming the file', async () => {
    const out = tempDir();
    const r = await runCli(['train', '--data', join(out, 'nope.txt'), '--out', join(out, 'ck'), '--preset', 'tiny', '--steps', '2']);
    expectOneLineFailure(r, 1, /^tessera train: cannot read --data file .*nope\.txt: no such file or directory$/);
  });

  it('missing model directory: exit 1', async () => {
    const r = await runCli(['generate', '--model', '/definitely/not/here']);
    expectOneLineFailure(r, 1, /^tessera generate: cannot read --model \/definitely\/not\/here: no such file or directory$/);
  });

  it('a directory that is not a model: exit 1 naming the missing files', async () => {
    const dir = tempDir();
    const r = await runCli(['generate', '--model', dir]);
    expectOneLineFailure(r, 1, /^tessera generate: MissingFileError: model directory .* lacks config\.json and model\.safetensors/);
  });

  it('unreadable checkpoint on --resume: exit 1', async () => {
    const dir = tempDir();
    const ck = join(dir, 'ck');
    mkdirSync(ck);
    writeFileSync(join(ck, 'trainer_state.json'), '{ not json');
    const r = await runCli(['train', '--out', ck, '--resume']);
    expectOneLineFailure(r, 1, /^tessera train: cannot resume: .*trainer_state\.json is not valid JSON/);
  });

  it('corrupt weights: exit 1, one line', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ n_layer: 1, n_head: 1, n_embd: 4, vocab_size: 5, n_positions: 4 }));
    writeFileSync(join(dir, 'model.safetensors'), 'garbage');
    const r = await runCli(['generate', '--model', dir]);
    expectOneLineFailure(r, 1, /^tessera generate: FormatError: /);
  });

  it('eval on a directory without finetune.json: exit 1', async () => {
    const dir = tempDir();
    const r = await runCli(['eval', '--model', dir]);
    expectOneLineFailure(r, 1, /^tessera eval: cannot read .*finetune\.json: no such file or directory \(is .* a tessera finetune output\?\)$/);
  });

  it('--debug adds the stack', async () => {
    const r = await runCli(['generate', '--model', '/definitely/not/here', '--debug']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^tessera generate: cannot read --model/);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('--help exits 0 and prints the options', async () => {
    const r = await runCli(['finetune', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: tessera finetune [options]');
    expect(r.stdout).toContain('--max-tokens');
    expect(r.stderr).toBe('');
  });
});
