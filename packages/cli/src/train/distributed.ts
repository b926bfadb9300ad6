/**
 * Data-parallel `tessera train` over @tessera/distributed:
 * - `--nproc N` (the launcher): starts a nats-server on a free loopback port unless `--nats` names
 *   one, then N ranks of the same command (`--rank r --world-size N --run-id ID` added), forwards
 *   rank 0's output and the other ranks' errors, and stops the server when they exit.
 * - `--nats URL --rank r --world-size n` (one rank): joins the group; the trainer then splits every
 *   global batch into n row blocks and all-reduces the gradients (DistributedDataParallel).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { initProcessGroupFromEnv, type ProcessGroup } from '@tessera/distributed';
import { hash32 } from '@tessera/core';
import type { Io } from '../command.js';
import { CliError } from '../errors.js';
import type { Batch } from '../data/corpus.js';

/** The nats-server binary: $NATS_SERVER, else Debian's /usr/sbin/nats-server (not on a user's PATH), else the PATH. */
function natsServerBinary(): string {
  if (process.env.NATS_SERVER) return process.env.NATS_SERVER;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

const listening = (port: number): Promise<boolean> =>
  new Promise((res) => {
    const c = tcpConnect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      res(true);
    });
    c.once('error', () => res(false));
  });

/** Starts a private nats-server on 127.0.0.1 and returns its URL and a stop function. */
async function startLocalServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const bin = natsServerBinary();
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let failed: Error | null = null;
  proc.stderr!.on('data', (d) => (log += String(d)));
  proc.once('error', (e) => (failed = e));
  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (failed || proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      const why = failed ? (failed as Error).message : proc.exitCode !== null ? `exited with ${proc.exitCode}: ${log.trim()}` : 'not listening after 10 s';
      throw new CliError(`--nproc needs a nats-server (${bin}: ${why}); install it (Debian: apt-get install nats-server) or pass --nats URL`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Prefixes every complete line of `chunk` (kept across chunks). */
function lineWriter(prefix: string, write: (s: string) => void): (chunk: Buffer | string) => void {
  let pending = '';
  return (chunk) => {
    pending += String(chunk);
    let i: number;
    while ((i = pending.indexOf('\n')) >= 0) {
      write(`${prefix}${pending.slice(0, i + 1)}`);
      pending = pending.slice(i + 1);
    }
  };
}

/**
 * Runs `nproc` ranks of `tessera train <args>` and returns the exit code: rank 0's when every rank
 * succeeded, else the first failure's. When a rank fails, the others are stopped (they would fail
 * at their collective timeout anyway).
 */
export async function launchLocalRanks(nproc: number, args: readonly string[], natsUrl: string | undefined, io: Io): Promise<number> {
  const server = natsUrl ? null : await startLocalServer();
  const url = natsUrl ?? server!.url;
  const runId = `train-${process.pid}-${Date.now().toString(36)}`;
  const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
  io.stderr.write(`tessera train: ${nproc} ranks, run ${runId}, NATS at ${url}${server ? ' (started here)' : ''}\n`);
  const children: ChildProcess[] = [];
  const codes: (number | null)[] = new Array(nproc).fill(null);
  const forward = (sig: NodeJS.Signals) => () => {
    for (const c of children) if (c.exitCode === null) c.kill(sig);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const done = Array.from({ length: nproc }, (_, rank) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, bin, 'train', ...args, '--nats', url, '--rank', String(rank), '--world-size', String(nproc), '--run-id', runId],
        // Its own process group: a terminal Ctrl-C reaches this launcher only, which forwards it once.
        { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      children.push(child);
      if (rank === 0) {
        child.stdout!.on('data', (d) => io.stdout.write(String(d)));
        child.stderr!.on('data', (d) => io.stderr.write(String(d)));
      } else {
        child.stdout!.resume();
        child.stderr!.on('data', lineWriter(`[rank ${rank}] `, (s) => io.stderr.write(s)));
      }
      return new Promise<void>((res) => {
        child.once('exit', (code, signal) => {
          codes[rank] = code ?? (signal === 'SIGINT' ? 130 : 1);
          // A failed rank takes the run down; an interrupted one (130) is followed by the others.
          if (codes[rank] !== 0 && codes[rank] !== 130) for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM');
          res();
        });
      });
    });
    await Promise.all(done);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await server?.stop();
  }
  const failed = codes.findIndex((c) => c !== 0);
  return failed < 0 ? 0 : codes[failed]!;
}

/** Joins the run's process group (flags win over RANK, WORLD_SIZE, TESSERA_NATS_URL, TESSERA_RUN_ID, TESSERA_NATS_TOKEN, ...). */
export function joinTrainingGroup(o: { nats?: string; rank?: number; worldSize?: number; runId?: string }): Promise<ProcessGroup> {
  return initProcessGroupFromEnv({ servers: o.nats, rank: o.rank, worldSize: o.worldSize, runId: o.runId ?? process.env.TESSERA_RUN_ID ?? 'tessera-train' });
}

/** Streams that drop everything: what ranks other than 0 print to. */
export const silentIo: Io = {
  stdout: { write: () => true, isTTY: false } as unknown as Io['stdout'],
  stderr: { write: () => true, isTTY: false } as unknown as Io['stderr'],
};

/**
 * Rank r's rows of a global batch [B, T]: rows [r·B/n, (r+1)·B/n). Every rank draws the same global
 * batch (the same Rng stream), so n ranks see exactly the windows one process would, split n ways.
 */
export function rowBlock(b: Batch, group: ProcessGroup): Batch {
  if (b.batch % group.worldSize !== 0) throw new CliError(`a batch of ${b.batch} rows does not split over ${group.worldSize} ranks; choose --batch divisible by --world-size`);
  const rows = b.batch / group.worldSize;
  const span = rows * b.context;
  const at = group.rank * span;
  return { x: b.x.subarray(at, at + span), y: b.y.subarray(at, at + span), batch: rows, context: b.context };
}

/** The dropout seed of a step: rank 0 keeps the single-process seed, the others derive their own (no shared masks). */
export function dropoutSeed(seed: number, group: ProcessGroup | undefined): number {
  return !group || group.rank === 0 ? seed : hash32(seed, group.rank) | 0;
}
