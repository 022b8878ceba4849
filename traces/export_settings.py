"""The export's settings (Hydra group `export`): one typed object, built once, with the only defaults;
and the verl reward it writes, which the rl stage's settings decide."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traces.label_sources import check_label_source

# The benchmark sets journeyforge ships (traces/export_checks.py reads them).
BUNDLED_BENCHMARKS = ("gsm8k_test", "math500")

STEP_TREES = ("solved", "all")


@dataclass
class ExportSettings:
    """The export stage (Hydra group `export`): Hugging Face datasets on disk plus a dataset card."""

    dir: str = "outputs/datasets"
    """Directory of the datasets (sft/<kind>, stepwise, preference) and the README.md card."""
    test_fraction: float = 0.2
    """Share of problems in the test split (split by problem, never by row)."""
    push_to_hub: str | None = None
    """A Hub repo id to upload the same configurations to; null: no upload."""
    seed: int = 0
    """Seeds the problem split."""
    correct_only: bool = True
    """Drop trajectories whose final answer fails the verifier."""
    preference_margin: float = 0.5
    """With Monte-Carlo values: the least value difference between two sibling steps that makes a
    preference pair (rStar-Math's step pairs use 0.5)."""
    prm_placeholder: str = "auto"
    """The step placeholder in `prm_openrlhf`'s `input` (OpenRLHF's `--placeholder_token`), which must be
    one token of the PRM's tokenizer (OpenRLHF adds none). `auto`: Math-Shepherd's `ки` where that is one
    token, else the tokenizer's first unused special token; a token given here is checked the same way
    (one id alone and after a space, an embedding row, in no question or step of the export); `none`:
    no `prm_openrlhf` (a student's small vocabulary has no token to spare)."""
    prm_model: str | None = None
    """The model (folder or hub id) whose tokenizer the PRM will be trained with, for that check; null:
    the run's policy (`policy.tokenizer`, else `policy.model`), and none for a policy without a model
    (the placeholder is then `ки`, unchecked, and the card says so)."""

    decontaminate_against: list[str] = field(default_factory=list)
    """Files of problems no training problem may match, besides the run's held-out problems and the
    bundled benchmarks: `.jsonl`/`.parquet` (as the task loaders read them: a text field such as
    `question` or `problem`, or the task's own payload fields), `.csv` with
    a header, or plain text with one problem per line. Each is named by its file name in the card."""
    decontaminate_benchmarks: list[str] = field(default_factory=lambda: list(BUNDLED_BENCHMARKS))
    """The bundled benchmark sets training problems are checked against (GSM8K's test split, MATH-500);
    [] checks none. A task with a canonical form (`Task.canonical_form`) compares that form, so text benchmarks
    never match its problems."""
    decontaminate_ngram: int = 13
    """Word n-gram size of the text comparison (13, as GPT-3's and OLMo's; Open-R1 uses 8): a training
    problem sharing one n-gram of its normalised words with a reference is contaminated. On the bundled
    GSM8K train questions 8-grams flag 94 of 7,473 (stock phrases), 13-grams 4 (templated variants of test
    questions): traces/decontamination.py."""
    keep_contaminated: bool = False
    """Keep contaminated training problems in the training splits (they are still counted in the
    summary, `export.json`, the card and the `contaminated_problems` view); false leaves them out."""
    label_source: str = "mc"
    """Which step labels the `stepwise` configuration (and the PRM formats made from it) carries
    (traces/label_sources.py): `mc` (the labels the search stored: Monte-Carlo rollouts, else the task's
    own), `oracle` (the task's exact oracle), `judge` (the `journeyforge label` run of this name) or
    `consensus` (MC and the judge agree; a path is cut before its first step where they do not, Qwen's
    PRM lessons). Every source's labels are kept beside them in `mc_labels`, `oracle_labels`, `judge_labels`."""

    step_trees: str = "solved"
    """Which trees the `stepwise` rows (and the PRM formats and `preference` pairs made from the trees)
    come from: `solved` (the trees the exported trajectories came from) or `all` (every finished tree of
    the explore run, unsolved ones too: their paths end in mistakes, the negatives Math-Shepherd's PRM
    learns from; a policy that solves few trees leaves most of its own mistakes in those)."""

    def validate(self) -> None:
        check_label_source(self.label_source, "export.label_source")
        if self.step_trees not in STEP_TREES:
            raise ValueError(f"export.step_trees={self.step_trees!r}: choose one of {', '.join(STEP_TREES)}")
        if isinstance(self.decontaminate_ngram, bool) or not isinstance(self.decontaminate_ngram, int) \
                or self.decontaminate_ngram < 1:
            raise ValueError(f"export.decontaminate_ngram must be an integer of at least 1, got "
                             f"{self.decontaminate_ngram!r}")
        for path in self.decontaminate_against:   # read in full before the export writes (export_checks.py)
            if not Path(path).expanduser().is_file():
                raise ValueError(f"export.decontaminate_against: {path}: no such file")
        unknown = sorted(set(self.decontaminate_benchmarks) - set(BUNDLED_BENCHMARKS))
        if unknown:
            raise ValueError(f"export.decontaminate_benchmarks: unknown benchmark {unknown[0]!r}; the bundled ones "
                             f"are {', '.join(BUNDLED_BENCHMARKS)}")
        if not 0.0 <= self.preference_margin <= 1.0:
            raise ValueError(f"export.preference_margin must be in [0, 1], got {self.preference_margin!r}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"export.test_fraction must be in [0, 1), got {self.test_fraction!r}")
        if not self.dir:
            raise ValueError("export.dir must be a directory, got an empty string")
        if not self.prm_placeholder or self.prm_placeholder != self.prm_placeholder.strip():
            raise ValueError(f"export.prm_placeholder must be `auto`, `none` or a token with no space at either end, "
                             f"got {self.prm_placeholder!r}")

    @classmethod
    def from_run_config(cls, cfg: Mapping[str, Any] | None) -> ExportSettings:
        """The settings a plain run config holds (`cfg["export"]`, or `cfg` itself when it is the
        export group), for library callers that pass a mapping instead of the typed object. Options it
        does not set take this class's defaults; the run's `seed` seeds the split when the group sets
        none, as conf/export/default.yaml does."""
        plain = dict(cfg or {})
        options = plain["export"] if isinstance(plain.get("export"), Mapping) else plain
        default = cls()

        def get(name: str) -> Any:
            return options.get(name, getattr(default, name))

        return cls(
            dir=str(get("dir")),
            test_fraction=float(get("test_fraction")),
            push_to_hub=get("push_to_hub") or None,
            seed=int(options.get("seed", plain.get("seed", default.seed)) or 0),
            correct_only=bool(get("correct_only")),
            preference_margin=float(get("preference_margin")),
            prm_placeholder=str(get("prm_placeholder")),
            prm_model=get("prm_model") or None,
            decontaminate_against=[str(p) for p in get("decontaminate_against") or []],
            decontaminate_benchmarks=[str(b) for b in get("decontaminate_benchmarks") or []],
            decontaminate_ngram=get("decontaminate_ngram"),
            keep_contaminated=bool(get("keep_contaminated")),
            label_source=str(get("label_source")),
        )


@dataclass
class VerlReward:
    """The reward the export writes into verl's reward module (`verl/reward.py`): the rl stage's reward
    scheme and format weight, which the export stage fills from RLSettings (`rl.reward`,
    `rl.format_weight`), so that verl scores completions as `journeyforge rl` does."""

    scheme: str = "sum"
    """`sum` (accuracy + format_weight * format) or `tinyzero` (1 right / 0.1 well-formed / 0)."""
    format_weight: float = 0.1
    """Weight of the format reward with scheme `sum`."""

    @classmethod
    def from_run_config(cls, cfg: Mapping[str, Any] | None) -> VerlReward:
        """The reward a plain run config names (`cfg["rl"]`'s `reward` and `format_weight`), for library
        callers that pass a mapping instead of the typed object; what it does not set takes the defaults."""
        options = (cfg or {}).get("rl")
        options = options if isinstance(options, Mapping) else {}
        default = cls()
        return cls(scheme=str(options.get("reward", default.scheme)),
                   format_weight=float(options.get("format_weight", default.format_weight)))


__all__ = ["ExportSettings", "VerlReward"]
