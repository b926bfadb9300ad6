/**
 * TransformerEncoderClassifier as an ONNX graph: input_ids, attention_mask (int64 [B, T])
 * -> logits float32 [B, numLabels]. The network is the classifier in eval mode: token
 * embedding plus positions 0..T-1, pre-LN bidirectional blocks whose attention skips
 * padding keys, the final LayerNorm, the mean over positions where attention_mask is
 * nonzero, and the head. Weights keep their Tessera names.
 */

import type { TransformerEncoderClassifier } from '../classifiers/transformer-encoder-classifier.js';
import { ONNX_DIMS } from './onnx-gpt2.js';
import { DataType, tensorValueInfo } from './onnx-proto.js';
import type { OnnxNet } from './onnx-layers.js';

export function encoderClassifierGraph(net: OnnxNet, model: TransformerEncoderClassifier): void {
  const { dModel: C, numHeads: H } = model.options;
  const { batch, sequence } = ONNX_DIMS;
  net.g.inputs.push(tensorValueInfo('input_ids', DataType.INT64, [batch, sequence]), tensorValueInfo('attention_mask', DataType.INT64, [batch, sequence]));
  const tokens = net.embedding('tokens.weight', model.tokens, 'input_ids'); // [B, T, C]
  const x = net.op('Add', [tokens, net.firstPositions(net.weight('positions.weight', model.positions.weight), 'input_ids')]);
  const keep = net.keyMask('attention_mask'); // [B, 1, 1, T]
  // The Linear layers run on rows [B*T, C]; attention needs [B, T, C] back.
  const idsShape = net.op('Shape', ['input_ids']);
  const batched = net.op('Concat', [idsShape, net.g.ints([3 * C])], { axis: { int: 0 } });
  let rows = net.op('Reshape', [x, net.g.ints([-1, C])]);
  [...model.encoder.layers].forEach((block, i) => {
    const p = `encoder.layers.${i}`;
    const qkv = net.op('Reshape', [net.linear(net.layerNorm(rows, `${p}.norm1`, block.norm1), `${p}.attn.qkv`, block.attn.qkv), batched]);
    const [q, k, v] = net.splitQkv(qkv, C);
    const { y } = net.attention(q, k, v, { heads: H, headDim: C / H }, keep);
    rows = net.op('Add', [rows, net.linear(net.op('Reshape', [y, net.g.ints([-1, C])]), `${p}.attn.out`, block.attn.out)]);
    const hidden = net.gelu(net.linear(net.layerNorm(rows, `${p}.norm2`, block.norm2), `${p}.ff.fc1`, block.ff.fc1));
    rows = net.op('Add', [rows, net.linear(hidden, `${p}.ff.fc2`, block.ff.fc2)]);
  });
  const h = net.op('Reshape', [net.layerNorm(rows, 'encoder.norm', model.encoder.norm), net.op('Concat', [idsShape, net.g.ints([C])], { axis: { int: 0 } })]); // [B, T, C]
  // Masked mean: sum_t h * w / max(sum_t w, 1) with w = (mask != 0) [B, T, 1].
  const w = net.op('Unsqueeze', [net.op('Cast', [net.op('Cast', ['attention_mask'], { to: { int: DataType.BOOL } })], { to: { int: net.float } }), net.g.ints([2])]);
  const axis = net.g.ints([1]);
  const total = net.op('ReduceSum', [net.op('Mul', [h, w]), axis], { keepdims: { int: 0 } }); // [B, C]
  const count = net.op('Max', [net.op('ReduceSum', [w, axis], { keepdims: { int: 0 } }), net.scalar(1)]); // [B, 1]
  net.toOutput(net.linear(net.op('Div', [total, count]), 'head', model.head), 'logits');
  net.g.outputs.push(tensorValueInfo('logits', DataType.FLOAT, [batch, model.numLabels]));
}
