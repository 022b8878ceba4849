"""Settings of the `prm` stage: a process reward model (step scorer) trained on the stepwise export."""
from __future__ import annotations

from dataclasses import dataclass

from search.bounds import MAX_BATCH, MAX_LORA_RANK, MAX_SEQUENCE_TOKENS, MAX_TRAIN_STEPS, check_ints
from traces.label_sources import check_label_source
from training.eval_settings import MAX_SAMPLES

LABELS = ("hard", "soft")
DATA_CHOICES = ("export", "samples")
# prm.<option> -> (least, most); the upper bounds only catch slips (search/bounds.py says why each number).
PRM_BOUNDS = {"samples": (1, MAX_SAMPLES), "max_steps": (1, MAX_TRAIN_STEPS), "batch_size": (1, MAX_BATCH),
              "max_length": (1, MAX_SEQUENCE_TOKENS), "lora_r": (1, MAX_LORA_RANK), "lora_alpha": (1, 16 * MAX_LORA_RANK)}


@dataclass
class PRMSettings:
    """`prm.*`: which model scores steps, what it learns from, and how long it trains.

    The scorer is the model with a one-logit token-classification head read at the last token of
    each step (Math-Shepherd reads a tag token after each step; reading the step's own last token needs
    no new token in the vocabulary, so the same head works for LoRA-tuned and from-scratch models).
    The logit's sigmoid is the probability that the step is still on a way to a correct answer.
    """

    model: str = "smollm2-135m"
    """Base model of the scorer: the bundled default, a local directory (a from-scratch student) or a
    hub id."""
    labels: str = "hard"
    """What each step's target is: "hard" (the stored label: valid or solution = 1, a mistake = 0) or
    "soft" (the Monte-Carlo value, the fraction of rollouts that reached the answer; steps without one
    fall back to the hard label)."""
    data: str = "export"
    """What the scorer learns from: `export` (the stepwise export of the run's trees, labelled by the
    search or `label_source`) or `samples` (Math-Shepherd's labels on the policy's own answers: `prm.model`
    answers every training problem `prm.samples` times, sampled as eval samples (eval.temperature,
    eval.top_p, eval.max_tokens, eval.seed), and a step is good when any answer through it was verified
    right; its soft value is the share that were). `samples` needs no trees; its answers are stored as
    run `<name>` of stage `prm_sample` and read back by a later run with the same model and sampling."""
    samples: int = 16
    """With `data=samples`: answers sampled per training problem."""
    lora: bool = True
    """Train a LoRA adapter plus the head (peft) instead of every weight (small students: false)."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator."""
    max_steps: int = 30
    """Optimizer steps."""
    batch_size: int = 8
    """Paths per optimizer step."""
    learning_rate: float = 5e-4
    """Peak learning rate."""
    max_length: int = 384
    """Tokens per path (question plus steps); steps past it are not scored in training."""
    threshold: float = 0.5
    """A step whose score is below this is called a mistake when grading (precision, recall, F1,
    first-error accuracy); AUC does not depend on it."""
    seed: int = 0
    """Seed of the trainer (data order, head and adapter initialisation)."""
    dir: str = "outputs/demo/prm"
    """Where the scorer, its tokenizer, settings and metrics go (`${workdir}/prm` in the config)."""
    force: bool = False
    """Train again even when `dir` holds a scorer trained with these settings on this export."""
    label_source: str | None = None
    """Which step labels the scorer learns from and is graded against (traces/label_sources.py): `mc`
    (the labels the search stored), `oracle` (the task's exact oracle), `judge` (a `journeyforge label`
    run's), `consensus` (MC and judge agree; a path is cut before its first step where they do not);
    null: the export's `labels` as they are (`export.label_source`)."""

    def __post_init__(self) -> None:
        if self.data not in DATA_CHOICES:
            raise ValueError(f"prm.data={self.data!r}: choose one of {', '.join(DATA_CHOICES)}")
        if self.label_source is not None:
            check_label_source(self.label_source, "prm.label_source")
            if self.data == "samples":
                raise ValueError(f"prm.label_source={self.label_source} chooses among the export's step labels: "
                                 "prm.data=samples labels steps by the sampled answers' verdicts; leave it null")
        if self.labels not in LABELS:
            raise ValueError(f"prm.labels must be one of {LABELS}, got {self.labels!r}")
        check_ints("prm.", self, PRM_BOUNDS)
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"prm.threshold must be in (0, 1), got {self.threshold!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"prm.learning_rate must be > 0, got {self.learning_rate!r}")
