"""Prompt texts of the reasoning-gym task: the question, the rules, chat messages and few-shot examples.

reasoning-gym's questions already say what form the answer takes ("Give the answer as a list of
moves ..."); the rules only add the frame every trajectory uses: reasoning inside `<think>`, then the
answer inside `<answer></answer>`. reasoning-gym has no worked solutions, so a few-shot example is a solved
problem of the same dataset with one line of reasoning: it shows the frame and the form of an answer, not
how to reason. Examples are drawn with their own seed and only from questions the hash split keeps for
training, so no prompt ever shows a held-out answer.
"""
from __future__ import annotations

from typing import Callable, Sequence

from search.tasks.base import THINK_CLOSE, THINK_OPEN, Problem
from search.tasks.countdown.answer import ANSWER_CLOSE, ANSWER_OPEN, format_answer

SHOT_SEED = 7_919            # added to task.seed: examples come from a stream of draws of their own
SHOT_DRAWS = 64
EXAMPLE_STEP = "I work out what the question asks for and check the answer against it."
SYSTEM = "You solve puzzles and problems step by step and check your answer before you give it."


def question_text(text: str) -> str:
    """The bare question and a newline."""
    return text.strip() + "\n"


def rules(delimiter: str) -> str:
    """How to answer: steps inside `<think>`, then the final answer inside the answer tags."""
    unit = "one step per line" if delimiter == "\n" else "one step per paragraph, with a blank line between steps"
    return (f"Reason step by step inside {THINK_OPEN} {THINK_CLOSE}, writing {unit}. After {THINK_CLOSE}, "
            f"write only the final answer inside {ANSWER_OPEN} {ANSWER_CLOSE}, in the form the question asks for.")


def instructions(problem: Problem, delimiter: str) -> str:
    """Rules and the question as one user message."""
    return f"{rules(delimiter)}\n\n{question_text(problem.payload['question'])}"


def worked_example(question: str, answer: str, render_completion: Callable[[Sequence[str], str], str]) -> str:
    """One solved example: the question, then the frame with one step and the answer."""
    return question_text(question) + render_completion([EXAMPLE_STEP], answer)


def fewshot_prompt(problem: Problem, examples: Sequence[tuple[str, str]], n_shots: int, delimiter: str,
                   render_completion: Callable[[Sequence[str], str], str]) -> str:
    """Up to `n_shots` solved `examples` (question, answer), never the problem itself, then its question and `<think>\\n`."""
    own = " ".join(problem.payload["question"].split())
    chosen = [(q, a) for q, a in examples if " ".join(q.split()) != own][:n_shots]
    sep = delimiter + "\n"
    blocks = [worked_example(q, a, render_completion) for q, a in chosen]
    head = sep.join(blocks) + sep if blocks else ""
    return head + question_text(problem.payload["question"]) + f"{THINK_OPEN}\n"


def chat_messages(problem: Problem, delimiter: str) -> list[dict[str, str]]:
    """System and user messages: the rules, then the question."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": instructions(problem, delimiter)}]


__all__ = ["SHOT_DRAWS", "SHOT_SEED", "chat_messages", "fewshot_prompt", "format_answer", "instructions",
           "question_text", "rules"]
