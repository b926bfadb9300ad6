// Writes the TypeScript declaration of the wasm module's exports from a compiled build:
// the export section names the functions and the type section gives each one's params and
// result, so the host's `ctx.exports.<name>(...)` calls are checked against the module
// actually built (a renamed kernel or a changed arity fails to compile). Called by
// scripts/build-wasm.mjs; every build exports the same functions (a test checks that
// against WebAssembly.Module.exports).

const VALTYPE = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128' };

/** Reads the binary's function signatures and exports: [{ name, params: [...], results: [...] }]. */
export function wasmFunctionExports(bytes) {
  let pos = 8; // magic + version
  const u8 = () => bytes[pos++];
  const leb = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = u8();
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return v;
    }
  };
  const name = () => {
    const n = leb();
    const s = Buffer.from(bytes.subarray(pos, pos + n)).toString('utf8');
    pos += n;
    return s;
  };
  const valtype = () => {
    const t = VALTYPE[u8()];
    if (!t) throw new Error(`gen-wasm-exports: unknown value type at byte ${pos - 1}`);
    return t;
  };
  const limits = () => {
    const flags = u8();
    leb();
    if (flags & 1) leb();
  };
  const types = [];
  const funcTypes = []; // type index of each function, imported ones first
  const exports = [];
  while (pos < bytes.length) {
    const id = u8();
    const size = leb();
    const end = pos + size;
    if (id === 1) {
      for (let n = leb(); n > 0; n--) {
        if (u8() !== 0x60) throw new Error('gen-wasm-exports: expected a function type');
        const params = Array.from({ length: leb() }, valtype);
        const results = Array.from({ length: leb() }, valtype);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        name();
        name();
        const kind = u8();
        if (kind === 0) funcTypes.push(leb());
        else if (kind === 1) (u8(), limits());
        else if (kind === 2) limits();
        else if (kind === 3) (valtype(), u8());
        else throw new Error(`gen-wasm-exports: unknown import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = leb(); n > 0; n--) funcTypes.push(leb());
    } else if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const exportName = name();
        const kind = u8();
        const index = leb();
        if (kind === 0) exports.push({ name: exportName, ...types[funcTypes[index]] });
      }
    }
    pos = end;
  }
  return exports;
}

const TS_TYPE = { i32: 'number', f32: 'number', f64: 'number', i64: 'bigint' };

function tsType(t) {
  if (!TS_TYPE[t]) throw new Error(`gen-wasm-exports: an export takes or returns ${t}, which has no JS value`);
  return TS_TYPE[t];
}

/** The generated module: the WasmExports interface and the list of export names. */
export function wasmExportsSource(bytes, header) {
  const fns = wasmFunctionExports(bytes).sort((a, b) => (a.name < b.name ? -1 : 1));
  const member = (f) => {
    const params = f.params.map((t, i) => `a${i}: ${tsType(t)}`).join(', ');
    const result = f.results.length === 0 ? 'void' : tsType(f.results[0]);
    return `  ${f.name}(${params}): ${result};\n`;
  };
  return `${header}
/**
 * The function exports of the wasm module (every build has the same), read from the
 * compiled binary: byte addresses, sizes and op codes in (i32 / f64 as number), an i32 or
 * nothing out. Parameter names are positional; the kernel's AssemblyScript source
 * (assembly/*.ts) names them.
 */
export interface WasmExports {
${fns.map(member).join('')}}

/** The name of a function export. */
export type WasmExportName = keyof WasmExports;

/** Every function export's name, sorted. */
export const WASM_EXPORT_NAMES: readonly WasmExportName[] = [${fns.map((f) => `'${f.name}'`).join(', ')}];
`;
}
