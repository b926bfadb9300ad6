/**
 * The building blocks the exporters share, as ONNX nodes: weights read from Tessera
 * parameters, LayerNorm, GPT-2's Conv1D and nn.Linear, GELU, the attention masks and
 * multi-head attention. Shapes in comments: B batch, T new positions, P past positions,
 * S = P + T keys, C width, H heads, D = C / H.
 *
 * The compute type is float32, or float16 with `dtype: 'f16'`: weights are then stored
 * as float16 and every op runs in float16, while the graph's inputs and outputs stay
 * float32 (Cast nodes at the boundary).
 */

import { UnsupportedError, fmtShape } from '@tessera/core';
import type { QuantizedWeight, Tensor } from '@tessera/tensor';
import { f32BitsToF16Bits } from '../io/half.js';
import { DataType, type AttrValue, OnnxGraph } from './onnx-proto.js';
import { QuantizedInitializers, hostData, type OnnxQuantFormat } from './onnx-quant.js';

/** A layer whose weight may be quantized (Linear, Conv1D, Embedding): `weight` throws once it is. */
interface MaybeQuantized {
  readonly quantizedWeight: QuantizedWeight | null;
  readonly weight: Tensor;
}

/** Weight and compute precision of an export. */
export type OnnxDType = 'f32' | 'f16';

/** Most negative finite value of each compute type: what masked scores are set to (as HF's torch.finfo(dtype).min). */
const MASKED_SCORE: Record<OnnxDType, number> = { f32: -3.4028234663852886e38, f16: -65504 };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `values` into `dst` (a byte range of the model) as float32 or float16, little-endian. */
function writeFloats(values: Float32Array, dtype: OnnxDType, dst: Uint8Array): void {
  if (dtype === 'f32') {
    dst.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return;
  }
  // dst may start at an odd byte offset, so the halves are made aligned and copied in.
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) halves[i] = f32BitsToF16Bits(bits[i]);
  dst.set(new Uint8Array(halves.buffer));
}

/** The graph under construction plus the compute type and the ops the models share. */
export class OnnxNet {
  readonly g = new OnnxGraph();
  /** ONNX element type of the compute type. */
  readonly float: DataType;
  readonly #weights = new Set<string>();
  /** How quantized weights are written; null for a model without any. */
  readonly #quant: QuantizedInitializers | null;

  constructor(
    readonly dtype: OnnxDType,
    quant: OnnxQuantFormat | null = null,
  ) {
    if (!LITTLE_ENDIAN) throw new UnsupportedError('ONNX export: raw tensor data is little-endian and this host is big-endian');
    this.float = dtype === 'f16' ? DataType.FLOAT16 : DataType.FLOAT;
    this.#quant = quant === null ? null : new QuantizedInitializers(this.g, quant);
  }

  /** The quantized-weight writer of `layer`'s weight `name`, or null when the layer is f32. */
  #quantized(name: string, layer: MaybeQuantized): QuantizedInitializers | null {
    if (!layer.quantizedWeight) return null;
    // buildOnnx picks a format whenever the model has a quantized weight.
    if (!this.#quant) throw new UnsupportedError(`ONNX export: ${name} is quantized but no quantized format was chosen`);
    return this.#quant;
  }

  /** x [..., k] times a weight [n, k] (Linear's layout, a tied head): [..., n]. */
  matmulT(x: string, name: string, layer: MaybeQuantized): string {
    const q = this.#quantized(name, layer);
    if (q) return q.matmul(x, name, layer.quantizedWeight!);
    return this.op('MatMul', [x, this.op('Transpose', [this.weight(name, layer.weight)], { perm: { ints: [1, 0] } })]);
  }

  /** Rows `ids` [...] of an embedding table [n, C]: [..., C]. */
  embedding(name: string, layer: MaybeQuantized, ids: string): string {
    const q = this.#quantized(name, layer);
    if (q) return q.gather(name, layer.quantizedWeight!, ids);
    return this.op('Gather', [this.weight(name, layer.weight), ids]);
  }

  op(opType: string, inputs: readonly string[], attributes: Record<string, AttrValue> = {}, output?: string): string {
    return this.g.op(opType, inputs, attributes, output);
  }

  /**
   * A parameter as an initializer in the compute type, under its Tessera name; its values
   * are read synchronously (wasm and reference backends) while the model is encoded.
   */
  weight(name: string, t: Tensor): string {
    if (this.#weights.has(name)) return name;
    if (t.dtype !== 'f32') throw new UnsupportedError(`ONNX export: parameter ${name} ${fmtShape(t.shape)} is ${t.dtype}, expected f32`);
    const dtype = this.dtype;
    this.g.initializer(name, this.float, t.shape, (dst) => writeFloats(hostData(name, t) as Float32Array, dtype, dst));
    this.#weights.add(name);
    return name;
  }

  /** A scalar of the compute type. */
  scalar(v: number): string {
    return this.g.scalar(this.float, v);
  }

  /** float32 graph input -> compute type. */
  toCompute(x: string): string {
    return this.dtype === 'f32' ? x : this.op('Cast', [x], { to: { int: DataType.FLOAT16 } });
  }

  /** Compute type -> float32, named `output` (a graph output). */
  toOutput(x: string, output: string): string {
    return this.op(this.dtype === 'f32' ? 'Identity' : 'Cast', [x], this.dtype === 'f32' ? {} : { to: { int: DataType.FLOAT } }, output);
  }

  /** Element `i` of a 1-D int64 tensor as a scalar (Gather with a scalar index drops the axis). */
  at(vector: string, i: number): string {
    return this.op('Gather', [vector, this.g.int(i)], { axis: { int: 0 } });
  }

  /** LayerNorm over the last axis: x [..., C] with `weight`, `bias` [C]. */
  layerNorm(x: string, prefix: string, ln: { weight: Tensor; bias: Tensor; eps: number }): string {
    return this.op('LayerNormalization', [x, this.weight(`${prefix}.weight`, ln.weight), this.weight(`${prefix}.bias`, ln.bias)], {
      axis: { int: -1 },
      epsilon: { float: ln.eps },
    });
  }

  /** GPT-2's Conv1D: x [..., in] @ weight [in, out] + bias [out]. */
  conv1d(x: string, prefix: string, layer: MaybeQuantized & { bias: Tensor }): string {
    const name = `${prefix}.weight`;
    // A quantized Conv1D weight is held output-major ([out, in]), as Linear's.
    const y = this.#quantized(name, layer) ? this.matmulT(x, name, layer) : this.op('MatMul', [x, this.weight(name, layer.weight)]);
    return this.op('Add', [y, this.weight(`${prefix}.bias`, layer.bias)]);
  }

  /** nn.Linear on rows: x [N, in] -> x weight^T + bias, weight [out, in] kept in its layout (Gemm transB). */
  linear(x: string, prefix: string, layer: MaybeQuantized & { bias: Tensor | null }): string {
    const name = `${prefix}.weight`;
    if (this.#quantized(name, layer)) {
      const y = this.matmulT(x, name, layer);
      return layer.bias ? this.op('Add', [y, this.weight(`${prefix}.bias`, layer.bias)]) : y;
    }
    const inputs = [x, this.weight(`${prefix}.weight`, layer.weight)];
    if (layer.bias) inputs.push(this.weight(`${prefix}.bias`, layer.bias));
    return this.op('Gemm', inputs, { transB: { int: 1 } });
  }

  /** Tessera's gelu (tanh form, GPT-2's gelu_new): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
  gelu(x: string): string {
    const cube = this.op('Mul', [this.op('Mul', [x, x]), x]);
    const inner = this.op('Mul', [this.op('Add', [x, this.op('Mul', [cube, this.scalar(0.044715)])]), this.scalar(Math.sqrt(2 / Math.PI))]);
    return this.op('Mul', [this.op('Mul', [x, this.scalar(0.5)]), this.op('Add', [this.op('Tanh', [inner]), this.scalar(1)])]);
  }

  /** Padding keys: attention_mask (int64 [B, S], 0 = padding) -> bool [B, 1, 1, S]. */
  keyMask(attentionMask: string): string {
    return this.op('Unsqueeze', [this.op('Cast', [attentionMask], { to: { int: DataType.BOOL } }), this.g.ints([1, 2])]);
  }

  /**
   * Causal and padding mask of T queries at positions P..S-1 over S keys, where S is the
   * attention mask's length and T the ids' length: bool [B, 1, T, S], true where query i
   * may see key j (j <= P + i and key j is not padding).
   */
  causalKeyMask(inputIds: string, attentionMask: string): string {
    const T = this.at(this.op('Shape', [inputIds]), 1);
    const S = this.at(this.op('Shape', [attentionMask]), 1);
    const one = this.g.int(1);
    const queries = this.op('Unsqueeze', [this.op('Range', [this.op('Sub', [S, T]), S, one]), this.g.ints([1])]); // [T, 1]
    const keys = this.op('Range', [this.g.int(0), S, one]); // [S]
    const causal = this.op('LessOrEqual', [keys, queries]); // [T, S]
    return this.op('And', [causal, this.keyMask(attentionMask)]);
  }

  /** Rows 0..T-1 of a position table [n, C] for ids [B, T]: [T, C]. */
  firstPositions(table: string, inputIds: string): string {
    const T = this.at(this.op('Shape', [inputIds]), 1);
    return this.op('Gather', [table, this.op('Range', [this.g.int(0), T, this.g.int(1)])], { axis: { int: 0 } });
  }

  /**
   * Multi-head attention of q, k, v [B, T, C] (heads side by side, as Tessera's
   * splitHeads reads them) with `keep` bool [B, 1, T, S]. With `past` (k, v [B, H, P, D],
   * compute type) the new keys and values are appended; `present` are then [B, H, S, D].
   * Returns y [B, T, C].
   */
  attention(
    q: string,
    k: string,
    v: string,
    shape: { heads: number; headDim: number },
    keep: string,
    past?: { k: string; v: string },
  ): { y: string; present: { k: string; v: string } } {
    const { heads: H, headDim: D } = shape;
    const split = this.g.ints([0, 0, H, D]); // Reshape's 0 keeps B and T
    const perm = { perm: { ints: [0, 2, 1, 3] } };
    const toHeads = (t: string): string => this.op('Transpose', [this.op('Reshape', [t, split])], perm); // [B, H, T, D]
    let keys = toHeads(k);
    let values = toHeads(v);
    if (past) {
      keys = this.op('Concat', [past.k, keys], { axis: { int: 2 } }); // [B, H, S, D]
      values = this.op('Concat', [past.v, values], { axis: { int: 2 } });
    }
    const kT = this.op('Transpose', [keys], { perm: { ints: [0, 1, 3, 2] } }); // [B, H, D, S]
    const scores = this.op('Mul', [this.op('MatMul', [toHeads(q), kT]), this.scalar(1 / Math.sqrt(D))]); // [B, H, T, S]
    const masked = this.op('Where', [keep, scores, this.scalar(MASKED_SCORE[this.dtype])]);
    const probs = this.op('Softmax', [masked], { axis: { int: -1 } });
    const y = this.op('Transpose', [this.op('MatMul', [probs, values])], perm); // [B, T, H, D]
    return { y: this.op('Reshape', [y, this.g.ints([0, 0, H * D])]), present: { k: keys, v: values } };
  }

  /** q, k, v [B, T, C] each from a fused projection [B, T, 3C]. */
  splitQkv(qkv: string, C: number): [string, string, string] {
    const [q, k, v] = this.g.opN('Split', [qkv, this.g.ints([C, C, C])], 3, { axis: { int: 2 } });
    return [q, k, v];
  }
}
