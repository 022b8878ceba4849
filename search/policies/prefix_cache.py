"""Reusable KV caches of shared prompt prefixes (the few-shot header every prompt of a search starts with).

On CPU, prefill of a ~250-token header dominates generation time, and every request of every wave
repeats it. The header's keys and values are computed once, kept across calls keyed by its token
ids, and broadcast along the batch for each wave.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from transformers import DynamicCache


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix that every row shares."""
    if not rows:
        return 0
    first, length = rows[0], min(len(r) for r in rows)
    for row in rows[1:]:
        i = 0
        while i < length and row[i] == first[i]:
            i += 1
        length = i
    return length


def expand_cache(cache: DynamicCache, batch: int, config) -> DynamicCache:
    """A new cache holding `cache`'s single row repeated `batch` times; `cache` itself is untouched.

    `expand` makes views, not copies: the first forward pass concatenates new keys onto them, which
    materialises the batch anyway, so copying here would only double the memory traffic.
    """
    data = [
        (layer.keys.expand(batch, -1, -1, -1), layer.values.expand(batch, -1, -1, -1))
        for layer in cache.layers
    ]
    return DynamicCache(ddp_cache_data=data, config=config)


class PrefixKVCache:
    """An LRU of single-row KV caches keyed by the exact prefix token ids they hold.

    A request for a prefix reuses the longest stored prefix of it and only runs the model over the
    remaining tokens, so a header computed once serves every later prompt that starts with it.
    """

    def __init__(self, model, max_entries: int = 8) -> None:
        self.model = model
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[int, ...], DynamicCache] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every stored prefix."""
        self._entries.clear()

    def get(self, prefix: Sequence[int]) -> tuple[DynamicCache, int]:
        """The KV cache of `prefix` (one row, never mutate it) and how many tokens had to be computed."""
        key = tuple(prefix)
        base_key: tuple[int, ...] = ()
        for stored in self._entries:
            if len(base_key) < len(stored) <= len(key) and key[: len(stored)] == stored:
                base_key = stored
        if base_key:
            self._entries.move_to_end(base_key)  # a shared header stays hot while its extensions churn
            if base_key == key:
                return self._entries[base_key], 0
        cache = self._extend(self._entries.get(base_key), key, len(base_key))
        self._entries[key] = cache
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return cache, len(key) - len(base_key)

    @torch.inference_mode()
    def _extend(self, base: DynamicCache | None, key: tuple[int, ...], start: int) -> DynamicCache:
        config = self.model.config
        cache = expand_cache(base, 1, config) if base is not None else DynamicCache(config=config)
        device = self.model.device
        ids = torch.tensor([key[start:]], dtype=torch.long, device=device)
        self.model(
            input_ids=ids,
            attention_mask=torch.ones(1, len(key), dtype=torch.long, device=device),
            position_ids=torch.arange(start, len(key), device=device)[None],
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,  # only the keys/values matter here; skip the vocabulary projection
        )
        return cache
