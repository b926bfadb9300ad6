/**
 * Crash safety (reliability issue #19): a real `tessera train` child process checkpointing every
 * step is SIGKILLed at seeded random moments, several times in a row (each round resumes what
 * the previous one left). After each kill, what is on disk must be the previous or the new
 * checkpoint (its step is the last one reported saved, or the next), never a partial one: the
 * next command that opens it (`tessera generate` or `tessera export`, in process) succeeds and leaves no `ck.tmp-*`,
 * `ck.old-*` or `.tessera-save-*` debris behind, and `train --resume` continues from it.
 *
 * TESSERA_CRASH_ROUNDS (default 4) sets the number of kills; TESSERA_FUZZ_SEED the delays.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { mulberry32 } from '@tessera/testing';
import { describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { loadCheckpointState } from '../src/train/checkpoint.js';
import { BIN, captureIo, tempDir } from './helpers.js';

const ROUNDS = Number(process.env.TESSERA_CRASH_ROUNDS ?? 4);
const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 19);

const TRAIN = ['--preset', 'tiny', '--embd', '8', '--context', '8', '--batch', '2', '--steps', '100000', '--save-every', '1', '--eval-every', '0', '--eval-iters', '1', '--sample', '0'];

/** Starts `tessera train`, kills it `delayMs` after its first checkpoint line; returns the last step it reported saved. */
function trainAndKill(args: string[], delayMs: number): Promise<{ lastSaved: number; output: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group: the kill reaches the launcher's re-run child too (Node < 22 re-runs with a V8 flag).
    const child = spawn(process.execPath, [BIN, 'train', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let lastSaved = -1;
    let timer: NodeJS.Timeout | undefined;
    const onData = (d: Buffer): void => {
      output += d;
      for (const m of output.matchAll(/checkpoint: step (\d+) saved/g)) lastSaved = Math.max(lastSaved, Number(m[1]));
      if (lastSaved >= 0 && timer === undefined) timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), delayMs);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL' && _code !== null && timer === undefined) reject(new Error(`train ended before the kill (${signal ?? _code}): ${output}`));
      else resolve({ lastSaved, output });
    });
  });
}

/** Debris a killed save can leave: siblings of `ck` and save directories inside it. */
function debris(ck: string): string[] {
  const siblings = readdirSync(dirname(ck)).filter((n) => n.startsWith(`${basename(ck)}.`));
  const inside = existsSync(ck) ? readdirSync(ck).filter((n) => n.startsWith('.tessera-save-')) : [];
  return [...siblings, ...inside.map((n) => `${basename(ck)}/${n}`)];
}

describe('SIGKILL during checkpointing', () => {
  it(`${ROUNDS} seeded kills of tessera train: the previous or the new checkpoint, no debris after the next open, resumable`, async () => {
    const root = tempDir('tessera-crash-');
    const data = join(root, 'corpus.txt');
    writeFileSync(data, 'The whale. Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(40));
    const ck = join(root, 'ck');
    const rand = mulberry32(SEED);
    const seen: { round: number; killedAfter: number; onDisk: number; debris: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const delay = Math.floor(rand() * 300);
      const args = round === 0 ? ['--data', data, ...TRAIN, '--out', ck] : ['--resume', '--out', ck, '--steps', '100000'];
      // A resumed run keeps its settings (steps included), so it runs until killed as well.
      const { lastSaved, output } = await trainAndKill(round === 0 ? args : ['--resume', '--out', ck], delay);
      expect(lastSaved, output).toBeGreaterThanOrEqual(0);
      const left = debris(ck).length;
      if (process.env.TESSERA_CRASH_TRACE) console.error(`round ${round}: killed after step ${lastSaved}, debris ${debris(ck)}`);

      // The next command that opens the checkpoint recovers it and cleans up: generate, or
      // (every other round) export, which opens it through another path.
      const io = captureIo();
      const opener = round % 2 === 0 ? ['generate', '--model', ck, '--max-tokens', '2', '--seed', '1', '--prompt', 'The'] : ['export', '--model', ck, '--out', join(root, `round-${round}.onnx`)];
      const rc = await main(opener, io);
      expect(rc, io.err()).toBe(0);
      expect(debris(ck), `round ${round}: debris after ${opener[0]}`).toEqual([]);

      const { state } = await loadCheckpointState(ck);
      // Saved every step: the last one reported, or the next one whose line the kill cut off.
      expect([lastSaved, lastSaved + 1], `round ${round}: step on disk`).toContain(state.step);
      seen.push({ round, killedAfter: delay, onDisk: state.step, debris: left });
    }
    // The checkpoint left by the last kill resumes and trains on.
    const { state } = await loadCheckpointState(ck);
    const io = captureIo();
    const rc = await main(['train', '--resume', '--out', ck, '--stop-at', String(state.step + 1)], io);
    expect(rc, io.err()).toBe(0);
    expect((await loadCheckpointState(ck)).state.step).toBe(state.step + 1);
    expect(debris(ck)).toEqual([]);
    console.log(`crash safety (train): ${JSON.stringify(seen)}`);
    rmSync(root, { recursive: true, force: true });
  });
});
