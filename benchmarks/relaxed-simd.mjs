// Node 20 validates relaxed-SIMD only behind the V8 flag --experimental-wasm-relaxed-simd
// (Node >= 22, Deno and Bun validate it by default). The benchmark scripts call
// reexecForRelaxedSimd() before loading anything heavy, so Tessera runs its relaxed-SIMD
// (FMA) build there too; scripts that spawn children pass them relaxedFlags.
import { spawnSync } from 'node:child_process';
import { relaxedSimdSupported } from '@tessera/core';

export const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

/** The flags a child Node process needs to validate relaxed-SIMD. */
export const relaxedFlags = Number(process.versions.node.split('.')[0]) < 22 ? [RELAXED_FLAG] : [];

/**
 * Where this process lacks relaxed-SIMD only for want of the flag: runs the same script
 * again with it (same arguments, same stdio) and exits with the child's status.
 */
export function reexecForRelaxedSimd() {
  if (relaxedSimdSupported() || relaxedFlags.length === 0 || process.execArgv.includes(RELAXED_FLAG)) return;
  const r = spawnSync(process.execPath, [...process.execArgv, RELAXED_FLAG, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
