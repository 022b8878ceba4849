"""The `vllm` backend: vLLM's offline engine with automatic prefix caching.

Tree search sends thousands of prompts that share the few-shot header and the parent's steps;
prefix caching turns that shared prefix into cache hits (measured on the 2-core CPU box with the
default model: 69 generated tok/s with caching, 30 without).

Token exactness: the explorer builds a child's prompt as the parent's prompt ids + the parent's
step ids, so the step ids must contain the token(s) that produced the stop string. vLLM drops the
stop string from the text by default but its token ids still end with the stop token, so text and
ids disagree. We ask for `include_stop_str_in_output=True` (text and ids agree) and cut the text
before the stop string ourselves. When the stop string ends inside a token (e.g. a "\\n\\n" token
for stop "\\n"), the ids keep the whole token: decoding them gives text + stop + the rest of that
token, which is exactly what the next prompt continues from.

Seeds: on CPU a per-request `SamplingParams(seed=...)` kills the engine ("CPU Generator does not
use offset"), so there the engine is seeded once (`seed=`) and per-request seeds are ignored;
on GPU they are passed through.

Continuous (`submit`, `explore.continuous`): each request joins the engine's running batch at its
next step and is handed back the step it finishes (search/policies/vllm_stepper.py). From the first
`submit` on, `generate` goes through the same stepping thread, which then owns the engine.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

from search.policies.backend_settings import option_names, settings_from
from search.policies.base import Completion, GenerationRequest, Policy, PolicyUnavailable
from search.policies.default_model import resolve_model
from search.policies.vllm_settings import VLLMSettings


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """`text` up to (not including) the earliest occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if 0 <= i < cut:
                cut = i
    return text[:cut]


class VLLMPolicy(Policy):
    """Batched generation with `vllm.LLM`: one `llm.generate` call per `generate` call."""

    name = "vllm"
    # The explorer then sends token-id prompts (parent prompt ids + step ids), so continuations
    # are token-exact and the shared prefixes hit vLLM's prefix cache block for block.
    token_prompts = True
    continuous = True   # `submit`: requests join the running batch (search/policies/vllm_stepper.py)
    _stepper = None

    def __init__(self, *args: Any, **options: Any) -> None:
        """Start the engine of `VLLMSettings(*args, **options)` (or of one VLLMSettings object); keyword
        arguments that are not its fields go to `vllm.LLM` unchanged (engine options for Python callers).

        `dtype` and `enforce_eager` default per platform: float32 + eager on CPU (the only
        combination that works with vllm-cpu here; CUDA-graph capture is GPU-only), "auto" +
        graphs on GPU. `cpu_kvcache_space_gb` sets VLLM_CPU_KVCACHE_SPACE unless it is already set.
        """
        super().__init__()
        fields = set(option_names(VLLMSettings))
        engine_kwargs = {k: v for k, v in options.items() if k not in fields}
        self.settings = s = settings_from(VLLMSettings, args, {k: v for k, v in options.items() if k in fields})
        try:
            import vllm
            from vllm.platforms import current_platform
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "policy backend 'vllm' needs the vllm package: run scripts/install_vllm.sh "
                "PATH/TO/python (CPU) or `pip install vllm` (GPU)"
            ) from exc

        self.on_cpu = current_platform.is_cpu()
        if self.on_cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(s.cpu_kvcache_space_gb))
            # oneDNN's AMX kernels die with "Illegal instruction" on some CPUs.
            os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
        dtype = s.dtype if s.dtype is not None else "float32" if self.on_cpu else "auto"
        enforce_eager = s.enforce_eager if s.enforce_eager is not None else self.on_cpu

        self.model = resolve_model(s.model)
        started = time.perf_counter()
        self.llm = vllm.LLM(
            model=self.model,
            dtype=dtype,
            seed=s.seed,
            max_model_len=s.max_model_len,
            gpu_memory_utilization=s.gpu_memory_utilization,
            tensor_parallel_size=s.tensor_parallel_size,
            enable_prefix_caching=s.enable_prefix_caching,
            enforce_eager=enforce_eager,
            **engine_kwargs,
        )
        self.init_seconds = time.perf_counter() - started
        # The engine's own limit: `max_model_len`, or the model's when that is null.
        model_config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None)
        self.context_length = getattr(model_config, "max_model_len", None) or s.max_model_len
        self.tokenizer = self.llm.get_tokenizer()
        self._sampling_params = vllm.SamplingParams
        self._tokens_prompt = vllm.inputs.TokensPrompt
        from vllm.sampling_params import RequestOutputKind
        from vllm.v1.engine.exceptions import EngineDeadError

        self._final_only = RequestOutputKind.FINAL_ONLY
        self._engine_dead = EngineDeadError
        self._closed = threading.Event()
        _watch_engine_core(getattr(self.llm.llm_engine, "engine_core", None), EngineDeadError, self._closed)

    def _unavailable(self, exc: BaseException) -> BaseException:
        """`exc`, or for vLLM's EngineDeadError (its core process died: killed, out of memory) the
        one-line error of a server that is gone: the finished waves are stored, the same command resumes."""
        if not isinstance(exc, self._engine_dead):
            return exc
        return PolicyUnavailable("the vLLM engine's core process died (out of memory or killed; its log is "
                                 "above); what was finished is stored, re-run the same command to resume")

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without special tokens (chat-rendered prompts already hold them)."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """`messages` rendered with the model's chat template, ending with the assistant turn."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _sampling(self, request: GenerationRequest):
        request.check_sampling("GenerationRequest.")
        return self._sampling_params(
            n=request.n,
            max_tokens=request.max_tokens,
            stop=list(request.stop),
            include_stop_str_in_output=True,
            temperature=request.temperature,
            top_p=request.top_p,
            # 0 = the sampled token's logprob only; vLLM then fills cumulative_logprob.
            logprobs=0,
            seed=None if self.on_cpu else request.seed,
        )

    def _prompt_ids(self, request: GenerationRequest) -> list[int]:
        """The prompt as token ids: the explorer's own, or its text encoded."""
        return list(request.prompt_token_ids) if request.prompt_token_ids is not None else self.encode(request.prompt)

    def generate(self, requests: list[GenerationRequest]) -> list[list[Completion]]:
        """One `n`-sample list per request, in order, from a single batched engine call (through the
        stepping thread once `submit` has started it)."""
        if not requests:
            return []
        if self._stepper is not None:
            started = time.perf_counter()
            results = [future.result() for future in self.submit(requests)]
            self.stats.seconds += time.perf_counter() - started
            self.stats.calls += 1
            return results
        started = time.perf_counter()
        prompt_ids = [self._prompt_ids(r) for r in requests]
        try:
            outputs = self.llm.generate(
                [self._tokens_prompt(prompt_token_ids=ids) for ids in prompt_ids],
                [self._sampling(r) for r in requests],
                use_tqdm=False,
            )
        except self._engine_dead as exc:
            raise self._unavailable(exc) from exc
        results = [self._completions(output, request) for request, output in zip(requests, outputs)]
        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.seconds += time.perf_counter() - started
        return results

    def submit(self, requests: list[GenerationRequest]) -> list:
        """One future per request, done the engine step it finishes; requests sent while others run
        join their batch (`explore.continuous`). Bad sampling settings raise here, before any is sent."""
        from search.policies.vllm_stepper import EngineStepper

        if getattr(self, "llm", None) is None:
            raise RuntimeError("policy 'vllm' is closed")
        sent = []
        for request in requests:
            params = self._sampling(request)
            params.output_kind = self._final_only   # one output per request, when it is done
            sent.append((self._tokens_prompt(prompt_token_ids=self._prompt_ids(request)), params, request))
        if self._stepper is None:
            self._stepper = EngineStepper(self.llm.llm_engine, self._completions, self._unavailable)
        self.stats.requests += len(requests)
        return [self._stepper.add(prompt, params, request) for prompt, params, request in sent]

    def _completions(self, output, request: GenerationRequest) -> list[Completion]:
        """A finished request's `n` completions, counted in the stats."""
        completions = [self._completion(c, request.stop) for c in output.outputs]
        self.stats.prompt_tokens += len(output.prompt_token_ids or ())
        self.stats.cached_tokens += output.num_cached_tokens or 0
        self.stats.generated_tokens += sum(len(c.token_ids) for c in completions)
        self.stats.sequences += len(completions)
        return completions

    @staticmethod
    def _completion(out, stop: tuple[str, ...]) -> Completion:
        if out.cumulative_logprob is not None:
            logprob = float(out.cumulative_logprob)
        else:  # older vLLM: sum the per-token dicts
            logprob = sum(step[t].logprob for step, t in zip(out.logprobs or [], out.token_ids))
        return Completion(
            text=cut_at_stop(out.text, stop),
            token_ids=list(out.token_ids),
            logprob=logprob,
            finish_reason="length" if out.finish_reason == "length" else "stop",
        )

    def close(self) -> None:
        """Shut the engine core process down and drop the engine."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self._closed.set()
        if self._stepper is not None:   # first the thread that steps the engine
            self._stepper.close()
            self._stepper = None
        self.llm = None
        engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if engine_core is not None:
            engine_core.shutdown()
        del llm
        import gc

        gc.collect()


def _watch_engine_core(client: Any, engine_dead: type[BaseException], closed: threading.Event) -> None:
    """Wake a caller waiting for the engine once its core process has died. vLLM 0.32's client
    notices the death (its monitor thread sets `resources.engine_dead` and shuts the client down) but
    then nobody puts anything in the queue that `step` and `LLM.generate` wait on, so they wait
    forever (measured: a killed core left the explorer hanging). This thread puts vLLM's own
    EngineDeadError there, which `get_output` raises. A client without those parts (another vLLM
    version, the in-process engine) is left alone."""
    resources, queue = getattr(client, "resources", None), getattr(client, "outputs_queue", None)
    if resources is None or queue is None or not hasattr(resources, "engine_dead"):
        return

    def watch() -> None:
        while not closed.wait(0.5):
            if resources.engine_dead:
                queue.put_nowait(engine_dead())
                return

    threading.Thread(target=watch, name="vllm-engine-watch", daemon=True).start()
