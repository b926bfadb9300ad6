/**
 * Data-parallel `tessera train` over @tessera/distributed:
 * - `--nproc N` (the launcher): starts a nats-server on a free loopback port unless `--nats` names
 *   one, then N ranks of the same command (`--rank r --world-size N --run-id ID` added), forwards
 *   rank 0's output and the other ranks' errors, and stops the server when they exit.
 * - `--nats URL --rank r --world-size n` (one rank): joins the group; the trainer then splits every
 *   global batch into n row blocks and all-reduces the gradients (DistributedDataParallel).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initProcessGroupFromEnv, startLocalNatsServer, type ProcessGroup } from '@tessera/distributed';
import { hash32 } from '@tessera/core';
import type { Io } from '../command.js';
import { CliError } from '../errors.js';
import type { Batch } from '../data/corpus.js';

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
  let server: Awaited<ReturnType<typeof startLocalNatsServer>> | null = null;
  if (!natsUrl) {
    try {
      server = await startLocalNatsServer();
    } catch (e) {
      throw new CliError(`--nproc needs a nats-server unless --nats names one: ${(e as Error).message}`);
    }
  }
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
