"""Two readers of Countdown streams, for tests: Stream of Search's own checker and a strict one.

`sos_parse_trajectory` is `parse_trajectory` of Stream of Search's `src/countdown_utils.py`
(kanishkg/stream-of-search), read the way SoS's evaluation reads a model's output, with two
changes: arithmetic is checked exactly instead of by `eval`, and an empty `Operations: []` list
(a goal reached straight from the initial state) reads as no operations, where the original fails
to split '' into lhs and rhs. It returns "Valid path." or SoS's message for the first problem. Our
completions wrap the stream in `<think>`...`</think>`, so, like any reasoning parser, it reads the
text before the first `</think>`: a stream that quoted a `</think>` mid-search fails here.

`check_stream` is the whole grammar of docs/stream.md, line by line: it replays the search and
returns the first broken line (or None), for solved and failed streams alike.
"""
from __future__ import annotations

import ast
import re
from collections import Counter
from fractions import Fraction

from search.tasks.base import THINK_CLOSE, THINK_OPEN, frame_pattern

MARKERS = frame_pattern(("<answer>", "</answer>"))


def stream_body(text: str) -> str:
    """What a reasoning parser reads of a completion: the text after `<think>`, up to the first `</think>`."""
    body = text.split(THINK_OPEN, 1)[-1]
    return body.split(THINK_CLOSE, 1)[0].strip("\n")


def _value(op: str) -> Fraction | None:
    """The exact value of `a op b` (two integer operands), None when it is not that."""
    m = re.fullmatch(r"(\d+)([-+*/])(\d+)", op)
    if m is None:
        return None
    a, o, b = int(m.group(1)), m.group(2), int(m.group(3))
    if o == "/":
        return None if b == 0 else Fraction(a, b)
    return Fraction({"+": a + b, "-": a - b, "*": a * b}[o])


def sos_parse_trajectory(search_path: str) -> str:
    """Stream of Search's `parse_trajectory` (see the module doc for the two changes)."""
    first_line = search_path.strip().split("\n")[0]
    search_path = search_path.replace("<|endoftext|>", "")
    m = re.match(r"Current State: (\d+):\[(.*?)\]", first_line)
    if not m:
        return "Invalid input: Cannot find the initial state in the first line."
    target, nums = int(m.group(1)), [int(n) for n in m.group(2).split(", ")]
    goal_lines = list(re.finditer(r"\d+,\d+ equal: Goal Reached", search_path))
    if not goal_lines:
        return "No goal reached statement found."
    goal_line = goal_lines[0]
    operations = re.findall(r"Exploring Operation: (.*?=\d+), Resulting Numbers: \[(.*?)\]",
                            search_path[:goal_line.start()])
    if not operations:
        return "No operations found leading to the goal."
    final_operation = operations[-1][0]
    try:
        predicted_result = int(final_operation.split("=")[1])
    except ValueError:
        return "Couldnt parse last op"
    if predicted_result != target:
        return "Invalid path: Final operation does not result in target."
    states = re.findall(r"Current State: \d+:\[.*?\], Operations: \[(.*?)\]", search_path[:goal_line.start()])
    operation_list = [op.replace("'", "") for op in states[-1].split(", ") if op]
    operation_list += [final_operation]
    available_numbers = nums
    for operation in operation_list:
        try:
            left, right = operation.split("=")
        except ValueError:
            return "Could not split operation into lhs, rhs"
        value = _value(left)
        if value is None or value != int(right):
            return f"Invalid operation: {operation}"
        used_numbers = re.findall(r"\d+", left)
        for n in used_numbers:
            if int(n) not in available_numbers:
                return f"Invalid operation: {operation}, number {n} not available in {available_numbers}"
        # (SoS compares ints with the strings of `used_numbers` here, so it never removes a number.)
        available_numbers = [n for n in available_numbers if n not in used_numbers]
        available_numbers.append(int(right))
    return "Valid path."


_STATE = re.compile(r"Current State: (\d+):(\[[\d, ]*\]), Operations: (\[.*\])")
_EXPLORE_OK = re.compile(r"Exploring Operation: (\S+), Resulting Numbers: (\[[\d, ]*\])")
_EXPLORE_BAD = re.compile(r"Exploring Operation: (\S+), Invalid Operation: (.+)")
_GENERATED = re.compile(r"Generated Node (#0(?:,\d+)+): (\d+):(\[[\d, ]*\]) Operation: (\S+)")
_MOVE = re.compile(r"Moving to Node (#0(?:,\d+)*)")
_NO_SOLUTION = re.compile(r"(?:.+: )?No Solution")
_GOAL = re.compile(r"(\d+),(\d+) equal: Goal Reached")
_OP = re.compile(r"(\d+)([-+*/])(\d+)=(\d+)")


def check_stream(body: str, solved: bool) -> str | None:
    """The first line of `body` (a stream, without the think frame) that breaks the grammar of
    docs/stream.md, as "line N: why"; None when every line keeps it. `solved`: the stream must
    end in the goal line (else it must have none: a failed search)."""
    lines = body.split("\n")
    marker = MARKERS.search(body)
    if marker:
        return f"a frame marker {marker.group()!r} inside the stream"
    m = _STATE.fullmatch(lines[0])
    if not m or m.group(3) != "[]":
        return f"line 1: not the initial `Current State: T:[...], Operations: []`: {lines[0]!r}"
    target = int(m.group(1))
    # name -> (numbers, operations); the current node; per node, how many legal children so far.
    nodes = {"#0": (ast.literal_eval(m.group(2)), [])}
    current, children = "#0", Counter()
    last_result = None  # (op, numbers) of the line before, when it was a legal operation
    expect_state = None
    for i, line in enumerate(lines[1:], start=2):
        where = f"line {i}"
        if expect_state is not None:
            m = _STATE.fullmatch(line)
            nums, ops = nodes[expect_state]
            if not m or int(m.group(1)) != target or ast.literal_eval(m.group(2)) != nums \
                    or ast.literal_eval(m.group(3)) != ops:
                return f"{where}: after moving to {expect_state}, not its state {target}:{nums} {ops}: {line!r}"
            current, expect_state, last_result = expect_state, None, None
            continue
        if m := _EXPLORE_OK.fullmatch(line):
            op, result = m.group(1), ast.literal_eval(m.group(2))
            parsed = _OP.fullmatch(op)
            if not parsed:
                return f"{where}: {op!r} is not an operation a?b=c"
            a, sym, b, c = int(parsed[1]), parsed[2], int(parsed[3]), int(parsed[4])
            nums = list(nodes[current][0])
            for x in (a, b):
                if x not in nums:
                    return f"{where}: {op} uses {x}, which is not available in {nodes[current][0]}"
                nums.remove(x)
            if _value(f"{a}{sym}{b}") != c:
                return f"{where}: {op} is wrong arithmetic"
            if result != nums + [c]:
                return f"{where}: {op} on {nodes[current][0]} leaves {nums + [c]}, not {result}"
            last_result = (op, result)
            continue
        if m := _EXPLORE_BAD.fullmatch(line):
            last_result = None
            continue
        if m := _GENERATED.fullmatch(line):
            name, t, nums, op = m.group(1), int(m.group(2)), ast.literal_eval(m.group(3)), m.group(4)
            if last_result != (op, nums) or t != target:
                return f"{where}: a generated node must repeat the operation and numbers just explored: {line!r}"
            want = f"{current},{children[current]}"
            if name != want or name in nodes:
                return f"{where}: node {name} should be named {want}"
            children[current] += 1
            nodes[name] = (nums, nodes[current][1] + [op])
            last_result = None
            continue
        if _GOAL.fullmatch(line):
            a, b = (int(x) for x in _GOAL.fullmatch(line).groups())
            if last_result is None or last_result[1] != [a] or a != target or b != target:
                return f"{where}: the goal line must follow an operation that leaves only the target: {line!r}"
            if i != len(lines):
                return f"{where}: the goal line must be the last line"
            return None if solved else f"{where}: a failed search's stream has no goal line"
        if _NO_SOLUTION.fullmatch(line):
            if not lines[i - 2].startswith("Generated Node"):
                return f"{where}: `No Solution` must follow a generated node"
            continue
        if m := _MOVE.fullmatch(line):
            if m.group(1) not in nodes:
                return f"{where}: moving to {m.group(1)}, which was never generated"
            expect_state, last_result = m.group(1), None
            continue
        return f"{where}: not a line of the grammar: {line!r}"
    if expect_state is not None:
        return f"line {len(lines)}: the stream ends after moving, before the state"
    return "the stream ends without `Goal Reached`" if solved else None


def checked_stream_linearizer(linearize):
    """`linearize` (the stream linearizer) made to fail on any Countdown stream that breaks the
    grammar: tests/conftest.py puts it in `traces.linearize.LINEARIZERS` for every test, so every
    stream the suite makes through `linearize_tree` (the linearize stage included) is read."""

    def stream(G, task, cfg=None):
        out = linearize(G, task, cfg)
        for traj in out if task.name == "countdown" else ():
            problem = check_stream(stream_body(traj["text"]), traj["answer"] is not None)
            assert problem is None, f"stream of tree {traj['tree_id']} breaks docs/stream.md: {problem}"
        return out

    return stream
