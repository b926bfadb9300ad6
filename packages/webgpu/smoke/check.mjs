// Shared body of the runtime smoke tests (node.mjs: Node and Bun via the npm `webgpu`
// package; deno.mjs: Deno's built-in navigator.gpu). Needs `npm run build` first.
// Runs every kernel once on small odd shapes, a matmul and one training step of a tiny MLP
// on WebGPU and on wasm, prints the adapter and the differences, and fails when they
// disagree (1e-5; this is a portability check across WebGPU implementations and shader
// compilers, the test suite holds the exact tolerances).
import { IndexError, KERNEL_NAMES, createWasmBackend, quantizeMatrix } from '@tessera/core';
import { matmul, noGrad, setBackend, tensor, tidy, mse, gelu } from '@tessera/tensor';
import { webgpu } from '../dist/index.js';

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const data = (seed, n) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

/** Matmul [37, 45] @ [45, 29] plus one SGD step of a 2-layer MLP; returns numbers to compare. */
async function workload() {
  const a = tensor(data(1, 37 * 45), [37, 45]);
  const b = tensor(data(2, 45 * 29), [45, 29]);
  const c = matmul(a, b);
  const product = await c.data();
  const x = tensor(data(3, 16 * 8), [16, 8]);
  const y = tensor(data(4, 16 * 4), [16, 4]);
  const w1 = tensor(data(5, 8 * 32), [8, 32], { requiresGrad: true });
  const w2 = tensor(data(6, 32 * 4), [32, 4], { requiresGrad: true });
  const step = () => tidy(() => mse(matmul(gelu(matmul(x, w1)), w2), y));
  const loss0 = step();
  loss0.backward();
  const before = (await loss0.data())[0];
  noGrad(() => {
    w1.sub_(w1.grad, 0.5);
    w2.sub_(w2.grad, 0.5);
  });
  const after = (await step().data())[0];
  for (const t of [a, b, c, x, y, w1, w2, loss0]) t.dispose();
  return { product, before, after };
}

/**
 * Calls every Backend kernel on both backends with the same inputs; returns the worst
 * relative difference per kernel and checks that a bad index surfaces as an IndexError.
 */
async function kernelTour(gpu, wasm) {
  const r = rng(9);
  const pairs = [];
  /** A storage of n elements on both backends holding the same values. */
  /** A storage on both backends holding `data`. */
  const bothOf = (data, kind) => {
    const p = { g: gpu.alloc(data.length * 4), w: wasm.alloc(data.length * 4), n: data.length, kind };
    gpu.write(p.g, data);
    wasm.write(p.w, data);
    pairs.push(p);
    return p;
  };
  const both = (n, kind = 'f32', lo = -1, hi = 1) =>
    bothOf(kind === 'i32' ? Int32Array.from({ length: n }, () => Math.floor(lo + (hi - lo) * r())) : Float32Array.from({ length: n }, () => lo + (hi - lo) * r()), kind);
  const D = (p, side, offset = 0) => ({ storage: p[side], offset });
  const S = (p, side, strides, offset = 0) => ({ storage: p[side], offset, strides });
  const outputs = [];
  const run = (name, make, outs) => {
    for (const side of ['g', 'w']) (side === 'g' ? gpu : wasm)[name](make(side));
    outputs.push(...outs.map((o) => [name, o]));
  };
  const [m, n, k] = [17, 9, 13];
  const a = both(m * k), b = both(k * n), c = both(m * n);
  run('matmul', (s) => ({ a: D(a, s), b: D(b, s), out: D(c, s), m, n, k, transB: false }), [c]);
  // One decoding step (m = 1: the GEMV shaders), B as it is and transposed.
  const vx = both(260), vb = both(260 * 36), vy = both(36), vyt = both(36);
  run('matmul', (s) => ({ a: D(vx, s), b: D(vb, s), out: D(vy, s), m: 1, n: 36, k: 260 }), [vy]);
  run('matmul', (s) => ({ a: D(vx, s), b: D(vb, s), out: D(vyt, s), m: 1, n: 36, k: 260, transB: true }), [vyt]);
  const x = both(63, 'f32', 0.1, 3), u = both(63), y = both(63);
  run('unary', (s) => ({ op: 'gelu', x: S(x, s, [1]), out: D(u, s), shape: [63] }), [u]);
  run('binary', (s) => ({ op: 'pow', a: S(x, s, [7, 1]), b: S(u, s, [0, 1]), out: D(y, s), shape: [9, 7] }), [y]);
  const cond = both(63, 'i32', -1, 2), wo = both(63);
  run('where', (s) => ({ cond: S(cond, s, [1]), condDType: 'i32', a: S(x, s, [1]), b: S(u, s, [-1], 62), out: D(wo, s), shape: [63] }), [wo]);
  const cp = both(63);
  run('copy', (s) => ({ x: S(x, s, [1, 9]), out: S(cp, s, [7, 1]), shape: [9, 7] }), [cp]);
  const ci = both(63, 'i32', 0, 1);
  run('cast', (s) => ({ x: S(u, s, [1]), out: D(ci, s), shape: [63], from: 'f32', to: 'i32' }), [ci]);
  const fl = both(17);
  run('fill', (s) => ({ out: D(fl, s, 2), n: 13, value: 0.25, dtype: 'f32' }), [fl]);
  const rn = both(129);
  run('random', (s) => ({ out: D(rn, s), n: 129, seed: 5, counter: 3, dist: 'normal' }), [rn]);
  const rd = both(9, 'i32');
  run('reduce', (s) => ({ op: 'argmax', x: D(x, s), out: D(rd, s), outer: 3, axisLen: 7, inner: 3 }), [rd]);
  const sm = both(63), sb = both(63);
  run('softmax', (s) => ({ x: D(u, s), out: D(sm, s), rows: 3, cols: 21, log: true }), [sm]);
  run('softmaxBackward', (s) => ({ y: D(sm, s), dy: D(y, s), dx: D(sb, s), rows: 3, cols: 21, log: true }), [sb]);
  const g = both(21, 'f32', 0.5, 1.5), be = both(21), ln = both(63), mean = both(3), rstd = both(3);
  run('layerNorm', (s) => ({ x: D(u, s), gamma: D(g, s), beta: D(be, s), out: D(ln, s), mean: D(mean, s), rstd: D(rstd, s), rows: 3, cols: 21, eps: 1e-5 }), [ln, mean, rstd]);
  const dx = both(63), dg = both(21), db = both(21);
  run('layerNormBackward', (s) => ({ dy: D(y, s), x: D(u, s), gamma: D(g, s), mean: D(mean, s), rstd: D(rstd, s), dx: D(dx, s), dgamma: D(dg, s), dbeta: D(db, s), rows: 3, cols: 21 }), [dx, dg, db]);
  const gb = both(63);
  run('geluBackward', (s) => ({ x: D(u, s), dy: D(y, s), dx: D(gb, s), n: 63 }), [gb]);
  const idx = both(5, 'i32', 0, 7), sel = both(2 * 5 * 3), acc = both(2 * 7 * 3);
  run('indexSelect', (s) => ({ x: D(u, s), indices: D(idx, s), out: D(sel, s), outer: 2, axisLen: 7, inner: 3, count: 5 }), [sel]);
  run('indexAdd', (s) => ({ dOut: D(sel, s), indices: D(idx, s), dx: D(acc, s), outer: 2, axisLen: 7, inner: 3, count: 5 }), [acc]);
  const gi = both(2 * 5 * 3, 'i32', 0, 7), ga = both(2 * 5 * 3), sa = both(2 * 7 * 3);
  run('gather', (s) => ({ x: D(u, s), indices: D(gi, s), out: D(ga, s), outer: 2, axisLen: 7, inner: 3, count: 5 }), [ga]);
  run('scatterAdd', (s) => ({ dOut: D(ga, s), indices: D(gi, s), dx: D(sa, s), outer: 2, axisLen: 7, inner: 3, count: 5 }), [sa]);
  const tg = both(3, 'i32', 0, 21), loss = both(3), dl = both(3, 'f32', 0.5, 1), dlog = both(63);
  run('crossEntropy', (s) => ({ logits: D(u, s), targets: D(tg, s), losses: D(loss, s), rows: 3, cols: 21, ignoreIndex: -100 }), [loss]);
  run('crossEntropyBackward', (s) => ({ logits: D(u, s), targets: D(tg, s), dLosses: D(dl, s), dLogits: D(dlog, s), rows: 3, cols: 21, ignoreIndex: -100 }), [dlog]);
  const [H, tq, tk, dh] = [2, 3, 5, 4];
  const q = both(H * tq * dh), kk = both(H * tk * dh), v = both(H * tk * dh), ao = both(H * tq * dh), pr = both(H * tq * tk);
  run('attention', (s) => ({ q: D(q, s), k: D(kk, s), v: D(v, s), out: D(ao, s), probs: D(pr, s), heads: H, tq, tk, d: dh, causal: true }), [ao, pr]);
  const dq = both(H * tq * dh), dk = both(H * tk * dh), dv = both(H * tk * dh);
  run('attentionBackward', (s) => ({ q: D(q, s), k: D(kk, s), v: D(v, s), probs: D(pr, s), dOut: D(ao, s), dq: D(dq, s), dk: D(dk, s), dv: D(dv, s), heads: H, tq, tk, d: dh }), [dq, dk, dv]);
  const pm = both(63), pg = both(63), mom = both(63), mm = both(63, 'f32', 0, 0), vv = both(63, 'f32', 0, 0);
  run('sgdStep', (s) => ({ param: D(pm, s), grad: D(pg, s), momentumBuf: D(mom, s), n: 63, lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.01, firstStep: true }), [pm, mom]);
  run('adamStep', (s) => ({ param: D(pm, s), grad: D(pg, s), m: D(mm, s), v: D(vv, s), n: 63, lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, amsgrad: false, step: 3 }), [pm, mm, vv]);

  // Weight-only quantized products, int8 and 4-bit: x [3, 64] (the decode GEMV) and [9, 64] (the
  // tiled prompt kernel) times 5 rows of 64 in groups of 32; and the quantized embedding lookup of
  // 4 rows (one repeated) of the same table.
  for (const bits of [8, 4]) {
    const [qn, qk] = [5, 64];
    const qw = quantizeMatrix(Float32Array.from({ length: qn * qk }, () => r() * 2 - 1), qn, qk, { bits, groupSize: 32 });
    const qq = bothOf(qw.q, 'i32'), qs = bothOf(qw.scales, 'f32');
    for (const qm of [3, 9]) {
      const qx = both(qm * qk), qo = both(qm * qn);
      run('qmatmul', (s) => ({ x: D(qx, s), q: D(qq, s), scales: D(qs, s), out: D(qo, s), m: qm, n: qn, k: qk, bits, groupSize: 32 }), [qo]);
    }
    const rows = bothOf(Int32Array.from([4, 0, 2, 4]), 'i32'), qe = both(4 * qk);
    run('qembedding', (s) => ({ q: D(qq, s), scales: D(qs, s), indices: D(rows, s), out: D(qe, s), count: 4, n: qn, k: qk, bits, groupSize: 32 }), [qe]);
  }

  const covered = new Set(outputs.map(([name]) => name));
  const missing = KERNEL_NAMES.filter((name) => !covered.has(name));
  if (missing.length) throw new Error(`kernel tour misses ${missing.join(', ')}`);
  const worst = new Map();
  for (const [name, p] of outputs) {
    const got = await gpu.read(p.g, p.kind);
    const want = wasm.readSync(p.w, p.kind);
    let scale = 0;
    for (const w of want) scale = Math.max(scale, Math.abs(w));
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]) / (scale || 1));
    worst.set(name, Math.max(worst.get(name) ?? 0, err));
  }
  // A bad index: the kernel writes nothing and the next read rejects with an IndexError.
  gpu.write(idx.g, Int32Array.from([0, 1, 7, 2, 3]));
  gpu.indexSelect({ x: D(u, 'g'), indices: D(idx, 'g'), out: D(sel, 'g'), outer: 2, axisLen: 7, inner: 3, count: 5 });
  const err = await gpu.read(sel.g, 'f32').then(() => null, (e) => e);
  const indexErrorOk = err instanceof IndexError && /index 7 at position 2/.test(err.message);
  for (const p of pairs) {
    gpu.free(p.g);
    wasm.free(p.w);
  }
  return { worst, indexErrorOk };
}

export async function smoke(runtime) {
  const gpu = await webgpu();
  const info = gpu.adapterInfo;
  console.log(`${runtime}: WebGPU adapter ${JSON.stringify(info)}`);
  console.log(`${runtime}: features f16=${gpu.features.f16} subgroups=${gpu.features.subgroups} syncRead=${gpu.features.syncRead}`);
  const wasm = await createWasmBackend({ simd: 'simd128' });
  const tour = await kernelTour(gpu, wasm);
  const tourWorst = Math.max(...tour.worst.values());
  const worstKernel = [...tour.worst.entries()].sort((p, q) => q[1] - p[1])[0];
  console.log(`${runtime}: all ${tour.worst.size} kernels ran; worst difference from wasm ${tourWorst.toExponential(2)} (${worstKernel[0]}); bad index -> IndexError at read: ${tour.indexErrorOk}`);
  await setBackend(wasm);
  const want = await workload();
  await setBackend(gpu);
  const got = await workload();
  let worst = 0;
  for (let i = 0; i < want.product.length; i++) worst = Math.max(worst, Math.abs(got.product[i] - want.product[i]));
  const dLoss = Math.max(Math.abs(got.before - want.before) / want.before, Math.abs(got.after - want.after) / want.after);
  console.log(`${runtime}: matmul [37,45]@[45,29] max |webgpu - wasm| = ${worst.toExponential(2)}`);
  console.log(`${runtime}: MLP loss ${got.before.toFixed(6)} -> ${got.after.toFixed(6)} (wasm ${want.before.toFixed(6)} -> ${want.after.toFixed(6)}), relative difference ${dLoss.toExponential(2)}`);
  gpu.destroy();
  if (!(worst < 1e-5) || !(dLoss < 1e-5) || !(got.after < got.before) || !(tourWorst < 1e-5) || !tour.indexErrorOk) {
    console.error(`${runtime}: FAILED`);
    return 1;
  }
  console.log(`${runtime}: ok`);
  return 0;
}
