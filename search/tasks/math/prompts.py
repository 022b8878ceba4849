"""Math prompt texts: the question, instructions, chat messages and few-shot examples.

Few-shot examples are solved GSM8K *train* problems written in exactly the frame trajectories use
(`question` then `Task.render_completion(steps, answer)`), so a base-style completion prompt, a
tuned model and the verifier all agree on one format. They are fixed (one prompt prefix for every
problem of a run, which prefix caching shares) and short, because the 135M default copies their
length.

Measured with benchmarks/math_prompts.py (SmolLM2-135M-Instruct on CPU, the 8 shortest GSM8K test
problems by question plus gold solution, 4 samples each at temperature 0.8, up to 200 tokens):
  fewshot: 1 of 32 samples verified correct (3.1%), 29 of 32 (90.6%) with an extractable final answer;
  chat:    0 of 32 verified correct (0%),           24 of 32 (75.0%) with an extractable final answer.
(Ordered by gold-solution length alone, both styles got 0 of 32 right: 28 and 23 answered.) So
`fewshot` is the default `prompt_format`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from search.tasks.base import THINK_OPEN, Problem
from search.tasks.math.answers import format_answer
from search.tasks.math.loaders import normalize_question
from search.tasks.math.solutions import solution_steps


@dataclass(frozen=True)
class Example:
    """A solved GSM8K train problem: `line` is its line in data/gsm8k_train.jsonl (from 1)."""

    line: int
    question: str
    solution: str       # the gold reasoning, before `####`
    answer: str


# Hand-picked: two-step solutions with small numbers, each operator shown, worded like GSM8K. The
# first three are the default shots; the others stand in when the problem is one of them.
EXAMPLES = (
    Example(2804, "Todd has $20. He buys 4 candy bars that cost $2 each. How much money in dollars does Todd have left?",
            "The candy bars cost 4*2= $<<4*2=8>>8.\nTodd has 20-8= $<<20-8=12>>12 left.", "12"),
    Example(5956, "John takes a pill every 6 hours.  How many pills does he take a week?",
            "He takes 24/6=<<24/6=4>>4 pills a day\nSo he takes 4*7=<<4*7=28>>28 pills a week", "28"),
    Example(2567, "Madeline has $48 and her brother has half as much. How much do they have together?",
            "Madeline's brother has $48/2 = $<<48/2=24>>24.\nTogether, they have $48 + $24 = $<<48+24=72>>72.", "72"),
    Example(6330, "The teachers divided the group of students into 3 groups of 8. But 2 students left early. How many remain?",
            "There were initially 3*8=<<3*8=24>>24.\nNow there are 24-2=<<24-2=22>>22.", "22"),
    Example(5296, "Jack orders 3 sandwiches that cost $5 each.  He pays with a $20 bill.  How much does he get in change?",
            "The cost was 3*5=$<<3*5=15>>15.\nSo he got 20-15=$<<20-15=5>>5 in change.", "5"),
)

SYSTEM = "You are a careful math tutor. You solve problems step by step and check each calculation."


def question_text(text: str) -> str:
    """The bare problem statement and a newline."""
    return text.strip() + "\n"


def rules(delimiter: str) -> str:
    """How to answer: steps inside `<think>`, the final answer in `\\boxed{}`."""
    unit = "one step per line" if delimiter == "\n" else "one step per paragraph, with a blank line between steps"
    return (f"Solve the math problem. Reason step by step inside {THINK_OPEN} </think>, writing {unit}; "
            f"the last step states the final answer as `{format_answer('42')}` (with your answer in place "
            f"of 42). After </think>, write the final answer again the same way.")


def instructions(problem: Problem, delimiter: str) -> str:
    """Rules and the problem as one user message."""
    return f"{rules(delimiter)}\n\n{question_text(problem.payload['question'])}"


def examples_for(problem: Problem, n_shots: int) -> list[Example]:
    """The first `n_shots` fixed examples, never the problem itself."""
    own = normalize_question(problem.payload["question"])
    return [e for e in EXAMPLES if normalize_question(e.question) != own][:n_shots]


def worked_example(example: Example, delimiter: str, render_completion: Callable[[Sequence[str], str], str]) -> str:
    """One solved example: the question, then the `<think>` steps and the answer as trajectories have them."""
    steps = solution_steps(example.solution, example.answer, delimiter)
    return question_text(example.question) + render_completion(steps, example.answer)


def example_separator(delimiter: str) -> str:
    """What separates few-shot examples: one newline more than a step delimiter, so that it never
    occurs inside a solution and can stop a completion after its answer."""
    return delimiter + "\n"


def fewshot_prompt(problem: Problem, n_shots: int, delimiter: str,
                   render_completion: Callable[[Sequence[str], str], str]) -> str:
    """`n_shots` solved examples, then the problem's question and `<think>\\n`."""
    sep = example_separator(delimiter)
    blocks = [worked_example(e, delimiter, render_completion) for e in examples_for(problem, n_shots)]
    head = sep.join(blocks) + sep if blocks else ""
    return head + question_text(problem.payload["question"]) + f"{THINK_OPEN}\n"


def chat_messages(problem: Problem, delimiter: str,
                  render_completion: Callable[[Sequence[str], str], str]) -> list[dict[str, str]]:
    """System and user messages: the rules, one solved example, then the problem."""
    example = worked_example(examples_for(problem, 1)[0], delimiter, render_completion)
    user = (f"{rules(delimiter)}\n\nExample:\n{example}\n\nNow solve this one:\n"
            f"{question_text(problem.payload['question'])}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
