"""Settings of the math task (Hydra group `task`, file `journeyforge/conf/task/math.yaml`).

Every default lives here; the YAML file only names the task and what the CPU demo changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LAYOUTS = ("auto", "gsm8k", "math", "generic")
SELECTS = ("first", "shortest", "random")
PROMPT_FORMATS = ("fewshot", "chat", "question")
STEP_DELIMITERS = ("\n", "\n\n")
MAX_SHOTS = 4


@dataclass
class MathConfig:
    """Configuration of the math task (GSM8K, MATH / MATH-500, or any question/answer file)."""

    name: str = field(default="math", metadata={"help": "Registry name of the task."})
    dataset: str = field(default="gsm8k", metadata={"help": "Value of `problems.dataset` for these problems."})
    train_path: str = field(default="gsm8k_train", metadata={
        "help": "Problems to explore (split `train`): a .jsonl/.parquet path, or a bundled file "
                "`gsm8k_train`, `gsm8k_test`, `math500`."})
    test_path: str | None = field(default="gsm8k_test", metadata={
        "help": "Held-out problems (split `test`), path or bundled name; null: hold out `test_fraction` "
                "of the train file by a seeded hash of the question (MATH-500 has only a test file)."})
    layout: str = field(default="auto", metadata={
        "help": "Row layout: 'gsm8k' (question, answer ending in '#### n'), 'math' (problem, solution, "
                "answer, subject, level, unique_id), 'generic' (the *_field names below) or 'auto' "
                "(the layout the file's rows fit, from every row; rows of mixed layouts are an error)."})
    question_field: str = field(default="question", metadata={"help": "Generic layout: field with the problem text."})
    answer_field: str = field(default="answer", metadata={"help": "Generic layout: field with the gold final answer."})
    solution_field: str | None = field(default=None, metadata={"help": "Generic layout: field with a worked solution (optional)."})
    id_field: str | None = field(default=None, metadata={"help": "Generic layout: field with a unique id (default: '<split>/<row index>')."})
    skip_bad_rows: bool = field(default=False, metadata={
        "help": "Skip (and count) invalid file rows instead of failing: bad fields, rows of another layout "
                "than most of the file's, gold answers math-verify cannot read."})
    n_train: int | None = field(default=64, metadata={"help": "Train problems to keep (null: all)."})
    n_test: int | None = field(default=32, metadata={"help": "Test problems to keep (null: all)."})
    select: str = field(default="first", metadata={
        "help": "Which rows to keep: 'first' (file order), 'shortest' (shortest question + gold solution "
                "first; the CPU demo uses it so a 135M model solves some) or 'random' (seeded)."})
    seed: int = field(default=0, metadata={"help": "Seed of `select: random` and of the hash split."})
    test_fraction: float = field(default=0.2, metadata={"help": "Share of the train file held out when test_path is null."})
    # Measured by benchmarks/math_prompts.py (SmolLM2-135M, the 8 shortest GSM8K test problems, 4
    # samples each at temperature 0.8, 200 tokens): fewshot 1/32 correct, 29/32 with a final answer;
    # chat 0/32 correct, 24/32 with a final answer (details in prompts.py).
    prompt_format: str = field(default="fewshot", metadata={
        "help": "'fewshot' (plain completion after solved GSM8K examples; best for the 135M default), "
                "'chat' (instructions as chat messages) or 'question' (the bare question, for tuned models)."})
    step_delimiter: str = field(default="\n", metadata={
        "help": "What ends a step: a newline (a line, GSM8K style) or a blank line (a paragraph, MATH "
                "style); on a command line `task.step_delimiter='\\n\\n'` is read as a blank line."})
    n_shots: int = field(default=3, metadata={"help": f"Solved examples in a few-shot prompt (0..{MAX_SHOTS})."})
    verify_timeout: float = field(default=1.0, metadata={
        "help": "Wall-clock seconds math-verify may spend on one answer; a slower one is judged wrong."})
    max_answer_chars: int = field(default=256, metadata={
        "help": "Longer model answers are judged wrong without parsing (MATH-500's longest gold is 53)."})

    def __post_init__(self) -> None:
        # A command line cannot easily pass a newline: Hydra keeps `"\n"` as backslash + n.
        if self.step_delimiter in ("\\n", "\\n\\n"):
            self.step_delimiter = self.step_delimiter.replace("\\n", "\n")
        for option, value, allowed in (("layout", self.layout, LAYOUTS), ("select", self.select, SELECTS),
                                       ("prompt_format", self.prompt_format, PROMPT_FORMATS),
                                       ("step_delimiter", self.step_delimiter, STEP_DELIMITERS)):
            if value not in allowed:
                raise ValueError(f"task.{option} must be one of {list(allowed)}, got {value!r}")
        if not self.train_path:
            raise ValueError("task.train_path is required (a .jsonl/.parquet path or gsm8k_train, gsm8k_test, math500)")
        if self.test_path is not None and not self.test_path:
            raise ValueError("task.test_path must be a path, a bundled name, or null (split the train file)")
        for option in ("question_field", "answer_field"):
            if not getattr(self, option):
                raise ValueError(f"task.{option} must be a non-empty field name")
        for option in ("n_train", "n_test"):
            value = getattr(self, option)
            if value is not None and value < 0:
                raise ValueError(f"task.{option} must be >= 0 or null (all rows), got {value}")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise ValueError(f"task.test_fraction must be in [0, 1], got {self.test_fraction}")
        if not 0 <= self.n_shots <= MAX_SHOTS:
            raise ValueError(f"task.n_shots must be in 0..{MAX_SHOTS}, got {self.n_shots}")
        if not self.verify_timeout > 0:
            raise ValueError(f"task.verify_timeout must be > 0 seconds, got {self.verify_timeout}")
        if self.max_answer_chars < 1:
            raise ValueError(f"task.max_answer_chars must be >= 1, got {self.max_answer_chars}")
