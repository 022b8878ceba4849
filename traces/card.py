"""The dataset card (README.md) of an export: Hub configs, counts, statistics, labels, citation."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from traces.prm_formats import openrlhf_arguments
from traces.prm_placeholder import SHEPHERD_TAG, Placeholder

CITATION = """\
@article{qin2024o1journey,
  title   = {O1 Replication Journey: A Strategic Progress Report -- Part 1},
  author  = {Qin, Yiwei and Li, Xuefeng and Zou, Haoyang and Liu, Yixiu and Xia, Shijie and Huang, Zhen
             and Ye, Yixin and Yuan, Weizhe and Liu, Hector and Li, Yuanzhi and Liu, Pengfei},
  journal = {arXiv preprint arXiv:2410.18982},
  year    = {2024}
}

@article{gandhi2024stream,
  title   = {Stream of Search (SoS): Learning to Search in Language},
  author  = {Gandhi, Kanishk and Lee, Denise and Grand, Gabriel and Liu, Muxin and Cheng, Winson
             and Sharma, Archit and Goodman, Noah D.},
  journal = {arXiv preprint arXiv:2404.03683},
  year    = {2024}
}"""

EXPORT_TEXT = """\
`stepwise` labels are `True` for valid/solution steps and `False` for mistakes (invalid, dead_end,
wrong_answer); with Monte-Carlo values that is the hard estimate and the `values` column keeps the
soft one. `preference` pairs put a step on a verified solution path (`chosen`) against a sibling
mistake (`rejected`, with `rejected_label` and `rejected_reason`), plus, with Monte-Carlo values,
siblings whose values differ by at least the export's `preference_margin`. `sft/<kind>` rows are
trajectories whose final answer passed the verifier: `shortcut` is the correct path only, `journey`
adds explored mistakes with reflection and backtracking (O1 Replication Journey), `stream` is the
whole search in visit order (Stream of Search). `prm_shepherd` and `prm_openrlhf` (unless the
export was made with `export.prm_placeholder=none`) are the `stepwise` rows (same split) as
Math-Shepherd's step-tagged text and as OpenRLHF's PRM trainer reads them."""

DESCRIPTIONS = {
    "sft": "SFT rows: `messages` (chat) or `prompt`/`completion`, plus provenance columns.",
    "stepwise": "TRL stepwise supervision: `prompt: str`, `completions: list[str]`, `labels: list[bool]`.",
    "preference": "TRL preference pairs: `prompt`, `chosen`, `rejected` (one step each).",
    "prm_shepherd": "Math-Shepherd's layout: `input` (`<question> Step 1: <step> ки` ...), `label` (`+`/`-` for "
                    "each tag), `task`.",
    "prm_openrlhf": "OpenRLHF PRM rows: `input` (as `prm_shepherd`'s, with the placeholder below), `value` (one "
                    "`+`/`-` per step).",
    "rl": "RL prompts: `prompt`, gold `answer`, `payload` (every training problem, for GRPO).",
}

RL_TEXT = """\
## RL prompt sets

`rl` holds every training problem of the run, solved by the search or not (held-out problems never):
`prompt` (the question, as in the SFT rows), `answer` (the gold answer), `problem` (its key) and
`payload` (the problem's fields as JSON, what the verifier reads). TRL's `GRPOTrainer` takes it with
journeyforge's reward functions, which wrap the task's own verifier:

```python
from datasets import load_from_disk
from search.tasks import make_task
from training.rewards import reward_functions

task = make_task(TASK_CONFIG)                 # the `task` block of the run configuration below
rewards, weights = reward_functions(task)     # accuracy (verifier) + 0.1 x format (<think> frame, one answer)
GRPOTrainer(model, reward_funcs=rewards, args=GRPOConfig(reward_weights=weights, ...),
            train_dataset=load_from_disk("rl")["train"])
```

`verl/train.parquet` and `verl/test.parquet` hold the same problems in verl's layout: `data_source`,
`prompt` (chat messages: the task's instructions and the problem), `ability`, `reward_model`
(`style: rule`, `ground_truth`: the gold answer) and `extra_info` (`split`, `index`, `problem`,
`payload`). `verl/reward.py` is the matching reward function
(`compute_score(data_source, solution_str, ground_truth, extra_info=None)`, the task's verifier; pass it
as `custom_reward_function.path`)."""


def prm_text(placeholder: Placeholder, layout: str) -> str:
    """The card's section on the PRM formats: Math-Shepherd's layout, and OpenRLHF's placeholder with the
    exact arguments of its trainer."""
    where = "DIR/prm_openrlhf" if layout == "disk" else "REPO@prm_openrlhf"   # OpenRLHF's `path@data_dir`
    if placeholder.vocab_id is not None:
        checked = (f"`{placeholder.text}` is one token (id {placeholder.vocab_id}) of the tokenizer of "
                   f"`{placeholder.checked_with}`, alone and where the rows hold it, and no question or step "
                   "holds it (checked on every row); train with that model or one sharing its tokenizer.")
    else:
        checked = (f"`{placeholder.text}` was not checked against a tokenizer (the run's policy has none): "
                   "OpenRLHF stops if it is not one token of yours; export again with "
                   "`export.prm_model=<your model>`.")
    instead = "" if placeholder.text == SHEPHERD_TAG else " in place of Math-Shepherd's tag"
    return "\n".join([
        "## PRM formats",
        "",
        f"`prm_shepherd` is Math-Shepherd's published layout: `input` is `<question> Step 1: <step> {SHEPHERD_TAG}\\n"
        f"Step 2: <step> {SHEPHERD_TAG}` ..., `label` the same text with `+` (a good step) or `-` (a mistake) for "
        "each tag, `task` the task's name. A `" + SHEPHERD_TAG + "` or a `Step <n>:` heading inside a question "
        "or step is left out (the heading written `step <n>:`), so that readers that split at them, as "
        "OpenR's preprocessor does, find each step once.",
        "",
        f"`prm_openrlhf` holds the same text with the placeholder `{placeholder.text}`{instead} and "
        f"`value`, one `+`/`-` per step. {checked} OpenRLHF's `ProcessRewardDataset` adds no token to the "
        "tokenizer. Its trainer (`openrlhf.cli.train_prm` of OpenRLHF 0.9.5, the last release with it) reads "
        "it with these arguments (" + ("DIR: this export's folder" if layout == "disk" else
                                        "REPO: this dataset repository; `@prm_openrlhf` is the configuration's folder")
        + "):",
        "",
        "```bash",
        f"deepspeed --module openrlhf.cli.train_prm --pretrain MODEL {openrlhf_arguments(placeholder, where)}",
        "```",
        "",
        "MODEL is the model whose tokenizer the placeholder was checked with; add your training options "
        "(batch sizes, `--max_len`, `--save_path`, ...).",
    ])


def _data_files(name: str, relative: str, splits: Mapping[str, int], layout: str) -> list[dict[str, str]]:
    # On disk, `save_to_disk` writes arrow shards per split; on the Hub, `push_to_hub(config_name=)`
    # writes parquet shards under the configuration name. The viewer reads either glob.
    if layout == "disk":
        return [{"split": s, "path": f"{relative}/{s}/*.arrow"} for s in splits]
    if layout == "hub":
        return [{"split": s, "path": f"{name}/{s}-*"} for s in splits]
    raise ValueError(f"card layout must be 'disk' or 'hub', got {layout!r}")


def _dropped_lines(dropped: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The card's account of rows left out: every SFT row is `<think>`, reasoning without frame
    markers, one `</think>`, then one final answer (traces/frames.py)."""
    total = sum(sum(why.values()) for why in dropped.values())
    lines = [f"Every SFT row holds one reasoning frame (`<think>` ... `</think>`, no frame marker inside) "
             f"and then one final answer; trajectories that did not were left out: {total}."]
    for name, why in dropped.items():
        lines.append(f"- `{name}`: " + ", ".join(f"{n} ({reason})" for reason, n in sorted(why.items())))
    return [*lines, ""]


def render_card(
    configs: Mapping[str, Mapping[str, int]],
    paths: Mapping[str, str],
    stats_table: str,
    run_config: Mapping[str, Any],
    task_name: str,
    label_notes: str = "",
    layout: str = "disk",
    dropped: Mapping[str, Mapping[str, int]] | None = None,
    prm_placeholder: Placeholder | None = None,
    provenance: str | None = None,
) -> str:
    """The README.md text: YAML header with one `configs:` entry per configuration, then counts
    per configuration and split, the trajectories left out for not being one well-formed trace
    (`dropped`: {configuration: {why: rows}}), length/mistake statistics, the run's resolved
    config, how labels were decided (the task's `label_notes`, then what the configurations hold),
    and the citations.

    `configs`: configuration -> {split: rows}; `paths`: its subdirectory; `prm_placeholder`: `prm_openrlhf`'s
    (unchecked tag if None); `provenance` (card_provenance.py) follows the counts."""
    header = {
        "configs": [
            {"config_name": name, "data_files": _data_files(name, paths[name], splits, layout)}
            for name, splits in configs.items()
        ],
        "task_categories": ["text-generation"],
        "tags": ["journey-learning", "stream-of-search", "synthetic", task_name],
        "pretty_name": f"journeyforge {task_name} trajectories",
    }
    counts = ["| configuration | train | test | description |", "|---|---:|---:|---|"]
    for name, splits in configs.items():
        description = DESCRIPTIONS.get(paths[name].split("/")[0], "")
        counts.append(f"| `{name}` | {splits.get('train', 0)} | {splits.get('test', 0)} | {description} |")
    config_yaml = yaml.safe_dump(dict(run_config), sort_keys=False, default_flow_style=False).strip() or "{}"
    return "\n".join(
        [
            "---",
            yaml.safe_dump(header, sort_keys=False, default_flow_style=False).strip(),
            "---",
            "",
            f"# journeyforge {task_name} trajectories",
            "",
            "Search trees explored by a policy model, linearized into shortcut (correct path only), "
            "journey (mistakes, reflection and backtracking) and stream (whole search) trajectories, "
            "exported by journeyforge. Train and test are split by problem: a problem's rows are "
            "never in both.",
            "",
            "## Configurations and rows",
            "",
            *counts,
            "",
            *_dropped_lines(dropped or {}),
            *([provenance] if provenance else []),
            "## Length and mistakes of the SFT trajectories",
            "",
            stats_table,
            "",
            "![length and backtrack histograms](stats.png)",
            "",
            "## How labels were decided",
            "",
            *([label_notes, ""] if label_notes else []),
            EXPORT_TEXT,
            "",
            *([prm_text(prm_placeholder or Placeholder(SHEPHERD_TAG), layout), ""] if "prm_openrlhf" in configs else []),
            *([RL_TEXT, ""] if "rl" in configs else []),
            "## Run configuration (resolved)",
            "",
            "```yaml",
            config_yaml,
            "```",
            "",
            "## Citation",
            "",
            "```bibtex",
            CITATION,
            "```",
            "",
        ]
    )
