// `tessera train --nproc 2`: two local ranks over a nats-server the launcher starts on a free loopback
// port; the run matches one process at the same global batch, and only rank 0 prints and checkpoints.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir as makeTempDir } from './helpers.js';

const made: string[] = [];
const tempDir = (): string => {
  const d = makeTempDir();
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const TINY = ['--preset', 'tiny', '--steps', '6', '--eval-every', '3', '--eval-iters', '1', '--sample', '0', '--seed', '3'];
const history = (dir: string) => (JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as { history: { train: [number, number][]; val: [number, number][] } }).history;

describe('tessera train --nproc', () => {
  it('2 ranks train like 1 process at the same global batch; rank 0 alone prints and checkpoints', async () => {
    const one = join(tempDir(), 'one');
    const two = join(tempDir(), 'two');
    const [a, b] = await Promise.all([runCli(['train', ...TINY, '--out', one]), runCli(['train', ...TINY, '--nproc', '2', '--out', two])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/tessera train: 2 ranks, run train-\d+-\w+, NATS at nats:\/\/127\.0\.0\.1:\d+ \(started here\)/);
    expect(b.stdout.match(/^training: /gm)).toHaveLength(1);
    expect(b.stderr).not.toMatch(/\[rank 1\]/);
    const h1 = history(one);
    const h2 = history(two);
    expect(h2.train.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6]);
    // The same windows, split 4 + 4 rows: the mean of the two halves' gradients is the batch gradient
    // up to the order of the sums.
    h2.train.forEach(([, loss], i) => expect(Math.abs(loss - h1.train[i][1])).toBeLessThan(1e-5));
    h2.val.forEach(([, loss], i) => expect(Math.abs(loss - h1.val[i][1])).toBeLessThan(1e-5));
    expect(h2.train[5][1]).toBeLessThan(h2.train[0][1]);
  });

  it('refuses contradictory or unsplittable settings', async () => {
    const out = join(tempDir(), 'out');
    const both = await runCli(['train', ...TINY, '--nproc', '2', '--rank', '0', '--world-size', '2', '--out', out]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--nproc starts its own ranks; --rank and --world-size are for one rank of a run started elsewhere/);
    const odd = await runCli(['train', ...TINY, '--batch', '7', '--nproc', '2', '--out', out]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/--batch 7 must divide evenly over 2 ranks/);
    const half = await runCli(['train', ...TINY, '--rank', '1', '--out', out]);
    expect(half.stderr).toMatch(/--rank and --world-size go together/);
  });
});
