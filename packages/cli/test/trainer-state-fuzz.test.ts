/**
 * The trainer state as a fuzzed file format (reliability issue #19): a real `tessera train`
 * checkpoint whose trainer_state.json has each field replaced by a value of the wrong kind or
 * removed, is cut short, or has random bytes changed; its training_state.safetensors is cut short.
 * `tessera train --resume` (in process) must then either continue (exit 0) or refuse with exactly
 * one line naming the file and the field, never a raw TypeError, within the time bound.
 *
 * The default run uses 3 confusions per field (and removal); TESSERA_FUZZ_RUNS (any value) uses the corpus'
 * whole list, and more random mutations.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFUSIONS, byteMutations, jsonConfusions, jsonPaths, truncations, type CorpusCase } from '@tessera/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { captureIo, tempDir } from './helpers.js';

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 19);
const LONG = process.env.TESSERA_FUZZ_RUNS !== undefined;
const MAX_MS = 10_000;

let root = '';
let pristine = '';
let state: Record<string, unknown> = {};
const counts: Record<string, { cases: number; resumed: number; refused: number }> = {};

beforeAll(async () => {
  root = tempDir('tessera-state-fuzz-');
  writeFileSync(join(root, 'corpus.txt'), 'The whale. Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(40));
  pristine = join(root, 'ck');
  const io = captureIo();
  const rc = await main(
    ['train', '--data', join(root, 'corpus.txt'), '--preset', 'tiny', '--embd', '8', '--context', '8', '--batch', '2', '--steps', '3', '--stop-at', '2', '--sample', '0', '--eval-every', '0', '--eval-iters', '1', '--out', pristine],
    io,
  );
  expect(rc, io.err()).toBe(0);
  state = JSON.parse(readFileSync(join(pristine, 'trainer_state.json'), 'utf8')) as Record<string, unknown>;
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Resumes a copy of the checkpoint with one of its files replaced; returns what happened. */
async function resumeWith(file: string, c: CorpusCase): Promise<{ resumed: boolean; problem?: string }> {
  const dir = join(root, 'case');
  rmSync(dir, { recursive: true, force: true });
  cpSync(pristine, dir, { recursive: true });
  writeFileSync(join(dir, file), c.bytes);
  const io = captureIo();
  const t0 = performance.now();
  const rc = await main(['train', '--resume', '--out', dir], io);
  const ms = performance.now() - t0;
  // Progress lines go to stderr too; an error is the one line that starts with the command's name.
  const lines = io.err().split('\n').filter((l) => l.startsWith('tessera train:'));
  const problem = (why: string): { resumed: boolean; problem: string } => ({ resumed: rc === 0, problem: `${c.name}: ${why}; stderr: ${io.err()}` });
  if (ms > MAX_MS) return problem(`took ${ms.toFixed(0)} ms`);
  if (rc === 0) return lines.length === 0 ? { resumed: true } : problem('exit 0 with an error line');
  if (lines.length !== 1) return problem(`${lines.length} stderr lines`);
  if (/run with --debug|\n\s+at /.test(io.err())) return problem('a raw error');
  // The line names the damaged file, or (settings.data, a buffer's tensor name) what the value pointed to.
  if (!/trainer_state\.json|training_state\.safetensors|--data|Moby Dick/.test(lines[0])) return problem('the line names neither file nor the data');
  // A field the trainer state's own check reads is named by its key; the optimizer's and the
  // scheduler's state dicts are checked by their loadStateDict, which names the group and entry.
  const own = c.names !== undefined && !/^(optimizer\.|scheduler\.)/.test(c.name);
  if (own && !lines[0].includes(String(c.names)) && !/not a version-1 tessera trainer state/.test(lines[0])) return problem(`the line does not name ${String(c.names)}`);
  return { resumed: false };
}

async function expectResumeCorpus(area: string, file: string, cases: CorpusCase[]): Promise<void> {
  const problems: string[] = [];
  let resumed = 0;
  for (const c of cases) {
    const r = await resumeWith(file, c);
    if (r.problem) problems.push(r.problem);
    if (r.resumed) resumed++;
  }
  counts[area] = { cases: cases.length, resumed, refused: cases.length - resumed };
  expect(problems, `${area}: ${problems.length} of ${cases.length} cases`).toEqual([]);
}

describe('train --resume on a damaged checkpoint: resumes or refuses in one line naming the field', () => {
  it('trainer_state.json: every field confused or removed', async () => {
    const confusions = LONG ? CONFUSIONS : CONFUSIONS.filter(([label]) => ['null', 'a string', '-1'].includes(label));
    // The loss history's values are shown, not computed with: a path into them is enough.
    const paths = jsonPaths(state, 5).filter((p) => !(p[0] === 'history' && p.length > 3) && !(p[0] === 'rng' && p.length > 1 && p[1] !== 0));
    await expectResumeCorpus('trainer_state.json fields', 'trainer_state.json', jsonConfusions(state, { paths, confusions }));
  });

  it('trainer_state.json: truncations and byte mutations', async () => {
    const bytes = readFileSync(join(pristine, 'trainer_state.json'));
    await expectResumeCorpus('trainer_state.json bytes', 'trainer_state.json', [
      ...truncations(bytes, { every: 16, sample: LONG ? 64 : 12, seed: SEED }),
      ...byteMutations(bytes, { count: LONG ? 200 : 25, seed: SEED }),
    ]);
  });

  it('training_state.safetensors: truncations', async () => {
    const bytes = readFileSync(join(pristine, 'training_state.safetensors'));
    await expectResumeCorpus('training_state.safetensors', 'training_state.safetensors', truncations(bytes, { every: 8, sample: LONG ? 64 : 8, seed: SEED }));
  });

  it('the counts, for docs/reliability.md', () => {
    for (const [area, c] of Object.entries(counts)) console.log(`${area}: ${c.cases} cases, ${c.resumed} resumed, ${c.refused} refused`);
    expect(Object.values(counts).reduce((s, c) => s + c.cases, 0)).toBeGreaterThan(150);
  });
});
