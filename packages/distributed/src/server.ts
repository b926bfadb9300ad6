/**
 * A private nats-server for local runs and tests: `nats-server -a 127.0.0.1 -p <free port>`,
 * started as a child process and stopped by `stop()` (what `tessera train --nproc` and this
 * package's tests use). Listens on loopback only.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { ConnectionFailedError } from './errors.js';

export interface LocalNatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** The nats-server binary: $NATS_SERVER, else Debian's /usr/sbin/nats-server (not on a user's PATH), else `nats-server` on the PATH. */
export function natsServerBinary(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  if (env.NATS_SERVER) return env.NATS_SERVER;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((res) => {
    const c = tcpConnect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      res(true);
    });
    c.once('error', () => res(false));
  });

/**
 * Starts nats-server on a free loopback port (or `port`, e.g. to restart one) with `extraArgs` (e.g. `['--auth', token]`) and waits
 * up to `timeoutMs` until it accepts connections. A missing binary or an early exit is a
 * ConnectionFailedError that says how to install it.
 */
export async function startLocalNatsServer(options: { extraArgs?: readonly string[]; binary?: string; timeoutMs?: number; port?: number } = {}): Promise<LocalNatsServer> {
  const port = options.port ?? (await freeLoopbackPort());
  const bin = options.binary ?? natsServerBinary();
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), ...(options.extraArgs ?? [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let spawnError: Error | null = null;
  proc.stderr!.on('data', (d) => (log += String(d)));
  proc.once('error', (e) => (spawnError = e));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (!(await accepts(port))) {
    if (spawnError || proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      const why = spawnError ? (spawnError as Error).message : proc.exitCode !== null ? `exited with ${proc.exitCode}: ${log.trim()}` : `not listening on 127.0.0.1:${port} after ${options.timeoutMs ?? 10_000} ms`;
      throw new ConnectionFailedError(`cannot start ${bin} (${why}); install nats-server (Debian: apt-get install nats-server) or set NATS_SERVER`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
