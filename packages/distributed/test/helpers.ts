/** Test plumbing: a private nats-server on a free loopback port, and rank processes under node, bun or deno. */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startLocalNatsServer, type LocalNatsServer } from '@tessera/distributed';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const workers = resolve(here, 'workers');

export { freeLoopbackPort as freePort } from '@tessera/distributed';
export type NatsServer = LocalNatsServer;

/** Starts this test file's private `nats-server -a 127.0.0.1 -p <free port> ...extra`. */
export const startNatsServer = (extra: string[] = []): Promise<NatsServer> => startLocalNatsServer({ extraArgs: extra });

export type Runtime = 'node' | 'bun' | 'deno';

export function runtimeCommand(rt: Runtime, script: string): string[] {
  if (rt === 'node') return [process.execPath, script];
  const bin = resolve(repoRoot, 'node_modules/.bin', rt);
  if (!existsSync(bin)) throw new Error(`${rt} is not installed at ${bin} (npm ci installs it)`);
  return rt === 'bun' ? [bin, script] : [bin, 'run', '-A', '--no-lock', script];
}

export interface RankResult {
  rank: number;
  code: number | null;
  signal: string | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

export interface RankProc {
  rank: number;
  proc: ChildProcess;
  /** JSON lines so far. */
  lines: Record<string, unknown>[];
  done: Promise<RankResult>;
}

/** Spawns one rank; every stdout line must be JSON. Killed after `killAfterMs` so no test leaves a process behind. */
export function spawnRank(opts: {
  script: string;
  rank: number;
  worldSize: number;
  url: string;
  runId: string;
  runtime?: Runtime;
  env?: Record<string, string>;
  killAfterMs?: number;
  onLine?: (line: Record<string, unknown>) => void;
}): RankProc {
  const [cmd, ...args] = runtimeCommand(opts.runtime ?? 'node', opts.script);
  const proc = spawn(cmd, args, {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      RANK: String(opts.rank),
      WORLD_SIZE: String(opts.worldSize),
      LOCAL_RANK: String(opts.rank),
      TESSERA_NATS_URL: opts.url,
      TESSERA_RUN_ID: opts.runId,
      NO_COLOR: '1',
      DENO_NO_UPDATE_CHECK: '1',
      ...opts.env,
    },
  });
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => {
    buf += String(d);
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { text: line };
      }
      lines.push(parsed);
      opts.onLine?.(parsed);
    }
  });
  proc.stderr!.on('data', (d) => (stderr += String(d)));
  const killer = setTimeout(() => proc.kill('SIGKILL'), opts.killAfterMs ?? 150_000);
  const done = new Promise<RankResult>((res) => {
    proc.once('exit', (code, signal) => {
      clearTimeout(killer);
      res({ rank: opts.rank, code, signal, lines, stderr });
    });
  });
  return { rank: opts.rank, proc, lines, done };
}

let runCounter = 0;
export const uniqueRunId = (tag: string): string => `${tag}-${process.pid}-${++runCounter}`;

/** Runs `worldSize` ranks of `script` to completion. `runtimes[r]` picks rank r's runtime (default node). */
export async function runRanks(opts: {
  script: string;
  worldSize: number;
  url: string;
  env?: Record<string, string>;
  runtimes?: Runtime[];
  killAfterMs?: number;
}): Promise<RankResult[]> {
  const runId = uniqueRunId('run');
  const ranks = [...Array(opts.worldSize).keys()].map((rank) =>
    spawnRank({ script: opts.script, rank, worldSize: opts.worldSize, url: opts.url, runId, runtime: opts.runtimes?.[rank], env: opts.env, killAfterMs: opts.killAfterMs }),
  );
  return Promise.all(ranks.map((r) => r.done));
}

/** Fails with every rank's stderr when a rank did not exit 0. */
export function expectAllOk(results: RankResult[]): void {
  const bad = results.filter((r) => r.code !== 0);
  if (bad.length > 0) {
    throw new Error(bad.map((r) => `rank ${r.rank} exited ${r.code ?? r.signal}: ${JSON.stringify(r.lines.slice(-3))}\n${r.stderr.slice(-2000)}`).join('\n'));
  }
}
