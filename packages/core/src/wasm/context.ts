import type { Dense, Storage } from '../backend.js';
import { DisposedError } from '../errors.js';
import type { Views } from '../reference/views.js';
import type { Allocator } from './allocator.js';

/** A kernel export: byte addresses and sizes in, an optional i32 status out. */
export type KernelFn = (...args: number[]) => number;

/** Storage on the wasm backend: a block of the shared linear memory. */
export class WasmStorage implements Storage {
  readonly backend = 'wasm';
  freed = false;
  constructor(
    readonly id: number,
    readonly bytes: number,
    readonly ptr: number,
  ) {}
}

/**
 * What a kernel family's host code needs: the module's exports, byte addresses
 * of operands, fresh typed views over memory (refreshed after growth) and
 * reusable scratch blocks. Also serves as `Views` so a reference kernel can run
 * directly over wasm memory.
 */
export class WasmContext implements Views {
  private f32View = new Float32Array(0);
  private i32View = new Int32Array(0);
  private scratchBlocks = new Map<string, { ptr: number; bytes: number }>();

  constructor(
    readonly exports: Record<string, KernelFn>,
    readonly memory: WebAssembly.Memory,
    readonly allocator: Allocator,
  ) {}

  /** Byte address of a dense operand's first element. */
  addr(d: Dense): number {
    return (d.storage as WasmStorage).ptr + d.offset * 4;
  }

  /** Float32 view over the whole memory (index = byte address / 4). */
  heapF32(): Float32Array {
    this.refresh();
    return this.f32View;
  }

  /** Int32 view over the whole memory (index = byte address / 4). */
  heapI32(): Int32Array {
    this.refresh();
    return this.i32View;
  }

  /** Float32 view of one storage, index 0 = its first element. */
  f32(s: Storage): Float32Array {
    const w = this.live(s);
    return new Float32Array(this.memory.buffer, w.ptr, w.bytes / 4);
  }

  /** Int32 view of one storage, index 0 = its first element. */
  i32(s: Storage): Int32Array {
    const w = this.live(s);
    return new Int32Array(this.memory.buffer, w.ptr, w.bytes / 4);
  }

  /**
   * Byte address of a scratch block named `slot` of at least `bytes` bytes. The
   * block is reused across calls and only grows, so a kernel must not keep it
   * past its own call.
   */
  scratch(slot: string, bytes: number): number {
    const cur = this.scratchBlocks.get(slot);
    if (cur && cur.bytes >= bytes) return cur.ptr;
    if (cur) this.allocator.release(cur.ptr);
    const size = Math.max(bytes, cur ? cur.bytes * 2 : 0, 64);
    const ptr = this.allocator.alloc(size);
    this.scratchBlocks.set(slot, { ptr, bytes: size });
    return ptr;
  }

  /** Writes i32 values (e.g. shapes and strides) into a scratch block and returns its address. */
  params(slot: string, values: ArrayLike<number>): number {
    const ptr = this.scratch(slot, values.length * 4);
    const view = this.heapI32();
    for (let i = 0; i < values.length; i++) view[(ptr >> 2) + i] = values[i];
    return ptr;
  }

  private live(s: Storage): WasmStorage {
    if (s.freed) throw new DisposedError(`storage #${s.id} was already freed`);
    return s as WasmStorage;
  }

  private refresh(): void {
    const buf = this.memory.buffer;
    if (this.f32View.buffer !== buf || this.f32View.byteLength !== buf.byteLength) {
      this.f32View = new Float32Array(buf);
      this.i32View = new Int32Array(buf);
    }
  }
}
