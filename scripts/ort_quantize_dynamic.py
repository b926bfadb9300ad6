#!/usr/bin/env python3
"""ONNX Runtime's own dynamic int8 quantization of an ONNX model (e.g. Tessera's f32 GPT-2 export).

    python scripts/ort_quantize_dynamic.py IN.onnx OUT.onnx [--per-channel]

Runs onnxruntime.quantization.quantize_dynamic(IN, OUT, weight_type=QuantType.QInt8) with ORT's
defaults otherwise, which is what an ORT user does: every op type in ORT's IntegerOps registry is
eligible (Conv, MatMul, Attention, LSTM, Gather, Transpose, EmbedLayerNormalization), MatMul only
where B is a constant (MatMulConstBOnly), weights symmetric int8 per tensor (per output channel with
--per-channel), activations uint8 quantized at run time (DynamicQuantizeLinear), and the quantizer
first rewrites every Gemm as a MatMul (+ Add), so Tessera's GPT-2 LM head (Gemm transB on the tied
wte) is quantized too. On Tessera's GPT-2 export that makes: every Conv1D MatMul and the LM head a
DynamicQuantizeLinear + MatMulInteger + Cast/Mul rescale, the wte and wpe Gathers int8 tables +
DequantizeLinear; the attention's activation-by-activation MatMuls stay f32 (B is not constant).
ORT's session optimizer may fuse those into com.microsoft DynamicQuantizeMatMul / MatMulIntegerToFloat.

One step before quantize_dynamic: that Gemm rewrite transposes a transB initializer in place,
assuming nothing else reads it (onnxruntime/quantization/onnx_model.py says so), but a tied GPT-2
export's wte is read by both the embedding Gather and the LM head Gemm, and the rewritten model then
fails to load (Gather's output becomes [.., vocab] instead of [.., n_embd]). So an initializer that a
transB Gemm shares with other nodes is given to the Gemm as a copy first (printed when it happens);
the weights are the same values, the file carries the tied matrix twice, as the quantized model
would anyway (an int8 table for the Gather, an int8 transposed matrix for the head).

Prints the Python, onnx and onnxruntime versions, then the node op types before and after, so a
reader sees which ops were quantized. Exits 2 with a one-line reason when onnxruntime is missing
or the input cannot be read.
"""

import argparse
import collections
import os
import sys


def fail(message):
    print(f"ort_quantize_dynamic.py: {message}", file=sys.stderr)
    sys.exit(2)


def op_counts(model):
    return collections.Counter(f"{n.domain + '.' if n.domain else ''}{n.op_type}" for n in model.graph.node)


def untie_transposed_gemm_weights(model):
    """Gives each transB Gemm its own copy of a B initializer that other nodes also read; returns the names copied."""
    from onnx import numpy_helper

    readers = collections.Counter(name for n in model.graph.node for name in n.input)
    initializers = {t.name: t for t in model.graph.initializer}
    copied = []
    for node in model.graph.node:
        trans_b = any(a.name == "transB" and a.i == 1 for a in node.attribute)
        if node.op_type != "Gemm" or not trans_b or len(node.input) < 2:
            continue
        name = node.input[1]
        if name not in initializers or readers[name] < 2:
            continue
        copy = numpy_helper.from_array(numpy_helper.to_array(initializers[name]), f"{name}.gemm_{len(copied)}")
        model.graph.initializer.append(copy)
        node.input[1] = copy.name
        copied.append(name)
    return copied


def main():
    parser = argparse.ArgumentParser(description="onnxruntime.quantization.quantize_dynamic (weight_type QInt8) of an ONNX model")
    parser.add_argument("input", help="f32 ONNX model to quantize")
    parser.add_argument("output", help="where to write the quantized model")
    parser.add_argument("--per-channel", action="store_true", help="one weight scale per output channel instead of per tensor")
    args = parser.parse_args()

    try:
        import onnx
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        fail(f"{sys.executable} cannot import onnxruntime.quantization ({e}); install it with: {sys.executable} -m pip install onnxruntime onnx")

    if not os.path.isfile(args.input):
        fail(f"input model {args.input!r} does not exist or is not a file")
    print(f"python {sys.version.split()[0]}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}")
    try:
        model = onnx.load(args.input)
    except Exception as e:  # onnx raises DecodeError and friends for a file that is not a ModelProto
        fail(f"{args.input!r} is not a readable ONNX model: {e}")
    before = op_counts(model)
    copied = untie_transposed_gemm_weights(model)
    if copied:
        print(f"gave the transB Gemm its own copy of {', '.join(copied)} (also read by other nodes; ORT's Gemm->MatMul rewrite would transpose it for all)")

    quantize_dynamic(model, args.output, weight_type=QuantType.QInt8, per_channel=args.per_channel)

    after = op_counts(onnx.load(args.output, load_external_data=False))
    fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
    print(f"quantize_dynamic(weight_type=QInt8, per_channel={args.per_channel}): {args.input} -> {args.output}")
    print(f"ops before: {fmt(before)}")
    print(f"ops after:  {fmt(after)}")
    quantized = {k: v for k, v in after.items() if k not in before or v > before[k]}
    print(f"added by quantization: {fmt(quantized) or 'nothing'}")


if __name__ == "__main__":
    main()
