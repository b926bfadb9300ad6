// ONNX models for the ONNX Runtime peers of the benchmarks.
//
//   matMulModel(m, k, n, b)     Y[m, n] = A[m, k] @ B, B an initializer (opset 13)
//   gpt2Model(model)            @tessera/models' exportOnnxBytes of a GPT2 (opset 17, f32):
//                               input_ids, attention_mask, position_ids (int64 [1, T]) -> logits
//   gpt2Feeds(ort, ids)         those three inputs for one unpadded prompt
//
// The matmul model is one node, written as onnx.proto messages (onnx-buf, the protoc-gen-es
// classes of ONNX's schema) encoded by @bufbuild/protobuf, the library the exporter uses.

import { create, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataType } from 'onnx-buf';
import { exportOnnxBytes } from '@tessera/models';

/** ValueInfoProto fields of a float32 tensor with a fixed shape. */
function floatInfo(name, dims) {
  return { name, type: { value: { case: 'tensorType', value: { elemType: TensorProto_DataType.FLOAT, shape: { dim: dims.map((d) => ({ value: { case: 'dimValue', value: BigInt(d) } })) } } } } };
}

/** Y[m, n] = A[m, k] @ B[k, n]; B (Float32Array) an initializer, as a weight would be. */
export function matMulModel(m, k, n, b) {
  if (!(b instanceof Float32Array) || b.length !== k * n) throw new TypeError(`matMulModel: B must be a Float32Array of ${k * n} elements [${k}, ${n}], got ${b?.constructor?.name} of ${b?.length}`);
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'tessera-bench',
    opsetImport: [{ domain: '', version: 13n }],
    graph: {
      name: 'matmul',
      node: [{ name: 'matmul', opType: 'MatMul', input: ['A', 'B'], output: ['Y'] }],
      initializer: [{ name: 'B', dataType: TensorProto_DataType.FLOAT, dims: [BigInt(k), BigInt(n)], rawData: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) }],
      input: [floatInfo('A', [m, k])],
      output: [floatInfo('Y', [m, n])],
    },
  });
  return toBinary(ModelProtoSchema, model);
}

/**
 * The ONNX bytes of a Tessera GPT2 (eval mode), from the package's exporter: the network
 * of GPT2LMHeadModel with Optimum's input names, the weights written once into the output.
 */
export function gpt2Model(model) {
  return exportOnnxBytes(model, { opset: 17, dtype: 'f32' });
}

/** Feeds of gpt2Model's graph for one prompt of token ids: no padding, positions 0..T-1. */
export function gpt2Feeds(ort, ids) {
  const T = ids.length;
  const i64 = (values) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, T]);
  return { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, i) => i)) };
}
