"""Students trained from scratch: a small decoder from a transformers config and a tokenizer made
for the task's text by the `tokenizers` library.

Stream of Search (Gandhi et al. 2024) trained a 250M GPT-Neo from scratch on its search streams; this
is the CPU-sized version of that setting, so that what the data teaches is not hidden behind what a
pretrained model already knows. The tokenizer is a word-level vocabulary learned from the training
texts, with every digit its own token (numbers are spelled digit by digit, so a student can write a
number it never saw whole) and each run of letters one token (the grammar's words: `Exploring`,
` Operation`, ...), each with the space before it, plus the digits and the arithmetic and bracket characters, so a held-out problem
that only has other numbers always encodes. Anything else a text holds that the training texts did not
is unknown, and is refused (`unencodable`) rather than silently mapped to `[UNK]`.

The `phrases` tokenizer spells numbers as `words` does (each digit one token, the first with the space
before it) but lets `tokenizers`' BPE trainer merge the text between numbers, up to a newline, into
whole grammar phrases (`, Resulting Numbers: [`, `]\n`): a stream is ~365 tokens instead of ~525 with
`words`, so a student trains 1.4-2x faster on the same texts (the cpu_lab preset's stream students:
33-36 min a seed against 49-71) and attends over shorter sequences, while its arithmetic is still
spelled digit by digit. Every character of the training texts (and the always-present ones) is in its
alphabet, so any text made of known characters encodes, merged or not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

FAMILIES = ("llama", "gpt2")
TOKENIZERS = ("words", "chars", "phrases")
PAD, EOS, UNK = "[PAD]", "[EOS]", "[UNK]"
# Pieces: a run of letters (words tokenizer) or one letter (chars), one digit, one other character,
# each with the space before it (a stream line is then about 23 tokens, not 29), or one whitespace
# character.
_PIECES = {"words": r" ?[A-Za-z]+| ?\d| ?[^A-Za-z\d\s]|\s", "chars": r"[\s\S]"}
# A digit with the space before it (`phrases`, as `words`): where a number starts is in its own first
# token, not only in the phrase before it (docs/results/journey-tokenizer).
_DIGIT = r" ?\d"
_ALWAYS = [*"0123456789", *(" " + d for d in "0123456789"), *"+-*/=()[],.:;<>", " ", "\n"]


class StudentError(ValueError):
    """A student cannot be trained or evaluated on this data (context too short, unknown text)."""


@dataclass
class StudentSettings:
    """A decoder trained from scratch (`train.scratch=true`), nested as `train.student`."""

    family: str = "llama"
    """transformers model family of the decoder: llama (RoPE, SwiGLU, RMSNorm) or gpt2."""
    layers: int = 4
    """Decoder layers."""
    width: int = 128
    """Hidden size (the MLP is 4x wide)."""
    heads: int = 4
    """Attention heads (the width must divide by them)."""
    context_length: int = 512
    """Positions the model has; every training example (prompt + completion) must fit, or training
    stops with the longest example named."""
    tokenizer: str = "words"
    """`words` (a run of letters is one token, each digit one), `chars` (every character one token) or
    `phrases` (each digit one token, the text between numbers merged by BPE up to `vocab_size`)."""
    vocab_size: int = 1024
    """`phrases` only: the most tokens BPE may learn (specials and single characters included)."""

    def validate(self) -> None:
        """ValueError naming `train.student.<option>` when a setting cannot work."""
        if self.family not in FAMILIES:
            raise ValueError(f"train.student.family must be one of {FAMILIES}, got {self.family!r}")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(f"train.student.tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}")
        for name in ("layers", "width", "heads", "context_length", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"train.student.{name} must be an integer >= 1, got {value!r}")
        if self.width % self.heads:
            raise ValueError(f"train.student.width={self.width} must be a multiple of train.student.heads={self.heads}")
        if self.family == "llama" and (self.width // self.heads) % 2:
            raise ValueError(f"train.student.width / heads = {self.width // self.heads} must be even for family=llama "
                             "(rotary embeddings rotate pairs of dimensions)")


def build_tokenizer(texts: Iterable[str], kind: str = "words", vocab_size: int = 1024):
    """A `PreTrainedTokenizerFast` whose vocabulary is every piece of `texts` (see the module doc),
    the always-present characters and the special tokens; no chat template, no BOS, `[EOS]` ends
    a completion (TRL appends it). Pieces are made by a regex split (`tokenizers`' Split
    pre-tokenizer) and looked up whole (its WordLevel model); `phrases` learns BPE merges instead
    (at most `vocab_size` tokens)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if kind == "phrases":
        tok = _phrase_tokenizer(texts, vocab_size)
        return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                       clean_up_tokenization_spaces=False, model_max_length=1_000_000)
    split = pre_tokenizers.Split(Regex(_PIECES[kind]), behavior="isolated")
    # The vocabulary is collected with Python's `re` (the same pattern; ~50x faster than asking the
    # pre-tokenizer text by text); a test checks both split alike.
    pattern = re.compile(_PIECES[kind])
    pieces: set[str] = set()
    for text in texts:
        pieces.update(pattern.findall(text))
    # Ids in a fixed order (specials, the always-present characters, then sorted pieces), so the same
    # texts give the same tokenizer whatever their order.
    vocab: dict[str, int] = {}
    for piece in [PAD, EOS, UNK, *_ALWAYS, *sorted(pieces)]:
        vocab.setdefault(piece, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = split
    tok.decoder = decoders.Fuse()   # pieces keep their own whitespace: decoding is concatenation
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK,
                                   clean_up_tokenization_spaces=False, model_max_length=1_000_000)


def _phrase_tokenizer(texts: Iterable[str], vocab_size: int):
    """BPE over the runs between digits (each digit is split off on its own, the first of a number with
    the space before it, so no merge spans a number) and after each newline, trained on `texts`; the
    alphabet is every character seen plus the always-present ones. A newline ends a piece because TRL
    tokenizes prompt + completion as one text while generation continues the prompt's own tokens: a
    merge over the prompt's closing newline (`\n<` in the first version) trains the student on tokens
    it never sees when it answers, and the students of that version answered 2% instead of 20%. The
    space goes with the digit because the second version let BPE fuse it into the phrase before
    (`. Left: `, `I'll backtrack to `): a number's first digit was then the same token as its others,
    and where a number starts was told only by which of 35 phrases came before it in journey texts;
    the cpu_lab journey students lost track of the numbers left (7.0% against 15.2% with the space on
    the digit, the same examples and seed; docs/results/journey-tokenizer)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = list(texts)
    alphabet = sorted({c for text in texts for c in text} | {c for piece in _ALWAYS for c in piece})
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split("\n", behavior="merged_with_previous"),
                                                 pre_tokenizers.Split(Regex(_DIGIT), behavior="isolated")])
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, EOS, UNK], initial_alphabet=alphabet,
                                  limit_alphabet=len(alphabet), show_progress=False)
    # Sorted, so the same texts give the same merges whatever their order.
    tok.train_from_iterator(sorted(texts), trainer)
    return tok


def unencodable(tokenizer, text: str) -> str | None:
    """The first piece of `text` that `tokenizer` has no token for, or None when all of it encodes."""
    unk = tokenizer.unk_token_id
    if unk is None:
        return None
    encoded = tokenizer.backend_tokenizer.encode(text, add_special_tokens=False)
    for token_id, (start, end) in zip(encoded.ids, encoded.offsets):
        if token_id == unk:
            return text[start:end]
    return None


def build_model(tokenizer, student: StudentSettings):
    """A randomly initialised causal LM of `student`'s family and size for `tokenizer`'s vocabulary."""
    from transformers import AutoConfig, AutoModelForCausalLM

    student.validate()
    ids = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
           "eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.eos_token_id}
    if student.family == "llama":
        config = AutoConfig.for_model("llama", hidden_size=student.width, intermediate_size=4 * student.width,
                                      num_hidden_layers=student.layers, num_attention_heads=student.heads,
                                      num_key_value_heads=student.heads, max_position_embeddings=student.context_length,
                                      tie_word_embeddings=True, **ids)
    else:
        config = AutoConfig.for_model("gpt2", n_embd=student.width, n_layer=student.layers, n_head=student.heads,
                                      n_positions=student.context_length, **ids)
    return AutoModelForCausalLM.from_config(config)


def check_examples(rows: Iterable[tuple[str, str]], tokenizer, student: StudentSettings, where: str) -> int:
    """StudentError unless every (prompt, completion) of `rows` encodes and fits the context (with the
    EOS TRL appends); returns the longest example's tokens."""
    rows = list(rows)
    backend, unk = tokenizer.backend_tokenizer, tokenizer.unk_token_id
    # One batched (Rust, parallel) pass over every text; the slow path only names a bad piece.
    lengths = [0] * len(rows)
    prompts: list[list[int]] = []
    for part in (0, 1):
        texts = [row[part] for row in rows]
        for i, encoded in enumerate(backend.encode_batch(texts, add_special_tokens=False)):
            if unk in encoded.ids:
                raise StudentError(f"{where} example {i}: the student's tokenizer cannot encode "
                                   f"{unencodable(tokenizer, texts[i])!r}")
            lengths[i] += len(encoded.ids)
            if part == 0:
                prompts.append(encoded.ids)
    # TRL tokenizes prompt + completion as one text; generation continues the prompt's own tokens.
    # Where the two differ the student learns tokens it never sees when it answers.
    joined = backend.encode_batch([p + c for p, c in rows], add_special_tokens=False)
    for i, encoded in enumerate(joined):
        if encoded.ids[:len(prompts[i])] != prompts[i]:
            raise StudentError(f"{where} example {i}: the student's tokenizer merges the end of the prompt "
                               f"{rows[i][0][-12:]!r} with the start of the completion {rows[i][1][:12]!r}; "
                               "end prompts with a newline, or use train.student.tokenizer=words")
    if not rows:
        return 0
    longest_at = max(range(len(rows)), key=lengths.__getitem__)
    longest = lengths[longest_at] + 1
    if longest > student.context_length:
        raise StudentError(f"train.student.context_length={student.context_length} is shorter than {where} example "
                           f"{longest_at} (prompt + completion = {longest} tokens): raise it, or export shorter traces")
    return longest
