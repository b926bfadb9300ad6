/**
 * qembedding: out[c, l] = dequant(W)[indices[c], l] for a weight-only int8 / int4 table W
 * (core's quant.ts format: n rows of k values, one f32 scale per group of groupSize values;
 * int4 in 32-value blocks, value t in the low nibble of byte t and t + 16 in its high
 * nibble, stored as q + 8). One invocation per output element; one f32 multiply (correctly
 * rounded in WGSL), so each value has the bits of fround(q * scale) as on the other backends.
 * The indices are guarded like indexSelect's (a bad one makes the kernel write nothing, and
 * the IndexError surfaces at the next read or sync).
 */

import type { QEmbeddingParams } from '@tessera/core';
import { GUARD_WGSL } from '../runtime/checks.js';
import { grid2d } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID } from '../wgsl/math.js';
import type { SelectHost } from './select.js';

const WG = 256;

/** The WGSL expression of value (j, l) as an i32. */
const VALUE: Record<8 | 4, string> = {
  // Row j starts on a word (k is a multiple of 32), so value l is byte l % 4 of its word.
  8: `(q_i(i32(P.q_o + (j * P.k + l) / 4u)) << (24u - 8u * (l % 4u))) >> 24u`,
  4: `i32((q_u(i32(P.q_o + byte / 4u)) >> (8u * (byte % 4u) + select(0u, 4u, u >= 16u))) & 15u) - 8`,
};

export function qembedding(h: SelectHost, p: QEmbeddingParams): void {
  const { count, n, k } = p;
  if (count === 0) return;
  const idx = { buffer: bufferOf(p.indices.storage), offset: p.indices.offset };
  const st = h.checks.encode(idx, count, n, 'qembedding');
  const total = count * k;
  if (total === 0) return;
  h.ctx.dispatch({
    key: `qembedding.int${p.bits}`,
    operands: [
      { name: 'q', buffer: bufferOf(p.q.storage) },
      { name: 's', buffer: bufferOf(p.scales.storage) },
      { name: 'idx', buffer: idx.buffer },
      { name: 'out', buffer: bufferOf(p.out.storage), write: true },
      { name: 'st', buffer: st.buffer },
    ],
    params: {
      total: ['u32', total],
      k: ['u32', k],
      gs: ['u32', p.groupSize],
      q_o: ['u32', p.q.offset],
      s_o: ['u32', p.scales.offset],
      idx_o: ['u32', idx.offset],
      out_o: ['u32', p.out.offset],
      st_slot: ['u32', st.slot],
    },
    groups: grid2d(Math.ceil(total / WG)),
    wgsl: (decls) => `${decls}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let gi = ${GLOBAL_ID(WG)};
  if (gi >= P.total) { return; }
  ${GUARD_WGSL}
  let c = gi / P.k;
  let l = gi % P.k;
  let j = u32(idx_i(i32(P.idx_o + c)));
  let u = l % 32u;
  let byte = j * P.k / 2u + 16u * (l / 32u) + (u % 16u);
  let v = ${VALUE[p.bits]};
  out_sf(i32(P.out_o + gi), f32(v) * s_f(i32(P.s_o + j * (P.k / P.gs) + l / P.gs)));
}`,
  });
}
