/**
 * Typed errors. Every failure Tessera reports is a `TesseraError` subclass whose
 * message names the offending shapes, dtypes, indices or byte offsets.
 */

/** Base class of every error Tessera throws on purpose. */
export class TesseraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together (matmul inner dims, broadcasting, reshape sizes). */
export class ShapeError extends TesseraError {}

/** A dtype that an op does not accept, or two operands whose dtypes differ. */
export class DTypeError extends TesseraError {}

/** An index (gather, embedding, class target, axis) outside its valid range. */
export class IndexError extends TesseraError {}

/** Use of storage or a tensor after it was freed/disposed. */
export class DisposedError extends TesseraError {}

/** A view or kernel operand that would read or write outside its storage. */
export class BoundsError extends TesseraError {}

/** An allocation the backend cannot satisfy (e.g. past the 4 GiB wasm32 limit). */
export class OutOfMemoryError extends TesseraError {}

/** A bad argument value (negative size, NaN hyper-parameter, unknown op name). */
export class ArgumentError extends TesseraError {}

/** A capability the chosen backend or runtime does not have. */
export class UnsupportedError extends TesseraError {}

/**
 * A kernel failed while running (a trap inside the wasm module, e.g. on a worker thread).
 * Operands are validated before a kernel starts, so this means a bug, not bad input; the
 * message names the kernel export and the thread.
 */
export class KernelError extends TesseraError {}

/** Formats a shape as `[2, 3, 4]` for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Formats a value for an error message as JSON would, but faithfully where JSON is not:
 * `NaN`, `Infinity`, `-Infinity`, `-0`, `undefined`, `12n` (JSON.stringify prints `null` for the
 * non-finite numbers and drops undefined). Nesting past 3 levels and arrays past 16 items are cut.
 */
export function fmtValue(v: unknown, depth = 0): string {
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint':
      return `${v}n`;
    case 'string':
      return JSON.stringify(v);
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(v);
    case 'function':
      return `[function ${v.name || 'anonymous'}]`;
    case 'symbol':
      return v.toString();
  }
  if (v === null) return 'null';
  const list = Array.isArray(v) || ArrayBuffer.isView(v);
  if (depth >= 3) return list ? '[...]' : '{...}';
  if (list) {
    const items = Array.from(v as ArrayLike<unknown>);
    const shown = items.slice(0, 16).map((x) => fmtValue(x, depth + 1));
    if (items.length > 16) shown.push(`... (${items.length} in all)`);
    return `[${shown.join(',')}]`;
  }
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
  return `{${entries.map(([k, x]) => `${JSON.stringify(String(k))}:${fmtValue(x, depth + 1)}`).join(',')}}`;
}
