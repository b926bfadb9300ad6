// `tessera train --nproc 2`: two local ranks over a nats-server the launcher starts on a free loopback
// port; the run matches one process at the same global batch, and only rank 0 prints and checkpoints.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
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
/** The pid of rank `rank` of the run writing to `out` (Linux: scans /proc for its command line). */
function rankPid(out: string, rank: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('--rank');
      if (at > 0 && argv[at + 1] === String(rank) && argv[argv.indexOf('--out') + 1] === out) return Number(entry);
    } catch {
      // The process exited while it was read.
    }
  }
  return 0;
}

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

  it('--resume continues a 2-rank run exactly, after --stop-at and after a rank was killed', async () => {
    // A straight 2-rank run, the same run stopped at step 12 and resumed, and the same run with rank 1
    // killed (SIGKILL) after rank 0's first periodic checkpoint, then resumed from the last checkpoint.
    const RUN = ['--preset', 'tiny', '--steps', '40', '--eval-every', '4', '--eval-iters', '1', '--sample', '0', '--seed', '5', '--dropout', '0.1', '--nproc', '2'];
    const straight = join(tempDir(), 'straight');
    const stopped = join(tempDir(), 'stopped');
    const killed = join(tempDir(), 'killed');
    const a = await runCli(['train', ...RUN, '--out', straight]);
    expect(a.code, a.stderr).toBe(0);

    const first = await runCli(['train', ...RUN, '--out', stopped, '--stop-at', '12']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(stopped, 'trainer_state.json'), 'utf8')).step).toBe(12);
    const resumed = await runCli(['train', '--nproc', '2', '--out', stopped, '--resume', '--sample', '0']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`resuming ${stopped} at step 12`);
    expect(resumed.stdout.match(/^resuming /gm)).toHaveLength(1);

    // Rank 1 is the process whose command line says --rank 1 --out <killed> (Linux /proc).
    let victim = 0;
    const crashed = await runCli(['train', ...RUN, '--out', killed], {
      onStderr: (text) => {
        if (victim || !/checkpoint: step 4 saved/.test(text)) return;
        victim = rankPid(killed, 1);
        if (victim) process.kill(victim, 'SIGKILL');
      },
    });
    expect(victim).toBeGreaterThan(0);
    expect(crashed.code).not.toBe(0);
    const lastSaved = JSON.parse(readFileSync(join(killed, 'trainer_state.json'), 'utf8')).step as number;
    expect(lastSaved).toBeGreaterThanOrEqual(4);
    expect(lastSaved).toBeLessThan(40);
    const restarted = await runCli(['train', '--nproc', '2', '--out', killed, '--resume', '--sample', '0']);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.stdout).toContain(`resuming ${killed} at step ${lastSaved}`);

    for (const dir of [stopped, killed]) {
      expect(history(dir)).toEqual(history(straight));
      const state = (d: string) => JSON.parse(readFileSync(join(d, 'trainer_state.json'), 'utf8'));
      expect(state(dir).step).toBe(40);
      expect(state(dir).rng).toEqual(state(straight).rng);
      for (const file of ['model.safetensors', 'training_state.safetensors']) {
        expect(readFileSync(join(dir, file)).equals(readFileSync(join(straight, file))), `${dir}/${file}`).toBe(true);
      }
    }
    expect(history(straight).train).toHaveLength(40);
  }, 120_000);

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
