"""Do the dfs students ever backtrack when sampled? Samples each held-out puzzle's answer at a
temperature from a trained student and counts, with check_evals.py's replay, the failure / undo lines
and the legal placements it writes (greedy answers never hold one).

    python docs/results/sudoku-lab/sample_dfs.py store.db models/dfs-s0 [n_puzzles] [temperature]
"""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from check_evals import replay, solved  # noqa: E402


def main(store: str, model_dir: str, n: str = "100", temperature: str = "1.0") -> None:
    torch.manual_seed(0)
    db = sqlite3.connect(store)
    puzzles = [json.loads(p)["puzzle"] for (p,) in
               db.execute("select payload from problems where split='test' order by id limit ?", (int(n),))]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    undo_answers = undos = legal = total = ok = 0
    for puzzle in puzzles:
        size = int(round(len(puzzle) ** 0.5))
        rows = "\n".join(puzzle[r * size:(r + 1) * size] for r in range(size))
        prompt = f"Sudoku {size}x{size}:\n{rows}\n<think>\n"
        ids = tok(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, do_sample=True, temperature=float(temperature), max_new_tokens=300,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        a, b, u = replay(puzzle, text)
        legal, total, undos = legal + a, total + b, undos + u
        undo_answers += u > 0
        tail = text.split("<answer>")[-1].split("</answer>")[0] if "</answer>" in text else ""
        ok += solved(puzzle, "".join(tail.split()))
    print(f"{model_dir} T={temperature}: {len(puzzles)} puzzles, solved {ok}, answers with an undo line "
          f"{undo_answers}, undo lines {undos}, legal placements {legal}/{total} = {100 * legal / max(total, 1):.1f}%")


if __name__ == "__main__":
    main(*sys.argv[1:])
