// Shared utilities of the WebGPU kernel tests: one WebGPU backend per test file (skipped
// visibly when this machine has no real adapter), twin storage on the reference and WebGPU
// backends, seeded random inputs and expectClose reporting the worst element.
import { ReferenceBackend, type Backend, type Dense, type Storage } from '@tessera/core';
import { afterAll, beforeAll, describe } from 'vitest';
import { webgpu, WebGPUUnavailableError, type WebGPUBackend } from '../src/index.js';
export * from '../../core/test/checks.js';

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
export function describeGPU(title: string, body: (get: () => Twin) => void): void {
  const d = probed.be ? describe : describe.skip;
  d(probed.be ? `${title} [webgpu: ${probed.be.adapterInfo.description || probed.be.adapterInfo.device}]` : `${title} [skipped: ${probed.reason}]`, () => {
    let twin: Twin | undefined;
    beforeAll(() => {
      twin = new Twin(new ReferenceBackend(), probed.be!);
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

/** One operand living in both backends: same contents, same element offset. */
export interface TwinBuf {
  ref: Storage;
  gpu: Storage;
  offset: number;
  length: number;
}

export type Side = 'ref' | 'gpu';

/** Mirrored storage on the reference and WebGPU backends. */
export class Twin {
  constructor(
    readonly ref: ReferenceBackend,
    readonly gpu: WebGPUBackend,
  ) {}

  /**
   * Uploads `data` at element `offset` of a fresh storage with `pad` spare elements after
   * it; the spare and leading elements hold a sentinel so stray writes show.
   */
  upload(data: Float32Array | Int32Array, offset = 0, pad = 3): TwinBuf {
    const total = offset + data.length + pad;
    const buf: TwinBuf = { ref: this.ref.alloc(total * 4), gpu: this.gpu.alloc(total * 4), offset, length: data.length };
    const fillV = data instanceof Int32Array ? new Int32Array(total).fill(-777) : new Float32Array(total).fill(-777.5);
    for (const [be, s] of [[this.ref, buf.ref], [this.gpu, buf.gpu]] as const) {
      be.write(s, fillV);
      be.write(s, data, offset);
    }
    return buf;
  }

  /** An f32 buffer of n elements filled with a sentinel (for outputs). */
  empty(n: number, offset = 0, pad = 3): TwinBuf {
    return this.upload(new Float32Array(n).fill(-999.25), offset, pad);
  }

  /** The Dense operand of `b` on `side`. */
  d(b: TwinBuf, side: Side, offset = b.offset): Dense {
    return { storage: side === 'ref' ? b.ref : b.gpu, offset };
  }

  /** Runs the same call on both backends; `call` builds the params for the side it is given. */
  run(call: (be: Backend, side: Side) => void): void {
    call(this.ref, 'ref');
    call(this.gpu, 'gpu');
  }

  /** Reads a whole storage (including padding) from both sides. */
  async readAll<D extends 'f32' | 'i32'>(b: TwinBuf, dtype: D): Promise<{ ref: D extends 'f32' ? Float32Array : Int32Array; gpu: D extends 'f32' ? Float32Array : Int32Array }> {
    return {
      ref: this.ref.readSync(b.ref, dtype) as never,
      gpu: (await this.gpu.read(b.gpu, dtype)) as never,
    };
  }

  /** Frees both sides. */
  free(...bufs: TwinBuf[]): void {
    for (const b of bufs) {
      this.ref.free(b.ref);
      this.gpu.free(b.gpu);
    }
  }
}
