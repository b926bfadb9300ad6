import { ArgumentError } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { chooseBackend, type BackendRequest, type Environment } from '../src/backend-choice.js';

const gpu: Environment = { gpuAdapter: 'google / swiftshader', crossOriginIsolated: true, cores: 8 };
const isolatedNoGpu: Environment = { gpuAdapter: null, gpuMissing: 'navigator.gpu is not defined', crossOriginIsolated: true, cores: 8 };
const plain: Environment = { gpuAdapter: null, gpuMissing: 'requestAdapter() returned null', crossOriginIsolated: false, cores: 8 };

describe('chooseBackend', () => {
  it('auto: WebGPU with an adapter, else the worker pool when isolated, else one thread', () => {
    expect(chooseBackend('auto', gpu)).toMatchObject({ kind: 'webgpu', threads: 1, label: 'WebGPU (google / swiftshader)', why: 'navigator.gpu gave an adapter' });
    const pool = chooseBackend('auto', isolatedNoGpu);
    expect(pool).toMatchObject({ kind: 'wasm', threads: 8 });
    expect(pool.why).toBe('no WebGPU adapter (navigator.gpu is not defined); the page is cross-origin isolated, so wasm runs on a worker pool');
    const one = chooseBackend('auto', plain);
    expect(one).toMatchObject({ kind: 'wasm', threads: 1, label: 'wasm SIMD, 1 thread' });
    expect(one.why).toMatch(/^no WebGPU adapter \(requestAdapter\(\) returned null\); the page is not cross-origin isolated .*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp/);
  });

  it('an explicit request is honoured when possible and falls back saying why', () => {
    expect(chooseBackend('webgpu', gpu).kind).toBe('webgpu');
    expect(chooseBackend('webgpu', isolatedNoGpu)).toMatchObject({ kind: 'wasm', threads: 8 });
    expect(chooseBackend('webgpu', isolatedNoGpu).why).toMatch(/^WebGPU was asked for, but there is no WebGPU adapter/);
    expect(chooseBackend('wasm-threads', gpu)).toMatchObject({ kind: 'wasm', threads: 8, why: 'wasm threads were asked for; the page is cross-origin isolated, so wasm runs on a worker pool' });
    expect(chooseBackend('wasm-threads', plain)).toMatchObject({ kind: 'wasm', threads: 1 });
    expect(chooseBackend('wasm-threads', plain).why).toMatch(/^wasm threads were asked for; the page is not cross-origin isolated/);
    expect(chooseBackend('wasm-single', gpu)).toMatchObject({ kind: 'wasm', threads: 1, why: 'one thread was asked for' });
  });

  it('threads: the cores, at least 1 and at most the pool limit (16)', () => {
    expect(chooseBackend('wasm-threads', { ...isolatedNoGpu, cores: 64 }).threads).toBe(16);
    expect(chooseBackend('wasm-threads', { ...isolatedNoGpu, cores: 0 }).threads).toBe(1);
    expect(chooseBackend('wasm-threads', { ...isolatedNoGpu, cores: 2 }).label).toBe('wasm SIMD, 2 threads (worker pool)');
  });

  it('an unknown request is an ArgumentError naming it', () => {
    expect(() => chooseBackend('cuda' as BackendRequest, gpu)).toThrow(ArgumentError);
    expect(() => chooseBackend('cuda' as BackendRequest, gpu)).toThrow(/"cuda".*auto, webgpu, wasm-threads, wasm-single/);
  });
});
