"""A llama.cpp engine that generates for many prompts at once: up to max_sequences slots (a KV stream each) advance
one token per shared `llama_decode` call. Decoding a small model on a CPU is bound by reading the weights, so B
sequences per step cost little more than one (bench_label.py measures it). Two things keep the slots busy on
real work: a slot whose sequence ends takes the next prompt in the next call (continuous batching), and a prompt
evaluates only the tokens past the prefix it shares with what a slot's cache holds (a procedure's instructions and
few-shot turns come first and are evaluated once, then copied into the other slots).

llama-cpp-python's high-level `Llama` serves one sequence at a time; this uses its `_internals` wrappers
(model, context, batch, sampler chain) with `n_seq_max` set, and the GGUF's own chat template rendered by the
same Jinja2 formatter `Llama.create_chat_completion` uses, so prompts are identical to the one-at-a-time path.
"""

from __future__ import annotations

import ctypes
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from llama_cpp import _internals
from llama_cpp import llama_cpp as C
from llama_cpp._logger import set_verbose
from llama_cpp._utils import suppress_stdout_stderr
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from . import DecodingParams
from .faithful import TAIL_TOKENS, Constraint, Vocabulary

PREFILL_CHUNK = 512
REPETITION_WINDOW = 64  # llama.cpp's default penalty_last_n
STOP_LOOKBACK = 8  # tokens decoded to look for a stop string after each new token
COPY_GAIN = 32  # prompt tokens another slot's cache must add before it is copied: the copy is a whole KV stream


@dataclass
class Generated:
    tokens: list[int]
    finish_reason: str  # "stop" (end-of-generation token) or "length"
    prompt_tokens: int
    seconds: float  # from the prompt's first decode call to its end


@dataclass
class _Sequence:
    """A prompt being decoded in a slot."""

    index: int
    prompt: list[int]
    sampler: _internals.LlamaSampler
    tokens: list[int] = field(default_factory=list)
    finish: str | None = None
    started: float = field(default_factory=time.perf_counter)


class _NumberRule:
    """A sampler in a sequence's chain that applies faithful decoding's per-token number rule
    (`Constraint.step`): it keeps the tokens the chain accepted, and before each pick sets the logits of the digit
    tokens that would write a number the abstract lacks to -inf (or of all but the digits that must follow)."""

    def __init__(self, engine: LlamaBatchedEngine, constraint: Constraint):
        self.tokens: list[int] = []

        def apply(_, candidates) -> None:
            array = candidates.contents
            banned, only = constraint.step(engine.text(self.tokens[-TAIL_TOKENS:]))
            if only is not None:
                keep = set(only)
                for i in range(array.size):
                    if array.data[i].id not in keep:
                        array.data[i].logit = float("-inf")
                return
            for token in banned:  # the chain's first samplers keep the array in token order
                entry = array.data[token] if token < array.size and array.data[token].id == token else None
                if entry is not None:
                    entry.logit = float("-inf")

        def accept(_, token: int) -> None:
            self.tokens.append(token)

        self._callbacks = (C.llama_sampler_i_apply(apply), C.llama_sampler_i_accept(accept))  # kept alive
        self.iface = C.llama_sampler_i()
        self.iface.name = C.llama_sampler_i_name(0)
        self.iface.apply, self.iface.accept = self._callbacks
        self.iface.reset = C.llama_sampler_i_reset(0)
        self.iface.clone = C.llama_sampler_i_clone(0)
        self.iface.free = C.llama_sampler_i_free(0)
        self.sampler = C.llama_sampler()
        self.sampler.iface, self.sampler.ctx = ctypes.pointer(self.iface), None

    def add_to(self, chain: _internals.LlamaSampler) -> None:
        C.llama_sampler_chain_add(chain.sampler, ctypes.pointer(self.sampler))
        # the chain removes it before it is freed (llama.cpp must not free a Python-owned sampler)
        chain.custom_samplers.append((C.llama_sampler_chain_n(chain.sampler) - 1, self))


def decode(context: _internals.LlamaContext, batch: _internals.LlamaBatch,
           entries: list[tuple[int, int, int, bool]]) -> None:
    """One `llama_decode` call; entries: (sequence, token, position, wants logits). Also the student engine's
    (llamacpp_engine.py)."""
    raw = batch.batch
    raw.n_tokens = len(entries)
    for i, (sequence, token, position, logits) in enumerate(entries):
        raw.token[i], raw.pos[i], raw.n_seq_id[i] = token, position, 1
        raw.seq_id[i][0], raw.logits[i] = sequence, logits
    context.decode(batch)


class LlamaBatchedEngine:
    def __init__(self, gguf: str | Path, max_sequences: int = 16, context_per_sequence: int = 2048,
                 threads: int = 2):
        self.max_sequences = max_sequences
        set_verbose(False)  # llama.cpp's errors only, as Llama(verbose=False): no debug line per KV stream copy
        with suppress_stdout_stderr(disable=False):  # llama.cpp logs its whole load to stderr
            self._load(gguf, context_per_sequence, threads)
        self._cached: list[list[int]] = [[] for _ in range(max_sequences)]  # the tokens in each slot's KV cache

    def _load(self, gguf: str | Path, context_per_sequence: int, threads: int) -> None:
        max_sequences = self.max_sequences
        self.model = _internals.LlamaModel(path_model=str(gguf), params=C.llama_model_default_params(),
                                           verbose=False)
        params = C.llama_context_default_params()
        params.n_ctx = max_sequences * context_per_sequence
        params.n_batch = params.n_ubatch = PREFILL_CHUNK
        params.n_seq_max = max_sequences
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = False  # a KV stream per sequence: a unified cache makes each token attend over all of them
        self.context = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        self.batch = _internals.LlamaBatch(n_tokens=max(PREFILL_CHUNK, max_sequences), embd=0,
                                           n_seq_max=max_sequences, verbose=False)
        metadata = self.model.metadata()
        eos, bos = self.model.token_eos(), self.model.token_bos()
        self.formatter = Jinja2ChatFormatter(
            template=metadata["tokenizer.chat_template"],
            eos_token=self.model.token_get_text(eos) if eos >= 0 else "",
            bos_token=self.model.token_get_text(bos) if bos >= 0 else "")
        self.vocab = C.llama_model_get_vocab(self.model.model)

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        text = self.formatter(messages=messages).prompt
        return self.model.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def text(self, tokens: list[int]) -> str:
        return self.model.detokenize(tokens).decode("utf-8", errors="replace")

    @cached_property
    def faithful_vocabulary(self) -> Vocabulary:
        """The tokens faithful decoding looks at (faithful.py), read from the GGUF's vocabulary once."""
        return Vocabulary.from_pieces([self.model.token_to_piece(i).rstrip(b"\0").decode("utf-8", errors="replace")
                                       for i in range(C.llama_vocab_n_tokens(self.vocab))])

    def _sampler(self, params: DecodingParams, seed: int, banned: Sequence[int] = ()) -> _internals.LlamaSampler:
        """The sampler chain of one sequence; `banned` tokens (faithful decoding) get -inf first, and a
        `Constraint` also follows the numbers it writes."""
        temperature, top_p = params.temperature, params.top_p
        sampler = _internals.LlamaSampler()
        if banned:
            sampler.add_logit_bias(C.llama_vocab_n_tokens(self.vocab), dict.fromkeys(banned, float("-inf")))
        if isinstance(banned, Constraint):
            _NumberRule(self, banned).add_to(sampler)
        if params.repetition_penalty != 1.0:
            sampler.add_penalties(REPETITION_WINDOW, params.repetition_penalty, 0.0, 0.0)
        if temperature <= 0:
            sampler.add_greedy()
        else:
            sampler.add_top_p(top_p, 1)
            sampler.add_temp(temperature)
            sampler.add_dist(seed)
        return sampler

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        decode(self.context, self.batch, entries)

    def _shared(self, slot: int, prompt: list[int]) -> int:
        """Leading tokens of `prompt` the slot's cache holds, all but its last at most (whose logits are needed)."""
        return min(_common(self._cached[slot], prompt), len(prompt) - 1)

    def _reuse(self, slot: int, prompt: list[int]) -> int:
        """Keep the slot's cache of the prompt's leading tokens, after copying in another slot's cache where that
        one holds COPY_GAIN more of them; the number of prompt tokens left to skip."""
        kept = self._shared(slot, prompt)
        source = max(range(self.max_sequences), key=lambda other: self._shared(other, prompt))
        if self._shared(source, prompt) >= kept + COPY_GAIN:
            self.context.kv_cache_seq_cp(source, slot, -1, -1)  # across KV streams llama.cpp copies a whole stream
            self._cached[slot] = list(self._cached[source])
            kept = self._shared(slot, prompt)
        self.context.kv_cache_seq_rm(slot, kept, -1)
        del self._cached[slot][kept:]
        return kept

    def _share_prefix(self, prompts: list[list[int]]) -> None:
        """Evaluate the prompts' common prefix (a procedure's instructions and few-shot turns) once, in one slot,
        so that the other slots copy it instead of evaluating it again."""
        if len(prompts) < 2:
            return
        length = min(map(len, prompts)) - 1
        for prompt in prompts[1:]:
            length = min(length, _common(prompts[0], prompt))
        common = prompts[0][:length]
        slot = max(range(self.max_sequences), key=lambda other: _common(self._cached[other], common))
        kept = _common(self._cached[slot], common)
        if length - kept < COPY_GAIN:
            return
        self.context.kv_cache_seq_rm(slot, kept, -1)
        entries = [(slot, token, position, False) for position, token in enumerate(common[kept:], kept)]
        for start in range(0, len(entries), PREFILL_CHUNK):
            self._decode(entries[start:start + PREFILL_CHUNK])
        self._cached[slot] = common

    def _take(self, sequence: _Sequence, index: int, params: DecodingParams) -> None:
        token = sequence.sampler.sample(self.context, index)  # the sampler chain also accepts it
        if C.llama_vocab_is_eog(self.vocab, token):
            sequence.finish = "stop"
            return
        tokens = sequence.tokens
        tokens.append(token)
        if params.stop and params.cut_at_stop(self.text(tokens[-STOP_LOOKBACK:]))[1]:
            while params.cut_at_stop(self.text(tokens))[1]:
                tokens.pop()
            sequence.finish = "stop"
        elif len(tokens) >= params.max_new_tokens:
            sequence.finish = "length"

    def stream(self, prompts: list[list[int]], params: DecodingParams, seeds: list[int],
               banned: list[list[int]] | None = None) -> Iterator[tuple[int, Generated]]:
        """(prompt index, its tokens) as each sequence ends: at an end-of-generation token ("stop"), a stop string
        ("stop", the tokens from the one holding the stop string on are dropped) or `params.max_new_tokens`
        ("length"). Up to max_sequences decode together; an ended sequence's slot takes the next prompt in the
        next decode call (continuous batching), keeping the cache of the leading tokens the prompts share."""
        pending = deque(range(len(prompts)))
        live: dict[int, _Sequence] = {}
        self._share_prefix(prompts)
        while pending or live:
            entries = []
            for slot in range(self.max_sequences):  # by slot: llama.cpp splits a multi-stream batch by sequence
                if slot in live:
                    entries.append((slot, live[slot].tokens[-1], len(self._cached[slot]), True))
                elif pending:
                    index = pending.popleft()
                    prompt = prompts[index]
                    live[slot] = _Sequence(index, prompt, self._sampler(params, seeds[index],
                                                                        banned[index] if banned else ()))
                    kept = self._reuse(slot, prompt)
                    entries += [(slot, token, position, position == len(prompt) - 1)
                                for position, token in enumerate(prompt[kept:], kept)]
            for start in range(0, len(entries), PREFILL_CHUNK):  # logits live until the next decode: sample now
                chunk = entries[start:start + PREFILL_CHUNK]
                self._decode(chunk)
                for index, (slot, _, _, logits) in enumerate(chunk):
                    if logits:
                        self._take(live[slot], index, params)
            for slot, token, _, _ in entries:  # only now: a copy made above reads the cache as it was before
                self._cached[slot].append(token)
            for slot in [slot for slot, sequence in live.items() if sequence.finish]:
                sequence = live.pop(slot)
                yield sequence.index, Generated(sequence.tokens, sequence.finish, len(sequence.prompt),
                                                time.perf_counter() - sequence.started)

    def generate(self, prompts: list[list[int]], params: DecodingParams, seeds: list[int],
                 banned: list[list[int]] | None = None) -> list[Generated]:
        """`stream`'s results in prompt order."""
        results: list[Generated] = [None] * len(prompts)  # type: ignore[list-item]
        for index, result in self.stream(prompts, params, seeds, banned):
            results[index] = result
        return results


def _common(a: list[int], b: list[int]) -> int:
    """Length of the common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
