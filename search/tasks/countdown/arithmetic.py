"""A safe parser and exact evaluator for arithmetic answers written by a model.

Model text is untrusted: nothing here uses `eval`, `exec` or `ast`. The input passes a length cap
first (so a megabyte string costs nothing), then a whitelist tokenizer (integers, + - * / and
their unicode look-alikes, parentheses, spaces), then a recursive-descent parser with a nesting
cap (so deep parentheses cannot exhaust the stack), and is evaluated with `fractions.Fraction`
so that `7 / 2 * 2` is exactly 7.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

MAX_CHARS = 256      # longer answers are rejected before any parsing
MAX_DEPTH = 32       # nested parentheses allowed
MAX_DIGITS = 18      # an operand longer than this cannot be a Countdown number

# Look-alikes models (and people) write for the four operators.
OPERATORS = {
    "+": "+",
    "-": "-", "\u2212": "-", "\u2013": "-", "\u2014": "-",
    "*": "*", "\u00d7": "*", "\u00b7": "*", "\u2217": "*", "\u22c5": "*",
    "/": "/", "\u00f7": "/", "\u2215": "/",
}
SPACES = " \t\u00a0"


class ExpressionError(ValueError):
    """The text is not an arithmetic expression this module accepts (says where and why)."""


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class BinOp:
    op: str          # one of + - * /
    left: "Expr"
    right: "Expr"


Expr = Num | BinOp


def tokenize(text: str) -> list[str | int]:
    """Integers and the canonical operator/parenthesis characters of `text`; ExpressionError otherwise."""
    if len(text) > MAX_CHARS:
        raise ExpressionError(f"expression is {len(text)} characters long, the limit is {MAX_CHARS}")
    tokens: list[str | int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in SPACES:
            i += 1
        elif ch.isascii() and ch.isdigit():
            j = i
            while j < len(text) and text[j].isascii() and text[j].isdigit():
                j += 1
            if j - i > MAX_DIGITS:
                raise ExpressionError(f"number at position {i} has more than {MAX_DIGITS} digits")
            tokens.append(int(text[i:j]))
            i = j
        elif ch in OPERATORS:
            tokens.append(OPERATORS[ch])
            i += 1
        elif ch in "()":
            tokens.append(ch)
            i += 1
        else:
            raise ExpressionError(f"unexpected character {ch!r} at position {i}")
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor (('*'|'/') factor)* ; factor := INT | '(' expr ')'"""

    def __init__(self, tokens: list[str | int]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | int | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str | int | None:
        token = self.peek()
        self.pos += 1
        return token

    def expr(self) -> Expr:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Expr:
        node = self.factor()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = BinOp(op, node, self.factor())
        return node

    def factor(self) -> Expr:
        token = self.take()
        if isinstance(token, int):
            return Num(token)
        if token == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(f"parentheses nested deeper than {MAX_DEPTH}")
            node = self.expr()
            if self.take() != ")":
                raise ExpressionError("unbalanced parentheses")
            self.depth -= 1
            return node
        if token is None:
            raise ExpressionError("expression ends where a number was expected")
        raise ExpressionError(f"expected a number, got {token!r}")


def parse(text: str) -> Expr:
    """The expression tree of `text`; raises ExpressionError for anything not plain arithmetic."""
    tokens = tokenize(text)
    if not tokens:
        raise ExpressionError("empty expression")
    parser = _Parser(tokens)
    tree = parser.expr()
    if parser.pos != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.pos]!r} after a complete expression")
    return tree


def numbers(tree: Expr) -> list[int]:
    """The integer literals of `tree`, left to right."""
    if isinstance(tree, Num):
        return [tree.value]
    return numbers(tree.left) + numbers(tree.right)


def evaluate(tree: Expr) -> Fraction:
    """The exact value of `tree`; ExpressionError on division by zero."""
    if isinstance(tree, Num):
        return Fraction(tree.value)
    left, right = evaluate(tree.left), evaluate(tree.right)
    if tree.op == "+":
        return left + right
    if tree.op == "-":
        return left - right
    if tree.op == "*":
        return left * right
    if right == 0:
        raise ExpressionError("division by zero")
    return left / right


def uses_exactly(text: str, nums: list[int], target: int) -> bool:
    """True iff `text` is an expression using each of `nums` exactly once and equal to `target`."""
    try:
        tree = parse(text)
        # The multiset check comes before evaluation, so only the problem's numbers are ever multiplied.
        if Counter(numbers(tree)) != Counter(nums):
            return False
        return evaluate(tree) == target
    except ExpressionError:
        return False
