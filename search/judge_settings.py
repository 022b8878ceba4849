"""Settings of the `label` stage (Hydra group `label`): which step-label sources to write beside the
search's own labels, and how the LLM judge is asked. The judge model itself is the stage's `policy`
group (any backend: `policy=openai` for a served model, `hf`, `vllm`)."""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

from search.bounds import MAX_BATCH, check_ints

SOURCES = ("judge", "oracle")
# The fields a judge prompt may name ($question, $steps, $n_steps, $last_index).
PROMPT_FIELDS = ("question", "steps", "n_steps", "last_index")

# ProcessBench's critique prompt (Zheng et al. 2024, arXiv 2412.06559), with the task's question and
# the path's steps as its fields. A string.Template ($field) rather than str.format, so that LaTeX
# braces such as \boxed{} need no escaping in a user's template.
DEFAULT_PROMPT = r"""The following is a problem and a solution (split into steps, enclosed with tags and indexed from 0):

[Problem]

$question

[Solution]

$steps

Your task is to review and critique the solution step by step. Once you identify an error in a step, return the index of the step where the earliest error occurs. Otherwise, return the index of -1 (which typically denotes "not found").

Please put your final answer (i.e., the index) in \boxed{}."""

# label.<option> -> (least, most)
LABEL_BOUNDS = {"batch_size": (1, MAX_BATCH), "max_tokens": (1, 32_768)}


@dataclass
class LabelSettings:
    """`label.*`: the step-label sources a `journeyforge label` run writes into the `labels` table, and
    the judge's prompt and generation. Steps keep every source's label; exports and `journeyforge prm`
    choose one with `export.label_source` / `prm.label_source`."""

    sources: list[str] = field(default_factory=lambda: ["judge"])
    """What to label: `judge` (the stage's `policy` grades each root-to-leaf path, ProcessBench's task:
    the index of the first wrong step, or -1) and/or `oracle` (the task's exact solver, where it has
    one: `Task.is_solvable`)."""
    prompt: str | None = None
    """The judge's prompt, a template with the fields $question, $steps (one `<step_i>...</step_i>` line
    per step), $n_steps and $last_index; null: ProcessBench's prompt (search/judge_settings.py
    DEFAULT_PROMPT). The answer must end in `\\boxed{k}`, k the first wrong step's index or -1."""
    prompt_file: str | None = None
    """A file holding the judge's prompt template (same fields as `prompt`); set one of the two."""
    chat: bool = True
    """Send the prompt as a user turn in the judge model's chat template (false: as plain text)."""
    max_tokens: int = 512
    """Tokens the judge may write per path (its critique and the boxed index); an answer cut off before
    its `\\boxed{}` is stored as `unparsed`."""
    temperature: float = 0.0
    """The judge's sampling temperature (0: greedy)."""
    batch_size: int = 32
    """Paths per `generate` call (across trees); the labels of every tree finished in a call are stored
    in one transaction, so a run stopped later resumes at the next tree."""

    def template(self) -> string.Template:
        """The prompt template (from `prompt_file`, `prompt` or the default), its fields checked."""
        text = DEFAULT_PROMPT
        if self.prompt_file:
            text = Path(self.prompt_file).expanduser().read_text()
        elif self.prompt:
            text = self.prompt
        template = string.Template(text)
        where = f"label.prompt_file={self.prompt_file}" if self.prompt_file else "label.prompt"
        if not template.is_valid():
            raise ValueError(f"{where}: the template has a `$` that names no field (write $$ for a dollar sign)")
        unknown = sorted(set(template.get_identifiers()) - set(PROMPT_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field ${unknown[0]}; the fields are "
                             + ", ".join(f"${f}" for f in PROMPT_FIELDS))
        if "steps" not in template.get_identifiers():
            raise ValueError(f"{where}: the template must contain $steps (the path the judge grades)")
        return template

    def __post_init__(self) -> None:
        self.sources = list(self.sources)
        if not self.sources:
            raise ValueError(f"label.sources is empty; choose from {list(SOURCES)}")
        for source in self.sources:
            if source not in SOURCES:
                raise ValueError(f"label.sources: unknown source {source!r}; choose from {list(SOURCES)}")
        if self.prompt and self.prompt_file:
            raise ValueError("label.prompt and label.prompt_file are both set; set one of them")
        if self.prompt_file and not Path(self.prompt_file).expanduser().is_file():
            raise ValueError(f"label.prompt_file={self.prompt_file}: no such file")
        check_ints("label.", self, LABEL_BOUNDS)
        if self.temperature < 0:
            raise ValueError(f"label.temperature must be >= 0, got {self.temperature!r}")
        self.template()
