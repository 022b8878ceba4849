"""Decontamination: training problems compared with held-out problems and benchmark sets.

A training problem is contaminated when it matches a reference problem (the run's held-out problems, a
bundled benchmark, a file the user names) by
- its canonical form, for tasks that have one (`Task.canonical_form`, e.g. a multiset of numbers and
  a target): such a form says everything about the problem, so text similarity would miss a
  reordering and flag unrelated problems that share a template;
- otherwise its text: an exact match after normalisation (NFKC, lower case, punctuation and LaTeX
  markup to spaces, whitespace collapsed), or one shared word n-gram of the normalised text.

n defaults to 13, as GPT-3's and the Tulu/OLMo decontamination tools use (Open-R1's script uses 8).
Measured on the bundled files: of GSM8K's 7,473 training questions, 94 share an 8-gram with a GSM8K
test or MATH-500 question, 11 a 10-gram and 4 a 13-gram. The 8-gram hits are mostly stock phrases
("how much money will she have left over after she buys ..."), which would leave out 1.3% of a clean
training set; the 13-gram hits are templated variants of a test question (the same stamps problem with
other names and numbers). `export.decontaminate_ngram=8` is the stricter check.
A text shorter than n words is compared whole (its exact match).

Reference n-grams are hashed into one dict (hash of the n-gram tuple -> the reference), so checking a
training problem costs its own n-grams' lookups, never a comparison with every reference problem:
100,000 problems against 10,000 take about 12 s on the 2 shared cores (benchmarks/decontamination.py).
"""
from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_NGRAM = 13
# Words are runs of letters and digits; everything else (punctuation, LaTeX's `\frac{`, `$`) separates.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Fields that hold a problem's text in the layouts the task loaders read (GSM8K, MATH, generic), in order.
TEXT_FIELDS = ("question", "problem", "prompt", "input", "text", "query")

HELD_OUT = "held-out"


class BenchmarkFileError(ValueError):
    """A file named in `export.decontaminate_against` cannot be used; the message names it."""


@dataclass(frozen=True)
class Reference:
    """A problem training problems must not match: where it comes from (`source`: `held-out`, a
    benchmark's name or a file's name), its key there, its text and its canonical form (None: text only)."""

    source: str
    key: str
    text: str
    canonical: str | None = None


@dataclass(frozen=True)
class Match:
    """What a contaminated training problem matched: the reference's source and key, and how
    (`canonical`, `exact` or `ngram`)."""

    source: str
    matched: str
    how: str


def normalise(text: str) -> list[str]:
    """The words of `text` as every comparison sees them: NFKC, lower case, letters and digits only."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def ngram_hashes(words: list[str], n: int) -> set[int]:
    """Hashes of every word n-gram of `words`; a text shorter than `n` words is one gram, itself."""
    if len(words) < n:
        return {hash(tuple(words))} if words else set()
    return {hash(tuple(words[i:i + n])) for i in range(len(words) - n + 1)}


class ReferenceIndex:
    """Every reference problem's canonical form, normalised text and n-gram hashes, for lookups."""

    def __init__(self, references: Iterable[Reference], n: int = DEFAULT_NGRAM) -> None:
        if n < 1:
            raise ValueError(f"export.decontaminate_ngram must be at least 1, got {n!r}")
        self.n = n
        self.canonical: dict[str, Reference] = {}
        self.exact: dict[str, Reference] = {}
        self.grams: dict[int, Reference] = {}
        self.sources: dict[str, int] = {}
        for ref in references:
            self.sources[ref.source] = self.sources.get(ref.source, 0) + 1
            if ref.canonical is not None:
                self.canonical.setdefault(ref.canonical, ref)
            words = normalise(ref.text) if ref.text else []
            if not words:
                continue
            self.exact.setdefault(" ".join(words), ref)
            for gram in ngram_hashes(words, n):
                self.grams.setdefault(gram, ref)

    def match(self, text: str, canonical: str | None = None) -> Match | None:
        """The first reference a problem matches: by canonical form when it has one, else by its text."""
        if canonical is not None:
            ref = self.canonical.get(canonical)
            return Match(ref.source, ref.key, "canonical") if ref else None
        words = normalise(text)
        ref = self.exact.get(" ".join(words))
        if ref is not None:
            return Match(ref.source, ref.key, "exact")
        grams = self.grams
        n = self.n
        if len(words) < n:   # compared whole: the exact match above
            return None
        for i in range(len(words) - n + 1):
            ref = grams.get(hash(tuple(words[i:i + n])))
            if ref is not None:
                return Match(ref.source, ref.key, "ngram")
        return None


def find_contaminated(training: Iterable[tuple[str, str, str | None]], index: ReferenceIndex) -> dict[str, Match]:
    """{training key: what it matched} for the (key, text, canonical form) problems that match a reference."""
    found: dict[str, Match] = {}
    for key, text, canonical in training:
        hit = index.match(text, canonical)
        if hit is not None:
            found[key] = hit
    return found


def _text_of(record: Any) -> str | None:
    if isinstance(record, str):
        return record
    if isinstance(record, dict):
        for name in TEXT_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and value.strip():
                return value
    return None


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) of a jsonl/parquet/csv file, or (where, line) of a plain text file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".parquet", ".pq"):
        from search.tasks.rows import ProblemFileError, read_records

        try:
            for where, record in read_records(path):
                if isinstance(record, ProblemFileError):
                    raise record
                yield where, record
        except ProblemFileError as err:
            raise BenchmarkFileError(f"export.decontaminate_against: {err}") from None
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield f"{path} line {number}", row
    else:   # plain text: one problem per line
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield f"{path} line {number}", line.strip()


def read_references(path: str | Path, canonical_form=None, source: str | None = None) -> list[Reference]:
    """The problems of a benchmark file: `.jsonl`/`.parquet` (as the task loaders read them), `.csv`
    (with a header) or plain text (one problem per line). A row's text is its first field of
    `TEXT_FIELDS`; `canonical_form(record)` gives its canonical form (None: text only). A file that
    does not exist, cannot be read, or holds no usable problem is one BenchmarkFileError naming it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchmarkFileError(f"export.decontaminate_against: {path}: no such file")
    name = source or path.name
    refs: list[Reference] = []
    try:
        for where, record in _records(path):
            canonical = canonical_form(record) if canonical_form and isinstance(record, dict) else None
            text = _text_of(record)
            if text is None and canonical is None:
                continue
            refs.append(Reference(name, where.removeprefix(f"{path} "), text or "", canonical))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise BenchmarkFileError(f"export.decontaminate_against: {path}: cannot be read "
                                 f"({' '.join(str(err).split())[:160]})") from None
    if not refs:
        raise BenchmarkFileError(f"export.decontaminate_against: {path}: no problem in it (no row with a "
                                 f"text field {', '.join(TEXT_FIELDS)} or the task's canonical fields)")
    return refs


__all__ = ["DEFAULT_NGRAM", "HELD_OUT", "BenchmarkFileError", "Match", "Reference", "ReferenceIndex",
           "find_contaminated", "ngram_hashes", "normalise", "read_references"]
