"""Writes test/fixtures/hf-tiny-gpt2/: a tiny random-init GPT-2 saved by Hugging Face
`transformers` in its own `save_pretrained` layout, a byte-level BPE tokenizer trained by
`tokenizers` and saved by `GPT2TokenizerFast.save_pretrained`, and what PyTorch computed
for fixed prompts (token ids, float32 logits, greedy tokens with the KV cache).

The fixture is committed, so test/hf-fixture.test.ts compares Tessera against transformers
on every machine; rerun this script (python3 with torch, transformers, tokenizers,
safetensors) only to regenerate it:

    python3 packages/models/scripts/make_hf_fixture.py
"""

import json
import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'hf-tiny-gpt2')

# Training text for the tokenizer: ASCII prose plus accents, CJK and emoji, so merges
# cover multi-byte characters and the byte fallback is exercised by unseen ones.
CORPUS = [
    'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse,',
    'and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
    "It's a way I have of driving off the spleen and regulating the circulation. Whenever I find myself growing grim about the mouth;",
    'Café, naïve, façade — déjà vu. 東京の鯨は大きい。 Whales 🐋 and ships ⛵ in 1851.',
    "  leading spaces, tabs\tand\nnew lines; numbers 3.14159 and 2,718; don't won't I'm you're.",
] * 20

PROMPTS = [
    'Call me Ishmael.',
    'The whale 🐋 swims past the café',
    "  Whenever I find myself growing grim, I don't",
    '東京の鯨',
]
NEW_TOKENS = 16
# Init weights are N(0, 0.02); scaled up so logits spread out and greedy steps do not tie.
SCALE = float(os.environ.get('FIXTURE_SCALE', '3.0'))
# A greedy step whose two best logits differ by less than this could flip on float rounding:
# the script refuses such a fixture rather than commit a flaky check.
MIN_MARGIN = 2e-3


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=int(os.environ.get("FIXTURE_VOCAB", "600")), special_tokens=['<|endoftext|>'],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token='<|endoftext|>', eos_token='<|endoftext|>', unk_token='<|endoftext|>')


def main():
    torch.manual_seed(0)
    tok = tokenizer()
    config = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.mul_(SCALE)

    shutil.rmtree(OUT, ignore_errors=True)
    model.save_pretrained(OUT)
    tok.save_pretrained(OUT)

    ref = {'prompts': [], 'newTokens': NEW_TOKENS, 'torch': torch.__version__}
    tensors = {}
    with torch.no_grad():
        for i, text in enumerate(PROMPTS):
            ids = tok(text)['input_ids']
            logits = model(torch.tensor([ids])).logits[0]
            tensors[f'logits.{i}'] = logits.contiguous()
            out = model.generate(torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False,
                                 eos_token_id=None, pad_token_id=tok.eos_token_id,
                                 output_logits=True, return_dict_in_generate=True)
            margin = float('inf')
            for step_logits in out.logits:
                top = torch.topk(step_logits[0], 2).values
                margin = min(margin, float(top[0] - top[1]))
            if margin < MIN_MARGIN:
                sys.exit(f'prompt {i}: greedy margin {margin} < {MIN_MARGIN}; change the seed or the scale')
            greedy = out.sequences[0, len(ids):].tolist()
            # What a cached decode must produce step by step: the full forward over the prompt
            # and the greedy tokens (but the last), from the last prompt position on: [NEW_TOKENS, V].
            full = model(out.sequences[:, :-1]).logits[0]
            tensors[f'decodeLogits.{i}'] = full[len(ids) - 1:].contiguous()
            ref['prompts'].append({'text': text, 'ids': ids, 'greedy': greedy, 'greedyMargin': margin,
                                   'decoded': tok.decode(ids)})
    save_file(tensors, os.path.join(OUT, 'reference.safetensors'))
    with open(os.path.join(OUT, 'reference.json'), 'w', encoding='utf-8') as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)
        f.write('\n')
    print(f'wrote {OUT}: vocab {len(tok)}, {sum(p.numel() for p in model.parameters())} parameters')


if __name__ == '__main__':
    main()
