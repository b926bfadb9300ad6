import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Io } from '../src/command.js';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tessera.js');

/** A fresh temporary directory. */
export function tempDir(prefix = 'tessera-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the built CLI in a child process. */
export function runCli(args: string[], options: { cwd?: string; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Streams that collect what a command writes. */
export function captureIo(): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stream = (sink: (s: string) => void) =>
    ({
      write(chunk: string | Uint8Array): boolean {
        sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
        return true;
      },
      isTTY: false,
    }) as unknown as NodeJS.WritableStream;
  return {
    stdout: stream((s) => (out += s)),
    stderr: stream((s) => (err += s)),
    out: () => out,
    err: () => err,
  };
}

/** Runs `main(args)` in process with captured streams (the CLI is imported on first use: most users of these helpers spawn the binary). */
export async function runMain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import('../src/main.js');
  const io = captureIo();
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}
