/**
 * Getting a GPUDevice in every runtime: `navigator.gpu` in browsers and Deno,
 * the npm `webgpu` package (Dawn as a Node-API addon) in Node and Bun.
 */

import { WebGPUBackend, type WebGPUAdapterInfo } from './backend.js';
import { WebGPUUnavailableError } from './errors.js';

/** Options of `webgpu()`. */
export interface WebGPUOptions {
  /** Adapter preference (default 'high-performance'). */
  powerPreference?: GPUPowerPreference;
  /** A GPU object to use instead of `navigator.gpu` / the npm `webgpu` package. */
  gpu?: GPU;
  /** Accept a fallback (software) adapter such as lavapipe or SwiftShader (default true). */
  allowFallbackAdapter?: boolean;
  /** Request 'shader-f16' when the adapter has it (default true). */
  f16?: boolean;
  /** Request 'subgroups' when the adapter has it (default true). */
  subgroups?: boolean;
  /** Free-buffer bytes the pool keeps for reuse (default 256 MiB). */
  poolBytes?: number;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** The npm package is looked up at run time only, so bundlers for the browser never pull it in. */
const DAWN_PACKAGE = 'webgpu';

/** The GPU entry point of this runtime, or null with the reasons it was not found. */
async function findGPU(): Promise<{ gpu: GPU; source: string } | { gpu: null; tried: string[] }> {
  const tried: string[] = [];
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, source: 'navigator.gpu' };
  tried.push('navigator.gpu is not defined');
  try {
    const dawn = (await import(/* @vite-ignore */ DAWN_PACKAGE)) as DawnModule;
    // GPUBufferUsage, GPUMapMode, ... as globals, without replacing ones the runtime has.
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    return { gpu: dawn.create([]), source: `npm '${DAWN_PACKAGE}' (Dawn)` };
  } catch (e) {
    tried.push(`the npm package '${DAWN_PACKAGE}' could not be loaded (${(e as Error).message.split('\n')[0]})`);
  }
  return { gpu: null, tried };
}

function describe(info: WebGPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ') || 'unnamed adapter';
}

/**
 * Creates a WebGPU backend on the best adapter available.
 * Throws WebGPUUnavailableError when there is no WebGPU implementation, no
 * adapter, or only Dawn's 'null-backend' adapter (which executes nothing).
 * @example
 * ```ts
 * import { webgpu } from '@tessera/webgpu';
 * const be = await webgpu();
 * console.log(be.adapterInfo.description, be.features.f16);
 * ```
 */
export async function webgpu(options: WebGPUOptions = {}): Promise<WebGPUBackend> {
  let gpu = options.gpu ?? null;
  let source = 'options.gpu';
  if (!gpu) {
    const found = await findGPU();
    if (!found.gpu) {
      throw new WebGPUUnavailableError(`webgpu: no WebGPU implementation in this runtime: ${found.tried.join('; ')}`);
    }
    gpu = found.gpu;
    source = found.source;
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(
      `webgpu: ${source} offers no adapter (no GPU driver; on Linux without a GPU install Mesa's lavapipe >= 25, see .ci/webgpu-setup.sh)`,
    );
  }
  const raw = (adapter as { info?: GPUAdapterInfo }).info;
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const info: WebGPUAdapterInfo = {
    vendor: raw?.vendor ?? '',
    architecture: raw?.architecture ?? '',
    device: raw?.device ?? '',
    description: raw?.description ?? '',
    isFallbackAdapter: fallback || ((raw as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? false),
  };
  if (info.device === 'null-backend' || info.description.includes('null backend')) {
    throw new WebGPUUnavailableError(`webgpu: ${source} only offers Dawn's null backend (${describe(info)}), which runs no shaders; no real adapter was found`);
  }
  if (info.isFallbackAdapter && options.allowFallbackAdapter === false) {
    throw new WebGPUUnavailableError(`webgpu: the only adapter is a fallback adapter (${describe(info)}) and allowFallbackAdapter is false`);
  }
  const f16 = options.f16 !== false && adapter.features.has('shader-f16');
  const subgroups = options.subgroups !== false && adapter.features.has('subgroups');
  const requiredFeatures: GPUFeatureName[] = [];
  if (f16) requiredFeatures.push('shader-f16');
  if (subgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
    label: 'tessera',
  });
  return new WebGPUBackend({ gpu, device, adapterInfo: info, f16, subgroups, poolBytes: options.poolBytes });
}
