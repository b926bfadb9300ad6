/**
 * Bad arguments and bad files for every command (reliability issue #19): each case must exit
 * non-zero with exactly one line on stderr naming the problem, no stack trace (and no "not one of
 * ours" raw error), and leave every file outside `--out` untouched (the case's working directory
 * is snapshotted before and after). The cases run in-process through `main(argv, io)`; a few run
 * through the real binary too, and `--debug` adds the stack.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { main } from '../src/main.js';
import { captureIo, runCli, tempDir } from './helpers.js';

/** Every path under `root` with its kind, size and mtime; `skip` (relative) subtrees left out. */
export function snapshotTree(root: string, skip: readonly string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path);
      if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue;
      const st = lstatSync(path);
      out.set(rel, `${st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other'} ${st.isDirectory() ? '' : st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out;
}

let root = '';
let cwd0 = '';
/** Paths inside the case directory. */
const p = (...parts: string[]): string => join(root, ...parts);

beforeAll(() => {
  root = tempDir('tessera-bad-args-');
  // Default outputs (train's checkpoints/gpt2, finetune's checkpoints/spam) land here, where the snapshot sees them.
  cwd0 = process.cwd();
  process.chdir(root);
  mkdirSync(p('empty-dir'));
  writeFileSync(p('text.txt'), 'call me Ishmael. '.repeat(200));
  writeFileSync(p('binary.bin'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)));
  writeFileSync(p('precious.txt'), 'user data');
  // A directory that looks like a model but holds garbage.
  mkdirSync(p('garbage-model'));
  writeFileSync(p('garbage-model', 'config.json'), '{"n_layer": "two"');
  writeFileSync(p('garbage-model', 'model.safetensors'), Buffer.from('\x08\x00\x00\x00\x00\x00\x00\x00{"a":1}'));
  mkdirSync(p('bad-config-model'));
  writeFileSync(p('bad-config-model', 'config.json'), JSON.stringify({ n_layer: 1, n_head: 3, n_embd: 8, vocab_size: 5, n_positions: 4 }));
  writeFileSync(p('bad-config-model', 'model.safetensors'), Buffer.from('\x02\x00\x00\x00\x00\x00\x00\x00{}'));
  mkdirSync(p('nan-model'));
  writeFileSync(p('nan-model', 'config.json'), JSON.stringify({ n_layer: 1, n_head: 1, n_embd: 4, vocab_size: 5, n_positions: 4, layer_norm_epsilon: -1 }));
  writeFileSync(p('nan-model', 'model.safetensors'), Buffer.from('\x02\x00\x00\x00\x00\x00\x00\x00{}'));
  mkdirSync(p('garbage-finetune'));
  writeFileSync(p('garbage-finetune', 'finetune.json'), '[1, 2');
  mkdirSync(p('garbage-ck'));
  writeFileSync(p('garbage-ck', 'config.json'), '{}');
  writeFileSync(p('garbage-ck', 'trainer_state.json'), JSON.stringify({ format: 'tessera-trainer', version: 1, step: 'x' }));
  mkdirSync(p('bench-dir'));
});

afterAll(() => {
  process.chdir(cwd0);
  rmSync(root, { recursive: true, force: true });
});

/** One case: its argv, the stderr pattern, the expected exit code, and the `--out` path it may write. */
type Case = [argv: string[], pattern: RegExp, code?: number, out?: string];

const CASES: Record<string, Case[]> = {
  train: [
    [['--steps', '0'], /--steps must be at least 1; got 0/, 2],
    [['--steps', '-3'], /--steps must be at least 1; got -3/, 2],
    [['--steps', '1.5'], /--steps must be an integer; got 1\.5/, 2],
    [['--steps', 'many'], /--steps must be a number; got "many"/, 2],
    [['--steps'], /option --steps needs a value/, 2],
    [['--steps', '9007199254740993'], /--steps must be an integer of magnitude at most 2\^53/, 2],
    [['--lr', 'NaN'], /--lr must be a number; got "NaN"/, 2],
    [['--lr', '1e999'], /--lr must be a number; got "1e999"/, 2],
    [['--lr', '-0.1'], /--lr must be at least 0; got -0\.1/, 2],
    [['--dropout', '1'], /--dropout must be at most 0\.95/, 2],
    [['--preset', 'huge'], /--preset must be one of .*; got "huge"/, 2],
    [['--tokenizer', 'bpe'], /--tokenizer must be one of char, gpt2; got "bpe"/, 2],
    [['--stepz', '3'], /unknown option --stepz \(did you mean --steps\?\)/, 2],
    [['--steps', '2', '--steps', '3'], /option --steps is given twice/, 2],
    [['extra'], /unexpected argument "extra"/, 2],
    [['--resume=yes'], /--resume is a flag/, 2],
    [['--data', 'nope.txt', '--out', 'o1', '--preset', 'tiny', '--steps', '1'], /cannot read --data file .*nope\.txt: no such file or directory/, 1, 'o1'],
    [['--data', 'empty-dir', '--out', 'o2', '--preset', 'tiny', '--steps', '1'], /--data .*empty-dir.*(directory|not a file)/, 1, 'o2'],
    [['--data', 'binary.bin', '--out', 'o3', '--preset', 'tiny', '--steps', '1'], /binary\.bin/, 1, 'o3'],
    [['--data', 'text.txt', '--out', 'precious.txt', '--preset', 'tiny', '--steps', '1'], /precious\.txt/, 1],
    [['--data', 'text.txt', '--out', 'precious.txt', '--overwrite', '--preset', 'tiny', '--steps', '1'], /precious\.txt/, 1],
    [['--data', 'text.txt', '--out', 'garbage-model', '--overwrite', '--preset', 'tiny', '--steps', '1'], /garbage-model/, 1],
    [['--resume', '--out', 'nope-ck'], /no checkpoint to resume in .*nope-ck/, 1],
    [['--resume', '--out', 'empty-dir'], /cannot resume: .*empty-dir/, 1],
    [['--resume', '--out', 'garbage-ck'], /cannot resume: .*trainer_state\.json is not a version-1 tessera trainer state/, 1],
    [['--resume', '--out', 'text.txt'], /text\.txt/, 1],
    [['--heads', '3', '--embd', '32', '--data', 'text.txt', '--out', 'o4', '--steps', '1'], /--embd 32 must be divisible by --heads 3/, 2, 'o4'],
  ],
  generate: [
    [[], /--model/, 2],
    [['--model', 'nope'], /cannot read --model .*nope: no such file or directory/, 1],
    [['--model', 'text.txt'], /--model .*text\.txt.*not a directory/, 1],
    [['--model', 'empty-dir'], /lacks config\.json and model\.safetensors/, 1],
    [['--model', 'garbage-model'], /config\.json is not valid JSON/, 1],
    [['--model', 'bad-config-model'], /n_embd 8 must be divisible by n_head 3/, 1],
    [['--model', 'nan-model'], /layer_norm_epsilon must be a finite number > 0, got -1/, 1],
    [['--model', 'garbage-model', '--temperature', '-1'], /--temperature must be at least 0/, 2],
    [['--model', 'garbage-model', '--top-p', '0'], /--top-p must be at least/, 2],
    [['--model', 'garbage-model', '--max-tokens', '10000000'], /--max-tokens must be at most 1000000/, 2],
    [['--model', 'garbage-model', '--seed', '-1'], /--seed must be at least 0/, 2],
    [['--model', 'garbage-model', '--greedy=maybe'], /--greedy is a flag/, 2],
  ],
  finetune: [
    [['--from', 'nope', '--out', 'f1'], /nope/, 1, 'f1'],
    [['--from', 'text.txt', '--out', 'f2'], /text\.txt/, 1, 'f2'],
    [['--from', 'garbage-model', '--out', 'f3'], /config\.json is not valid JSON/, 1, 'f3'],
    [['--arch', 'lstm'], /--arch must be one of encoder, gpt2; got "lstm"/, 2],
    [['--test-fraction', '1'], /--test-fraction must be at most 0\.99/, 2],
    [['--batch', '0'], /--batch must be at least 1/, 2],
    [['--out', 'precious.txt'], /precious\.txt/, 1],
    [['--out', 'garbage-model'], /garbage-model/, 1],
  ],
  eval: [
    [[], /--model/, 2],
    [['--model', 'nope'], /nope/, 1],
    [['--model', 'text.txt'], /text\.txt/, 1],
    [['--model', 'empty-dir'], /finetune\.json: no such file or directory/, 1],
    [['--model', 'garbage-finetune'], /finetune\.json/, 1],
  ],
  export: [
    [['--model', 'garbage-model'], /--out/, 2],
    [['--out', 'x.onnx'], /--model/, 2],
    [['--model', 'nope', '--out', 'x1.onnx'], /nope/, 1, 'x1.onnx'],
    [['--model', 'text.txt', '--out', 'x2.onnx'], /text\.txt/, 1, 'x2.onnx'],
    [['--model', 'garbage-model', '--out', 'x3.onnx'], /config\.json is not valid JSON/, 1, 'x3.onnx'],
    [['--model', 'garbage-model', '--out', 'x.onnx', '--format', 'tflite'], /--format must be one of onnx; got "tflite"/, 2],
    [['--model', 'garbage-model', '--out', 'x.onnx', '--opset', '1'], /--opset must be at least/, 2],
    [['--model', 'garbage-model', '--out', 'x.onnx', '--dtype', 'f64'], /--dtype must be one of f32, f16/, 2],
    [['--model', 'garbage-model', '--out', 'empty-dir'], /empty-dir|config\.json/, 1, 'empty-dir'],
  ],
  serve: [
    [[], /--model/, 2],
    [['--model', 'nope'], /nope/, 1],
    [['--model', 'garbage-model', '--port', '70000'], /--port must be at most 65535/, 2],
    [['--model', 'garbage-model', '--port', '-1'], /--port must be at least 0/, 2],
    [['--model', 'garbage-model', '--max-batch', '0'], /--max-batch must be at least 1/, 2],
    [['--model', 'garbage-model', '--port', '0'], /config\.json is not valid JSON/, 1],
    [['--model', 'text.txt', '--port', '0'], /text\.txt/, 1],
  ],
  bench: [
    [['--dir', 'nope'], /cannot read --dir .*nope: no such file or directory/, 1],
    [['--dir', 'text.txt'], /cannot read --dir .*text\.txt: not a directory/, 1],
    [['--dir', 'bench-dir'], /bench-dir/, 1],
    [['--quick'], /unknown option --quick/, 2],
    [['--filter'], /option --filter needs a value/, 2],
  ],
};

/** Asserts the one-line contract on what a failing run printed. */
function expectOneLine(what: string, code: number, stderr: string, pattern: RegExp, wantCode?: number, check: ExpectStatic = expect): void {
  check(code, `${what}: exit code (stderr: ${stderr})`).not.toBe(0);
  if (wantCode !== undefined) check(code, `${what}: exit code (stderr: ${stderr})`).toBe(wantCode);
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  check(lines, `${what}: stderr lines`).toHaveLength(1);
  check(lines[0], what).toMatch(pattern);
  check(lines[0], `${what}: a raw error reached the user`).not.toMatch(/run with --debug for the stack/);
  check(lines[0], `${what}: a value printed as null`).not.toMatch(/\bnull\b/);
  check(stderr, `${what}: stack trace`).not.toMatch(/\n\s+at /);
}

const counts: Record<string, number> = {};

describe('every command refuses bad arguments and bad files with one line and touches nothing', () => {
  for (const [command, cases] of Object.entries(CASES)) {
    it(`${command}: ${cases.length} cases`, async () => {
      for (const [argv, pattern, code, out] of cases) {
        const what = `tessera ${command} ${argv.join(' ')}`;
        const skip = out ? [out] : [];
        const before = snapshotTree(root, skip);
        const io = captureIo();
        const rc = await main([command, ...argv], io);
        // Soft: one run lists every case that breaks the contract.
        expectOneLine(what, rc, io.err(), pattern, code, expect.soft);
        expect.soft(io.out(), `${what}: stdout`).toBe('');
        expect.soft(snapshotTree(root, skip), `${what}: files outside --out changed`).toEqual(before);
      }
      counts[command] = cases.length;
      expect(readFileSync(p('precious.txt'), 'utf8')).toBe('user data');
    });
  }

  it('--debug adds the stack to the same line', async () => {
    const io = captureIo();
    const rc = await main(['generate', '--model', 'garbage-model', '--debug'], io);
    expect(rc).toBe(1);
    expect(io.err().split('\n')[0]).toMatch(/^tessera generate: .*config\.json is not valid JSON/);
    expect(io.err()).toMatch(/\n\s+at /);
  });

  it('through the real binary: the same line, exit code and no stack', async () => {
    const picks: [string, Case][] = [
      ['train', CASES.train[0]],
      ['generate', CASES.generate[4]],
      ['export', CASES.export[4]],
      ['eval', CASES.eval[4]],
      ['bench', CASES.bench[0]],
    ];
    for (const [command, [argv, pattern, code]] of picks) {
      const before = snapshotTree(root);
      const r = await runCli([command, ...argv], { cwd: root });
      expectOneLine(`bin: tessera ${command} ${argv.join(' ')}`, r.code ?? -1, r.stderr, pattern, code);
      expect(snapshotTree(root)).toEqual(before);
    }
  });

  it('the counts, for docs/reliability.md', () => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`CLI bad arguments: ${JSON.stringify(counts)}, ${total} cases in process + 5 through the binary + --debug`);
    expect(total).toBeGreaterThan(60);
  });
});
