/**
 * PyTorch-style printing (a port of torch/_tensor_str.py's rules): precision 4,
 * integer-valued floats as `1.`, scientific notation for wide ranges, rows
 * wrapped at 80 columns, and `...` summaries past 1000 elements.
 */

import { contiguousStrides, type DType } from '@tessera/core';

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

/** Python's '{:.Nf}': like toFixed, but exact binary ties round half to even. */
function fixed(v: number, digits: number): string {
  const s = v.toFixed(digits);
  const scaled = Math.abs(v) * 10 ** digits;
  if (Number.isFinite(scaled) && scaled < 2 ** 52 && scaled - Math.floor(scaled) === 0.5 && Math.floor(scaled) % 2 === 0) {
    // A candidate tie: confirm on the exact decimal expansion (ties here are short, e.g. 1/32).
    const exact = Math.abs(v).toFixed(digits + 30);
    const dot = exact.indexOf('.');
    if (/^50*$/.test(exact.slice(dot + 1 + digits))) {
      // toFixed rounded the tie away from zero; Python rounds it to the even neighbour.
      const down = (Math.floor(scaled) / 10 ** digits).toFixed(digits);
      return v < 0 ? `-${down}` : down;
    }
  }
  return s;
}

/** Python's '{:.Ne}': a two-digit exponent at least (1.0000e+03). */
function sci(v: number, digits: number): string {
  const s = v.toExponential(digits);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function nonFinite(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

class Formatter {
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;

  constructor(
    values: ArrayLike<number>,
    private readonly floating: boolean,
  ) {
    if (!floating) {
      for (let i = 0; i < values.length; i++) this.maxWidth = Math.max(this.maxWidth, String(values[i]).length);
      return;
    }
    const vals: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (Number.isFinite(v) && v !== 0) vals.push(v);
    }
    if (vals.length === 0) return;
    let lo = Infinity;
    let hi = 0;
    for (const v of vals) {
      const a = Math.abs(v);
      lo = Math.min(lo, a);
      hi = Math.max(hi, a);
      if (v !== Math.ceil(v)) this.intMode = false;
    }
    if (this.intMode) {
      if (hi / lo > 1000 || hi > 1e8) {
        this.sciMode = true;
        for (const v of vals) this.maxWidth = Math.max(this.maxWidth, sci(v, PRECISION).length);
      } else {
        for (const v of vals) this.maxWidth = Math.max(this.maxWidth, fixed(v, 0).length + 1);
      }
    } else if (hi / lo > 1000 || hi > 1e8 || lo < 1e-4) {
      this.sciMode = true;
      for (const v of vals) this.maxWidth = Math.max(this.maxWidth, sci(v, PRECISION).length);
    } else {
      for (const v of vals) this.maxWidth = Math.max(this.maxWidth, fixed(v, PRECISION).length);
    }
  }

  width(): number {
    return this.maxWidth;
  }

  format(v: number): string {
    let s: string;
    if (!this.floating) s = String(v);
    else if (!Number.isFinite(v)) s = nonFinite(v);
    else if (this.sciMode) s = sci(v, PRECISION);
    else if (this.intMode) s = `${fixed(v, 0)}.`;
    else s = fixed(v, PRECISION);
    return s.padStart(this.maxWidth, ' ');
  }
}

/** A row-major block of values with its shape (a lightweight sub-tensor). */
interface Block {
  data: ArrayLike<number>;
  base: number;
  shape: readonly number[];
  strides: readonly number[];
}

function sub(b: Block, i: number): Block {
  return { data: b.data, base: b.base + i * b.strides[0], shape: b.shape.slice(1), strides: b.strides.slice(1) };
}

/** The values torch's formatter sees when summarising: edge items only. */
function summarized(b: Block, summarize: boolean, out: number[]): void {
  if (b.shape.length === 0) {
    out.push(b.data[b.base]);
    return;
  }
  const n = b.shape[0];
  const idx = summarize && n > 2 * EDGE_ITEMS ? [0, 1, 2, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
  for (const i of idx) summarized(sub(b, i), summarize, out);
}

function vectorStr(b: Block, indent: number, summarize: boolean, f: Formatter): string {
  const elementLength = f.width() + 2;
  const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / elementLength));
  const n = b.shape[0];
  const at = (i: number) => f.format(b.data[b.base + i * b.strides[0]]);
  let items: string[];
  if (summarize && n > 2 * EDGE_ITEMS) {
    items = [at(0), at(1), at(2), ' ...', at(n - 3), at(n - 2), at(n - 1)];
  } else {
    items = Array.from({ length: n }, (_, i) => at(i));
  }
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
  return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
}

function tensorStr(b: Block, indent: number, summarize: boolean, f: Formatter): string {
  const dim = b.shape.length;
  if (dim === 0) return f.format(b.data[b.base]);
  if (dim === 1) return vectorStr(b, indent, summarize, f);
  const n = b.shape[0];
  let slices: string[];
  if (summarize && n > 2 * EDGE_ITEMS) {
    slices = [
      ...[0, 1, 2].map((i) => tensorStr(sub(b, i), indent + 1, summarize, f)),
      '...',
      ...[n - 3, n - 2, n - 1].map((i) => tensorStr(sub(b, i), indent + 1, summarize, f)),
    ];
  } else {
    slices = Array.from({ length: n }, (_, i) => tensorStr(sub(b, i), indent + 1, summarize, f));
  }
  return `[${slices.join(`,${'\n'.repeat(dim - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/** Formats row-major `data` of `shape` as PyTorch prints a tensor. */
export function formatTensor(
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType,
  info: { requiresGrad: boolean; gradFn: string | null },
): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  const size = data.length;
  const suffixes: string[] = [];
  let body: string;
  if (size === 0) {
    if (shape.length !== 1) suffixes.push(`size=(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`);
    body = '[]';
  } else {
    const summarize = size > THRESHOLD;
    const block: Block = { data, base: 0, shape, strides: contiguousStrides(shape) };
    const seen: number[] = [];
    summarized(block, summarize, seen);
    body = tensorStr(block, indent, summarize, new Formatter(seen, dtype === 'f32'));
  }
  if (dtype !== 'f32') suffixes.push(`dtype=${dtype}`);
  if (info.gradFn) suffixes.push(`grad_fn=<${info.gradFn}Backward>`);
  else if (info.requiresGrad) suffixes.push('requires_grad=True');

  let out = prefix + body;
  let lastLineLen = out.length - out.lastIndexOf('\n') + 1;
  for (const s of suffixes) {
    if (lastLineLen + s.length + 2 > LINE_WIDTH) {
      out += `,\n${' '.repeat(indent)}${s}`;
      lastLineLen = indent + s.length;
    } else {
      out += `, ${s}`;
      lastLineLen += s.length + 2;
    }
  }
  return `${out})`;
}
