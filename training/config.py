"""Settings of the training and evaluation stages, one dataclass each (documented where defined).

Defaults are CPU-sized (the bundled 135M model, LoRA, 20 steps) and are the only defaults: the
Hydra groups `train` and `eval` are these dataclasses, and `conf/train/*.yaml`, `conf/eval/*.yaml`
hold only overrides. Real runs override them from Hydra (`train.max_steps=...`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from search.bounds import MAX_BATCH, MAX_LORA_RANK, MAX_SEQUENCE_TOKENS, MAX_TRAIN_STEPS, check_ints, check_number
from search.sampling import SamplingSettings
from training.student import StudentSettings

FORMATS = ("prompt_completion", "messages")
BATCH_ORDERS = ("random", "group_by_length")

# train.<option> -> (least, most); the upper bounds only catch slips (search/bounds.py says why each number).
SFT_BOUNDS = {"max_steps": (-1, MAX_TRAIN_STEPS), "per_device_train_batch_size": (1, MAX_BATCH),
              "gradient_accumulation_steps": (1, MAX_BATCH), "max_length": (1, MAX_SEQUENCE_TOKENS),
              "logging_steps": (1, MAX_TRAIN_STEPS), "lora_r": (1, MAX_LORA_RANK), "lora_alpha": (1, 16 * MAX_LORA_RANK)}
# Passes over the data when max_steps <= 0: 1,000 epochs of even 100 examples is beyond any recipe
# (the CPU laboratory's 10 is the most a preset asks for).
MAX_EPOCHS = 1_000

# eval.<option> -> (least, most).
# Samples per problem (`samples`, each N of `scaling`, the prm beam's width): 10,000 is the largest k of
# repeated sampling studies (Brown et al. 2024, "Large Language Monkeys"); each one is a whole generation
# per problem, so 1e9 would never end. Held-out problems: 1,000,000 is above any benchmark's test split
# (a larger value only means "all"). Beam rounds: 1,000 steps of one answer is far past any solution.
MAX_SAMPLES = 10_000
EVAL_BOUNDS = {"n_problems": (1, 1_000_000), "max_tokens": (1, MAX_SEQUENCE_TOKENS), "samples": (1, MAX_SAMPLES),
               "prm_beam_width": (1, MAX_SAMPLES), "prm_beam_steps": (1, 1_000),
               "prm_beam_step_tokens": (1, MAX_SEQUENCE_TOKENS)}


@dataclass
class SFTSettings:
    """Supervised fine-tuning with TRL's `SFTTrainer`, optionally through a peft LoRA adapter."""

    model: str = "smollm2-135m"
    """Base model: the bundled default ("smollm2-135m"), a local directory, or a hub id."""
    format: str = "prompt_completion"
    """Which exported columns to train on: "prompt_completion" (`prompt`/`completion`, loss on the
    completion only) or "messages" (chat template; assistant-only loss when the template supports it)."""
    lora: bool = True
    """Train a LoRA adapter (peft) instead of every weight; the output directory then holds the adapter."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA branch."""
    target_modules: str = "all-linear"
    """Modules that get adapters: "all-linear" or a comma-separated list such as "q_proj,v_proj"."""
    max_steps: int = 20
    """Optimizer steps; when <= 0, `epochs` decides the length instead (20 fit the demo's few
    hundred examples on a CPU in about three minutes)."""
    epochs: float = 1.0
    """Passes over the training split, used only when `max_steps` <= 0."""
    per_device_train_batch_size: int = 4
    """Examples per device per forward pass."""
    gradient_accumulation_steps: int = 1
    """Forward passes per optimizer step."""
    batch_order: str = "random"
    """How examples are drawn into batches: `random`, or `group_by_length` (batches of similar lengths,
    the transformers sampler: far less padding when lengths vary, as Stream of Search's streams do
    from 20 to 1,100 tokens; measured 7.4 s per step with random batches of streams on this CPU)."""
    learning_rate: float = 5e-4
    """Peak learning rate (LoRA tolerates far higher rates than full fine-tuning)."""
    max_length: int = 512
    """Tokens per example; longer examples are truncated (journeys are long: check the export stats)."""
    seed: int = 0
    """Seed of the trainer (data order, adapter initialisation, dropout)."""
    logging_steps: int = 1
    """Log the loss every this many steps (the returned first/last losses come from these logs)."""
    use_cpu: bool = True
    """Train on the CPU even when an accelerator is present."""
    mask_mistakes: bool = False
    """Take a journey's mistaken steps out of the loss (the exported `spans`): the model reads them
    as context but is not taught to write them (format prompt_completion only)."""
    mask_reflections: bool = False
    """Also take the reflections that close the mistakes out of the loss (with `mask_mistakes`)."""
    scratch: bool = False
    """Train a new small decoder from scratch (`student`: its size and tokenizer, made for the data)
    on every parameter, instead of tuning `model`; needs `lora=false` and `format=prompt_completion`
    (a from-scratch student has no chat template)."""
    student: StudentSettings = field(default_factory=StudentSettings)
    """The from-scratch student's family, size, context length and tokenizer (with `scratch`)."""

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting cannot work."""
        if self.format not in FORMATS:
            raise ValueError(f"train.format must be one of {FORMATS}, got {self.format!r}")
        check_ints("train.", self, SFT_BOUNDS)
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("train.max_steps <= 0 needs train.epochs > 0")
        if self.max_steps <= 0:
            check_number("train.epochs", self.epochs, 0, MAX_EPOCHS, "(passes over the data)")
        if self.batch_order not in BATCH_ORDERS:
            raise ValueError(f"train.batch_order must be one of {BATCH_ORDERS}, got {self.batch_order!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"train.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.scratch:
            if self.lora:
                raise ValueError("train.scratch=true trains every parameter of a new model: set train.lora=false")
            if self.format != "prompt_completion":
                raise ValueError("train.scratch=true needs train.format=prompt_completion (a from-scratch student has "
                                 f"no chat template), got train.format={self.format!r}")
            self.student.validate()
        if (self.mask_mistakes or self.mask_reflections) and self.format != "prompt_completion":
            raise ValueError("train.mask_mistakes / train.mask_reflections need train.format=prompt_completion "
                             f"(spans are offsets into the completion), got train.format={self.format!r}")


@dataclass
class TrainSettings(SFTSettings):
    """The train stage (Hydra group `train`): one `SFTSettings` run per trajectory kind."""

    kinds: list[str] | None = None
    """Kinds to train one adapter each for; null: `linearize.train_kinds`, else every linearized kind."""
    dir: str = "outputs/models"
    """Where the adapters go, one subdirectory per kind."""
    force: bool = False
    """Retrain even when an adapter with the same data and settings exists."""

    def validate(self) -> None:
        super().validate()
        if not self.dir:
            raise ValueError("train.dir must be a directory, got an empty string")


@dataclass
class EvalSettings(SamplingSettings):
    """Evaluation of base and tuned models on held-out problems (Hydra group `eval`); the sampling
    fields (maj@k / pass@k: greedy accuracy always uses temperature 0) come from search/sampling.py."""

    n_problems: int = 32
    """Held-out (split=test) problems to answer, the first ones stored."""
    max_tokens: int = 160
    """Cap on generated tokens per answer (generation also stops at the task's answer end)."""
    samples: int = 1
    """Sampled answers per problem for maj@k / pass@k (k = samples); 1 = greedy accuracy only."""
    temperature: float = 0.8
    """Sampling temperature for maj@k / pass@k (greedy accuracy always uses temperature 0)."""
    seed: int = 0
    """Seed of the sampled answers (the run's `seed` in the Hydra config)."""
    include_base: bool = True
    """Evaluate the base model too, not only the tuned adapters."""
    scaling: list[int] = field(default_factory=list)
    """Inference-time scaling, e.g. [1, 4, 16] (each N at most 10,000): each problem is answered with
    max(N) samples (at least `samples`) and, on the first N of them, majority vote, pass@N and, with `prm`, PRM best-of-N and
    PRM-weighted vote are scored (training/scaling.py); a table with intervals and two plots."""
    prm: str | None = None
    """Step scorer (`journeyforge prm`'s directory) that ranks the sampled answers for `scaling`."""
    prm_aggregate: str = "last"
    """An answer's PRM score from its step scores: "last" (search-and-learn's default), "min" or "prod"."""
    prm_beam: bool = True
    """With `prm` and `scaling`: also step-level beam search guided by the PRM at each N
    (training/prm_beam.py, search-and-learn's beam search), one more strategy in the table (`prm_beam`)."""
    prm_beam_width: int = 4
    """Beam width M of `prm_beam`: N/M beams kept per round, each continued M times (search-and-learn: 4)."""
    prm_beam_steps: int = 40
    """Rounds (steps) of `prm_beam` before the best partial answer is taken."""
    prm_beam_step_tokens: int = 64
    """Cap on one step's tokens in `prm_beam` (a beam's whole answer stays under `max_tokens`)."""

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting cannot work."""
        check_ints("eval.", self, EVAL_BOUNDS)
        if self.temperature < 0:
            raise ValueError(f"eval.temperature must be >= 0, got {self.temperature!r}")
        if any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES for n in self.scaling):
            raise ValueError(f"eval.scaling must be a list of integers in [1, {MAX_SAMPLES:,}] (samples per problem), "
                             f"got {list(self.scaling)!r}")
        if self.prm_aggregate not in ("last", "min", "prod"):
            raise ValueError(f"eval.prm_aggregate must be one of last, min, prod, got {self.prm_aggregate!r}")
        if self.prm is not None:
            from search.values import check_scorer_dir

            try:
                check_scorer_dir(self.prm)
            except ValueError as err:
                raise ValueError(str(err).replace("search.prm", "eval.prm")) from None
