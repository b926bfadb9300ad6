"""Loads a structurally pruned Tessera GPT-2 directory with transformers and prints its logits.

    python hf_prune_check.py DIR IDS_JSON [--head lm|cls]

`from_pretrained(DIR, output_loading_info=True)` of GPT2LMHeadModel (or
GPT2ForSequenceClassification with --head cls) must report no missing, unexpected or
mismatched key; the last line printed is
`RESULT {"version", "pruneHeads" (whether this transformers applies config.pruned_heads),
"heads" (per layer, as loaded), "n_inner", "logits" (flat, float32)}`.

Head-pruned directories need a transformers that still has `GPT2Attention.prune_heads`
(4.x: it prunes c_attn / c_proj as config.pruned_heads says before the weights load);
transformers 5 removed head pruning, and refuses such a directory (exit status 3).
Neuron-pruned directories (a smaller n_inner) load in every version.
"""

import json
import sys

import torch
import transformers
from transformers import GPT2ForSequenceClassification, GPT2LMHeadModel
from transformers.models.gpt2 import modeling_gpt2


def main():
    d, ids_json = sys.argv[1], sys.argv[2]
    head = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--head" else "lm"
    ids = torch.tensor(json.loads(ids_json), dtype=torch.long)
    with open(f"{d}/config.json") as f:
        cfg = json.load(f)
    prune_heads = hasattr(modeling_gpt2.GPT2Attention, "prune_heads")
    if cfg.get("pruned_heads") and not prune_heads:
        print(f"transformers {transformers.__version__} has no GPT2Attention.prune_heads; it cannot load a head-pruned GPT-2", file=sys.stderr)
        sys.exit(3)
    cls = GPT2ForSequenceClassification if head == "cls" else GPT2LMHeadModel
    model, info = cls.from_pretrained(d, output_loading_info=True, torch_dtype=torch.float32)
    bad = {k: [str(x) for x in v] for k, v in info.items() if v and k != "error_msgs"}
    if bad or info.get("error_msgs"):
        print(f"loading info: {info}", file=sys.stderr)
        sys.exit(2)
    model.eval()
    with torch.no_grad():
        logits = model(ids).logits.float()
    heads = [blk.attn.num_heads for blk in model.transformer.h]
    out = {
        "version": transformers.__version__,
        "pruneHeads": prune_heads,
        "heads": heads,
        "n_inner": model.transformer.h[0].mlp.c_fc.weight.shape[1],
        "logits": [float(x) for x in logits.reshape(-1).tolist()],
    }
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
