// Shared utilities of the WebGPU kernel tests: one WebGPU backend per test file (skipped
// visibly when this machine has no real adapter), twin storage on the reference and WebGPU
// backends (core's conformance/twin.ts), seeded random inputs and expectClose reporting the
// worst element.
import * as core from '@tessera/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { webgpu, WebGPUUnavailableError, type WebGPUBackend } from '../src/index.js';
import { Twin } from '../../core/test/conformance/twin.js';
export * from '../../core/test/checks.js';
export { Twin, type Side, type TwinBuf } from '../../core/test/conformance/twin.js';

/** The twin of the WebGPU suites: the reference backend against the WebGPU backend. */
export type GPUTwin = Twin<WebGPUBackend>;

/** Probes for a real adapter once per test file: the backend, or why there is none. */
async function probe(): Promise<{ be: WebGPUBackend | null; reason: string }> {
  try {
    const be = await webgpu();
    return { be, reason: '' };
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return { be: null, reason: e.message };
    throw e;
  }
}

// Top-level await: the probe decides between describe and describe.skip at collection time.
const probed = await probe();
// CI installs a software adapter first (.ci/webgpu-setup.sh) and sets this, so a broken
// setup fails loudly instead of turning every WebGPU suite into a skip.
if (!probed.be && process.env.TESSERA_REQUIRE_WEBGPU === '1') {
  throw new Error(`TESSERA_REQUIRE_WEBGPU=1 but no real WebGPU adapter was found: ${probed.reason}`);
}

/** The probed backend (null when skipped) and the skip reason. */
export const gpu = probed;

/**
 * Declares a suite that runs on the WebGPU backend, or is skipped with the reason
 * in its title (e.g. "no real WebGPU adapter: ...") when none is available.
 */
export function describeGPU(title: string, body: (get: () => GPUTwin) => void): void {
  const d = probed.be ? describe : describe.skip;
  d(probed.be ? `${title} [webgpu: ${probed.be.adapterInfo.description || probed.be.adapterInfo.device}]` : `${title} [skipped: ${probed.reason}]`, () => {
    let twin: GPUTwin | undefined;
    beforeAll(() => {
      // The error classes of @tessera/core's build: the ones the WebGPU backend throws.
      twin = new Twin(new core.ReferenceBackend(), probed.be!, core);
    });
    afterAll(async () => {
      // Every suite must leave the device without unraised errors.
      if (probed.be) await probed.be.sync();
    });
    body(() => {
      if (!twin) throw new Error('twin not ready: call twin() inside a test');
      return twin;
    });
  });
}
