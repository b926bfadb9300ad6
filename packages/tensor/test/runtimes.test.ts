/**
 * test/runtimes/async-scopes.mjs (per-async-context tidy and noGrad, fused vs
 * composed kernels) against the built package in Node, Deno 2 and Bun 1 — the
 * runtimes where the scopes use AsyncLocalStorage. Deno and Bun are the
 * repository's devDependencies; a runtime whose binary is absent is skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const script = resolve(here, 'runtimes/async-scopes.mjs');
const bin = (name: string) => resolve(here, '../../../node_modules/.bin', name);
const built = existsSync(resolve(here, '../dist/index.js'));

const runtimes: [string, string, string[]][] = [
  ['node', process.execPath, [script]],
  ['deno', bin('deno'), ['run', '-A', script]],
  ['bun', bin('bun'), [script]],
];

describe.skipIf(!built)('async scopes and composed kernels in each runtime (built package)', () => {
  for (const [name, exe, args] of runtimes) {
    it.skipIf(name !== 'node' && !existsSync(exe))(name, () => {
      const out = execFileSync(exe, args, { cwd: resolve(here, '..'), encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
      expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ runtime: name, wasm: 'wasm', checks: 7 });
    });
  }
});
