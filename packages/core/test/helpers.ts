// Shared utilities of the kernel tests: a seeded RNG, random arrays, twin storage on the
// reference and wasm backends, and expectClose reporting the worst element.
import { beforeAll, describe } from 'vitest';
import type { Backend, Dense, Storage } from '../src/backend.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../src/wasm/backend.js';

export * from './checks.js';

/** The two wasm builds; `supported` false means the runtime cannot validate it (tests skip visibly). */
export const BUILDS = [
  { name: 'simd128', simd: 'simd128' as const, supported: true },
  { name: 'relaxed-simd', simd: 'relaxed' as const, supported: relaxedSimdSupported() },
];

/**
 * Declares `body` once per wasm build (SIMD128 and relaxed-SIMD). The relaxed suite is
 * declared with describe.skip, so it shows up as skipped where the runtime lacks it.
 */
export function describeBuilds(title: string, body: (get: () => Twin) => void): void {
  for (const b of BUILDS) {
    const d = b.supported ? describe : describe.skip;
    d(`${title} [${b.name}${b.supported ? '' : ': relaxed-SIMD not supported by this runtime'}]`, () => {
      let twin: Twin | undefined;
      body(() => {
        if (!twin) throw new Error('twin not ready: call twin() inside a test');
        return twin;
      });
      // Created in beforeAll so that a skipped build never instantiates its module.
      beforeAll(async () => {
        twin = new Twin(new ReferenceBackend(), await createWasmBackend({ simd: b.simd }));
      });
    });
  }
}

/** One operand living in both backends: same contents, same element offset. */
export interface TwinBuf {
  ref: Storage;
  wasm: Storage;
  offset: number;
  length: number;
}

/** Which side a params builder is asked for. */
export type Side = 'ref' | 'wasm';

/**
 * Mirrored storage on the reference and wasm backends, so that one params builder can
 * run a kernel on both and the results can be compared.
 */
export class Twin {
  constructor(
    readonly ref: ReferenceBackend,
    readonly wasm: WasmBackend,
  ) {}

  /**
   * Uploads `data` at element `offset` of a fresh storage with `pad` spare elements after
   * it; the spare and leading elements are filled with a sentinel so stray writes show.
   */
  upload(data: Float32Array | Int32Array, offset = 0, pad = 3): TwinBuf {
    const total = offset + data.length + pad;
    const buf: TwinBuf = { ref: this.ref.alloc(total * 4), wasm: this.wasm.alloc(total * 4), offset, length: data.length };
    const fillV = data instanceof Int32Array ? new Int32Array(total).fill(-777) : new Float32Array(total).fill(-777.5);
    for (const [be, s] of [[this.ref, buf.ref], [this.wasm, buf.wasm]] as const) {
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
    return { storage: side === 'ref' ? b.ref : b.wasm, offset };
  }

  /** Runs the same call on both backends; `call` builds the params for the side it is given. */
  run(call: (be: Backend, side: Side) => void): void {
    call(this.ref, 'ref');
    call(this.wasm, 'wasm');
  }

  /** Reads a whole storage (including padding) from both sides. */
  readAll<D extends 'f32' | 'i32'>(b: TwinBuf, dtype: D): { ref: D extends 'f32' ? Float32Array : Int32Array; wasm: D extends 'f32' ? Float32Array : Int32Array } {
    return {
      ref: this.ref.readSync(b.ref, dtype) as never,
      wasm: this.wasm.readSync(b.wasm, dtype) as never,
    };
  }

  /** Frees both sides. */
  free(...bufs: TwinBuf[]): void {
    for (const b of bufs) {
      this.ref.free(b.ref);
      this.wasm.free(b.wasm);
    }
  }
}
