"""Tokenization statistics of the cpu_lab arms' 1,500 examples with the tokenizer of the checkout it
runs in: tokens per example; how many distinct phrases end in the space before a number (swallowing
it) and for how many numbers; the share of numbers whose first token carries that space.

    cd <checkout> && python docs/results/journey-tokenizer/tokens.py store.db phrases words
"""
import collections
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.getcwd())
from training.student import build_tokenizer
db = sqlite3.connect(sys.argv[1])
for kind in ("shortcut", "journey", "stream"):
    ex = []
    for (m,) in db.execute("select messages from trajectories where kind=? order by id", (kind,)):
        m = json.loads(m); ex.append((m[0]["content"].split("\n\n")[-1], m[1]["content"]))
    for tk in sys.argv[2:]:
        tok = build_tokenizer([p for p, c in ex] + [c for p, c in ex], tk, 1024)
        before = collections.Counter(); spaced = collections.Counter(); n_tok = 0
        for p, c in ex:
            pieces = tok.convert_ids_to_tokens(tok(p + c, add_special_tokens=False)["input_ids"])
            n_tok += len(pieces)
            for a, b in zip(pieces, pieces[1:]):
                if b[-1].isdigit() and not a[-1].isdigit():   # b is a number's first digit
                    if a.endswith(" ") and len(a) > 1:
                        before[a] += 1                   # the space before it fused into a phrase
                    spaced[b.startswith(" ")] += 1
        print(f"{kind:8} {tk:8} vocab {len(tok):4}  tokens/example {n_tok / len(ex):6.1f}  "
              f"phrases that swallow a number's space {len(before):3} ({sum(before.values())} numbers)  "
              f"numbers whose first token carries the space {spaced[True] / sum(spaced.values()):.0%}")
