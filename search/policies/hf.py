"""The `hf` backend: batched sampling from a transformers causal LM (CPU or GPU), with a shared-prefix KV cache.

The decode loop is written out over `model(...)` + `DynamicCache` rather than `model.generate`
because a search wave needs what `generate` does not give together: per-row temperature, top_p,
stop strings and token budgets in one batch; the raw log-probability of each sampled token without
keeping a vocabulary-sized tensor per step; a seed per sample, so that a sample does not depend on
which other requests share its batch; and a prefix KV cache that lives across calls.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, DynamicCache

from search.policies.backend_settings import settings_from
from search.policies.base import Completion, GenerationRequest, Policy
from search.policies.default_model import resolve_model
from search.policies.hf_settings import HFSettings
from search.policies.prefix_cache import PrefixKVCache, common_prefix_length, expand_cache

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class _Row:
    """One sequence to sample: request `request` of the call, sample `sample` of its `n`."""

    request: int
    sample: int
    prompt: list[int]
    req: GenerationRequest
    seed: int
    tokens: list[int] = field(default_factory=list)
    logprob: float = 0.0
    text: str = ""
    finish: str | None = None


def _row_seed(policy_seed: int, req: GenerationRequest, prompt: list[int], sample: int) -> int:
    """A 63-bit seed from the policy seed, the request's seed and prompt, and the sample index."""
    digest = hashlib.blake2b(repr((policy_seed, req.seed, prompt, sample)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _check_request(i: int, req: GenerationRequest) -> None:
    if req.n < 1:
        raise ValueError(f"request {i}: n must be >= 1, got {req.n}")
    req.check_sampling(f"request {i}: ")


def _context_length(config, option: int | None) -> int | None:
    """`option`, or the positions the model was trained for (None when its config does not say)."""
    trained = next((getattr(config, name) for name in ("max_position_embeddings", "n_positions", "max_seq_len")
                    if isinstance(getattr(config, name, None), int)), None)
    if option is None:
        return trained
    if trained is not None and option > trained:
        raise ValueError(f"policy.context_length={option} is more than the {trained} positions the model "
                         "was trained for (its config's max_position_embeddings)")
    return option


class HFPolicy(Policy):
    """A transformers model (plus an optional peft LoRA adapter) sampling one step per request.

    `model` is the bundled default (`smollm2-135m`), a local directory or a hub id. With
    `prefix_cache`, the longest token prefix shared by a batch is prefilled once (and kept across
    calls) and identical prompts are prefilled once for all their samples.
    """

    name = "hf"

    def __init__(self, *args: Any, **options: Any) -> None:
        """Load the model of `HFSettings(*args, **options)` (or of one HFSettings object): `model` and
        its `adapter`; `context_length` lowers the prompt + generated token limit below the model's
        own (`max_position_embeddings`, the default)."""
        super().__init__()
        self.settings = s = settings_from(HFSettings, args, options)
        self.model_name = s.model
        self.batch_size = s.batch_size
        self.seed = s.seed
        self.prefix_cache = s.prefix_cache
        path = resolve_model(s.model)
        # Checked on the config alone, before the weights load.
        self.context_length = _context_length(AutoConfig.from_pretrained(path), s.context_length)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[s.dtype]).to(s.device)
        if s.adapter:
            from peft import PeftModel

            # Merged weights decode at base-model speed; the adapter is only ever evaluated here.
            self.model = PeftModel.from_pretrained(self.model, s.adapter).merge_and_unload()
        self.model.eval()
        self.device = self.model.device
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        self.eos_ids = {*eos, self.tokenizer.eos_token_id} - {None}
        self.prefixes = PrefixKVCache(self.model)

    # -- Policy API -------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, as `generate` tokenizes a prompt."""
        return self.tokenizer.encode(text)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """`messages` in the model's chat template, ending with the assistant turn's opening."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """`n` completions per request, in request order; see the module docstring for the semantics."""
        start = time.perf_counter()
        rows: list[_Row] = []
        for i, req in enumerate(requests):
            _check_request(i, req)
            prompt = list(req.prompt_token_ids) if req.prompt_token_ids is not None else self.encode(req.prompt)
            if not prompt:
                raise ValueError(f"request {i}: empty prompt (neither prompt text nor prompt_token_ids)")
            rows.extend(_Row(i, j, prompt, req, _row_seed(self.seed, req, prompt, j)) for j in range(req.n))
        # Similar lengths in one chunk waste less on padding; a request's samples stay together so
        # their identical prompt is prefilled once.
        order = sorted(rows, key=lambda r: (len(r.prompt), r.request, r.sample))
        for lo in range(0, len(order), self.batch_size):
            self._generate_chunk(order[lo:lo + self.batch_size])
        out: list[list[Completion]] = [[] for _ in requests]
        for row in rows:
            out[row.request].append(Completion(row.text, row.tokens, row.logprob, row.finish or "length"))
        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.sequences += len(rows)
        self.stats.prompt_tokens += sum(len(r.prompt) for r in rows)
        self.stats.generated_tokens += sum(len(r.tokens) for r in rows)
        self.stats.seconds += time.perf_counter() - start
        return out

    def close(self) -> None:
        """Drop the model and the prefix cache."""
        self.prefixes.clear()
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- internals --------------------------------------------------------------------------------

    @torch.inference_mode()
    def _generate_chunk(self, rows: list[_Row]) -> None:
        if self.prefix_cache:
            unique: dict[tuple[int, ...], int] = {}
            for row in rows:
                unique.setdefault(tuple(row.prompt), len(unique))
            prompts = [list(p) for p in unique]
            row_to_prompt = [unique[tuple(row.prompt)] for row in rows]
            # Leave one token per prompt uncached: its logits give the first sampled token.
            shared = min(common_prefix_length(prompts), min(len(p) for p in prompts) - 1)
        else:
            prompts, row_to_prompt, shared = [row.prompt for row in rows], list(range(len(rows))), 0
        logits, cache, mask, positions = self._prefill(prompts, shared)
        computed = sum(len(p) - shared for p in prompts)
        if len(prompts) != len(rows):
            index = torch.tensor(row_to_prompt, device=self.device)
            cache.batch_select_indices(index)
            logits, mask, positions = logits[index], mask[index], positions[index]
        self.stats.cached_tokens += sum(len(r.prompt) for r in rows) - computed
        self._decode(rows, logits, cache, mask, positions)

    def _prefill(self, prompts: list[list[int]], shared: int):
        """Run the prompts (after their `shared` cached prefix); returns last logits, cache, mask, next positions."""
        device, pad = self.device, self.tokenizer.pad_token_id
        count, width = len(prompts), max(len(p) for p in prompts) - shared
        if shared > 0:
            prefix, computed = self.prefixes.get(prompts[0][:shared])
            self.stats.cached_tokens -= computed  # prefix tokens computed in this call were not served from cache
            cache = expand_cache(prefix, count, self.model.config)
        else:
            cache = DynamicCache(config=self.model.config)
        # Left padding sits between the cached prefix and each suffix; the attention mask hides it
        # and the position ids count only real tokens, so every row sees exactly its own prompt.
        ids = torch.full((count, width), pad, dtype=torch.long)
        suffix_mask = torch.zeros((count, width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            suffix = prompt[shared:]
            ids[i, width - len(suffix):] = torch.tensor(suffix)
            suffix_mask[i, width - len(suffix):] = 1
        positions = (shared + suffix_mask.cumsum(-1) - 1).clamp(min=0)
        mask = torch.cat([torch.ones((count, shared), dtype=torch.long), suffix_mask], dim=1).to(device)
        out = self.model(
            input_ids=ids.to(device),
            attention_mask=mask,
            position_ids=positions.to(device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1], cache, mask, positions[:, -1].to(device) + 1

    def _decode(self, rows: list[_Row], logits, cache, mask, positions) -> None:
        """Sample token by token until every row has hit a stop string, EOS or its token budget."""
        active = list(range(len(rows)))
        generators = [torch.Generator().manual_seed(row.seed) for row in rows]
        while True:
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            tokens = self._sample(logits.float(), [rows[i] for i in active], [generators[i] for i in active])
            chosen = logprobs.gather(1, tokens[:, None])[:, 0].tolist()
            keep = []
            for j, (i, token) in enumerate(zip(active, tokens.tolist())):
                row = rows[i]
                row.tokens.append(token)
                row.logprob += chosen[j]
                if token in self.eos_ids:
                    row.finish, row.text = "stop", self._text(row.tokens[:-1])
                    continue
                text = self._text(row.tokens)
                cut = min((text.find(s) for s in row.req.stop if s and s in text), default=-1)
                if cut >= 0:
                    row.finish, row.text = "stop", text[:cut]
                elif len(row.tokens) >= row.req.max_tokens:
                    row.finish, row.text = "length", text
                else:
                    keep.append(j)
            if not keep:
                return
            if len(keep) < len(active):
                # Finished rows leave the batch, so the remaining ones decode faster.
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                mask, positions, tokens = mask[index], positions[index], tokens[torch.tensor(keep)]
                active = [active[j] for j in keep]
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
            logits = self.model(
                input_ids=tokens[:, None].to(self.device),
                attention_mask=mask,
                position_ids=positions[:, None],
                past_key_values=cache,
                use_cache=True,
            ).logits[:, -1]
            positions = positions + 1

    def _text(self, tokens: list[int]) -> str:
        """The text of generated `tokens`. Special tokens are not text: a weak student samples its
        `[PAD]` or `[UNK]` now and then (seen as `[PAD]` inside stored steps), and EOS ends generation."""
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    @staticmethod
    def _sample(logits: torch.Tensor, rows: list[_Row], generators: list[torch.Generator]) -> torch.Tensor:
        """Greedy for temperature 0, else nucleus sampling, each row with its own generator."""
        tokens = logits.argmax(dim=-1).cpu()
        sampled = [j for j, row in enumerate(rows) if row.req.temperature > 0]
        if not sampled:
            return tokens
        temps = torch.tensor([rows[j].req.temperature for j in sampled])[:, None]
        probs = torch.softmax(logits[sampled].cpu() / temps, dim=-1)
        order = None
        if any(rows[j].req.top_p < 1 for j in sampled):
            # top_p = 1 must keep the whole vocabulary, which float rounding of the cumsum would not.
            top_p = torch.tensor([rows[j].req.top_p if rows[j].req.top_p < 1 else 2.0 for j in sampled])[:, None]
            probs, order = probs.sort(dim=-1, descending=True)
            # Keep the smallest set of tokens whose mass reaches top_p (always at least the top token).
            probs[(probs.cumsum(dim=-1) - probs) >= top_p] = 0
        # Inverse-CDF sampling: one uniform number per row from that row's generator (measured much
        # cheaper than torch.multinomial over a 49k vocabulary, which is called once per row).
        cdf = probs.cumsum(dim=-1)
        uniform = torch.cat([torch.rand(1, generator=generators[j]) for j in sampled])
        picks = torch.searchsorted(cdf, (uniform * cdf[:, -1])[:, None], right=True).clamp_(max=cdf.shape[1] - 1)
        if order is not None:
            picks = order.gather(1, picks)
        tokens[sampled] = picks[:, 0]
        return tokens
