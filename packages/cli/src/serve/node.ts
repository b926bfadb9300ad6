/** Runs a completion app on Node's HTTP server, and closes it gracefully. */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve as serveNode } from '@hono/node-server';
import type { CompletionApp } from './app.js';

export interface ServeOptions {
  /** Interface to listen on (default 127.0.0.1: only this machine). */
  readonly host?: string;
  /** Port (default 8080; 0 picks a free one). */
  readonly port?: number;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /**
   * Stops accepting connections, lets queued and decoding requests finish for up to `timeoutMs`
   * (default 30 s; then they are aborted) and closes every connection. Resolves true when every
   * request finished in time.
   */
  close(timeoutMs?: number): Promise<boolean>;
}

export const DEFAULT_DRAIN_MS = 30_000;
/** After the last request ended, how long responses get to flush before their connections are cut. */
const FLUSH_MS = 2_000;

/** Listens with `app`; rejects when the address cannot be bound (`EADDRINUSE`, `EACCES`). */
export function serve(app: CompletionApp, options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  return new Promise((resolve, reject) => {
    const server = serveNode({ fetch: app.fetch, hostname: host, port }) as Server;
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const bound = (server.address() as AddressInfo).port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      let closing: Promise<boolean> | null = null;
      resolve({
        url,
        close: (timeoutMs = DEFAULT_DRAIN_MS) => (closing ??= shutdown(server, app, timeoutMs)),
      });
    });
  });
}

async function shutdown(server: Server, app: CompletionApp, timeoutMs: number): Promise<boolean> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const inTime = await app.scheduler.drain(timeoutMs);
  // Keep-alive connections stay open after their last response; close each once it is idle,
  // and cut whatever is still open after a short grace (a response that never finishes flushing).
  const poll = setInterval(() => server.closeIdleConnections(), 50);
  const cut = setTimeout(() => server.closeAllConnections(), FLUSH_MS);
  server.closeIdleConnections();
  await closed;
  clearInterval(poll);
  clearTimeout(cut);
  return inTime;
}
