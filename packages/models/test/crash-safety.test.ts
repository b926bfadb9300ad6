/**
 * Crash safety of savePretrained (reliability issue #19): a child process saving model
 * directories in a loop is SIGKILLed at seeded random moments. The directory must then hold the
 * previous save or the new one, never a mix (the two alternating saves have different configs,
 * and every weight equals its round number), and fromPretrained, which opens it, leaves no
 * `.tessera-save-*` directory behind.
 *
 * TESSERA_CRASH_ROUNDS (default 6) sets the number of kills; TESSERA_FUZZ_SEED the delays.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '@tessera/testing';
import { ready } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../src/index.js';
import { useTempDir } from './helpers.js';

const ROUNDS = Number(process.env.TESSERA_CRASH_ROUNDS ?? 6);
const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 19);
const tmp = useTempDir('tessera-crash-save-');
beforeAll(async () => {
  await ready();
});

/** Runs the save loop into `dir` and kills it `delayMs` after its first finished save; returns the last round it reported. */
function saveAndKill(dir: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'workers', 'save-loop.mjs'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      out += d;
      if (timer === undefined && out.includes('saved')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`the save loop ended with ${code}: ${err}`));
      resolve(Math.max(...[...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1]))));
    });
  });
}

describe('SIGKILL during savePretrained', () => {
  it(`${ROUNDS} seeded kills: the previous or the new save, never a mix, no debris once opened`, async () => {
    const rand = mulberry32(SEED);
    const seen: { last: number; onDisk: number; debris: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const dir = join(tmp(), `round-${i}`);
      const last = await saveAndKill(dir, Math.floor(rand() * 250));
      const debris = readdirSync(dir).filter((n) => n.startsWith('.tessera-save-')).length;
      const model = await GPT2.fromPretrained(dir);
      const values = new Set(model.flat.all.dataSync());
      const round = model.config.n_positions === 8 ? 'even' : 'odd';
      model.dispose();
      expect(values.size, `round ${i}: one save's weights`).toBe(1);
      const onDisk = [...values][0];
      expect([last, last + 1], `round ${i}: the save on disk`).toContain(onDisk);
      expect(onDisk % 2 === 0 ? 'even' : 'odd', `round ${i}: config.json and the weights are one save`).toBe(round);
      expect(readdirSync(dir).filter((n) => n.startsWith('.tessera-save-')), `round ${i}: debris after opening`).toEqual([]);
      seen.push({ last, onDisk, debris });
    }
    console.log(`crash safety (savePretrained): ${JSON.stringify(seen)}`);
  });
});
