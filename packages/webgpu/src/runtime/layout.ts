/**
 * How a kernel's operands and scalar parameters reach its shader.
 *
 * Operands are bound whole (element offsets travel as parameters), one binding
 * per distinct GPUBuffer: two operands that live in the same storage (an
 * in-place update, a flat parameter block holding param, grad and moments)
 * share one binding, because WebGPU rejects a dispatch that binds a writable
 * buffer twice. The generated accessors (`x_f(i)`, `out_sf(i, v)`, ...) hide
 * which binding an operand ended up in, so a kernel's WGSL is written once and
 * specialised per aliasing pattern by the pipeline cache.
 *
 * Every binding is an `array<u32>` (bit casts are free), so one buffer can be
 * read as f32 and i32 in the same dispatch; matmul may ask for `vec4<f32>`
 * bindings to load four elements at a time.
 */

/** One operand of a dispatch. */
export interface Operand {
  /** WGSL-safe name; accessors are `${name}_f`, `${name}_i`, `${name}_u` (+ `_sf`/`_si`/`_su` when written). */
  name: string;
  buffer: GPUBuffer;
  /** The kernel writes this operand. */
  write?: boolean;
  /** Ask for a `array<vec4<f32>>` binding (granted only when no other operand shares the buffer). */
  vec4?: boolean;
}

/** A distinct buffer binding. */
export interface Slot {
  buffer: GPUBuffer;
  write: boolean;
  vec4: boolean;
}

/** Operands resolved to slots. */
export interface Binding {
  slots: Slot[];
  slotOf: Map<string, number>;
  /** Stable description of the aliasing pattern and access modes (part of the pipeline key). */
  signature: string;
}

/** Groups operands by buffer, merging access modes. */
export function bindOperands(ops: readonly Operand[]): Binding {
  const slots: Slot[] = [];
  const users: number[] = [];
  const slotOf = new Map<string, number>();
  for (const op of ops) {
    let k = slots.findIndex((s) => s.buffer === op.buffer);
    if (k < 0) {
      k = slots.length;
      slots.push({ buffer: op.buffer, write: false, vec4: true });
      users.push(0);
    }
    const s = slots[k];
    s.write ||= op.write === true;
    s.vec4 &&= op.vec4 === true;
    users[k]++;
    slotOf.set(op.name, k);
  }
  slots.forEach((s, k) => {
    if (users[k] > 1) s.vec4 = false;
  });
  const signature = ops.map((o) => slotOf.get(o.name)).join('') + ':' + slots.map((s) => (s.write ? 'w' : 'r') + (s.vec4 ? '4' : '')).join('');
  return { slots, slotOf, signature };
}

/** WGSL declarations of the slots plus typed accessors for every operand. */
export function bindingWGSL(b: Binding, ops: readonly Operand[]): string {
  const lines: string[] = [];
  b.slots.forEach((s, k) => {
    const access = s.write ? 'read_write' : 'read';
    lines.push(`@group(0) @binding(${k}) var<storage, ${access}> s${k}: array<${s.vec4 ? 'vec4<f32>' : 'u32'}>;`);
  });
  for (const op of ops) {
    const k = b.slotOf.get(op.name)!;
    const s = b.slots[k];
    const n = op.name;
    if (s.vec4) {
      lines.push(
        `fn ${n}_f(i: i32) -> f32 { return s${k}[i >> 2u][i & 3]; }`,
        `fn ${n}_u(i: i32) -> u32 { return bitcast<u32>(s${k}[i >> 2u][i & 3]); }`,
        `fn ${n}_i(i: i32) -> i32 { return bitcast<i32>(s${k}[i >> 2u][i & 3]); }`,
        `fn ${n}_v4(i: i32) -> vec4<f32> { return s${k}[i >> 2u]; }`,
      );
      if (op.write) {
        lines.push(
          `fn ${n}_sf(i: i32, v: f32) { s${k}[i >> 2u][i & 3] = v; }`,
          `fn ${n}_sv4(i: i32, v: vec4<f32>) { s${k}[i >> 2u] = v; }`,
        );
      }
    } else {
      lines.push(
        `fn ${n}_f(i: i32) -> f32 { return bitcast<f32>(s${k}[i]); }`,
        `fn ${n}_u(i: i32) -> u32 { return s${k}[i]; }`,
        `fn ${n}_i(i: i32) -> i32 { return bitcast<i32>(s${k}[i]); }`,
        `fn ${n}_v4(i: i32) -> vec4<f32> { return vec4<f32>(bitcast<f32>(s${k}[i]), bitcast<f32>(s${k}[i + 1]), bitcast<f32>(s${k}[i + 2]), bitcast<f32>(s${k}[i + 3])); }`,
      );
      if (op.write) {
        lines.push(
          `fn ${n}_sf(i: i32, v: f32) { s${k}[i] = bitcast<u32>(v); }`,
          `fn ${n}_su(i: i32, v: u32) { s${k}[i] = v; }`,
          `fn ${n}_si(i: i32, v: i32) { s${k}[i] = bitcast<u32>(v); }`,
          `fn ${n}_sv4(i: i32, v: vec4<f32>) { s${k}[i] = bitcast<u32>(v.x); s${k}[i + 1] = bitcast<u32>(v.y); s${k}[i + 2] = bitcast<u32>(v.z); s${k}[i + 3] = bitcast<u32>(v.w); }`,
        );
      }
    }
  }
  return lines.join('\n');
}

/** Scalar parameter types (all 4 bytes; no padding in the uniform struct). */
export type ParamType = 'u32' | 'i32' | 'f32';

/** A kernel's scalar parameters: field name -> [type, value]. Order is the struct order. */
export type Params = Record<string, [ParamType, number]>;

/**
 * The uniform struct and its binding after the storage slots. A last field
 * `_opaque` is always 0: code that must not be simplified algebraically (a
 * compensated sum, which shader compilers may reassociate away) routes a value
 * through `opaque()`, whose result the compiler cannot predict.
 */
export function paramsWGSL(params: Params, binding: number): string {
  const fields = Object.entries(params).map(([name, [type]]) => `  ${name}: ${type},`);
  fields.push('  _opaque: u32,');
  return `struct Params {\n${fields.join('\n')}\n}\n@group(0) @binding(${binding}) var<uniform> P: Params;
fn opaque(x: f32) -> f32 { return select(x, -x, P._opaque != 0u); }`;
}

/** Byte size of the uniform struct (a multiple of 16). */
export function paramsBytes(params: Params): number {
  return Math.ceil(((Object.keys(params).length + 1) * 4) / 16) * 16;
}

/** Writes the parameter values into `view` at byte `offset`; u32/i32 wrap modulo 2^32, f32 rounds. */
export function packParams(params: Params, view: DataView, offset: number): void {
  let at = offset;
  for (const [type, value] of Object.values(params)) {
    if (type === 'f32') view.setFloat32(at, value, true);
    else view.setUint32(at, value >>> 0, true);
    at += 4;
  }
  view.setUint32(at, 0, true);
}
