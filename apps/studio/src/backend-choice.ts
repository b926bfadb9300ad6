/**
 * Which backend the page trains on, and why: WebGPU where `navigator.gpu` gives an adapter, else
 * the wasm backend with its worker pool when the page is cross-origin isolated (threads need a
 * SharedArrayBuffer, which browsers give only to isolated pages), else wasm on one thread.
 * Pure, so it is tested without a browser; the worker gathers the `Environment`.
 */

import { ArgumentError } from '@tessera/core';

/** What the user asked for: 'auto' takes the best that is available. */
export type BackendRequest = 'auto' | 'webgpu' | 'wasm-threads' | 'wasm-single';

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'webgpu', 'wasm-threads', 'wasm-single'];

/** What the browser offers. */
export interface Environment {
  /** The WebGPU adapter's description, or null when there is none. */
  readonly gpuAdapter: string | null;
  /** Why there is no adapter (when `gpuAdapter` is null). */
  readonly gpuMissing?: string;
  /** `crossOriginIsolated` of the page (COOP same-origin + COEP require-corp). */
  readonly crossOriginIsolated: boolean;
  /** Logical cores (`navigator.hardwareConcurrency`). */
  readonly cores: number;
}

/** The backend to create. */
export interface BackendChoice {
  readonly kind: 'webgpu' | 'wasm';
  /** Kernel threads of the wasm backend, the calling worker included (1 on WebGPU). */
  readonly threads: number;
  /** One line for the page: what runs. */
  readonly label: string;
  /** One line for the page: why this one. */
  readonly why: string;
}

/** Most threads the wasm pool uses (its own limit). */
export const MAX_THREADS = 16;

/** The backend for `request` in `env`; an unavailable request falls back to the next best, saying so. */
export function chooseBackend(request: BackendRequest, env: Environment): BackendChoice {
  if (!BACKEND_REQUESTS.includes(request)) throw new ArgumentError(`unknown backend request ${JSON.stringify(request)}; expected one of ${BACKEND_REQUESTS.join(', ')}`);
  const noGpu = `no WebGPU adapter (${env.gpuMissing ?? 'navigator.gpu gave none'})`;
  const threads = Math.max(1, Math.min(MAX_THREADS, Math.floor(env.cores) || 1));
  const notIsolated = 'the page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so there is no SharedArrayBuffer for a worker pool';
  const single = (why: string): BackendChoice => ({ kind: 'wasm', threads: 1, label: 'wasm SIMD, 1 thread', why });
  const pool = (why: string): BackendChoice => ({ kind: 'wasm', threads, label: `wasm SIMD, ${threads} thread${threads === 1 ? '' : 's'} (worker pool)`, why });

  if (request === 'wasm-single') return single('one thread was asked for');
  if ((request === 'auto' || request === 'webgpu') && env.gpuAdapter !== null) {
    return { kind: 'webgpu', threads: 1, label: `WebGPU (${env.gpuAdapter})`, why: request === 'webgpu' ? 'WebGPU was asked for and navigator.gpu gave an adapter' : 'navigator.gpu gave an adapter' };
  }
  const before = request === 'webgpu' ? `WebGPU was asked for, but there is ${noGpu}` : request === 'auto' ? noGpu : 'wasm threads were asked for';
  if (env.crossOriginIsolated) return pool(`${before}; the page is cross-origin isolated, so wasm runs on a worker pool`);
  return single(`${before}; ${notIsolated}`);
}
