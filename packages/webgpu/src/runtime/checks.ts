/**
 * Index validation on the GPU. Reads are asynchronous, so a kernel call cannot
 * look at its indices before returning. Instead each index-taking kernel is
 * preceded by a check dispatch (one workgroup scanning the indices for the
 * first one outside [0, limit), atomics-free) that writes (position, value) or
 * "none" to a status slot; the kernel itself reads that slot and writes
 * nothing when it is set. The host copies the slots back with the next
 * `read()` / `sync()` and raises an IndexError naming the first failing kernel,
 * the index and its position.
 */

import { IndexError } from '@tessera/core';
import type { GpuContext } from './context.js';

const SLOTS_PER_BUFFER = 1024;
const SLOT_BYTES = 8;
const NONE = 0xffffffff;
const WG = 256;

interface Pending {
  what: string;
  limit: number;
  buffer: number;
  slot: number;
}

/** Status operand for a kernel guarded by a check: bind `buffer` as `st`, pass `slot` as `st_slot`. */
export interface StatusRef {
  buffer: GPUBuffer;
  slot: number;
}

/** WGSL for kernels without barriers: returns early when the guarding check failed. */
export const GUARD_WGSL = 'if (st_u(i32(P.st_slot) * 2) != 0xffffffffu) { return; }';

/** WGSL for kernels with barriers (the flag is loaded uniformly); declare GUARD_SHARED_DECL at module scope. */
export const GUARD_SHARED_DECL = 'var<workgroup> st_flag: u32;';
export const GUARD_SHARED_WGSL = `if (lid.x == 0u) { st_flag = st_u(i32(P.st_slot) * 2); }
  if (workgroupUniformLoad(&st_flag) != 0xffffffffu) { return; }`;

export class IndexChecks {
  private readonly buffers: GPUBuffer[] = [];
  private pending: Pending[] = [];

  constructor(private readonly ctx: GpuContext) {}

  /** Number of checks whose outcome the host has not seen yet. */
  get count(): number {
    return this.pending.length;
  }

  /**
   * Encodes a scan of `n` i32 indices at element `offset` of `indices` for
   * values outside [0, limit) (except `ignore`), and returns the status slot.
   */
  encode(indices: { buffer: GPUBuffer; offset: number }, n: number, limit: number, what: string, ignore?: number): StatusRef {
    const id = this.pending.length;
    const bi = Math.floor(id / SLOTS_PER_BUFFER);
    if (bi === this.buffers.length) {
      this.buffers.push(this.ctx.device.createBuffer({ size: SLOTS_PER_BUFFER * SLOT_BYTES, usage: 0x80 | 0x4 | 0x8, label: 'tessera index status' }));
    }
    const ref = { buffer: this.buffers[bi], slot: id % SLOTS_PER_BUFFER };
    this.pending.push({ what, limit, buffer: bi, slot: ref.slot });
    this.ctx.dispatch({
      key: `indexCheck${ignore === undefined ? '' : '.ignore'}`,
      operands: [
        { name: 'idx', buffer: indices.buffer },
        { name: 'st', buffer: ref.buffer, write: true },
      ],
      params: {
        idx_o: ['u32', indices.offset],
        n: ['u32', n],
        limit: ['i32', limit],
        ignore: ['i32', ignore ?? 0],
        st_slot: ['u32', ref.slot],
      },
      groups: [1, 1, 1],
      wgsl: (decls) => `${decls}
var<workgroup> first: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var f = 0xffffffffu;
  for (var p = lid.x; p < P.n; p = p + ${WG}u) {
    let v = idx_i(i32(P.idx_o + p));
    if ((v < 0 || v >= P.limit)${ignore === undefined ? '' : ' && v != P.ignore'}) {
      f = p;
      break;
    }
  }
  first[lid.x] = f;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid.x < s) { first[lid.x] = min(first[lid.x], first[lid.x + s]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let pos = first[0];
    var v = 0;
    if (pos != 0xffffffffu) { v = idx_i(i32(P.idx_o + pos)); }
    st_su(i32(P.st_slot) * 2, pos);
    st_si(i32(P.st_slot) * 2 + 1, v);
  }
}`,
    });
    return ref;
  }

  /**
   * Takes the pending checks: the byte ranges to read back (after all encoded
   * work) and a function that turns those bytes into the first IndexError, if any.
   */
  take(): { ranges: { buffer: GPUBuffer; byte: number; bytes: number }[]; verdict: (bytes: ArrayBuffer, at: number) => IndexError | null } {
    const pending = this.pending;
    this.pending = [];
    const ranges: { buffer: GPUBuffer; byte: number; bytes: number }[] = [];
    const starts: number[] = [];
    let at = 0;
    for (let b = 0; b * SLOTS_PER_BUFFER < pending.length; b++) {
      const used = Math.min(SLOTS_PER_BUFFER, pending.length - b * SLOTS_PER_BUFFER);
      ranges.push({ buffer: this.buffers[b], byte: 0, bytes: used * SLOT_BYTES });
      starts.push(at);
      at += used * SLOT_BYTES;
    }
    const verdict = (bytes: ArrayBuffer, base: number): IndexError | null => {
      const words = new Uint32Array(bytes, base, at / 4);
      for (const p of pending) {
        const w = (starts[p.buffer] + p.slot * SLOT_BYTES) / 4;
        const pos = words[w];
        if (pos !== NONE) {
          const value = words[w + 1] | 0;
          return new IndexError(
            `${p.what}: index ${value} at position ${pos} is out of range [0, ${p.limit}) (found on the GPU by the WebGPU backend; the kernel wrote nothing)`,
          );
        }
      }
      return null;
    };
    return { ranges, verdict };
  }
}
