/**
 * GPT-2 as ONNX graphs: the language model (GPT2 / GPT2LMHeadModel), with or without a
 * KV cache, under Hugging Face Optimum's input and output names, and
 * GPT2ForSequenceClassification. The network is Tessera's GPT2Model in eval mode (no
 * dropout); weights keep their Tessera / Hugging Face names.
 */

import type { GPT2 } from '../gpt2/model.js';
import type { GPT2ForSequenceClassification } from '../gpt2/sequence-classification.js';
import type { GPT2Model } from '../gpt2/transformer.js';
import { DataType, tensorValueInfo } from './onnx-proto.js';
import type { OnnxNet } from './onnx-layers.js';

/** Symbolic dimension names, as Optimum's GPT-2 export writes them. */
export const ONNX_DIMS = {
  batch: 'batch_size',
  sequence: 'sequence_length',
  past: 'past_sequence_length',
  total: 'past_sequence_length + sequence_length',
} as const;

/**
 * The blocks and final LayerNorm over embeddings `x` [B, T, C] (compute type), with `keep`
 * bool [B, 1, T, S]; `past[i]` are layer i's cached keys and values [B, H, P, D].
 * Returns the hidden states [B, T, C] and each layer's present keys and values [B, H, S, D].
 */
function gpt2Blocks(net: OnnxNet, body: GPT2Model, x: string, keep: string, past?: { k: string; v: string }[]): { hidden: string; present: { k: string; v: string }[] } {
  const present: { k: string; v: string }[] = [];
  let h = x;
  [...body.h].forEach((block, i) => {
    const p = `transformer.h.${i}`;
    // A layer's heads (n_head unless heads were pruned) times head_dim: the width of each of q, k, v.
    const { numHeads: H, headDim: D } = block.attn;
    const [q, k, v] = net.splitQkv(net.conv1d(net.layerNorm(h, `${p}.ln_1`, block.ln_1), `${p}.attn.c_attn`, block.attn.c_attn), H * D);
    const att = net.attention(q, k, v, { heads: H, headDim: D }, keep, past?.[i]);
    present.push(att.present);
    h = net.op('Add', [h, net.conv1d(att.y, `${p}.attn.c_proj`, block.attn.c_proj)]);
    const fc = net.conv1d(net.layerNorm(h, `${p}.ln_2`, block.ln_2), `${p}.mlp.c_fc`, block.mlp.c_fc);
    const act = block.mlp.activation === 'relu' ? net.op('Relu', [fc]) : net.gelu(fc);
    h = net.op('Add', [h, net.conv1d(act, `${p}.mlp.c_proj`, block.mlp.c_proj)]);
  });
  return { hidden: net.layerNorm(h, 'transformer.ln_f', body.ln_f), present };
}

/** int64 [batch, length] graph inputs, Optimum's names. */
function idsInputs(net: OnnxNet, maskLength: string): void {
  const { batch, sequence } = ONNX_DIMS;
  net.g.inputs.push(tensorValueInfo('input_ids', DataType.INT64, [batch, sequence]), tensorValueInfo('attention_mask', DataType.INT64, [batch, maskLength]));
}

/**
 * GPT2LMHeadModel: input_ids, attention_mask, position_ids (int64) [+ past_key_values.{i}.key /
 * .value float32 [B, H, P, D]] -> logits float32 [B, T, V] [+ present.{i}.key / .value [B, H, S, D]].
 */
export function gpt2LMGraph(net: OnnxNet, model: GPT2, kvCache: boolean): void {
  const body = model.transformer;
  const { n_embd: C, n_head, n_layer: L, vocab_size: V } = model.config;
  const D = C / n_head;
  const heads = (i: number): number => body.h.at(i)!.attn.numHeads;
  const { batch, sequence, past: P, total } = ONNX_DIMS;
  idsInputs(net, kvCache ? total : sequence);
  net.g.inputs.push(tensorValueInfo('position_ids', DataType.INT64, [batch, sequence]));
  let past: { k: string; v: string }[] | undefined;
  if (kvCache) {
    past = [];
    for (let i = 0; i < L; i++) {
      for (const part of ['key', 'value'] as const) net.g.inputs.push(tensorValueInfo(`past_key_values.${i}.${part}`, DataType.FLOAT, [batch, heads(i), P, D]));
      past.push({ k: net.toCompute(`past_key_values.${i}.key`), v: net.toCompute(`past_key_values.${i}.value`) });
    }
  }
  const wteName = 'transformer.wte.weight';
  const x = net.op('Add', [net.embedding(wteName, body.wte, 'input_ids'), net.op('Gather', [net.weight('transformer.wpe.weight', body.wpe.weight), 'position_ids'])]); // [B, T, C]
  const { hidden, present } = gpt2Blocks(net, body, x, net.causalKeyMask('input_ids', 'attention_mask'), past);
  if (body.wte.quantizedWeight) {
    // Tied head over the same quantized table the lookup reads.
    net.toOutput(net.matmulT(hidden, wteName, body.wte), 'logits');
  } else {
    // Tied head as one Gemm over rows (wte [V, C] is stored once, read transposed).
    const rows = net.op('Reshape', [hidden, net.g.ints([-1, C])]);
    const logitsShape = net.op('Concat', [net.op('Shape', ['input_ids']), net.g.ints([V])], { axis: { int: 0 } });
    net.toOutput(net.op('Reshape', [net.op('Gemm', [rows, net.weight(wteName, body.wte.weight)], { transB: { int: 1 } }), logitsShape]), 'logits');
  }
  net.g.outputs.push(tensorValueInfo('logits', DataType.FLOAT, [batch, sequence, V]));
  if (kvCache) {
    present.forEach((kv, i) => {
      net.toOutput(kv.k, `present.${i}.key`);
      net.toOutput(kv.v, `present.${i}.value`);
      for (const part of ['key', 'value'] as const) net.g.outputs.push(tensorValueInfo(`present.${i}.${part}`, DataType.FLOAT, [batch, heads(i), total, D]));
    });
  }
}

/**
 * GPT2ForSequenceClassification: input_ids, attention_mask (int64 [B, T]) -> logits float32
 * [B, numLabels] of each row's last position where attention_mask is nonzero (position 0
 * for an all-zero row), as Tessera's forward(ids, mask) pools. Positions are 0..T-1.
 */
export function gpt2ClassifierGraph(net: OnnxNet, model: GPT2ForSequenceClassification): void {
  const body = model.transformer;
  const C = model.config.n_embd;
  const { batch, sequence } = ONNX_DIMS;
  idsInputs(net, sequence);
  const x = net.op('Add', [net.embedding('transformer.wte.weight', body.wte, 'input_ids'), net.firstPositions(net.weight('transformer.wpe.weight', body.wpe.weight), 'input_ids')]);
  const { hidden } = gpt2Blocks(net, body, x, net.causalKeyMask('input_ids', 'attention_mask'));
  // Last real position: argmax over t of (mask != 0) * t, [B, 1].
  const real = net.op('Cast', [net.op('Cast', ['attention_mask'], { to: { int: DataType.BOOL } })], { to: { int: DataType.FLOAT } });
  const T = net.at(net.op('Shape', ['input_ids']), 1);
  const t = net.op('Cast', [net.op('Range', [net.g.int(0), T, net.g.int(1)])], { to: { int: DataType.FLOAT } });
  const last = net.op('ArgMax', [net.op('Mul', [real, t])], { axis: { int: 1 }, keepdims: { int: 1 } });
  // [B, 1] -> [B, 1, 1] -> [B, 1, C] indices for GatherElements along T.
  const index = net.op('Expand', [net.op('Unsqueeze', [last, net.g.ints([2])]), net.g.ints([1, 1, C])]);
  const pooled = net.op('Squeeze', [net.op('GatherElements', [hidden, index], { axis: { int: 1 } }), net.g.ints([1])]); // [B, C]
  net.toOutput(net.linear(pooled, 'score', model.score), 'logits');
  net.g.outputs.push(tensorValueInfo('logits', DataType.FLOAT, [batch, model.numLabels]));
}
