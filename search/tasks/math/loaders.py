"""Math problems from JSONL or Parquet files: GSM8K, MATH / MATH-500, or any question/answer layout.

Rows are read through `search.tasks.rows`, so a bad row is one error naming the file, line and
field (or, with `skip_bad_rows`, is skipped and counted). A file's layout is `task.layout`, or
(`auto`) the one its rows fit, decided from every row: a file that mixes layouts is an error at the
first row that does not fit the rest, since reading it by its first row alone kept GSM8K's
`2+2=4 #### 4` as a gold answer. A gold answer math-verify cannot read as math is a bad row too.
Problems used for trees (split `train`) never appear in the test split: with two files, train rows
whose question (normalised) is also a test question are dropped; with one, a seeded hash of the
question decides the split.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from search.tasks.base import Problem
from search.tasks.math.answers import last_boxed
from search.tasks.math.settings import MathConfig
from search.tasks.math.verifier import gold_problems
from search.tasks.rows import DuplicateRows, LoadedRows, ProblemFileError, check_not_empty, is_int, load_rows, read_records, show

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED = {"gsm8k_train": "gsm8k_train.jsonl", "gsm8k_test": "gsm8k_test.jsonl", "math500": "math500_test.jsonl"}
MATH_EXTRAS = ("subject", "level", "unique_id")
_GSM8K_GOLD = re.compile(r"-?\d+(?:\.\d+)?")
_WHERE_INDEX = re.compile(r"(line|row) (\d+)$")
GOLD_CHUNK = 256   # gold answers sent to the verifier pool at once


@dataclass
class MathRow:
    """One validated row."""

    key: str
    question: str
    answer: str
    solution: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)   # MATH's subject, level, unique_id
    where: str = ""
    gold_field: str = "answer"    # the field the gold answer was read from, for messages


def resolve_path(value: str, option: str) -> Path:
    """The file a `task.train_path` / `task.test_path` value names: a bundled name or a real path."""
    if value in BUNDLED:
        return DATA_DIR / BUNDLED[value]
    path = Path(value).expanduser()
    if not path.is_file():
        raise ProblemFileError(f"task.{option}: {value}: no such file (give a .jsonl or .parquet path, "
                               f"or one of the bundled files {', '.join(BUNDLED)})")
    return path


def detect_layout(record: Any) -> str:
    """The layout one row's fields fit: `math` (a `problem` field), `gsm8k` (`question` and an
    `answer` with `####`) or `generic`."""
    if isinstance(record, dict):
        if "problem" in record:
            return "math"
        if "question" in record and isinstance(record.get("answer"), str) and "####" in record["answer"]:
            return "gsm8k"
    return "generic"


LAYOUT_NAMES = {"gsm8k": "GSM8K rows (question, answer ending in '#### n')",
                "math": "MATH rows (problem, solution, answer)",
                "generic": "plain question/answer rows"}


def file_layout(records: list[tuple[str, Any]]) -> tuple[str, Counter]:
    """The layout most rows of a file fit (ties: the first row's), and how many rows fit each."""
    counts = Counter(detect_layout(r) for _, r in records if isinstance(r, dict))
    return (counts.most_common(1)[0][0] if counts else "generic"), counts


def _mixed(record: dict, where: str, layout: str, counts: Counter, split: str, cfg: MathConfig) -> ProblemFileError:
    """The error of a row that does not fit `layout`, the layout of most of its file: which field
    says so, how many rows are of each layout, and how to go on."""
    own = detect_layout(record)
    if own == "math":
        what = "field 'problem' makes it a MATH row"
    elif own == "gsm8k":
        what = "field 'answer' ends in a GSM8K '#### n' final answer"
    else:
        try:
            VALIDATORS[layout](record, where, split, cfg)
            what = "it does not fit"   # not reached: a row that passes is of that layout
        except ProblemFileError as err:
            what = str(err).removeprefix(f"{where}: ")
    total = sum(counts.values())
    return ProblemFileError(
        f"{where}: {what}, but {counts[layout]:,} of the file's {total:,} rows are {LAYOUT_NAMES[layout]}; "
        f"fix the row, or set task.layout=<gsm8k|math|generic> (task.skip_bad_rows=true skips the rows "
        f"of other layouts)")


def normalize_question(text: str) -> str:
    """A question for comparisons across files: lower case, whitespace collapsed."""
    return " ".join(text.lower().split())


def _index(where: str) -> int:
    """0-based row index of a `where` ("f.jsonl line 3" -> 2, "f.parquet row 0" -> 0)."""
    m = _WHERE_INDEX.search(where)
    if not m:
        return 0
    return int(m.group(2)) - (1 if m.group(1) == "line" else 0)


def _text(row: dict, name: str, where: str, required: bool = True) -> str | None:
    """A non-empty string field; numbers are accepted as their text (some files store answers as numbers)."""
    value = row.get(name)
    if value is None:
        if required:
            raise ProblemFileError(f"{where}: field {name!r} is missing")
        return None
    if (is_int(value) or isinstance(value, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ProblemFileError(f"{where}: field {name!r} must be a non-empty string, got {show(value)}")
    return value


def _gsm8k(row: dict, where: str, split: str, cfg: MathConfig) -> MathRow:
    question, answer = _text(row, "question", where), _text(row, "answer", where)
    reasoning, hashes, gold = answer.rpartition("####")
    if not hashes:
        raise ProblemFileError(f"{where}: field 'answer' has no '#### <number>' final answer, got {show(answer)}")
    gold = gold.strip().replace(",", "")
    if not _GSM8K_GOLD.fullmatch(gold):
        raise ProblemFileError(f"{where}: field 'answer': the text after '####' must be a number, got {show(gold)}")
    return MathRow(key=f"{split}/{_index(where)}", question=question.strip(), answer=gold,
                   solution=reasoning.strip() or None, where=where)


def _math(row: dict, where: str, split: str, cfg: MathConfig) -> MathRow:
    question, solution = _text(row, "problem", where), _text(row, "solution", where)
    answer = _text(row, "answer", where, required=False)
    gold_field = "answer"
    if answer is None:   # the original MATH files have no `answer`: it is the solution's last box
        answer, gold_field = last_boxed(solution), "solution"
        if not answer:
            raise ProblemFileError(f"{where}: field 'answer' is missing and field 'solution' has no \\boxed{{}} answer")
    extra = {k: row[k] for k in MATH_EXTRAS if row.get(k) is not None}
    ident = extra.get("unique_id")
    if ident is not None and not isinstance(ident, (str, int)):
        raise ProblemFileError(f"{where}: field 'unique_id' must be a string, got {show(ident)}")
    key = str(ident) if ident is not None else f"{split}/{_index(where)}"
    return MathRow(key=key, question=question.strip(), answer=answer.strip(), solution=solution.strip(),
                   extra=extra, where=where, gold_field=gold_field)


def _generic(row: dict, where: str, split: str, cfg: MathConfig) -> MathRow:
    question = _text(row, cfg.question_field, where)
    answer = _text(row, cfg.answer_field, where)
    solution = _text(row, cfg.solution_field, where, required=False) if cfg.solution_field else None
    key = f"{split}/{_index(where)}"
    if cfg.id_field:
        ident = row.get(cfg.id_field)
        if not (isinstance(ident, str) and ident.strip()) and not is_int(ident):
            raise ProblemFileError(f"{where}: field {cfg.id_field!r} must be a non-empty string or an integer, got {show(ident)}")
        key = str(ident)
    return MathRow(key=key, question=question.strip(), answer=answer.strip(),
                   solution=solution.strip() if solution else None, where=where, gold_field=cfg.answer_field)


VALIDATORS: dict[str, Callable[[dict, str, str, MathConfig], MathRow]] = {
    "gsm8k": _gsm8k, "math": _math, "generic": _generic,
}


def load_math_file(path: str | Path, split: str, cfg: MathConfig, skipped: list[str] | None = None) -> list[MathRow]:
    """Validated rows of one file in `cfg.layout` (`auto`: the layout the file's rows fit, see the
    module docstring), each with a gold answer math-verify can read. Rows skipped as bad
    (`cfg.skip_bad_rows`) are appended to `skipped`."""
    path = Path(path)
    records = list(read_records(path))
    layout, counts = (cfg.layout, Counter()) if cfg.layout != "auto" else file_layout(records)

    def validate(record: Any, where: str) -> MathRow:
        if not isinstance(record, dict):
            raise ProblemFileError(f"{where}: expected an object with the problem's fields, got {show(record)}")
        if cfg.layout == "auto" and detect_layout(record) != layout:
            raise _mixed(record, where, layout, counts, split, cfg)
        return VALIDATORS[layout](record, where, split, cfg)

    loaded = load_rows(path, validate, cfg.skip_bad_rows, records)
    loaded = _readable_golds(loaded, cfg)
    if skipped is not None:
        skipped.extend(loaded.skipped)
    return loaded.rows


def _readable_golds(loaded: LoadedRows[MathRow], cfg: MathConfig) -> LoadedRows[MathRow]:
    """`loaded` without the rows whose gold answer math-verify cannot read; the first such row is an
    error unless `cfg.skip_bad_rows`. Checked after every row's fields, in one batch to the pool."""
    kept = LoadedRows(path=loaded.path, rows=[], skipped=list(loaded.skipped))
    bad = []
    # In chunks, so that without `skip_bad_rows` a file of slow golds stops at its first bad one.
    for start in range(0, len(loaded.rows), GOLD_CHUNK):
        chunk = loaded.rows[start:start + GOLD_CHUNK]
        for row, why in zip(chunk, gold_problems([r.answer for r in chunk])):
            if why is None:
                kept.rows.append(row)
                continue
            source = "its last \\boxed{} answer" if row.gold_field == "solution" else "the gold answer"
            bad.append(f"{row.where}: field {row.gold_field!r}: {source} {show(row.answer)} is not usable: {why}")
        if bad and not cfg.skip_bad_rows:
            raise ProblemFileError(bad[0])
    if bad:
        log.warning("%s: skipped %d rows whose gold answer math-verify cannot read (first: %s)",
                    loaded.path, len(bad), bad[0])
    kept.skipped.extend(bad)
    check_not_empty(kept)
    return kept


def _held_out(question: str, seed: int, test_fraction: float) -> bool:
    digest = hashlib.sha256(f"math-split:{seed}:{normalize_question(question)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def select_rows(rows: list[MathRow], n: int | None, how: str, seed: int) -> list[MathRow]:
    """`n` rows (None: all): file order, shortest first, or a seeded sample.

    "Shortest" is the question plus the gold solution, in characters: a short solution alone picks
    GSM8K's terse chained-percentage rows (`Bucks:50(.50)=25`), on which the 135M default got 0 of
    32 few-shot samples right on either split; short problems with short solutions are what it can read.
    """
    if how == "shortest":   # sorted() is stable: file order breaks ties
        rows = sorted(rows, key=lambda r: len(r.question) + len(r.solution or ""))
    elif how == "random":
        rows = random.Random(f"math-select:{seed}").sample(rows, len(rows))
    return rows if n is None else rows[:n]


def merge_repeats(rows: list[MathRow], duplicates: DuplicateRows | None,
                  held_out: dict[str, MathRow] | None = None) -> list[MathRow]:
    """`rows` without those whose question (normalised) an earlier row, or a held-out row of
    `held_out` (by normalised question), already asks; each one left out is counted in `duplicates`."""
    first: dict[str, MathRow] = {}
    kept = []
    for row in rows:
        question = normalize_question(row.question)
        earlier, held = (held_out or {}).get(question), True
        if earlier is None:
            earlier, held = first.get(question), False
        if earlier is not None:
            if duplicates is not None:
                duplicates.add(earlier.key, earlier.where, row.where, held)
            continue
        first[question] = row
        kept.append(row)
    return kept


def load_problems(cfg: MathConfig, skipped: list[str] | None = None,
                  duplicates: DuplicateRows | None = None) -> list[Problem]:
    """The configured train and test problems (train first), keys unique within the dataset. Rows
    skipped as bad (`cfg.skip_bad_rows`) are appended to `skipped`; rows that repeat a question are
    merged into its first row and counted in `duplicates` (a training row that asks a test question
    is left out: the problem stays held out)."""
    train = load_math_file(resolve_path(cfg.train_path, "train_path"), "train", cfg, skipped)
    if cfg.test_path is None:
        test = [r for r in train if _held_out(r.question, cfg.seed, cfg.test_fraction)]
        held = {id(r) for r in test}
        train = [r for r in train if id(r) not in held]
        test = merge_repeats(test, duplicates)
        train = merge_repeats(train, duplicates)
    else:
        test = merge_repeats(load_math_file(resolve_path(cfg.test_path, "test_path"), "test", cfg, skipped),
                             duplicates)
        kept = merge_repeats(train, duplicates, {normalize_question(r.question): r for r in test})
        if not kept and cfg.n_train != 0:   # e.g. the same file twice: a run of 0 trees
            raise ProblemFileError(f"task.train_path: every one of its {len(train):,} questions is also in "
                                   f"task.test_path ({cfg.test_path}), and test problems never grow trees; "
                                   "give a different train file, or task.test_path=null to hold out a share of it")
        if len(kept) < len(train):
            log.warning("left out %d train rows that repeat a test question or an earlier train question",
                        len(train) - len(kept))
        train = kept
    problems: list[Problem] = []
    seen: set[str] = set()
    for split, rows, n in (("train", train, cfg.n_train), ("test", test, cfg.n_test)):
        unique = []
        for row in rows:
            if row.key in seen:
                log.warning("%s: key %r is already taken; the row is dropped", row.where, row.key)
                continue
            seen.add(row.key)
            unique.append(row)
        for row in select_rows(unique, n, cfg.select, cfg.seed):
            payload = {"question": row.question, "solution": row.solution, **row.extra}
            problems.append(Problem(key=row.key, payload=payload, answer=row.answer, split=split, dataset=cfg.dataset))
    return problems
