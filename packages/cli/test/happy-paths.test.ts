// The CLI's happy paths end to end at tiny sizes, through the built `tessera` binary:
// `generate` streams from a directory `train` wrote (tokens arrive over several writes, the
// same seed gives the same text, --greedy is deterministic), `finetune` then `eval` reproduce
// the same metrics on the held-out split, and `bench` runs a quick suite.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, tempDir } from './helpers.js';

/** Runs the CLI and records stdout as the chunks the process wrote. */
function runChunks(args: string[]): Promise<{ code: number | null; chunks: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: string[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, chunks, stderr }));
  });
}

/** The classification report block: from "Test split" to the summary line. */
function report(text: string): string {
  const start = text.indexOf('Test split:');
  const end = text.indexOf('accuracy', text.indexOf('spam F1'));
  expect(start, text).toBeGreaterThanOrEqual(0);
  expect(end, text).toBeGreaterThan(start);
  return text.slice(start, text.indexOf('\n', end));
}

describe('tessera happy paths', () => {
  it('train, then generate streams from the checkpoint', async () => {
    const out = join(tempDir(), 'ck');
    const trained = await runCli(['train', '--preset', 'tiny', '--steps', '6', '--eval-every', '3', '--eval-iters', '1', '--sample', '0', '--seed', '3', '--out', out]);
    expect(trained.code, trained.stderr).toBe(0);

    const args = ['generate', '--model', out, '--prompt', 'Call me ', '--max-tokens', '40', '--seed', '5'];
    const a = await runChunks(args);
    expect(a.code, a.stderr).toBe(0);
    // Streamed: the text arrives token by token, not as one write at the end.
    expect(a.chunks.length, a.chunks.join('|')).toBeGreaterThan(1);
    const text = a.chunks.join('');
    expect(text.startsWith('Call me '), text).toBe(true);
    // A character-level model: 40 new tokens are 40 new characters.
    expect([...text.trimEnd()].length).toBeGreaterThan('Call me '.length);
    const b = await runCli(args);
    expect(b.stdout).toBe(text);

    const g1 = await runCli(['generate', '--model', out, '--prompt', 'The ', '--max-tokens', '20', '--greedy']);
    const g2 = await runCli(['generate', '--model', out, '--prompt', 'The ', '--max-tokens', '20', '--greedy']);
    expect(g1.code, g1.stderr).toBe(0);
    expect(g1.stdout).toBe(g2.stdout);
  });

  it('finetune, then eval reproduces the same metrics on the held-out split', async () => {
    const out = join(tempDir(), 'spam');
    const ft = await runCli(['finetune', '--steps', '12', '--batch', '16', '--max-tokens', '16', '--layers', '1', '--embd', '16', '--heads', '2', '--out', out]);
    expect(ft.code, ft.stderr).toBe(0);
    const ev = await runCli(['eval', '--model', out]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(report(ev.stdout)).toBe(report(ft.stdout));
    const saved = JSON.parse(readFileSync(join(out, 'finetune.json'), 'utf8'));
    expect(ev.stdout).toContain(`ROC-AUC ${saved.results.rocAuc.toFixed(4)}`);
    expect(ev.stdout).toContain(`accuracy ${saved.results.accuracy.toFixed(4)}`);
  });

  it('bench --quick runs a suite and prints its table', async () => {
    const r = await runCli(['bench', '--filter', 'overhead']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/overhead\.bench\.mjs --quick/);
    expect(r.stdout).toMatch(/\| add \[8,8\] \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \|/);
  });
});
