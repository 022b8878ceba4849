"""Seconds to decontaminate 100,000 training problems against 10,000 benchmark problems.

The issue's budget is one minute on the project's 2 cores. Problems are GSM8K-length word problems
(about 40 words) drawn from a seeded vocabulary of about 4,000 words; 1% of the training problems are benchmark problems
with one sentence changed (found by an n-gram) and 1% exact copies in other case and punctuation, so the
lookups that hit are timed too. The training problems are compared by text, as a math task's are;
Countdown's canonical forms are one dict lookup each. Prints the split (building the reference index,
checking the training problems), what was found, and last `seconds=<x>` and `budget_ratio=<x>` (the time
over the 60 s budget; under 1 passes).

    .venv/bin/python benchmarks/decontamination.py
    .venv/bin/python benchmarks/decontamination.py --train 100000 --reference 10000 --ngram 13
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from traces.decontamination import DEFAULT_NGRAM, Reference, ReferenceIndex, find_contaminated  # noqa: E402

BUDGET_S = 60.0
# A vocabulary of about 3,000 words, as in grade-school word problems' prose.
VOCABULARY = [a + b for a in ("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu ha he "
                              "hi ho hu la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu").split()
              for b in ("r n s t l m k d p g x z rt nd st ll mp nk sh ch th ng rd lt rk ft pt").split()]
VOCABULARY = [w + e for w in VOCABULARY for e in ("", "s", "er", "ed")]


def problem(rng: random.Random) -> str:
    """A GSM8K-length word problem: five sentences of words and numbers, then a question."""
    sentences = []
    for _ in range(5):
        words = rng.sample(VOCABULARY, 6)
        sentences.append(f"{words[0].title()} {words[1]} {rng.randint(2, 999)} {' '.join(words[2:])}.")
    return " ".join(sentences) + " How many are left?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--reference", type=int, default=10_000)
    parser.add_argument("--ngram", type=int, default=DEFAULT_NGRAM)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    references = [Reference("bench", f"b{i}", problem(rng)) for i in range(args.reference)]
    training = [(f"t{i}", problem(rng), None) for i in range(args.train)]
    planted = max(1, args.train // 100)
    for i in range(planted):   # a benchmark problem with its last sentence replaced: an n-gram match
        text = references[i].text
        training[2 * i] = (training[2 * i][0], text[: text.rfind(".")] + ". What is the total?", None)
        copy = references[planted + i].text.upper().replace(".", " ;")   # the same words: an exact match
        training[2 * i + 1] = (training[2 * i + 1][0], copy, None)
    t0 = time.perf_counter()
    index = ReferenceIndex(references, args.ngram)
    t1 = time.perf_counter()
    found = find_contaminated(training, index)
    t2 = time.perf_counter()
    hows: dict[str, int] = {}
    for match in found.values():
        hows[match.how] = hows.get(match.how, 0) + 1
    seconds = t2 - t0
    print(f"{args.train:,} training problems against {args.reference:,} references, {args.ngram}-grams: "
          f"index {t1 - t0:.2f} s ({len(index.grams):,} n-grams), check {t2 - t1:.2f} s")
    print(f"found {len(found):,} contaminated ({', '.join(f'{k}: {v}' for k, v in sorted(hows.items()))}); "
          f"planted {2 * planted:,}")
    print(f"seconds={seconds:.2f}")
    print(f"budget_ratio={seconds / BUDGET_S:.3f}")


if __name__ == "__main__":
    main()
