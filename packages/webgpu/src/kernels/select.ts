/**
 * Index kernels: indexSelect / gather (one invocation per output element),
 * their gradients indexAdd / scatterAdd, and cross-entropy forward/backward.
 *
 * Every kernel that takes indices is guarded by a GPU index check (see
 * ../runtime/checks.ts): a bad index makes the kernel write nothing, and the
 * IndexError surfaces at the next read() / sync().
 *
 * indexAdd / scatterAdd without float atomics (not portable): the positions of
 * the indices are sorted on the GPU by (destination, position) with a bitonic
 * network (one dispatch per step), then one invocation per run of equal
 * destinations adds the run's contributions into dx in position order. Each
 * destination has exactly one writer, and the additions happen in the same
 * order as in the reference, so the results are bit-identical to it.
 */

import type { CrossEntropyBackwardParams, CrossEntropyParams, GatherParams, IndexAddParams, IndexSelectParams, ScatterAddParams } from '@tessera/core';
import { GUARD_SHARED_DECL, GUARD_SHARED_WGSL, GUARD_WGSL, type IndexChecks, type StatusRef } from '../runtime/checks.js';
import { grid2d, type GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID, MATH_WGSL } from '../wgsl/math.js';
import { ROW_ID, rowReduceWGSL, rowWorkgroup } from '../wgsl/rows.js';

const WG = 256;

/** What the index kernels need besides the GPU context. */
export interface SelectHost {
  ctx: GpuContext;
  checks: IndexChecks;
}

function status(st: StatusRef) {
  return { operand: { name: 'st', buffer: st.buffer }, param: { st_slot: ['u32', st.slot] as ['u32', number] } };
}

/**
 * The copy pass shared by indexSelect and gather: out[gi] = x[o, a, i] for every flat
 * output position gi = (o, c, i), where `index` is the WGSL expression of the flat
 * position of gi's index in idx (one per c for indexSelect, one per element for gather).
 */
function selectCopy(
  h: SelectHost,
  key: string,
  p: IndexSelectParams | GatherParams,
  idx: { buffer: GPUBuffer; offset: number },
  st: ReturnType<typeof status>,
  n: number,
  index: string,
): void {
  h.ctx.dispatch({
    key,
    operands: [{ name: 'x', buffer: bufferOf(p.x.storage) }, { name: 'idx', buffer: idx.buffer }, { name: 'out', buffer: bufferOf(p.out.storage), write: true }, st.operand],
    params: {
      n: ['u32', n],
      x_o: ['u32', p.x.offset],
      idx_o: ['u32', idx.offset],
      out_o: ['u32', p.out.offset],
      axis: ['u32', p.axisLen],
      inner: ['u32', p.inner],
      count: ['u32', p.count],
      ...st.param,
    },
    groups: grid2d(Math.ceil(n / WG)),
    wgsl: (decls) => `${decls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let gi = ${GLOBAL_ID(WG)};
  if (gi >= P.n) { return; }
  ${GUARD_WGSL}
  let i = gi % P.inner;
  let o = gi / (P.count * P.inner);
  let a = u32(idx_i(i32(P.idx_o + ${index})));
  out_su(i32(P.out_o + gi), x_u(i32(P.x_o + (o * P.axis + a) * P.inner + i)));
}`,
  });
}

export function indexSelect(h: SelectHost, p: IndexSelectParams): void {
  const { outer, axisLen, inner, count } = p;
  const n = outer * count * inner;
  if (count === 0) return;
  const idx = { buffer: bufferOf(p.indices.storage), offset: p.indices.offset };
  const st = status(h.checks.encode(idx, count, axisLen, 'indexSelect'));
  if (n === 0) return;
  selectCopy(h, 'indexSelect', p, idx, st, n, '(gi / P.inner) % P.count');
}

export function gather(h: SelectHost, p: GatherParams): void {
  const { outer, axisLen, inner, count } = p;
  const n = outer * count * inner;
  if (n === 0) return;
  const idx = { buffer: bufferOf(p.indices.storage), offset: p.indices.offset };
  const st = status(h.checks.encode(idx, n, axisLen, 'gather'));
  selectCopy(h, 'gather', p, idx, st, n, 'gi');
}

/**
 * Sort keys for the scatter kernels. 'index': positions c of indices[count],
 * ordered by (indices[c], c). 'scatter': flat positions j of indices[outer, count, inner],
 * ordered by (column (o, i), indices[j], j).
 */
type SortMode = 'index' | 'scatter';

function orderWGSL(mode: SortMode): string {
  const body =
    mode === 'index'
      ? `let ka = idx_i(i32(P.idx_o + a));
  let kb = idx_i(i32(P.idx_o + b));
  return ka < kb || (ka == kb && a < b);`
      : `let ca = (a / (P.count * P.inner)) * P.inner + a % P.inner;
  let cb = (b / (P.count * P.inner)) * P.inner + b % P.inner;
  if (ca != cb) { return ca < cb; }
  let ka = idx_i(i32(P.idx_o + a));
  let kb = idx_i(i32(P.idx_o + b));
  return ka < kb || (ka == kb && a < b);`;
  return `// Strict order of sort keys; padding (0xffffffff) sorts last.
fn before(a: u32, b: u32) -> bool {
  if (a == 0xffffffffu) { return false; }
  if (b == 0xffffffffu) { return true; }
  ${body}
}`;
}

/** Sorts positions 0..n-1 into a scratch buffer of nextPow2(n) keys (caller releases it). */
function sortPositions(ctx: GpuContext, mode: SortMode, n: number, idx: { buffer: GPUBuffer; offset: number }, count: number, inner: number): GPUBuffer {
  let size = 1;
  while (size < n) size *= 2;
  const keys = ctx.storagePool.acquire(size * 4);
  const common = { idx_o: ['u32', idx.offset], count: ['u32', count], inner: ['u32', inner] } as const satisfies Record<string, ['u32', number]>;
  ctx.dispatch({
    key: 'sort.init',
    operands: [{ name: 'keys', buffer: keys, write: true }],
    params: { n: ['u32', n], size: ['u32', size] },
    groups: grid2d(Math.ceil(size / WG)),
    wgsl: (decls) => `${decls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let gi = ${GLOBAL_ID(WG)};
  if (gi >= P.size) { return; }
  keys_su(i32(gi), select(0xffffffffu, gi, gi < P.n));
}`,
  });
  for (let k = 2; k <= size; k *= 2) {
    for (let j = k >> 1; j >= 1; j >>= 1) {
      ctx.dispatch({
        key: `sort.step.${mode}`,
        operands: [
          { name: 'keys', buffer: keys, write: true },
          { name: 'idx', buffer: idx.buffer },
        ],
        params: { ...common, half: ['u32', size / 2], j: ['u32', j], k: ['u32', k] },
        groups: grid2d(Math.ceil(size / 2 / WG)),
        wgsl: (decls) => `${decls}
${orderWGSL(mode)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let t = ${GLOBAL_ID(WG)};
  if (t >= P.half) { return; }
  let l = ((t & ~(P.j - 1u)) << 1u) | (t & (P.j - 1u));
  let r = l | P.j;
  let kl = keys_u(i32(l));
  let kr = keys_u(i32(r));
  let up = (l & P.k) == 0u;
  if (before(kr, kl) == up) {
    keys_su(i32(l), kr);
    keys_su(i32(r), kl);
  }
}`,
      });
    }
  }
  return keys;
}

/**
 * The accumulation pass shared by indexAdd and scatterAdd: one invocation per sorted
 * position (`keys`, from sortPositions); the first position of each run of equal
 * destinations sums the run's dOut values into dx. `body` is the WGSL after the guard,
 * with `s` the sorted position (scatterAdd adds `column` to the declarations).
 */
function accumulateRuns(
  h: SelectHost,
  key: string,
  p: IndexAddParams | ScatterAddParams,
  keys: GPUBuffer,
  idx: { buffer: GPUBuffer; offset: number },
  st: ReturnType<typeof status>,
  n: number,
  extraDecls: string,
  body: string,
): void {
  h.ctx.dispatch({
    key,
    operands: [
      { name: 'keys', buffer: keys },
      { name: 'idx', buffer: idx.buffer },
      { name: 'dOut', buffer: bufferOf(p.dOut.storage) },
      { name: 'dx', buffer: bufferOf(p.dx.storage), write: true },
      st.operand,
    ],
    params: {
      n: ['u32', n],
      idx_o: ['u32', idx.offset],
      dOut_o: ['u32', p.dOut.offset],
      dx_o: ['u32', p.dx.offset],
      axis: ['u32', p.axisLen],
      inner: ['u32', p.inner],
      count: ['u32', p.count],
      ...st.param,
    },
    groups: grid2d(Math.ceil(n / WG)),
    wgsl: (decls) => `${decls}
${extraDecls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let s = ${GLOBAL_ID(WG)};
  if (s >= P.n) { return; }
  ${GUARD_WGSL}
  ${body}
}`,
  });
  h.ctx.storagePool.release(keys);
}

export function indexAdd(h: SelectHost, p: IndexAddParams): void {
  const { outer, axisLen, inner, count } = p;
  if (count === 0) return;
  const idx = { buffer: bufferOf(p.indices.storage), offset: p.indices.offset };
  const st = status(h.checks.encode(idx, count, axisLen, 'indexAdd'));
  const n = outer * count * inner;
  if (n === 0) return;
  const keys = sortPositions(h.ctx, 'index', count, idx, count, inner);
  // s runs over (outer, sorted position, inner): each column of inner values is a separate run.
  accumulateRuns(h, 'indexAdd.runs', p, keys, idx, st, n, '', `let i = s % P.inner;
  let t = s / P.inner;
  let r = t % P.count;
  let o = t / P.count;
  let a = idx_i(i32(P.idx_o + keys_u(i32(r))));
  // Only the first position of a run of equal indices writes.
  if (r > 0u && idx_i(i32(P.idx_o + keys_u(i32(r) - 1))) == a) { return; }
  let dst = i32(P.dx_o + (o * P.axis + u32(a)) * P.inner + i);
  var acc = dx_f(dst);
  for (var q = r; q < P.count; q = q + 1u) {
    let c = keys_u(i32(q));
    if (idx_i(i32(P.idx_o + c)) != a) { break; }
    acc = acc + dOut_f(i32(P.dOut_o + (o * P.count + c) * P.inner + i));
  }
  dx_sf(dst, acc);`);
}

export function scatterAdd(h: SelectHost, p: ScatterAddParams): void {
  const { outer, axisLen, inner, count } = p;
  const n = outer * count * inner;
  if (n === 0) return;
  const idx = { buffer: bufferOf(p.indices.storage), offset: p.indices.offset };
  const st = status(h.checks.encode(idx, n, axisLen, 'scatterAdd'));
  const keys = sortPositions(h.ctx, 'scatter', n, idx, count, inner);
  accumulateRuns(
    h,
    'scatterAdd.runs',
    p,
    keys,
    idx,
    st,
    n,
    'fn column(j: u32) -> u32 { return (j / (P.count * P.inner)) * P.inner + j % P.inner; }',
    `let j = keys_u(i32(s));
  let col = column(j);
  let a = idx_i(i32(P.idx_o + j));
  if (s > 0u) {
    let jp = keys_u(i32(s) - 1);
    if (column(jp) == col && idx_i(i32(P.idx_o + jp)) == a) { return; }
  }
  let o = j / (P.count * P.inner);
  let i = j % P.inner;
  let dst = i32(P.dx_o + (o * P.axis + u32(a)) * P.inner + i);
  var acc = dx_f(dst);
  for (var q = s; q < P.n; q = q + 1u) {
    let jq = keys_u(i32(q));
    if (column(jq) != col || idx_i(i32(P.idx_o + jq)) != a) { break; }
    acc = acc + dOut_f(i32(P.dOut_o + jq));
  }
  dx_sf(dst, acc);`,
  );
}

/**
 * Shared prologue of the cross-entropy row kernels: the guard, the row's target t
 * (loaded uniformly), the row max m and others = sum over c != t of exp(x_c - m).
 */
function crossEntropyPrologue(ignoredBody: string): string {
  return `let r = ${ROW_ID};
  if (r >= P.rows) { return; }
  ${GUARD_SHARED_WGSL}
  if (lid.x == 0u) { t_shared = tg_i(i32(P.tg_o + r)); }
  let t = workgroupUniformLoad(&t_shared);
  let xb = i32(P.x_o + r * P.cols);
  if (t == P.ignore) {
    ${ignoredBody}
    return;
  }
  var m = -f_inf();
  for (var c = lid.x; c < P.cols; c = c + RWG) { m = nmax(m, x_f(xb + i32(c))); }
  m = wg_max(m, lid.x);
  var acc = vec2<f32>(0.0);
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    if (i32(c) != t) { acc = kahan(acc, t_exp(x_f(xb + i32(c)) - m)); }
  }
  let others = wg_sum(acc.x, lid.x);
  let xt = x_f(xb + t);
  let et = t_exp(xt - m);`;
}

function crossEntropyDecls(wg: number): string {
  return `${MATH_WGSL}
${rowReduceWGSL(wg)}
${GUARD_SHARED_DECL}
var<workgroup> t_shared: i32;`;
}

export function crossEntropy(h: SelectHost, p: CrossEntropyParams): void {
  const { rows, cols } = p;
  if (rows === 0) return;
  const tg = { buffer: bufferOf(p.targets.storage), offset: p.targets.offset };
  const st = status(h.checks.encode(tg, rows, cols, 'crossEntropy target', p.ignoreIndex));
  const wg = rowWorkgroup(cols);
  h.ctx.dispatch({
    key: `crossEntropy.${wg}`,
    operands: [{ name: 'x', buffer: bufferOf(p.logits.storage) }, { name: 'tg', buffer: tg.buffer }, { name: 'loss', buffer: bufferOf(p.losses.storage), write: true }, st.operand],
    params: {
      x_o: ['u32', p.logits.offset],
      tg_o: ['u32', tg.offset],
      loss_o: ['u32', p.losses.offset],
      rows: ['u32', rows],
      cols: ['u32', cols],
      ignore: ['i32', p.ignoreIndex],
      ...st.param,
    },
    groups: grid2d(rows),
    wgsl: (decls) => `${decls}
${crossEntropyDecls(wg)}
@compute @workgroup_size(${wg})
fn main(${ENTRY_ARGS}) {
  ${crossEntropyPrologue('if (lid.x == 0u) { loss_sf(i32(P.loss_o + r), 0.0); }')}
  if (lid.x == 0u) {
    // loss = logsumexp - x_t = log1p(others / e_t) near the max, (m - x_t) + log(sum) far below it.
    let d = m - xt;
    var loss: f32;
    if (!is_finite(m)) { loss = d; } else if (d > 1.0) { loss = d + t_log(et + others); } else { loss = t_log1p(others / et); }
    loss_sf(i32(P.loss_o + r), loss);
  }
}`,
  });
}

export function crossEntropyBackward(h: SelectHost, p: CrossEntropyBackwardParams): void {
  const { rows, cols } = p;
  if (rows === 0) return;
  const tg = { buffer: bufferOf(p.targets.storage), offset: p.targets.offset };
  const st = status(h.checks.encode(tg, rows, cols, 'crossEntropyBackward target', p.ignoreIndex));
  if (cols === 0) return;
  const wg = rowWorkgroup(cols);
  h.ctx.dispatch({
    key: `crossEntropyBackward.${wg}`,
    operands: [
      { name: 'x', buffer: bufferOf(p.logits.storage) },
      { name: 'tg', buffer: tg.buffer },
      { name: 'dl', buffer: bufferOf(p.dLosses.storage) },
      { name: 'dx', buffer: bufferOf(p.dLogits.storage), write: true },
      st.operand,
    ],
    params: {
      x_o: ['u32', p.logits.offset],
      tg_o: ['u32', tg.offset],
      dl_o: ['u32', p.dLosses.offset],
      dx_o: ['u32', p.dLogits.offset],
      rows: ['u32', rows],
      cols: ['u32', cols],
      ignore: ['i32', p.ignoreIndex],
      ...st.param,
    },
    groups: grid2d(rows),
    wgsl: (decls) => `${decls}
${crossEntropyDecls(wg)}
@compute @workgroup_size(${wg})
fn main(${ENTRY_ARGS}) {
  ${crossEntropyPrologue('let zb = i32(P.dx_o + r * P.cols);\n    for (var c = lid.x; c < P.cols; c = c + RWG) { dx_sf(zb + i32(c), 0.0); }')}
  let db = i32(P.dx_o + r * P.cols);
  let g = dl_f(i32(P.dl_o + r));
  // p_c - [c == t] with p_t - 1 = -others / sum (no cancellation when p_t -> 1).
  let s = et + others;
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    let v = x_f(xb + i32(c));
    var d: f32;
    if (!is_finite(m)) {
      d = t_exp(v - m) - select(0.0, 1.0, i32(c) == t);
    } else if (i32(c) == t) {
      d = -others / s;
    } else {
      d = t_exp(v - m) / s;
    }
    dx_sf(db + i32(c), d * g);
  }
}`,
  });
}
