// Multi-threaded wasm kernels. Every kernel family's partition (rows, heads, element
// ranges, output tiles) leaves each output element computed by one thread in the same
// order as on one thread, so the check is bit-for-bit: a 3-thread backend that splits
// every call (ctx.splitAlways, so the partition code runs at the odd sizes 1, 3, 17, 63,
// 129 too) against a 1-thread backend, comparing whole storages including the padding
// around each output (a stray write shows). Then the pool itself: thresholds, errors on
// either side of a dispatch, setNumThreads, plain memory, dispose, and a child process
// that must exit on its own with the pool alive.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Backend, Dense, Storage, Strided } from '../src/backend.js';
import { BoundsError, KernelError } from '../src/errors.js';
import { createWasmBackend, loadWasmBuild, type WasmBackend } from '../src/wasm/backend.js';
import { CHUNKS_PER_THREAD } from '../src/wasm/context.js';
import { EW_PARALLEL_MIN } from '../src/wasm/kernels/elementwise.js';
import { setNumThreads } from '../src/wasm/threads.js';
import { BUILDS, ODD_SIZES, expectBitsEqual, randF32, randI32, rng } from './helpers.js';

/** Threads of the splitting backend: 3, so that partitions have a middle part too. */
const THREADS = 3;
const threadsAvailable = typeof SharedArrayBuffer !== 'undefined';

/** One buffer living in both backends with the same contents. */
interface Buf {
  one: Storage;
  many: Storage;
  offset: number;
}
type Side = 'one' | 'many';

/** Two wasm backends (1 thread, THREADS threads splitting every call) fed the same data. */
class Pair {
  constructor(
    readonly one: WasmBackend,
    readonly many: WasmBackend,
  ) {}

  /** `data` at element `offset` of a fresh storage, sentinel-filled around it. */
  upload(data: Float32Array | Int32Array, offset = 1, pad = 5): Buf {
    const total = offset + data.length + pad;
    const b: Buf = { one: this.one.alloc(total * 4), many: this.many.alloc(total * 4), offset };
    const fill = data instanceof Int32Array ? new Int32Array(total).fill(-777) : new Float32Array(total).fill(-777.5);
    for (const side of ['one', 'many'] as const) {
      this[side].write(b[side], fill);
      this[side].write(b[side], data, offset);
    }
    return b;
  }

  empty(n: number, offset = 2): Buf {
    return this.upload(new Float32Array(n).fill(-999.25), offset);
  }

  d(b: Buf, s: Side, offset = b.offset): Dense {
    return { storage: b[s], offset };
  }

  st(b: Buf, s: Side, strides: readonly number[], offset = b.offset): Strided {
    return { storage: b[s], offset, strides };
  }

  /** Runs `call` on both backends, then compares the bits of every buffer in `outs`. */
  same(what: string, outs: Buf[], call: (be: Backend, s: Side) => void): void {
    call(this.one, 'one');
    call(this.many, 'many');
    outs.forEach((b, i) => expectBitsEqual(this.many.readSync(b.many, 'f32'), this.one.readSync(b.one, 'f32'), `${what} (output ${i})`));
  }

  free(...bufs: Buf[]): void {
    for (const b of bufs) {
      this.one.free(b.one);
      this.many.free(b.many);
    }
  }
}

for (const build of BUILDS) {
  const supported = build.supported && threadsAvailable;
  const d = supported ? describe : describe.skip;
  const why = !threadsAvailable ? ': no SharedArrayBuffer' : build.supported ? '' : ': relaxed-SIMD not supported by this runtime';
  d(`threads: ${THREADS} threads vs 1, bit for bit [${build.name}${why}]`, () => {
    let p: Pair;
    beforeAll(async () => {
      const one = await createWasmBackend({ simd: build.simd, threads: 1 });
      const many = await createWasmBackend({ simd: build.simd, threads: THREADS });
      expect(many.features).toMatchObject({ threads: true, numThreads: THREADS });
      many.ctx.splitAlways = true;
      p = new Pair(one, many);
    });
    afterAll(() => {
      p.one.dispose();
      p.many.dispose();
    });

    it('matmul: every path (GEMV, in place, dot rows, packed split by rows and by columns, batches), transposes, accumulate', () => {
      const r = rng(9);
      // [m, n, k, transA, transB, batch, strideB (undefined: k*n)]; the comment names the path taken.
      const cases: [number, number, number, boolean, boolean, number, number?][] = [
        [1, 129, 63, false, false, 1], // GEMV axpy
        [1, 63, 129, false, true, 1], // GEMV dot
        [129, 1, 17, false, false, 1], // GEMV dot over rows of A
        [63, 1, 17, true, false, 1], // GEMV axpy over columns of A^T
        [17, 63, 3, false, false, 1], // in place, m > 16 with a small B
        [13, 129, 17, false, false, 1], // in place, few rows
        [3, 129, 63, false, true, 1], // dot-form tiles (transB, m <= 4)
        [37, 131, 259, false, true, 1], // dot-form tiles (transB, m <= 64, k >= 256)
        [129, 150, 130, false, false, 1], // packed, split by rows (n <= 4m)
        [20, 300, 70, false, false, 1], // packed, split by columns (n > 4m)
        [129, 63, 300, true, false, 1], // packed, transA, k across two k-blocks
        [63, 129, 17, true, true, 1], // packed, both transposed
        [33, 257, 65, false, true, 1], // packed transB, columns
        [17, 33, 9, false, false, 6], // 6 batches over 3 threads: whole products
        [17, 33, 9, false, true, 2], // 2 batches: each product split
        [5, 129, 63, false, false, 4, 0], // B broadcast over batches: folded to 20 rows
        [17, 9, 0, false, false, 2], // k = 0: zero fill
      ];
      for (const [m, n, k, transA, transB, batch, sB] of cases) {
        const strideB = sB ?? k * n;
        const a = p.upload(randF32(r, batch * m * k));
        const b = p.upload(randF32(r, Math.max(1, (batch - 1) * strideB + k * n)));
        const out = p.upload(randF32(r, batch * m * n));
        for (const accumulate of [false, true]) {
          p.same(`matmul ${m}x${n}x${k} transA=${transA} transB=${transB} batch=${batch} strideB=${strideB} accumulate=${accumulate}`, [out], (be, s) =>
            be.matmul({ a: p.d(a, s), b: p.d(b, s), out: p.d(out, s), m, n, k, transA, transB, batch, strideB, accumulate }),
          );
        }
        p.free(a, b, out);
      }
    });

    it('elementwise: flat, broadcast and strided unary / binary, where, copy, cast', () => {
      const r = rng(1);
      for (const n of [...ODD_SIZES, 1000]) {
        const x = p.upload(randF32(r, n, -3, 3));
        const y = p.upload(randF32(r, n, 0.5, 2));
        const out = p.empty(n);
        for (const op of ['gelu', 'exp', 'tanh', 'neg'] as const) {
          p.same(`unary ${op} n=${n}`, [out], (be, s) => be.unary({ op, x: p.st(x, s, [1]), out: p.d(out, s), shape: [n] }));
        }
        p.same(`pow 1.7 n=${n}`, [out], (be, s) => be.unary({ op: 'pow', x: p.st(y, s, [1]), out: p.d(out, s), shape: [n], alpha: 1.7 }));
        for (const op of ['add', 'div', 'max', 'lt'] as const) {
          p.same(`binary ${op} n=${n}`, [out], (be, s) => be.binary({ op, a: p.st(x, s, [1]), b: p.st(y, s, [1]), out: p.d(out, s), shape: [n] }));
          p.same(`binary ${op} scalar b, n=${n}`, [out], (be, s) => be.binary({ op, a: p.st(x, s, [1]), b: p.st(y, s, [0]), out: p.d(out, s), shape: [n] }));
        }
        p.free(x, y, out);
      }
      // Strided: a transposed [rows, cols] view, a row broadcast, a strided where.
      for (const [rows, cols] of [[1, 1], [3, 17], [17, 63], [129, 3], [63, 129]]) {
        const n = rows * cols;
        const x = p.upload(randF32(r, n, -2, 2));
        const bias = p.upload(randF32(r, cols));
        const cond = p.upload(randF32(r, n).map((v) => (v > 0 ? 1 : 0)));
        const out = p.empty(n);
        const tr = [1, cols];
        p.same(`unary sigmoid transposed ${rows}x${cols}`, [out], (be, s) => be.unary({ op: 'sigmoid', x: p.st(x, s, tr), out: p.d(out, s), shape: [cols, rows] }));
        p.same(`binary sub row-broadcast ${rows}x${cols}`, [out], (be, s) =>
          be.binary({ op: 'sub', a: p.st(x, s, [cols, 1]), b: p.st(bias, s, [0, 1]), out: p.d(out, s), shape: [rows, cols] }),
        );
        p.same(`binary mul transposed x broadcast ${rows}x${cols}`, [out], (be, s) =>
          be.binary({ op: 'mul', a: p.st(x, s, tr), b: p.st(bias, s, [1, 0]), out: p.d(out, s), shape: [cols, rows] }),
        );
        p.same(`where ${rows}x${cols}`, [out], (be, s) =>
          be.where({ cond: p.st(cond, s, [1, rows]), condDType: 'f32', a: p.st(x, s, [cols, 1]), b: p.st(bias, s, [0, 1]), out: p.d(out, s), shape: [rows, cols] }),
        );
        p.same(`copy transposed ${rows}x${cols}`, [out], (be, s) => be.copy({ x: p.st(x, s, tr), out: p.st(out, s, [rows, 1]), shape: [cols, rows] }));
        p.same(`cast f32 -> i32 ${rows}x${cols}`, [out], (be, s) => be.cast({ x: p.st(x, s, tr), out: p.d(out, s), shape: [cols, rows], from: 'f32', to: 'i32' }));
        // Overlapping copy within one storage (goes through scratch, split twice).
        p.same(`overlapping copy ${rows}x${cols}`, [x], (be, s) => be.copy({ x: p.st(x, s, [cols, 1]), out: p.st(x, s, [cols, 1], x.offset + 1), shape: [rows, cols - (cols > 1 ? 1 : 0)] }));
        p.free(x, bias, cond, out);
      }
    });

    it('fill, random (uniform and normal, counters past 2^31) and geluBackward', () => {
      const r = rng(2);
      for (const n of [...ODD_SIZES, 1000]) {
        const out = p.empty(n);
        p.same(`fill f32 n=${n}`, [out], (be, s) => be.fill({ out: p.d(out, s), n, value: 0.1, dtype: 'f32' }));
        p.same(`fill i32 n=${n}`, [out], (be, s) => be.fill({ out: p.d(out, s), n, value: -7, dtype: 'i32' }));
        for (const dist of ['uniform', 'normal'] as const) {
          p.same(`random ${dist} n=${n}`, [out], (be, s) => be.random({ out: p.d(out, s), n, seed: 42, counter: 2 ** 31 - 5, dist }));
        }
        const x = p.upload(randF32(r, n, -4, 4));
        const dy = p.upload(randF32(r, n));
        p.same(`geluBackward n=${n}`, [out], (be, s) => be.geluBackward({ x: p.d(x, s), dy: p.d(dy, s), dx: p.d(out, s), n }));
        p.free(out, x, dy);
      }
    });

    it('reductions (every op, inner 1 and > 1), softmax and log-softmax forward / backward', () => {
      const r = rng(3);
      for (const [outer, axisLen, inner] of [[1, 129, 1], [3, 17, 1], [17, 3, 5], [63, 5, 3], [5, 63, 17], [2, 7, 129]]) {
        const x = p.upload(randF32(r, outer * axisLen * inner, -5, 5));
        const out = p.empty(outer * inner);
        for (const op of ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const) {
          p.same(`reduce ${op} ${outer}x${axisLen}x${inner}`, [out], (be, s) => be.reduce({ op, x: p.d(x, s), out: p.d(out, s), outer, axisLen, inner }));
        }
        p.free(x, out);
      }
      for (const rows of ODD_SIZES) {
        for (const cols of [1, 3, 17, 129]) {
          const x = p.upload(randF32(r, rows * cols, -6, 6));
          const dy = p.upload(randF32(r, rows * cols));
          const y = p.empty(rows * cols);
          const dx = p.empty(rows * cols);
          for (const log of [false, true]) {
            p.same(`softmax log=${log} ${rows}x${cols}`, [y], (be, s) => be.softmax({ x: p.d(x, s), out: p.d(y, s), rows, cols, log }));
            p.same(`softmaxBackward log=${log} ${rows}x${cols}`, [dx], (be, s) => be.softmaxBackward({ y: p.d(y, s), dy: p.d(dy, s), dx: p.d(dx, s), rows, cols, log }));
          }
          p.free(x, dy, y, dx);
        }
      }
    });

    it('layerNorm forward and backward (dgamma / dbeta accumulate, split by columns)', () => {
      const r = rng(4);
      for (const rows of [1, 3, 17, 64]) {
        for (const cols of [...ODD_SIZES, 256]) {
          const n = rows * cols;
          const x = p.upload(randF32(r, n, -2, 3));
          const gamma = p.upload(randF32(r, cols, 0.5, 1.5));
          const beta = p.upload(randF32(r, cols));
          const out = p.empty(n);
          const mean = p.empty(rows);
          const rstd = p.empty(rows);
          p.same(`layerNorm ${rows}x${cols}`, [out, mean, rstd], (be, s) =>
            be.layerNorm({ x: p.d(x, s), gamma: p.d(gamma, s), beta: p.d(beta, s), out: p.d(out, s), mean: p.d(mean, s), rstd: p.d(rstd, s), rows, cols, eps: 1e-5 }),
          );
          const dy = p.upload(randF32(r, n));
          const dx = p.empty(n);
          const dgamma = p.upload(randF32(r, cols));
          const dbeta = p.upload(randF32(r, cols));
          p.same(`layerNormBackward ${rows}x${cols}`, [dx, dgamma, dbeta], (be, s) =>
            be.layerNormBackward({
              dy: p.d(dy, s), x: p.d(x, s), gamma: p.d(gamma, s), mean: p.d(mean, s), rstd: p.d(rstd, s),
              dx: p.d(dx, s), dgamma: p.d(dgamma, s), dbeta: p.d(dbeta, s), rows, cols,
            }),
          );
          p.free(x, gamma, beta, out, mean, rstd, dy, dx, dgamma, dbeta);
        }
      }
    });

    it('indexSelect / indexAdd / gather / scatterAdd and cross-entropy forward / backward', () => {
      const r = rng(5);
      for (const inner of ODD_SIZES) {
        for (const [outer, axisLen, count] of [[1, 10, 17], [3, 5, 4], [17, 3, 1], [2, 63, 5]]) {
          const idx = p.upload(randI32(r, count, 0, axisLen));
          const x = p.upload(randF32(r, outer * axisLen * inner));
          const out = p.empty(outer * count * inner);
          p.same(`indexSelect ${outer}x${axisLen}x${inner} count ${count}`, [out], (be, s) =>
            be.indexSelect({ x: p.d(x, s), indices: p.d(idx, s), out: p.d(out, s), outer, axisLen, inner, count }),
          );
          const dOut = p.upload(randF32(r, outer * count * inner));
          const dx = p.upload(randF32(r, outer * axisLen * inner));
          p.same(`indexAdd ${outer}x${axisLen}x${inner} count ${count}`, [dx], (be, s) =>
            be.indexAdd({ dOut: p.d(dOut, s), indices: p.d(idx, s), dx: p.d(dx, s), outer, axisLen, inner, count }),
          );
          const gidx = p.upload(randI32(r, outer * count * inner, 0, axisLen));
          p.same(`gather ${outer}x${axisLen}x${inner} count ${count}`, [out], (be, s) =>
            be.gather({ x: p.d(x, s), indices: p.d(gidx, s), out: p.d(out, s), outer, axisLen, inner, count }),
          );
          p.same(`scatterAdd ${outer}x${axisLen}x${inner} count ${count}`, [dx], (be, s) =>
            be.scatterAdd({ dOut: p.d(dOut, s), indices: p.d(gidx, s), dx: p.d(dx, s), outer, axisLen, inner, count }),
          );
          p.free(idx, x, out, dOut, dx, gidx);
        }
      }
      for (const rows of ODD_SIZES) {
        for (const cols of [1, 17, 129]) {
          const logits = p.upload(randF32(r, rows * cols, -8, 8));
          const t = randI32(r, rows, 0, cols);
          if (rows > 2) t[1] = -100;
          const targets = p.upload(t);
          const losses = p.empty(rows);
          const dLosses = p.upload(randF32(r, rows));
          const dLogits = p.empty(rows * cols);
          p.same(`crossEntropy ${rows}x${cols}`, [losses], (be, s) =>
            be.crossEntropy({ logits: p.d(logits, s), targets: p.d(targets, s), losses: p.d(losses, s), rows, cols, ignoreIndex: -100 }),
          );
          p.same(`crossEntropyBackward ${rows}x${cols}`, [dLogits], (be, s) =>
            be.crossEntropyBackward({ logits: p.d(logits, s), targets: p.d(targets, s), dLosses: p.d(dLosses, s), dLogits: p.d(dLogits, s), rows, cols, ignoreIndex: -100 }),
          );
          p.free(logits, targets, losses, dLosses, dLogits);
        }
      }
    });

    it('attention forward split over heads with k/v heads kvHeadStride apart (a KV cache read in place)', () => {
      const r = rng(8);
      // [heads, tq, tk, d, kvHeadStride]: the stride of a cache of capacity 20, and one no multiple of d.
      for (const [heads, tq, tk, d, kvHeadStride] of [[5, 1, 9, 16, 20 * 16], [4, 3, 17, 3, 17 * 3 + 2]] as const) {
        const q = p.upload(randF32(r, heads * tq * d));
        const k = p.upload(randF32(r, (heads - 1) * kvHeadStride + tk * d));
        const v = p.upload(randF32(r, (heads - 1) * kvHeadStride + tk * d));
        const out = p.empty(heads * tq * d);
        const probs = p.empty(heads * tq * tk);
        p.same(`attention ${heads}x${tq}x${tk}x${d} kvHeadStride ${kvHeadStride}`, [out, probs], (be, s) =>
          be.attention({ q: p.d(q, s), k: p.d(k, s), v: p.d(v, s), out: p.d(out, s), probs: p.d(probs, s), heads, tq, tk, d, causal: true, kvHeadStride }),
        );
        p.free(q, k, v, out, probs);
      }
    });

    it('attention forward / backward split over heads (causal, KV-cache offsets, odd head dims)', () => {
      const r = rng(6);
      for (const [heads, tq, tk, d, causal] of [[1, 3, 3, 17, true], [3, 17, 17, 3, true], [5, 1, 63, 16, true], [17, 4, 9, 8, false], [4, 63, 63, 64, true]] as const) {
        const q = p.upload(randF32(r, heads * tq * d));
        const k = p.upload(randF32(r, heads * tk * d));
        const v = p.upload(randF32(r, heads * tk * d));
        const out = p.empty(heads * tq * d);
        const probs = p.empty(heads * tq * tk);
        p.same(`attention ${heads}x${tq}x${tk}x${d}`, [out, probs], (be, s) =>
          be.attention({ q: p.d(q, s), k: p.d(k, s), v: p.d(v, s), out: p.d(out, s), probs: p.d(probs, s), heads, tq, tk, d, causal }),
        );
        const dOut = p.upload(randF32(r, heads * tq * d));
        const [dq, dk, dv] = [p.empty(heads * tq * d), p.empty(heads * tk * d), p.empty(heads * tk * d)];
        p.same(`attentionBackward ${heads}x${tq}x${tk}x${d}`, [dq, dk, dv], (be, s) =>
          be.attentionBackward({ q: p.d(q, s), k: p.d(k, s), v: p.d(v, s), probs: p.d(probs, s), dOut: p.d(dOut, s), dq: p.d(dq, s), dk: p.d(dk, s), dv: p.d(dv, s), heads, tq, tk, d }),
        );
        p.free(q, k, v, out, probs, dOut, dq, dk, dv);
      }
    });

    it('fused optimizer steps split over n (SGD with Nesterov momentum, AdamW, Adam + AMSGrad)', () => {
      const r = rng(7);
      for (const n of [...ODD_SIZES, 1000]) {
        const w = p.upload(randF32(r, n));
        const g = p.upload(randF32(r, n));
        const m = p.upload(randF32(r, n, 0, 0.1));
        const v = p.upload(randF32(r, n, 0, 0.01));
        const vMax = p.upload(randF32(r, n, 0, 0.01));
        p.same(`sgd n=${n}`, [w, m], (be, s) =>
          be.sgdStep({ param: p.d(w, s), grad: p.d(g, s), momentumBuf: p.d(m, s), n, lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true, weightDecay: 0.01, firstStep: false }),
        );
        for (const [decoupled, amsgrad] of [[true, false], [false, true]]) {
          p.same(`adam decoupled=${decoupled} amsgrad=${amsgrad} n=${n}`, [w, m, v, vMax], (be, s) =>
            be.adamStep({
              param: p.d(w, s), grad: p.d(g, s), m: p.d(m, s), v: p.d(v, s), vMax: p.d(vMax, s), n,
              lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled, amsgrad, step: 3,
            }),
          );
        }
        p.free(w, g, m, v, vMax);
      }
    });
  });
}

/** A dense f32 vector of n elements on `be` filled with `data` (or zeros). */
function vec(be: WasmBackend, n: number, data?: Float32Array): Dense {
  const s = be.alloc(n * 4);
  be.write(s, data ?? new Float32Array(n));
  return { storage: s, offset: 0 };
}

function add(be: WasmBackend, a: Dense, b: Dense, out: Dense, n: number): void {
  be.binary({ op: 'add', a: { ...a, strides: [1] }, b: { ...b, strides: [1] }, out, shape: [n] });
}

const describeThreads = threadsAvailable ? describe : describe.skip;

describeThreads(`threads: the pool${threadsAvailable ? '' : ' [no SharedArrayBuffer]'}`, () => {
  it('the shared modules have no data segments, no globals and no start function', async () => {
    // A worker instantiates the same module over the same memory: with data segments the
    // instantiation would rewrite memory under the running caller; with mutable globals
    // (a stack pointer, a bump allocator) threads would share no such state but each think
    // it owns it. The AssemblyScript stub runtime with no static data has neither.
    for (const [name, relaxed] of [['simd-shared', false], ['relaxed-shared', true]] as const) {
      const bytes = await loadWasmBuild(relaxed, true);
      const sections: number[] = [];
      let at = 8;
      while (at < bytes.length) {
        const id = bytes[at++];
        let size = 0;
        for (let shift = 0; ; shift += 7) {
          const byte = bytes[at++];
          size += (byte & 0x7f) * 2 ** shift;
          if (byte < 0x80) break;
        }
        sections.push(id);
        at += size;
      }
      expect(at, name).toBe(bytes.length);
      // 6: global, 8: start, 11: data, 12: data count.
      expect(sections.filter((id) => [6, 8, 11, 12].includes(id)), name).toEqual([]);
    }
  });

  it('splits a call only from the measured threshold on, on as many threads as get half of it each', async () => {
    const be = await createWasmBackend({ threads: 3 });
    const spy = vi.spyOn(be.ctx.pool!, 'run');
    const cases: [number, number][] = [[EW_PARALLEL_MIN - 16, 1], [EW_PARALLEL_MIN, 2], [1.5 * EW_PARALLEL_MIN, 3], [4 * EW_PARALLEL_MIN, 3]];
    for (const [n, threads] of cases) {
      spy.mockClear();
      const a = vec(be, n, new Float32Array(n).fill(1));
      const out = vec(be, n);
      add(be, a, a, out, n);
      if (threads === 1) expect(spy, `n=${n}`).not.toHaveBeenCalled();
      // CHUNKS_PER_THREAD chunks per thread, on exactly that many threads.
      else expect([spy.mock.calls[0][1].length, spy.mock.calls[0][2]], `n=${n}`).toEqual([threads * CHUNKS_PER_THREAD, threads]);
      const res = be.readSync(out.storage, 'f32');
      expect(res[0]).toBe(2);
      expect(res[n - 1]).toBe(2);
    }
    be.dispose();
  });

  it('a validation error thrown before dispatch leaves the pool working', async () => {
    const be = await createWasmBackend({ threads: 2 });
    be.ctx.splitAlways = true;
    const n = 1000;
    const a = vec(be, n, Float32Array.from({ length: n }, (_, i) => i));
    const short = vec(be, n / 2);
    expect(() => add(be, a, a, short, n)).toThrow(BoundsError);
    const out = vec(be, n);
    add(be, a, a, out, n);
    expect(be.readSync(out.storage, 'f32')[n - 1]).toBe(2 * (n - 1));
    be.dispose();
  });

  it('a trap on a worker or on the caller becomes a KernelError; every chunk finishes first and the pool stays usable', async () => {
    const be = await createWasmBackend({ threads: 2 });
    const pool = be.ctx.pool!;
    const big = 1 << 22;
    const out = vec(be, big);
    const at = be.ctx.addr(out);
    const past = be.memory.buffer.byteLength + 1024;
    // Chunk 0 (a 16 MiB fill) keeps the caller busy, so the awake worker claims chunk 1,
    // which stores out of bounds. Chunks are claimed dynamically, so on a loaded machine the
    // caller may run both: retry until the trap happened on the worker.
    let onWorker = false;
    for (let attempt = 0; attempt < 20 && !onWorker; attempt++) {
      pool.run('ew_fill', [[at, 16, 0], [at + 64, 16, 0]], 2);
      let err: unknown;
      try {
        pool.run('ew_fill', [[at, big, 5], [past, 64, 7]], 2);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KernelError);
      expect(String(err)).toMatch(/ew_fill failed \(chunk 1 of 2\) on (worker thread 1|the calling thread): RuntimeError/);
      onWorker = /worker thread 1/.test(String(err));
      // Chunk 0 still ran to the end before the call returned.
      expect(be.readSync(out.storage, 'i32', big - 1, 1)[0]).toBe(5);
    }
    expect(onWorker).toBe(true);
    // The caller's own chunk traps (one chunk: the caller runs it): still a KernelError.
    expect(() => pool.run('ew_fill', [[past, 64, 7]], 2)).toThrow(/chunk 0 of 1\) on the calling thread: RuntimeError/);
    expect(() => pool.run('no_such_export', [[], []], 2)).toThrow(KernelError);
    be.ctx.splitAlways = true;
    const n = 4096;
    const a = vec(be, n, new Float32Array(n).fill(1.25));
    add(be, a, a, out, n);
    expect(Array.from(be.readSync(out.storage, 'f32', 0, n)).every((v) => v === 2.5)).toBe(true);
    be.dispose();
  });

  it('setNumThreads: 1 and 2 threads give the same bits; features follow; the global setter reaches live backends', async () => {
    const be = await createWasmBackend({ threads: 2 });
    expect(be.features).toMatchObject({ threads: true, numThreads: 2 });
    const r = rng(8);
    const n = 3 * EW_PARALLEL_MIN + 5;
    const x = vec(be, n, randF32(r, n, -3, 3));
    const out = vec(be, n);
    const run = () => {
      be.unary({ op: 'gelu', x: { ...x, strides: [1] }, out, shape: [n] });
      return be.readSync(out.storage, 'f32');
    };
    const two = run();
    await be.setNumThreads(1);
    expect(be.features).toMatchObject({ threads: false, numThreads: 1 });
    const spy = vi.spyOn(be.ctx.pool!, 'run');
    expectBitsEqual(run(), two, 'gelu on 1 thread vs 2');
    expect(spy).not.toHaveBeenCalled();
    await setNumThreads(2);
    expect(be.features).toMatchObject({ threads: true, numThreads: 2 });
    expectBitsEqual(run(), two, 'gelu on 2 threads again');
    expect(spy).toHaveBeenCalled();
    await expect(setNumThreads(0)).rejects.toThrow(/thread count must be an integer/);
    be.dispose();
  });

  it('a plain-memory backend reports no threads and says why', async () => {
    const be = await createWasmBackend({ shared: false, threads: 4 });
    expect(be.features).toMatchObject({ threads: false, numThreads: 1 });
    expect(be.ctx.pool).toBeNull();
    expect(be.threadsUnavailable).toMatch(/not shared/);
    await be.setNumThreads(4);
    expect(be.features.numThreads).toBe(1);
  });

  it('dispose terminates the workers; the backend keeps working on one thread', async () => {
    const be = await createWasmBackend({ threads: 2 });
    be.dispose();
    expect(be.features).toMatchObject({ threads: false, numThreads: 1 });
    expect(be.ctx.pool).toBeNull();
    const n = 4 * EW_PARALLEL_MIN;
    const a = vec(be, n, new Float32Array(n).fill(3));
    const out = vec(be, n);
    add(be, a, a, out, n);
    expect(be.readSync(out.storage, 'f32')[n - 1]).toBe(6);
    be.dispose();
  });

  // The pool's workers are unref'ed (Node, Deno) or unreferenced (Bun): a script that never
  // disposes its backend must still exit when its work is done.
  const here = dirname(fileURLToPath(import.meta.url));
  const dist = join(here, '..', 'dist', 'index.js');
  const script = `
    const { createWasmBackend } = await import(${JSON.stringify(dist)});
    const be = await createWasmBackend({ threads: 2 });
    const n = 1 << 20;
    const a = be.alloc(n * 4), out = be.alloc(n * 4);
    be.write(a, new Float32Array(n).fill(1));
    for (let i = 0; i < 20; i++) be.binary({ op: 'add', a: { storage: a, offset: 0, strides: [1] }, b: { storage: a, offset: 0, strides: [1] }, out: { storage: out, offset: 0 }, shape: [n] });
    console.log('threads', be.features.numThreads, be.readSync(out, 'f32', n - 1, 1)[0]);
  `;
  const bin = (name: string) => join(here, '..', '..', '..', 'node_modules', '.bin', name);
  const runtimes: [string, string, string[]][] = [
    ['node', process.execPath, ['--input-type=module', '-e', script]],
    ['deno', bin('deno'), ['eval', script]],
    ['bun', bin('bun'), ['-e', script]],
  ];
  for (const [name, exe, args] of runtimes) {
    const missing = !existsSync(dist) ? 'dist/ not built' : !existsSync(exe) ? `${name} not installed` : '';
    it.skipIf(missing !== '')(`a ${name} process with a live pool exits on its own${missing ? ` [skipped: ${missing}]` : ''}`, () => {
      const t0 = performance.now();
      const res = spawnSync(exe, args, { encoding: 'utf8', timeout: 20_000 });
      const seconds = (performance.now() - t0) / 1e3;
      expect(res.error, String(res.error)).toBeUndefined();
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout.trim()).toBe('threads 2 2');
      expect(seconds).toBeLessThan(10);
    });
  }
});
