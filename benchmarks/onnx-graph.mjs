// ONNX models written as protobuf bytes, for the ONNX Runtime peers of the benchmarks: no
// onnx package, just the wire format and the field numbers of onnx.proto.
//
//   matMulModel(m, k, n, b)          Y[m, n] = A[m, k] @ B, B an initializer
//   gpt2Model({ config, T, weight }) GPT-2 forward: ids int64 [1, T] -> logits [1, T, vocab]
//
// A message is built bottom-up as a list of parts (bytes, nested messages, or tensor data
// still to be read), so its size is known before anything is written; encode() then writes
// the whole model into one Uint8Array. Tensor data given as a function is called only at
// that point and copied straight into place: a 124M-parameter model costs its ~0.5 GB once,
// not once per nesting level.

// =============================================================================================
// Protobuf wire format.

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_BYTES = 2;
const utf8 = new TextEncoder();

/** Varint bytes of a non-negative safe integer, or of a negative one as 64-bit two's complement. */
function varint(v) {
  if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf varint: ${v} is not a safe integer`);
  const out = [];
  if (v < 0) {
    let u = BigInt.asUintN(64, BigInt(v));
    while (u >= 0x80n) {
      out.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    out.push(Number(u));
    return out;
  }
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A protobuf message under construction; fields are appended in call order. */
export class Message {
  /** @type {Array<Uint8Array | Message | { size: number, fill: (dst: Uint8Array) => void }>} */
  parts = [];
  size = 0;

  #raw(bytes) {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  #tag(field, wire) {
    return varint(field * 8 + wire);
  }

  /** int32 / int64 / enum / bool field (negative values as 10-byte varints, as protobuf does for int64). */
  int(field, v) {
    return this.#raw(Uint8Array.from([...this.#tag(field, WIRE_VARINT), ...varint(v)]));
  }

  /** float field (fixed32, little-endian). */
  float(field, v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.#raw(Uint8Array.from([...this.#tag(field, WIRE_FIXED32), ...b]));
  }

  /** bytes field; the array is referenced, not copied, until encode(). */
  bytes(field, b) {
    this.#raw(Uint8Array.from([...this.#tag(field, WIRE_BYTES), ...varint(b.length)]));
    return this.#raw(b);
  }

  string(field, s) {
    return this.bytes(field, utf8.encode(s));
  }

  /** Embedded message field (the message must be complete: its size is taken now). */
  message(field, m) {
    this.#raw(Uint8Array.from([...this.#tag(field, WIRE_BYTES), ...varint(m.size)]));
    this.parts.push(m);
    this.size += m.size;
    return this;
  }

  /** bytes field of `size` bytes that `fill(dst)` writes at encode() time. */
  deferredBytes(field, size, fill) {
    this.#raw(Uint8Array.from([...this.#tag(field, WIRE_BYTES), ...varint(size)]));
    this.parts.push({ size, fill });
    this.size += size;
    return this;
  }

  /** The message's bytes, in one allocation. */
  encode() {
    const out = new Uint8Array(this.size);
    const end = writeParts(this, out, 0);
    if (end !== out.length) throw new Error(`protobuf: wrote ${end} bytes of ${out.length}`);
    return out;
  }
}

function writeParts(msg, out, at) {
  for (const p of msg.parts) {
    if (p instanceof Uint8Array) {
      out.set(p, at);
      at += p.length;
    } else if (p instanceof Message) {
      at = writeParts(p, out, at);
    } else {
      p.fill(out.subarray(at, at + p.size));
      at += p.size;
    }
  }
  return at;
}

// =============================================================================================
// ONNX messages (onnx.proto field numbers).

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT64: 7 };
const BYTES_PER = { [DataType.FLOAT]: 4, [DataType.INT64]: 8 };
const TYPED = { [DataType.FLOAT]: Float32Array, [DataType.INT64]: BigInt64Array };

/** Attribute values: attributes carry their type, so 1.0 (FLOAT) and 1 (INT) stay distinct. */
export const attr = {
  int: (v) => ({ type: 2, v }),
  float: (v) => ({ type: 1, v }),
  ints: (v) => ({ type: 7, v }),
};

function attributeProto(name, { type, v }) {
  const a = new Message().string(1, name).int(20, type); // name, type (AttributeType)
  if (type === 1) a.float(2, v); // f
  else if (type === 2) a.int(3, v); // i
  else if (type === 7) for (const x of v) a.int(8, x); // ints (unpacked; parsers accept both)
  else throw new TypeError(`ONNX attribute ${name}: unsupported type ${type}`);
  return a;
}

/**
 * TensorProto with raw_data. `data` is a typed array of the element type, or a function
 * returning one, called once when the model is encoded (so a large weight need not be
 * held twice). Little-endian hosts only (raw_data is little-endian).
 */
export function tensorProto(name, dataType, dims, data) {
  const count = dims.reduce((a, b) => a * b, 1);
  const size = count * BYTES_PER[dataType];
  const t = new Message();
  for (const d of dims) t.int(1, d); // dims
  t.int(2, dataType).string(8, name); // data_type, name
  return t.deferredBytes(9, size, (dst) => {
    const values = typeof data === 'function' ? data() : data;
    if (!(values instanceof TYPED[dataType]) || values.length !== count) {
      throw new TypeError(`ONNX initializer ${name}: expected ${TYPED[dataType].name} of ${count} elements [${dims}], got ${values?.constructor?.name} of ${values?.length}`);
    }
    dst.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  });
}

/** NodeProto: inputs, outputs, name, op_type, attributes. */
export function nodeProto(opType, inputs, outputs, attributes = {}, name = outputs[0]) {
  const n = new Message();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name).string(4, opType);
  for (const [k, v] of Object.entries(attributes)) n.message(5, attributeProto(k, v));
  return n;
}

/** ValueInfoProto of a tensor with a fixed shape. */
export function valueInfo(name, elemType, dims) {
  const shape = new Message();
  for (const d of dims) shape.message(1, new Message().int(1, d)); // dim { dim_value }
  const tensorType = new Message().int(1, elemType).message(2, shape); // elem_type, shape
  return new Message().string(1, name).message(2, new Message().message(1, tensorType)); // name, type { tensor_type }
}

/** GraphProto. */
export function graphProto({ name, nodes, initializers, inputs, outputs }) {
  const g = new Message();
  for (const n of nodes) g.message(1, n);
  g.string(2, name);
  for (const t of initializers) g.message(5, t);
  for (const i of inputs) g.message(11, i);
  for (const o of outputs) g.message(12, o);
  return g;
}

/** ModelProto bytes: IR version 8 (the one that goes with opset 17), default-domain opset. */
export function modelBytes(graph, { opset = 17, irVersion = 8, producer = 'tessera-bench' } = {}) {
  const m = new Message().int(1, irVersion).string(2, producer).message(7, graph);
  m.message(8, new Message().string(1, '').int(2, opset)); // opset_import { domain '', version }
  return m.encode();
}

/** Collects nodes and initializers; op() names outputs itself. */
export class GraphBuilder {
  nodes = [];
  initializers = [];
  #count = 0;

  /** Adds a node; returns its output name (or names, for `outputs` > 1). */
  op(opType, inputs, attributes = {}, outputs = 1) {
    const base = `${opType.toLowerCase()}_${this.#count++}`;
    const names = outputs === 1 ? [base] : Array.from({ length: outputs }, (_, i) => `${base}:${i}`);
    this.nodes.push(nodeProto(opType, inputs, names, attributes, base));
    return outputs === 1 ? names[0] : names;
  }

  #initNames = new Set();

  /** Adds an initializer; returns its name. */
  init(name, dataType, dims, data) {
    if (this.#initNames.has(name)) throw new Error(`ONNX graph: initializer ${name} added twice`);
    this.#initNames.add(name);
    this.initializers.push(tensorProto(name, dataType, dims, data));
    return name;
  }

  f32(name, dims, data) {
    return this.init(name, DataType.FLOAT, dims, data);
  }

  i64(name, values) {
    return this.init(name, DataType.INT64, [values.length], BigInt64Array.from(values, BigInt));
  }

  scalar(name, v) {
    return this.init(name, DataType.FLOAT, [], Float32Array.of(v));
  }
}

// =============================================================================================
// Models.

/** Y[m, n] = A[m, k] @ B[k, n]; B (Float32Array) an initializer, as a weight would be. */
export function matMulModel(m, k, n, b) {
  const g = new GraphBuilder();
  g.f32('B', [k, n], b);
  g.nodes.push(nodeProto('MatMul', ['A', 'B'], ['Y'], {}, 'matmul'));
  const graph = graphProto({
    name: 'matmul',
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [valueInfo('A', DataType.FLOAT, [m, k])],
    outputs: [valueInfo('Y', DataType.FLOAT, [m, n])],
  });
  return modelBytes(graph, { opset: 13, irVersion: 8 });
}

/**
 * GPT-2 forward over a fixed-length prompt, opset 17 ops that ORT's CPU and wasm execution
 * providers both run: input `ids` int64 [1, T], output `logits` float [1, T, vocab].
 *
 * The network is Tessera's GPT2 / Hugging Face's GPT2LMHeadModel in eval mode: token plus
 * position embeddings; per block pre-LN causal self-attention (scores scaled by 1/sqrt(D),
 * a constant [T, T] mask of 0 / -1e9 added before Softmax) and a pre-LN MLP with the tanh
 * GELU (gelu_new); final LayerNorm; LM head tied to wte (Gemm with transB = 1, so wte is
 * stored once). Conv1D weights are [in, out] as in HF checkpoints, so x @ W is a MatMul.
 *
 * `weight(name, dims)` returns the Float32Array of an HF-named parameter
 * (`transformer.h.0.attn.c_attn.weight`, ...); it is called while the bytes are written.
 */
export function gpt2Model({ config, T, weight, opset = 17 }) {
  const { vocab_size: V, n_positions: P, n_embd: C, n_layer: L, n_head: H } = config;
  const eps = config.layer_norm_epsilon ?? 1e-5;
  const I = config.n_inner ?? 4 * C;
  const D = C / H;
  if (!Number.isInteger(D)) throw new RangeError(`gpt2Model: n_embd ${C} is not a multiple of n_head ${H}`);
  if (!(T >= 1 && T <= P)) throw new RangeError(`gpt2Model: T = ${T} outside [1, n_positions = ${P}]`);
  const g = new GraphBuilder();
  const w = (name, dims) => g.f32(name, dims, () => weight(name, dims));

  // Constants.
  g.init('position_ids', DataType.INT64, [1, T], BigInt64Array.from({ length: T }, (_, i) => BigInt(i)));
  const mask = new Float32Array(T * T);
  for (let r = 0; r < T; r++) for (let c = r + 1; c < T; c++) mask[r * T + c] = -1e9;
  g.f32('causal_mask', [T, T], mask);
  g.scalar('attn_scale', 1 / Math.sqrt(D));
  g.scalar('half', 0.5);
  g.scalar('one', 1);
  g.scalar('gelu_cubic', 0.044715);
  g.scalar('gelu_scale', Math.sqrt(2 / Math.PI));
  g.i64('qkv_split', [C, C, C]);
  g.i64('shape_heads', [1, T, H, D]);
  g.i64('shape_model', [1, T, C]);
  g.i64('shape_rows', [T, C]);
  g.i64('shape_logits', [1, T, V]);

  const layerNorm = (x, prefix) => g.op('LayerNormalization', [x, w(`${prefix}.weight`, [C]), w(`${prefix}.bias`, [C])], { axis: attr.int(-1), epsilon: attr.float(eps) });
  const linear = (x, prefix, nIn, nOut) => g.op('Add', [g.op('MatMul', [x, w(`${prefix}.weight`, [nIn, nOut])]), w(`${prefix}.bias`, [nOut])]);
  // gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const gelu = (x) => {
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, 'gelu_cubic'])]), 'gelu_scale']);
    return g.op('Mul', [g.op('Mul', [x, 'half']), g.op('Add', [g.op('Tanh', [inner]), 'one'])]);
  };
  const heads = (t, perm) => g.op('Transpose', [g.op('Reshape', [t, 'shape_heads'])], { perm: attr.ints(perm) });

  const wte = w('transformer.wte.weight', [V, C]);
  let x = g.op('Add', [g.op('Gather', [wte, 'ids']), g.op('Gather', [w('transformer.wpe.weight', [P, C]), 'position_ids'])]); // [1, T, C]
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}`;
    const qkv = linear(layerNorm(x, `${p}.ln_1`), `${p}.attn.c_attn`, C, 3 * C); // [1, T, 3C]
    const [q, k, v] = g.op('Split', [qkv, 'qkv_split'], { axis: attr.int(2) }, 3);
    const scores = g.op('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]); // [1, H, T, T]
    const att = g.op('Softmax', [g.op('Add', [g.op('Mul', [scores, 'attn_scale']), 'causal_mask'])], { axis: attr.int(-1) });
    const y = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [att, heads(v, [0, 2, 1, 3])])], { perm: attr.ints([0, 2, 1, 3]) }), 'shape_model']);
    x = g.op('Add', [x, linear(y, `${p}.attn.c_proj`, C, C)]);
    const m = gelu(linear(layerNorm(x, `${p}.ln_2`), `${p}.mlp.c_fc`, C, I));
    x = g.op('Add', [x, linear(m, `${p}.mlp.c_proj`, I, C)]);
  }
  const rows = g.op('Reshape', [layerNorm(x, 'transformer.ln_f'), 'shape_rows']); // [T, C]
  const logits = g.op('Gemm', [rows, wte], { transB: attr.int(1) }); // [T, V]
  g.nodes.push(nodeProto('Reshape', [logits, 'shape_logits'], ['logits'], {}, 'logits'));

  const graph = graphProto({
    name: 'gpt2',
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [valueInfo('ids', DataType.INT64, [1, T])],
    outputs: [valueInfo('logits', DataType.FLOAT, [1, T, V])],
  });
  return modelBytes(graph, { opset });
}
