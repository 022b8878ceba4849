"""The stepwise rows as Math-Shepherd's published layout and as OpenRLHF's PRM rows, read back by those
peers' own code: OpenRLHF 0.9.5's `ProcessRewardDataset` as released (installed by `make setup`, with
the bundled tokenizer as it is) and OpenR's Math-Shepherd preprocessing (tests/openr_math_shepherd.py)."""
from __future__ import annotations

import argparse

import pytest
from datasets import Dataset, DatasetDict, load_from_disk

from db.stored_tree import load_trees
from db import TraceStore
from search.algorithms import SearchSettings, make_algorithm
from search.explorer import Explorer, ExploreSettings
from search.policies import make_policy
from search.tasks import make_task
from search.tasks.base import Problem
from tests.openr_math_shepherd import OpenRRejects, read_row
from traces.card import prm_text
from traces.export import write_export
from traces.export_settings import ExportSettings
from traces.prm_formats import TAG, prm_formats
from traces.prm_placeholder import PlaceholderError, load_prm_tokenizer

STEPWISE = DatasetDict({
    "train": Dataset.from_list([{"prompt": "Use 3, 4, 5 to make 12.", "completions": ["3 + 4 = 7", "7 * 5 = 35"],
                                 "labels": [True, False], "values": [1.0, 0.0], "tree_id": 1, "problem": "p1"}]),
    "test": Dataset.from_list([{"prompt": "Use 1, 2 to make 3.\n", "completions": [f"Step 1: 1 + 2 = 3 {TAG}"],
                                "labels": [True], "values": [1.0], "tree_id": 2, "problem": "p2"}]),
})
TASK = make_task({"name": "countdown"})
PROBLEMS = [Problem(key=f"{nums}->{target}", payload={"nums": nums, "target": target}, answer=None, dataset="countdown")
            for nums, target in [([2, 6, 8], 32), ([3, 5, 7], 22), ([1, 4, 6], 24), ([2, 3, 9], 15),
                                 ([5, 6, 7], 37), ([4, 8, 9], 23), ([2, 5, 10], 20), ([3, 7, 8], 13)]]


@pytest.fixture(scope="module")
def prm_tokenizer(default_model_dir):
    """The bundled model's tokenizer, as the export stage loads the policy's (nothing added)."""
    return load_prm_tokenizer(None, {"model": str(default_model_dir)})


@pytest.fixture(scope="module")
def dfs_trees(tmp_path_factory):
    """Symbolic DFS trees of 8 Countdown problems through the explorer into SQLite, read back."""
    tmp = tmp_path_factory.mktemp("prm-trees")
    store = TraceStore(f"sqlite:///{tmp / 'trees.db'}")
    run_id = store.start_run("prm-formats", "explore", {})
    store.create_trees(run_id, store.add_problems([p.row() for p in PROBLEMS]))
    Explorer(store, TASK, make_policy({"backend": "symbolic", "heuristic": "sum"}, task=TASK),
             make_algorithm(SearchSettings(algorithm="dfs", max_expansions=12, max_nodes=60, expansions_per_wave=1)),
             ExploreSettings(max_active_trees=8, progress=False)).run(run_id)
    return load_trees(store, [t["id"] for t in store.trees(run_id)])


@pytest.fixture(scope="module")
def searched_export(tmp_path_factory, dfs_trees, prm_tokenizer):
    """A real export of `dfs_trees` written by `write_export` (placeholder `auto`, checked with the
    bundled tokenizer)."""
    tmp = tmp_path_factory.mktemp("prm-export")
    summary = write_export([], dfs_trees, tmp / "export", TASK, kinds=[], settings=ExportSettings(test_fraction=0.25),
                           prm_tokenizer=prm_tokenizer)
    return tmp / "export", summary


def test_math_shepherd_rows_have_the_published_layout():
    shepherd = prm_formats(STEPWISE, "countdown")[0]["prm_shepherd"]
    row = shepherd["train"][0]
    assert row["input"] == f"Use 3, 4, 5 to make 12. Step 1: 3 + 4 = 7 {TAG}\nStep 2: 7 * 5 = 35 {TAG}"
    assert row["label"] == "Use 3, 4, 5 to make 12. Step 1: 3 + 4 = 7 +\nStep 2: 7 * 5 = 35 -"
    assert row["task"] == "countdown"
    # A tag or a `Step <n>:` heading the model wrote inside a step would split it in two for OpenR.
    assert shepherd["test"][0]["input"] == f"Use 1, 2 to make 3. Step 1: step 1: 1 + 2 = 3 {TAG}"
    assert read_row(shepherd["test"][0]) == ("Use 1, 2 to make 3.", ["step 1: 1 + 2 = 3"], ["+"])


def test_openr_reads_every_math_shepherd_row_of_a_real_export_with_its_steps_and_labels(searched_export):
    out, summary = searched_export
    stepwise, shepherd = load_from_disk(str(out / "stepwise")), load_from_disk(str(out / "prm_shepherd"))
    read = 0
    for split in ("train", "test"):
        assert len(shepherd[split]) == len(stepwise[split]) > 0
        for row, source in zip(shepherd[split], stepwise[split]):
            question, steps, labels = read_row(row)   # OpenRRejects for a row OpenR drops or stops on
            assert question == source["prompt"].strip()
            assert steps == [s.strip() for s in source["completions"]]
            assert labels == ["+" if ok else "-" for ok in source["labels"]]
            read += 1
    assert read == sum(summary["configs"]["stepwise"].values()) and "-" in "".join(shepherd["train"]["label"])
    with pytest.raises(OpenRRejects, match="Step 1: "):   # the layout before: question, newline, tagged steps
        read_row({"input": f"Q\n3 + 4 = 7 {TAG}\n", "label": "Q\n3 + 4 = 7 +\n", "task": "countdown"})


def _openrlhf_args(placeholder: str) -> argparse.Namespace:
    """What `openrlhf.cli.train_prm`'s parser gives ProcessRewardDataset and blending_datasets for the
    card's arguments (`--input_key input --label_key value --placeholder_token ... --reward_tokens + -`)."""
    return argparse.Namespace(input_key="input", label_key="value", placeholder_token=placeholder,
                              reward_tokens=["+", "-"], use_ms=False)


class OneProcessStrategy:
    """The part of OpenRLHF's DeepspeedStrategy that its datasets read, for one process: `args`, and
    `print`/`is_rank_0` (rank 0 prints)."""

    def __init__(self, args: argparse.Namespace):
        self.args = args

    def print(self, *msg):
        print(*msg)

    def is_rank_0(self) -> bool:
        return True


def test_openrlhf_process_reward_dataset_puts_every_label_on_a_placeholder_with_the_tokenizer_as_is(
        searched_export, default_model_dir):
    from openrlhf.datasets import ProcessRewardDataset
    from openrlhf.datasets.utils import blending_datasets
    from openrlhf.utils import get_tokenizer

    out, summary = searched_export
    placeholder = summary["prm_placeholder"]
    assert placeholder["text"] == "<repo_name>" and placeholder["vocab_id"] == 3   # ` ки` is two tokens here
    strategy = OneProcessStrategy(_openrlhf_args(placeholder["text"]))
    tokenizer = get_tokenizer(str(default_model_dir), None, "right", strategy)   # as train_prm loads it
    vocabulary = len(tokenizer)
    plus, minus = tokenizer.convert_tokens_to_ids(["+", "-"])
    stepwise = load_from_disk(str(out / "stepwise"))
    for split in ("train", "test"):
        data = blending_datasets(str(out / "prm_openrlhf"), None, strategy, dataset_split=split)
        dataset = ProcessRewardDataset(data, tokenizer, 2048, strategy)
        assert len(dataset) == len(stepwise[split]) > 0
        for i, source in enumerate(stepwise[split]):
            input_ids, _, labels = dataset[i]
            labelled = (labels[0] != -100).nonzero().flatten().tolist()
            assert labelled == (input_ids[0] == placeholder["vocab_id"]).nonzero().flatten().tolist()
            assert labels[0, labelled].tolist() == [plus if ok else minus for ok in source["labels"]]
            for position, step in zip(labelled, source["completions"]):  # each label right after its step
                assert tokenizer.decode(input_ids[0, :position]).rstrip().endswith(step.strip())
        batch = dataset.collate_fn([dataset[i] for i in range(min(4, len(dataset)))])
        assert (batch[2] == plus).sum() + (batch[2] == minus).sum() > 0
    assert len(tokenizer) == vocabulary   # nothing was added to the tokenizer
    card = (out / "README.md").read_text(encoding="utf-8")
    assert ("--input_key input --label_key value --placeholder_token '<repo_name>' --reward_tokens + -" in card
            and "id 3" in card)


def test_openrlhf_stops_on_math_shepherd_s_tag_with_this_tokenizer(default_model_dir):
    """Why the placeholder is chosen per tokenizer: OpenRLHF's own check refuses ` ки` here."""
    from openrlhf.datasets import ProcessRewardDataset
    from openrlhf.utils import get_tokenizer

    strategy = OneProcessStrategy(_openrlhf_args(TAG))
    tokenizer = get_tokenizer(str(default_model_dir), None, "right", strategy)
    with pytest.raises(AssertionError):
        ProcessRewardDataset(Dataset.from_dict({"input": ["x"], "value": [["+"]]}), tokenizer, 2048, strategy)


def test_a_requested_placeholder_is_checked_and_refused_in_one_line(prm_tokenizer):
    with pytest.raises(PlaceholderError, match=r"^export.prm_placeholder='ки' cannot be OpenRLHF's placeholder: the "
                                               r"tokenizer of policy.model=\S+ encodes it as 2 ids"):
        prm_formats(STEPWISE, "countdown", TAG, prm_tokenizer)
    with pytest.raises(PlaceholderError, match=r"^export.prm_placeholder='7' .*: train row of tree 1 holds it"):
        prm_formats(STEPWISE, "countdown", "7", prm_tokenizer)
    rows, chosen = prm_formats(STEPWISE, "countdown", "<file_sep>", prm_tokenizer)
    assert (chosen.text, chosen.vocab_id) == ("<file_sep>", 5)
    assert rows["prm_openrlhf"]["train"][0]["input"].endswith("7 * 5 = 35 <file_sep>")


def test_without_a_tokenizer_the_placeholder_is_math_shepherd_s_tag_and_the_card_says_unchecked():
    rows, chosen = prm_formats(STEPWISE, "countdown")
    assert (chosen.text, chosen.vocab_id) == (TAG, None)
    assert rows["prm_openrlhf"]["train"][0] == {"input": f"Use 3, 4, 5 to make 12. Step 1: 3 + 4 = 7 {TAG}\n"
                                                         f"Step 2: 7 * 5 = 35 {TAG}", "value": ["+", "-"],
                                                "tree_id": 1, "problem": "p1"}
    assert "`ки` was not checked against a tokenizer" in prm_text(chosen, "disk")
    assert "--dataset REPO@prm_openrlhf" in prm_text(chosen, "hub")


def test_the_policy_s_tokenizer_is_looked_up_locally_and_a_named_model_must_load(tmp_path, default_model_dir):
    assert load_prm_tokenizer(None, {"backend": "symbolic"}) is None               # no model: unchecked `ки`
    assert load_prm_tokenizer(None, {"model": "nobody/no-such-model"}) is None     # never downloaded
    assert load_prm_tokenizer(None, {"model": "x", "tokenizer": str(default_model_dir)}).source.startswith(
        "policy.tokenizer=")
    with pytest.raises(PlaceholderError, match=r"^export.prm_model=\S+/absent: no such folder"):
        load_prm_tokenizer(str(tmp_path / "absent"), {"model": str(default_model_dir)})
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PlaceholderError, match=r"^export.prm_model=\S+/broken: its tokenizer does not load \("):
        load_prm_tokenizer(str(tmp_path / "broken"), None)


def test_none_exports_math_shepherd_s_rows_alone_for_a_student_tokenizer_with_no_token_to_spare(tmp_path, dfs_trees):
    """A student's tokenizer built on the rows themselves has no unused token: `auto` says so and
    points at `none`, and `none` writes `prm_shepherd` and no `prm_openrlhf` (nor its card section)."""
    from training.student import build_tokenizer
    from traces.prm_placeholder import PrmTokenizer

    texts = [r["prompt"] + " " + " ".join(r["completions"]) for split in STEPWISE.values() for r in split]
    student = PrmTokenizer(build_tokenizer(texts, "phrases", vocab_size=64), "policy.model=student")
    with pytest.raises(PlaceholderError, match=r"found no token of policy.model=student .*"
                                               r"or export.prm_placeholder=none to export without prm_openrlhf$"):
        prm_formats(STEPWISE, "countdown", "auto", student)
    rows, chosen = prm_formats(STEPWISE, "countdown", "none", student)
    assert chosen is None and list(rows) == ["prm_shepherd"]
    assert rows["prm_shepherd"]["train"][0]["label"].endswith("7 * 5 = 35 -")

    # the folders and card of a whole export with `none`
    summary = write_export([], dfs_trees, tmp_path / "export", TASK, kinds=[],
                           settings=ExportSettings(prm_placeholder="none"), prm_tokenizer=student)
    assert summary["prm_placeholder"] is None
    assert not (tmp_path / "export" / "prm_openrlhf").exists()
    card = (tmp_path / "export" / "README.md").read_text(encoding="utf-8")
    assert "config_name: prm_shepherd" in card and "config_name: prm_openrlhf" not in card
    assert "openrlhf.cli.train_prm" not in card
