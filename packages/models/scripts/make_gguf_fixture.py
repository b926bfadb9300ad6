"""GGUF cross-checks against llama.cpp's Python `gguf` package (gguf-py).

    python3 packages/models/scripts/make_gguf_fixture.py make [OUT_DIR]
        Writes OUT_DIR (default test/fixtures/gguf-tiny-gpt2/) with `model.gguf`: a tiny
        random GPT-2 in llama.cpp's gpt2 layout written by `gguf.GGUFWriter`, whose matrices
        mix F32, F16, Q8_0 and Q4_0 (quantized by gguf-py's own `quants.quantize`, i.e.
        llama.cpp's reference rounding), with a GPT-2 byte-level tokenizer (the 256 byte
        symbols, two merges, <|endoftext|>); and `expected.gguf`: every tensor of model.gguf
        dequantized by gguf-py to F32, plus the scalar metadata, for Tessera to compare with.

    python3 packages/models/scripts/make_gguf_fixture.py dump IN.gguf OUT.gguf
        Opens IN.gguf (written by Tessera) with `gguf.GGUFReader`, dequantizes every tensor
        with gguf-py and writes them as F32 to OUT.gguf; prints the metadata as JSON.

The fixture is committed, so test/gguf-python.test.ts checks it on every machine; the
live part of that test runs this script when TESSERA_PYTHON (or python3) imports gguf.
"""

import json
import os
import sys

import numpy as np
import gguf
from gguf.quants import dequantize, quantize

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, '..', 'test', 'fixtures', 'gguf-tiny-gpt2')

C, LAYERS, HEADS, CTX = 32, 2, 2, 16
Q = gguf.GGMLQuantizationType
# The matrices' types: every one of F32, F16, Q8_0 and Q4_0 appears, on tables and Conv1D weights.
TYPES = {
    'token_embd.weight': Q.Q8_0,
    'position_embd.weight': Q.F16,
    'blk.0.attn_qkv.weight': Q.Q4_0,
    'blk.0.attn_output.weight': Q.F16,
    'blk.0.ffn_up.weight': Q.Q8_0,
    'blk.0.ffn_down.weight': Q.F32,
    'blk.1.attn_qkv.weight': Q.Q8_0,
    'blk.1.attn_output.weight': Q.Q4_0,
    'blk.1.ffn_up.weight': Q.F32,
    'blk.1.ffn_down.weight': Q.F16,
}


def byte_symbols():
    """GPT-2's byte-to-unicode table: the byte-level symbol of each byte value."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('\xa1'), ord('\xac') + 1)) + list(range(ord('\xae'), ord('\xff') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def tensors(rng):
    """(name, numpy shape [rows, cols] or [n], values): HF GPT-2 layouts already transposed to GGUF's."""
    vocab = 256 + 3
    out = [('token_embd.weight', rng.normal(0, 0.5, (vocab, C))), ('position_embd.weight', rng.normal(0, 0.1, (CTX, C)))]
    for i in range(LAYERS):
        for part, rows, cols in [('attn_qkv', 3 * C, C), ('attn_output', C, C), ('ffn_up', 4 * C, C), ('ffn_down', C, 4 * C)]:
            out.append((f'blk.{i}.{part}.weight', rng.normal(0, 0.3, (rows, cols))))
            out.append((f'blk.{i}.{part}.bias', rng.normal(0, 0.1, (rows,))))
        for norm in ['attn_norm', 'ffn_norm']:
            out.append((f'blk.{i}.{norm}.weight', 1 + rng.normal(0, 0.1, (C,))))
            out.append((f'blk.{i}.{norm}.bias', rng.normal(0, 0.1, (C,))))
    out.append(('output_norm.weight', 1 + rng.normal(0, 0.1, (C,))))
    out.append(('output_norm.bias', rng.normal(0, 0.1, (C,))))
    return [(n, v.astype(np.float32)) for n, v in out]


def add(writer, name, values, qtype):
    if qtype == Q.F32:
        writer.add_tensor(name, values)
    elif qtype == Q.F16:
        writer.add_tensor(name, values.astype(np.float16))
    else:
        writer.add_tensor(name, quantize(values, qtype), raw_dtype=qtype)


def make(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(os.path.join(out_dir, 'model.gguf'), 'gpt2')
    w.add_name('tessera-tiny-gpt2')
    w.add_context_length(CTX)
    w.add_embedding_length(C)
    w.add_feed_forward_length(4 * C)
    w.add_block_count(LAYERS)
    w.add_head_count(HEADS)
    w.add_layer_norm_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    symbols = byte_symbols()
    tokens = symbols + [symbols[ord('a')] + symbols[ord('b')], symbols[ord('a')] + symbols[ord('b')] + symbols[ord('c')], '<|endoftext|>']
    w.add_tokenizer_model('gpt2')
    w.add_tokenizer_pre('gpt-2')
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.NORMAL] * 258 + [gguf.TokenType.CONTROL])
    w.add_token_merges(['a b', 'ab c'])
    w.add_bos_token_id(258)
    w.add_eos_token_id(258)
    all_tensors = tensors(rng)
    for name, values in all_tensors:
        add(w, name, values, TYPES.get(name, Q.F32))
        if name == 'token_embd.weight':
            add(w, 'output.weight', values, TYPES[name])
    # K-quant blocks that no GPT-2 matrix here can hold (their rows must be multiples of 256):
    # random bytes with finite f16 super-block scales, for the decoders alone.
    for qtype, name in [(Q.Q4_K, 'tessera.check.q4_k'), (Q.Q6_K, 'tessera.check.q6_k')]:
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(3, size), dtype=np.uint8)
        scales = rng.normal(0, 0.01, size=(3, 2)).astype(np.float16).view(np.uint8)
        if qtype == Q.Q4_K:
            raw[:, 0:4] = scales  # d and dmin lead the block
        else:
            raw[:, size - 2:size] = scales[:, 0:2]  # d ends it
        w.add_tensor(name, raw.reshape(1, -1), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_f32(os.path.join(out_dir, 'model.gguf'), os.path.join(out_dir, 'expected.gguf'))


def write_f32(src, dst):
    """Every tensor of src dequantized by gguf-py, as F32 in dst (same names, same ne)."""
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, 'gpt2')
    meta = {}
    for f in r.fields.values():
        if f.name.startswith('GGUF.') or f.name == 'general.architecture':
            continue
        if len(f.types) == 1 and f.types[0] not in (gguf.GGUFValueType.ARRAY,):
            v = f.contents()
            meta[f.name] = v
    for t in r.tensors:
        values = dequantize(t.data, t.tensor_type).astype(np.float32)
        w.add_tensor(t.name, values.reshape([int(d) for d in reversed(t.shape)]))
    w.add_string('tessera.check.source_types', json.dumps({t.name: t.tensor_type.name for t in r.tensors}))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return meta


if __name__ == '__main__':
    if len(sys.argv) >= 2 and sys.argv[1] == 'dump':
        print(json.dumps(write_f32(sys.argv[2], sys.argv[3]), default=str))
    elif len(sys.argv) >= 2 and sys.argv[1] == 'make':
        make(sys.argv[2] if len(sys.argv) > 2 else FIXTURE)
    else:
        sys.exit(__doc__)
