#!/usr/bin/env node
// The `tessera` command. On Node < 22, relaxed SIMD (fused multiply-add in the wasm kernels) is
// behind a V8 flag that NODE_OPTIONS may not carry, so the launcher re-runs itself with the flag;
// the child gets SIGINT from the terminal itself, and a SIGINT sent to this process is passed on.
import { spawn } from 'node:child_process';

const FLAG = '--experimental-wasm-relaxed-simd';
const major = Number(process.versions.node.split('.')[0]);
const { relaxedSimdSupported } = await import('@tessera/core');

if (major < 22 && !relaxedSimdSupported() && !process.execArgv.includes(FLAG) && !process.env.TESSERA_NO_RELAXED) {
  const child = spawn(process.execPath, [...process.execArgv, FLAG, ...process.argv.slice(1)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
  });
} else {
  const { main } = await import('../dist/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
