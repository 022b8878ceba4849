"""The export writes only well-formed traces: one reasoning frame, then one final answer; others are
left out and counted in the summary, export.json and the card."""
from __future__ import annotations

import json

from datasets import load_from_disk

from search.tasks.base import THINK_CLOSE
from tests.test_export import TASK, many_trees
from traces.export import MARKER, write_export
from traces.frames import frame_problem


def test_a_trace_is_one_frame_then_exactly_the_answer():
    good = TASK.render_completion(["3 * 5 = 15. Left: 7, 15", "15 + 7 = 22. Left: 22"], "3*5+7")
    assert frame_problem(TASK, good, "3*5+7") is None
    assert frame_problem(TASK, good.replace("15 + 7", "9+(5*2)</think>, 15 + 7"), "3*5+7").startswith(
        "more than one reasoning frame: 1 <think> and 2 </think>")
    assert frame_problem(TASK, good.replace("15 + 7", "<answer>x</answer> 15 + 7"), "3*5+7").startswith(
        "frame marker inside the reasoning: '<answer>'")
    assert frame_problem(TASK, good.replace("15 + 7", "<|im_end|>15 + 7"), "3*5+7").startswith(
        "frame marker inside the reasoning: '<|im_end|>'")
    assert frame_problem(TASK, good + "\n<answer>3*5+7</answer>", "3*5+7").startswith("not exactly one final answer")
    assert frame_problem(TASK, good, "7+3*5").startswith("not exactly one final answer")
    assert frame_problem(TASK, "15 + 7 = 22\n<answer>3*5+7</answer>", "3*5+7").startswith("no reasoning frame")
    # A failed search's stream records no answer: nothing may follow its </think>.
    assert frame_problem(TASK, f"<think>\nCurrent State: 22:[3, 5, 7], Operations: []\n{THINK_CLOSE}", None) is None


def test_export_leaves_out_and_counts_rows_that_are_not_one_trace(tmp_path):
    rows, graphs = many_trees(4)
    journeys = [r for r in rows if r["kind"] == "journey"]
    # Two journeys as the demo stored them before issue 27: a quoted step that closed the reasoning.
    for r in journeys[:2]:
        r["text"] = r["text"].replace("12 + 3 = 15", "9+(5*2)</think>, 12 + 3 = 15")
        r["messages"][-1]["content"] = r["text"]
    # One whose chat message differs from its text and holds a chat template token.
    journeys[2]["messages"][-1]["content"] = journeys[2]["text"].replace("12 + 3", "<|im_end|>12 + 3")
    summary = write_export(rows, graphs, tmp_path / "out", TASK, {"export": {"test_fraction": 0.25}})
    out = tmp_path / "out"
    dropped = {"sft_journey": {"more than one reasoning frame": 2, "frame marker inside the reasoning": 1}}
    assert summary["dropped"] == dropped
    assert json.loads((out / MARKER).read_text())["dropped"] == dropped
    sft = load_from_disk(str(out / "sft/journey"))
    assert sum(len(part) for part in sft.values()) == 1
    assert sum(map(len, load_from_disk(str(out / "sft/shortcut")).values())) == 4
    for part in sft.values():
        for completion, messages in zip(part["completion"], part["messages"]):
            assert completion.count("</think>") == 1 and completion.count("<answer>") == 1
            assert messages[-1]["content"] == completion
    card = (out / "README.md").read_text()
    assert "trajectories that did not were left out: 3." in card
    assert "- `sft_journey`: 1 (frame marker inside the reasoning), 2 (more than one reasoning frame)" in card
    assert "| journey | 1 |" in card   # the statistics count only what was written


def test_failed_streams_are_exported_only_without_correct_only(tmp_path):
    rows, graphs = many_trees(2)
    failed = {**rows[0], "id": 99, "kind": "stream", "answer": None, "is_correct": False,
              "text": "<think>\nCurrent State: 22:[3, 5, 7], Operations: []\n</think>", "messages": None}
    kept = write_export(rows + [failed], graphs, tmp_path / "a", TASK, {"export": {"correct_only": False}})
    assert sum(kept["configs"]["sft_stream"].values()) == 1 and not kept["dropped"]
    default = write_export(rows + [failed], graphs, tmp_path / "b", TASK, {})
    assert sum(default["configs"]["sft_stream"].values()) == 0
