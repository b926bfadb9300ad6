#!/usr/bin/env python3
"""Independent check of Tessera's GPT-2 model directories against Hugging Face's conventions.

The reader and writer use only the Python standard library and torch: no
`safetensors` or `transformers` package (only the transformers-load and
transformers-save steps below import `transformers`, to check against it). It parses model.safetensors itself, reads config.json
and computes GPT2LMHeadModel's forward pass the way transformers' eager code
does (Conv1D weights [in, out] used as x @ W + b, c_attn split into q, k, v in
that order, a causal mask, the configured activation, an LM head tied to wte),
in float64.

  check DIR --logits FILE [--tol 1e-4]
      DIR was written by Tessera's savePretrained. FILE is JSON
      {"ids": [[...], ...], "shape": [B, T, V], "logits": [flat, row-major]}
      holding Tessera's logits for those ids. Checks the key set, shapes,
      dtypes and `{"format": "pt"}` metadata, computes the reference logits
      and prints the largest absolute difference; exits 1 above --tol. It also
      recomputes the logits with typical mistakes (Conv1D weights in
      nn.Linear layout, q and k swapped, exact GELU, no causal mask) and exits
      2 if any of them lands within --tol, i.e. if the inputs could not tell.

  write DIR --out FILE [--seed N] [--layout hf|legacy] [--batch B] [--seq T]
            [--n-layer ...] [--n-head ...] [--n-embd ...] [--n-positions ...]
            [--vocab-size ...] [--n-inner ...]
      Writes a random GPT-2 in HF's layout (model.safetensors with
      `{"format": "pt"}` metadata, F32). `hf` is what transformers 5's
      GPT2LMHeadModel.save_pretrained writes (`transformer.` names, no
      lm_head.weight, no attention buffers; its config.json keys); `legacy`
      is the layout of older hub checkpoints such as `gpt2` (no prefix,
      `h.N.attn.bias` buffers, `n_ctx` in the config). FILE receives random ids and the reference
      logits computed from the written file: {"ids", "shape", "logits"}.

  transformers-load DIR --logits FILE [--head lm|cls] [--tol 1e-4]
      The one step that uses the `transformers` package itself: loads DIR
      (written by Tessera's savePretrained) with GPT2LMHeadModel (--head lm)
      or GPT2ForSequenceClassification (--head cls) `.from_pretrained(DIR,
      output_loading_info=True)`, fails on any missing, unexpected or
      mismatched key or load error (transformers already leaves out what it
      ignores: the tied lm_head.weight, attn.bias buffers), runs FILE's ids in
      float64 and compares with FILE's logits ([B, T, V], or [B, num_labels]
      for cls); exits 1 above --tol. Prints `loading info: {json}`.

  transformers-save DIR --out FILE [--head lm|cls] [--seed N] [--batch B]
            [--seq T] [--num-labels L] [size options as for write]
      Builds a transformers GPT2LMHeadModel (or GPT2ForSequenceClassification
      with L labels and pad_token_id = vocab_size - 1) with the same random
      weights `write` uses, writes it with save_pretrained, and FILE receives
      ids and the model's float64 logits (cls: some rows padded with the pad
      token, at the end and in the middle; pooled at the last non-pad token
      by transformers itself).

  Both transformers steps print `SKIP: transformers not importable: REASON`
  and exit 3 when `import transformers` fails.

  batch -- JOB [-- JOB ...]
      Runs several of the above in one process (importing torch takes longer
      than a tiny check); after each job prints `JOB i EXIT code`, and exits
      with the largest code.
"""

import argparse
import json
import math
import os
import re
import struct
import sys

import torch

DTYPES = {"F32": ("f", 4)}  # the only dtype these directories are expected to hold
EXPECTED_METADATA = {"format": "pt"}
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate")


class CheckError(Exception):
    pass


SKIPPED = 3  # exit code of a transformers step when `import transformers` fails


# ---------------------------------------------------------------- safetensors


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise CheckError(f"safetensors header: duplicate key {k!r}")
        out[k] = v
    return out


def parse_safetensors_header(path, data):
    """The JSON header of safetensors bytes `data`, validated; returns (header dict, header length)."""
    if len(data) < 8:
        raise CheckError(f"{path}: {len(data)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise CheckError(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    raw = data[8 : 8 + n]
    if not raw.startswith(b"{"):
        raise CheckError(f"{path}: header does not start with '{{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckError(f"{path}: header is not UTF-8 JSON: {e}") from e
    if not isinstance(header, dict):
        raise CheckError(f"{path}: header is not a JSON object")
    return header, n


def read_safetensors(path):
    """Returns (metadata, {name: (dtype, shape, float64 tensor)}), validating the file like the safetensors library."""
    with open(path, "rb") as f:
        data = f.read()
    header, n = parse_safetensors_header(path, data)
    metadata = header.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise CheckError(f"{path}: __metadata__ must map strings to strings, got {metadata!r}")
    body = memoryview(data)[8 + n :]
    spans = []
    tensors = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise CheckError(f"{path}: tensor {name!r}: entry must have exactly dtype, shape, data_offsets; got {entry!r}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise CheckError(f"{path}: tensor {name!r} has dtype {dtype!r}; expected F32")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise CheckError(f"{path}: tensor {name!r}: bad shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CheckError(f"{path}: tensor {name!r}: bad data_offsets {offsets!r}")
        begin, end = offsets
        fmt, size = DTYPES[dtype]
        count = math.prod(shape)
        if end - begin != count * size or begin < 0:
            raise CheckError(f"{path}: tensor {name!r} shape {shape} needs {count * size} bytes, data_offsets {offsets} give {end - begin}")
        spans.append((begin, end, name))
        values = struct.unpack_from(f"<{count}{fmt}", body, begin) if count else ()
        tensors[name] = (dtype, list(shape), torch.tensor(values, dtype=torch.float64).reshape(shape))
    # As the safetensors library requires: tensors tile the byte buffer exactly, no gaps or overlaps.
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise CheckError(f"{path}: tensor {name!r} starts at byte {begin}, expected {pos} (gap or overlap)")
        pos = end
    if pos != len(body):
        raise CheckError(f"{path}: tensors cover {pos} bytes of a {len(body)}-byte data section")
    return metadata, tensors


def write_safetensors(path, tensors, metadata):
    """tensors: {name: torch tensor}, written F32 little-endian, header padded with spaces to 8 bytes."""
    header = {"__metadata__": metadata}
    chunks = []
    pos = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        flat = t.reshape(-1).tolist()
        b = struct.pack(f"<{len(flat)}f", *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [pos, pos + len(b)]}
        chunks.append(b)
        pos += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in chunks:
            f.write(b)


# ---------------------------------------------------------------- config


REQUIRED_CONFIG = ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "layer_norm_epsilon", "activation_function")


def read_config(path):
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    if not isinstance(cfg, dict):
        raise CheckError(f"{path}: not a JSON object")
    missing = [k for k in REQUIRED_CONFIG if k not in cfg]
    if missing:
        raise CheckError(f"{path}: missing {', '.join(missing)}")
    if cfg.get("model_type") != "gpt2":
        raise CheckError(f"{path}: model_type is {cfg.get('model_type')!r}, transformers needs 'gpt2' for AutoModel")
    for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size"):
        if not isinstance(cfg[k], int) or isinstance(cfg[k], bool) or cfg[k] <= 0:
            raise CheckError(f"{path}: {k} must be a positive integer, got {cfg[k]!r}")
    if cfg["n_embd"] % cfg["n_head"]:
        raise CheckError(f"{path}: n_embd {cfg['n_embd']} is not divisible by n_head {cfg['n_head']}")
    if cfg.get("add_cross_attention"):
        raise CheckError(f"{path}: add_cross_attention is set; this check covers the decoder-only LM")
    return cfg


# ---------------------------------------------------------------- GPT2LMHeadModel


def activation(name):
    """transformers' ACT2FN for the names a GPT-2 config may hold."""
    if name in TANH_GELUS:
        c = math.sqrt(2.0 / math.pi)
        return lambda x: 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * torch.pow(x, 3.0))))
    table = {
        "gelu": lambda x: torch.nn.functional.gelu(x),  # exact (erf)
        "relu": torch.relu,
        "silu": torch.nn.functional.silu,
        "swish": torch.nn.functional.silu,
        "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "linear": lambda x: x,
    }
    if name not in table:
        raise CheckError(f"config.json: activation_function {name!r} is not one this check implements")
    return table[name]


def expected_keys(cfg):
    """{name: shape} of GPT2LMHeadModel's state dict as save_pretrained writes it (tied lm_head left out)."""
    C, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    inner = cfg.get("n_inner") or 4 * C
    keys = {
        "transformer.wte.weight": [V, C],
        "transformer.wpe.weight": [P, C],
        "transformer.ln_f.weight": [C],
        "transformer.ln_f.bias": [C],
    }
    for i in range(L):
        h = f"transformer.h.{i}"
        keys.update(
            {
                f"{h}.ln_1.weight": [C],
                f"{h}.ln_1.bias": [C],
                f"{h}.attn.c_attn.weight": [C, 3 * C],
                f"{h}.attn.c_attn.bias": [3 * C],
                f"{h}.attn.c_proj.weight": [C, C],
                f"{h}.attn.c_proj.bias": [C],
                f"{h}.ln_2.weight": [C],
                f"{h}.ln_2.bias": [C],
                f"{h}.mlp.c_fc.weight": [C, inner],
                f"{h}.mlp.c_fc.bias": [inner],
                f"{h}.mlp.c_proj.weight": [inner, C],
                f"{h}.mlp.c_proj.bias": [C],
            }
        )
    return keys


# Buffers GPT-2 checkpoints may carry and transformers ignores on load.
IGNORED = re.compile(r"^(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)$")


def state_dict(cfg, tensors, *, allow_unprefixed=False):
    """Maps the file's tensors onto GPT2LMHeadModel's parameters, failing on any missing,
    unexpected or mis-shaped key, as a strict load_state_dict would. Returns (params, notes)."""
    want = expected_keys(cfg)
    names = dict(tensors)
    notes = []
    if allow_unprefixed and not any(k.startswith("transformer.") for k in names):
        # transformers adds the base-model prefix when every key lacks it (older hub checkpoints).
        names = {(k if k == "lm_head.weight" else f"transformer.{k}"): v for k, v in names.items()}
        notes.append("keys had no 'transformer.' prefix; added it, as transformers does")
    ignored = sorted(k for k in names if IGNORED.match(k))
    for k in ignored:
        del names[k]
    if ignored:
        notes.append(f"ignored {len(ignored)} attention buffers (attn.bias / attn.masked_bias), as transformers does")
    tied = cfg.get("tie_word_embeddings", True)
    lm_head = names.pop("lm_head.weight", None)
    missing = sorted(set(want) - set(names))
    unexpected = sorted(set(names) - set(want))
    problems = []
    if missing:
        problems.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {', '.join(unexpected)}")
    for k in sorted(set(want) & set(names)):
        if names[k][1] != want[k]:
            problems.append(f"{k}: shape {names[k][1]}, GPT2LMHeadModel expects {want[k]}")
    if not tied and lm_head is None:
        problems.append("tie_word_embeddings is false but lm_head.weight is missing (transformers would initialise it randomly)")
    if problems:
        raise CheckError("state dict does not fit GPT2LMHeadModel:\n  " + "\n  ".join(problems))
    params = {k: v[2] for k, v in names.items()}
    if lm_head is not None:
        if lm_head[1] != want["transformer.wte.weight"]:
            raise CheckError(f"lm_head.weight: shape {lm_head[1]}, expected {want['transformer.wte.weight']}")
        if tied and not torch.equal(lm_head[2], params["transformer.wte.weight"]):
            notes.append("lm_head.weight differs from wte but the config ties them: transformers would use wte")
        if not tied:
            params["lm_head.weight"] = lm_head[2]
    params.setdefault("lm_head.weight", params["transformer.wte.weight"])
    return params, notes


def gpt2_logits(cfg, p, ids, *, mutation=None):
    """GPT2LMHeadModel.forward(ids).logits in eval mode (no dropout), float64. ids: LongTensor [B, T]."""
    B, T = ids.shape
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    D = C // H
    eps = float(cfg["layer_norm_epsilon"])
    act = activation("gelu" if mutation == "exact-gelu" else cfg["activation_function"])
    if T > cfg["n_positions"]:
        raise CheckError(f"sequence length {T} exceeds n_positions {cfg['n_positions']}")
    if int(ids.min()) < 0 or int(ids.max()) >= cfg["vocab_size"]:
        raise CheckError(f"ids outside [0, {cfg['vocab_size']})")

    def conv1d(x, prefix):  # transformers.pytorch_utils.Conv1D: weight [nx, nf], y = x @ W + b
        w, b = p[f"{prefix}.weight"], p[f"{prefix}.bias"]
        if mutation == "linear-layout":  # bytes of an nn.Linear [out, in] weight read as [in, out]
            w = w.reshape(w.shape[1], w.shape[0]).T
        return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[-1])

    def ln(x, prefix):
        return torch.nn.functional.layer_norm(x, (C,), p[f"{prefix}.weight"], p[f"{prefix}.bias"], eps)

    def heads(x):  # [B, T, C] -> [B, H, T, D]
        return x.view(B, T, H, D).permute(0, 2, 1, 3)

    h = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][torch.arange(T)].unsqueeze(0)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(L):
        pre = f"transformer.h.{i}"
        a = ln(h, f"{pre}.ln_1")
        q, k, v = conv1d(a, f"{pre}.attn.c_attn").split(C, dim=2)
        if mutation == "qk-swapped":
            q, k = k, q
        q, k, v = heads(q), heads(k), heads(v)
        w = torch.matmul(q, k.transpose(-1, -2))
        if cfg.get("scale_attn_weights", True):
            w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            w = w / float(i + 1)
        if mutation != "no-causal-mask":
            w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype))
        w = torch.nn.functional.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).reshape(B, T, C)
        h = h + conv1d(o, f"{pre}.attn.c_proj")
        m = act(conv1d(ln(h, f"{pre}.ln_2"), f"{pre}.mlp.c_fc"))
        h = h + conv1d(m, f"{pre}.mlp.c_proj")
    h = ln(h, "transformer.ln_f")
    return torch.matmul(h, p["lm_head.weight"].T)


MUTATIONS = ("linear-layout", "qk-swapped", "exact-gelu", "no-causal-mask")


# ---------------------------------------------------------------- commands


def load_dir(d, *, allow_unprefixed):
    cfg = read_config(f"{d}/config.json")
    metadata, tensors = read_safetensors(f"{d}/model.safetensors")
    if metadata != EXPECTED_METADATA:
        raise CheckError(f"{d}/model.safetensors: __metadata__ is {metadata!r}; transformers requires {EXPECTED_METADATA!r}")
    params, notes = state_dict(cfg, tensors, allow_unprefixed=allow_unprefixed)
    return cfg, tensors, params, notes


def cmd_check(args):
    cfg, tensors, params, notes = load_dir(args.dir, allow_unprefixed=False)
    archs = cfg.get("architectures")
    if archs != ["GPT2LMHeadModel"]:
        raise CheckError(f"config.json: architectures is {archs!r}, expected ['GPT2LMHeadModel']")
    print(f"config: n_layer {cfg['n_layer']}, n_head {cfg['n_head']}, n_embd {cfg['n_embd']}, n_positions {cfg['n_positions']}, vocab_size {cfg['vocab_size']}, activation {cfg['activation_function']}")
    print(f"safetensors: {len(tensors)} tensors, all F32, metadata {EXPECTED_METADATA}, keys and shapes = GPT2LMHeadModel's")
    for n in notes:
        print(f"note: {n}")
    with open(args.logits, encoding="utf-8") as f:
        given = json.load(f)
    ids = torch.tensor(given["ids"], dtype=torch.long)
    shape = list(given["shape"])
    want_shape = [*ids.shape, cfg["vocab_size"]]
    if shape != want_shape:
        raise CheckError(f"{args.logits}: logits shape {shape}, expected [B, T, vocab_size] = {want_shape}")
    theirs = torch.tensor(given["logits"], dtype=torch.float64).reshape(shape)
    ref = gpt2_logits(cfg, params, ids)
    diff = (theirs - ref).abs()
    worst = int(diff.argmax())
    b, t, v = worst // (shape[1] * shape[2]), (worst // shape[2]) % shape[1], worst % shape[2]
    maxdiff = float(diff.max())
    print(f"logits {shape}: max |reference| {float(ref.abs().max()):.4g}, max abs difference {maxdiff:.3e} at [{b}, {t}, {v}] (tolerance {args.tol:g})")
    weak = []
    for m in MUTATIONS:
        d = float((gpt2_logits(cfg, params, ids, mutation=m) - ref).abs().max())
        print(f"  sensitivity: reference with '{m}' differs by {d:.3e}")
        if not d > args.tol:
            weak.append(m)
    if not maxdiff <= args.tol:
        print(f"FAIL: Tessera's logits differ from the Hugging Face-convention reference by {maxdiff:.3e} > {args.tol:g}")
        return 1
    if weak:
        print(f"FAIL: the check cannot detect {', '.join(weak)} with these weights and ids (use larger random weights)")
        return 2
    print("OK: the saved directory is, to an HF-convention GPT2LMHeadModel reader, the model Tessera ran")
    return 0


def hf_config(a, layout):
    """config.json as transformers 5 writes a GPT2Config (hf), or as the older hub checkpoints hold it (legacy)."""
    cfg = {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": a.vocab_size - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": a.vocab_size - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": a.n_embd,
        "n_head": a.n_head,
        "n_layer": a.n_layer,
        "n_positions": a.n_positions,
        "resid_pdrop": 0.1,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "vocab_size": a.vocab_size,
    }
    if layout == "hf":
        cfg.update(
            {
                "add_cross_attention": False,
                "dtype": "float32",
                "n_inner": a.n_inner,
                "pad_token_id": None,
                "reorder_and_upcast_attn": False,
                "scale_attn_by_inverse_layer_idx": False,
                "scale_attn_weights": True,
                "tie_word_embeddings": True,
                "use_cache": True,
            }
        )
    else:
        cfg["n_ctx"] = a.n_positions
        cfg["task_specific_params"] = {"text-generation": {"do_sample": True, "max_length": 50}}
        if a.n_inner is not None:
            cfg["n_inner"] = a.n_inner
    return cfg


def random_params(cfg, g):
    """Random GPT2LMHeadModel weights (`transformer.` names, float64) from generator g, large enough
    that the logits are O(1) and every part of the network shows in them."""

    def randn(*shape, std=1.0, mean=0.0):
        return mean + std * torch.randn(*shape, generator=g, dtype=torch.float64)

    C = cfg["n_embd"]
    inner = cfg.get("n_inner") or 4 * C
    params = {
        "transformer.wte.weight": randn(cfg["vocab_size"], C),
        "transformer.wpe.weight": randn(cfg["n_positions"], C, std=0.5),
        "transformer.ln_f.weight": randn(C, std=0.2, mean=1.0),
        "transformer.ln_f.bias": randn(C, std=0.2),
    }
    for i in range(cfg["n_layer"]):
        h = f"transformer.h.{i}"
        for ln in ("ln_1", "ln_2"):
            params[f"{h}.{ln}.weight"] = randn(C, std=0.2, mean=1.0)
            params[f"{h}.{ln}.bias"] = randn(C, std=0.2)
        for name, (nx, nf) in {"attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C), "mlp.c_fc": (C, inner), "mlp.c_proj": (inner, C)}.items():
            params[f"{h}.{name}.weight"] = randn(nx, nf, std=nx**-0.5)
            params[f"{h}.{name}.bias"] = randn(nf, std=0.2)
    return params


def cmd_write(args):
    cfg = hf_config(args, args.layout)
    g = torch.Generator().manual_seed(args.seed)
    params = random_params(cfg, g)
    if args.layout == "legacy":
        P = cfg["n_positions"]
        params = {k.removeprefix("transformer."): v for k, v in params.items()}
        for i in range(cfg["n_layer"]):
            params[f"h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
    os.makedirs(args.dir, exist_ok=True)
    with open(f"{args.dir}/config.json", "w", encoding="utf-8") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    write_safetensors(f"{args.dir}/model.safetensors", params, EXPECTED_METADATA)

    # The reference comes from the file as written (float32 values), read back by this script's own reader.
    cfg, _, p, notes = load_dir(args.dir, allow_unprefixed=args.layout == "legacy")
    ids = torch.randint(0, cfg["vocab_size"], (args.batch, args.seq), generator=g)
    ref = gpt2_logits(cfg, p, ids)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"ids": ids.tolist(), "shape": list(ref.shape), "logits": ref.reshape(-1).tolist()}, f)
    print(f"wrote {args.dir} ({args.layout} layout, seed {args.seed}; {'; '.join(notes) or 'strict key set'}), reference logits {list(ref.shape)} in {args.out}")
    return 0


# ---------------------------------------------------------------- transformers itself


def import_transformers():
    """The transformers module, or None after printing why it cannot be imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local directories only; never reach for the Hub
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import transformers
        from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel  # noqa: F401
    except Exception as e:  # ImportError, or a transformers that does not fit this torch
        print(f"SKIP: transformers not importable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        return None
    return transformers


def from_pretrained(tf, cls, directory, **kwargs):
    """cls.from_pretrained(directory), any failure turned into a CheckError that names the class and directory."""
    try:
        return cls.from_pretrained(directory, **kwargs)
    except Exception as e:
        raise CheckError(f"transformers {tf.__version__} {cls.__name__}.from_pretrained({directory}) raised {type(e).__name__}: {e}") from e


def transformers_class(tf, head):
    return tf.GPT2LMHeadModel if head == "lm" else tf.GPT2ForSequenceClassification


def model_outputs(model, ids):
    with torch.no_grad():
        return model(ids).logits.to(torch.float64)


def cmd_transformers_load(args):
    tf = import_transformers()
    if tf is None:
        return SKIPPED
    cls = transformers_class(tf, args.head)
    model, info = from_pretrained(tf, cls, args.dir, output_loading_info=True)
    info = {k: sorted(map(str, info.get(k) or [])) for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    print(f"transformers {tf.__version__} {cls.__name__}.from_pretrained: {sum(p.numel() for p in model.parameters())} parameters, dtype {model.dtype}, attention {model.config._attn_implementation}")
    print(f"loading info: {json.dumps(info)}")
    bad = {k: v for k, v in info.items() if v}
    model = model.to(torch.float64).eval()
    with open(args.logits, encoding="utf-8") as f:
        given = json.load(f)
    ids = torch.tensor(given["ids"], dtype=torch.long)
    ref = model_outputs(model, ids)
    if list(given["shape"]) != list(ref.shape):
        raise CheckError(f"{args.logits}: logits shape {given['shape']}, transformers computes {list(ref.shape)}")
    theirs = torch.tensor(given["logits"], dtype=torch.float64).reshape(ref.shape)
    diff = (theirs - ref).abs()
    maxdiff = float(diff.max())
    at = list(map(int, torch.unravel_index(diff.argmax(), diff.shape)))
    print(f"logits {list(ref.shape)}: max |transformers| {float(ref.abs().max()):.4g}, max abs difference {maxdiff:.3e} at {at} (tolerance {args.tol:g})")
    if bad:
        print(f"FAIL: transformers reports {'; '.join(f'{k} {v}' for k, v in bad.items())}")
        return 1
    if not maxdiff <= args.tol:
        print(f"FAIL: Tessera's logits differ from transformers' by {maxdiff:.3e} > {args.tol:g}")
        return 1
    print(f"OK: transformers' {cls.__name__} loads the directory with no missing or unexpected keys and computes Tessera's logits")
    return 0


def cmd_transformers_save(args):
    tf = import_transformers()
    if tf is None:
        return SKIPPED
    cls = transformers_class(tf, args.head)
    V = args.vocab_size
    extra = {"pad_token_id": V - 1, "num_labels": args.num_labels} if args.head == "cls" else {}
    config = tf.GPT2Config(
        n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd, n_positions=args.n_positions,
        vocab_size=V, n_inner=args.n_inner, bos_token_id=V - 1, eos_token_id=V - 1, **extra,
    )  # fmt: skip
    torch.manual_seed(args.seed)  # transformers' own initialisation, replaced below
    model = cls(config).eval()
    g = torch.Generator().manual_seed(args.seed)
    params = random_params(config.to_dict(), g)
    if args.head == "cls":
        params["score.weight"] = torch.randn(args.num_labels, args.n_embd, generator=g, dtype=torch.float64) * args.n_embd**-0.5
    result = model.load_state_dict({k: v.to(torch.float32) for k, v in params.items()}, strict=False)
    missing = sorted(set(result.missing_keys) - {"lm_head.weight"})  # tied to wte
    if missing or result.unexpected_keys:
        raise CheckError(f"random weights do not fit {cls.__name__}: missing {missing}, unexpected {sorted(result.unexpected_keys)}")
    if args.head == "lm" and model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
        raise CheckError("GPT2LMHeadModel's lm_head is not tied to wte")
    model.save_pretrained(args.dir)
    with open(f"{args.dir}/model.safetensors", "rb") as f:
        header, _ = parse_safetensors_header(f"{args.dir}/model.safetensors", f.read())
    metadata = header.pop("__metadata__", None)
    print(
        f"transformers {tf.__version__} {cls.__name__}.save_pretrained: {sorted(os.listdir(args.dir))}, {len(header)} tensors, "
        f"dtypes {sorted({v['dtype'] for v in header.values()})}, metadata {metadata}, lm_head.weight saved: {'lm_head.weight' in header}, "
        f"non-transformer keys {sorted(k for k in header if not k.startswith('transformer.'))}"
    )
    B, T = args.batch, args.seq
    if args.head == "lm":
        ids = torch.randint(0, V, (B, T), generator=g)
    else:  # rows padded at the end, and in the middle and the end; pooled at the last non-pad token
        ids = torch.randint(0, V - 1, (B, T), generator=g)
        if B > 1:
            ids[1, T - T // 3 :] = V - 1
        if B > 2:
            ids[2, T // 4] = V - 1
            ids[2, T - 2 :] = V - 1
    ref = model_outputs(model.to(torch.float64), ids)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"ids": ids.tolist(), "shape": list(ref.shape), "logits": ref.reshape(-1).tolist()}, f)
    print(f"logits {list(ref.shape)} (float64) for ids {list(ids.shape)} in {args.out}, max |logit| {float(ref.abs().max()):.4g}")
    return 0


def cmd_transformers_tokenizer(args):
    """transformers' GPT2TokenizerFast loads the vocab.json + merges.txt Tessera saved and encodes as Tessera did."""
    tf = import_transformers()
    if tf is None:
        return SKIPPED
    tok = from_pretrained(tf, tf.GPT2TokenizerFast, args.dir)
    with open(args.ids, encoding="utf-8") as f:
        given = json.load(f)
    print(f"transformers {tf.__version__} GPT2TokenizerFast.from_pretrained: vocabulary {len(tok)}")
    bad = 0
    for i, (text, ids) in enumerate(zip(given["texts"], given["ids"])):
        theirs = tok(text, add_special_tokens=False)["input_ids"]
        back = tok.decode(ids, clean_up_tokenization_spaces=False)
        if theirs != ids or back != text:
            bad += 1
            first = next((j for j, (x, y) in enumerate(zip(theirs, ids)) if x != y), min(len(theirs), len(ids)))
            print(f"text {i} ({len(text)} chars): transformers {len(theirs)} ids, Tessera {len(ids)}; first difference at id {first}; decode round trip {'ok' if back == text else 'differs'}")
    print(f"{len(given['texts'])} texts, {sum(map(len, given['ids']))} ids: max abs difference {0 if bad == 0 else 1} ({bad} texts differ)")
    if bad:
        print("FAIL: transformers' tokenizer encodes differently from Tessera's")
        return 1
    print("OK: transformers' GPT2TokenizerFast reads Tessera's tokenizer files and gives Tessera's ids and texts")
    return 0


def add_size_args(p, *, batch=2):
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--seq", type=int, default=12)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=2)
    p.add_argument("--n-embd", type=int, default=32)
    p.add_argument("--n-positions", type=int, default=16)
    p.add_argument("--vocab-size", type=int, default=97)
    p.add_argument("--n-inner", type=int, default=None)


def main(argv):
    if argv[:1] == ["batch"]:
        # batch -- JOB -- JOB ...: several jobs in one process (torch's import dominates a tiny check's time).
        jobs, cur = [], None
        for a in argv[1:]:
            if a == "--":
                cur = []
                jobs.append(cur)
            elif cur is None:
                raise SystemExit("usage: hf_gpt2_check.py batch -- JOB [-- JOB ...]")
            else:
                cur.append(a)
        worst = 0
        for i, job in enumerate(jobs):
            code = main(job)
            print(f"JOB {i} EXIT {code}", flush=True)
            worst = max(worst, code)
        return worst
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="check a directory Tessera saved against Tessera's logits")
    c.add_argument("dir")
    c.add_argument("--logits", required=True)
    c.add_argument("--tol", type=float, default=1e-4)
    w = sub.add_parser("write", help="write a random HF-layout GPT-2 and its reference logits")
    w.add_argument("dir")
    w.add_argument("--out", required=True)
    w.add_argument("--layout", choices=("hf", "legacy"), default="hf")
    add_size_args(w)
    tl = sub.add_parser("transformers-load", help="load a directory Tessera saved with transformers itself and compare logits")
    tl.add_argument("dir")
    tl.add_argument("--logits", required=True)
    tl.add_argument("--head", choices=("lm", "cls"), default="lm")
    tl.add_argument("--tol", type=float, default=1e-4)
    ts = sub.add_parser("transformers-save", help="save_pretrained a random transformers GPT-2 and write its logits")
    ts.add_argument("dir")
    ts.add_argument("--out", required=True)
    ts.add_argument("--head", choices=("lm", "cls"), default="lm")
    ts.add_argument("--num-labels", type=int, default=3)
    add_size_args(ts, batch=3)
    tt = sub.add_parser("transformers-tokenizer", help="encode texts with transformers' GPT2TokenizerFast from Tessera's tokenizer files")
    tt.add_argument("dir")
    tt.add_argument("--ids", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    commands = {"check": cmd_check, "write": cmd_write, "transformers-load": cmd_transformers_load, "transformers-save": cmd_transformers_save, "transformers-tokenizer": cmd_transformers_tokenizer}
    try:
        return commands[args.cmd](args)
    except CheckError as e:
        print(f"FAIL: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
