"""The student on llama.cpp (`--engine llama.cpp`): its GGUF (gguf_export.py, f16 by default) decoded by
llama-cpp-python, several prompts per `llama_decode` call. The transformers `pipeline` stays the reference.

To give the pipeline's text, decoding follows the student's generation_config exactly as transformers does,
on llama.cpp's logits: the repetition penalty over every token so far, prompt included (llama.cpp's own
penalty looks at the last 64 only), `no_repeat_ngram_size` (llama.cpp has none), greedy argmax, its EOS ids.
Prompts are the tokenizer's chat template (student_format), the same ids the pipeline is given. The teacher's
batched engine (teacher/llama_batched.py) samples with llama.cpp's own chain, so it is not shared.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from .gguf_export import convert
from .student_format import prompt_ids

MAX_SEQUENCES = 16  # rows per llama_decode (serve's --max-batch defaults to 8, explain's --best-of goes to 16)
CONTEXT_PER_SEQUENCE = 2048


class _Row:
    """One sequence's tokens and what transformers' logits processors need to know about them."""

    def __init__(self, prompt: list[int], ngram: int):
        self.tokens, self.ngram, self.generated = list(prompt), ngram, 0
        self.follows: dict[tuple[int, ...], set[int]] = {}
        for end in range(ngram, len(self.tokens) + 1) if ngram else ():
            self._note(end)
        self.seen = np.unique(self.tokens)

    def _note(self, end: int) -> None:
        gram = self.tokens[end - self.ngram:end]
        self.follows.setdefault(tuple(gram[:-1]), set()).add(gram[-1])

    def add(self, token: int) -> None:
        self.tokens.append(token)
        self.generated += 1
        if self.ngram and len(self.tokens) >= self.ngram:
            self._note(len(self.tokens))
        if token not in self.seen:
            self.seen = np.union1d(self.seen, [token])

    def banned(self) -> list[int]:
        """transformers' NoRepeatNGramLogitsProcessor: tokens that would repeat an n-gram seen so far."""
        if not self.ngram or len(self.tokens) < self.ngram - 1:
            return []
        return list(self.follows.get(tuple(self.tokens[len(self.tokens) - self.ngram + 1:]), ()))


class LlamaCppStudent:
    """Greedy or sampled generation from chat-template prompts with the student's generation defaults; the same
    methods as the CTranslate2 engine, so explain and serve use either."""

    def __init__(self, model: str, tokenizer, generation_config, outtype: str = "f16"):
        from llama_cpp import _internals
        from llama_cpp import llama_cpp as C
        from llama_cpp._utils import suppress_stdout_stderr

        from .teacher.llama_batched import PREFILL_CHUNK

        self.gguf = convert(model, outtype)
        self.tokenizer, self.C = tokenizer, C
        eos = generation_config.eos_token_id
        self.eos = set(eos if isinstance(eos, list) else [eos])
        self.penalty = generation_config.repetition_penalty or 1.0
        self.ngram = generation_config.no_repeat_ngram_size or 0
        self.top_k = generation_config.top_k or 0
        threads = os.cpu_count() or 1
        with suppress_stdout_stderr(disable=False):  # llama.cpp logs its whole load to stderr
            self.model = _internals.LlamaModel(path_model=str(self.gguf), params=C.llama_model_default_params(),
                                               verbose=False)
            self.per_sequence = min(CONTEXT_PER_SEQUENCE, self.model.n_ctx_train())
            params = C.llama_context_default_params()
            params.n_ctx = MAX_SEQUENCES * self.per_sequence
            params.n_batch = params.n_ubatch = PREFILL_CHUNK
            params.n_seq_max = MAX_SEQUENCES
            params.n_threads = params.n_threads_batch = threads
            params.kv_unified = False  # a KV stream per sequence, each attending to its own tokens only
            self.context = _internals.LlamaContext(model=self.model, params=params, verbose=False)
            self.batch = _internals.LlamaBatch(n_tokens=PREFILL_CHUNK, embd=0, n_seq_max=MAX_SEQUENCES,
                                               verbose=False)
        self.vocab_size = self.model.n_vocab()
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time

    def prompt(self, abstract: str) -> list[int]:
        return prompt_ids(self.tokenizer, abstract, tokenize=True, return_dict=True)["input_ids"]

    def _logits(self, index: int) -> np.ndarray:
        pointer = self.C.llama_get_logits_ith(self.context.ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self.vocab_size,)).copy()

    def _processed(self, row: _Row, logits: np.ndarray) -> np.ndarray:
        """transformers' RepetitionPenaltyLogitsProcessor and NoRepeatNGramLogitsProcessor, in that order."""
        if self.penalty != 1.0:
            scores = logits[row.seen]
            logits[row.seen] = np.where(scores < 0, scores * self.penalty, scores / self.penalty)
        banned = row.banned()
        if banned:
            logits[banned] = -np.inf
        return logits

    def _run(self, prompts: list[list[int]], max_new_tokens: int, choose: Callable[[int, np.ndarray], int],
             stopped: Callable[[int], bool], on_token: Callable[[int, int], None]) -> list[bool]:
        """Decode up to MAX_SEQUENCES rows together; `choose(row, logits)` picks each token from the processed
        logits. Returns per row whether it ended with an EOS token."""
        from .teacher.llama_batched import PREFILL_CHUNK, decode
        if len(prompts) > MAX_SEQUENCES:
            raise ValueError(f"{len(prompts)} rows in one batch; the llama.cpp engine takes {MAX_SEQUENCES}")
        for prompt in prompts:
            if len(prompt) >= self.per_sequence:
                raise ValueError(f"the prompt has {len(prompt)} tokens; {self.gguf.name} fits {self.per_sequence}")
        rows = [_Row(prompt, self.ngram) for prompt in prompts]
        ended, live = [False] * len(rows), [True] * len(rows)

        def take(r: int, index: int) -> None:
            token = choose(r, self._processed(rows[r], self._logits(index)))
            if token in self.eos:
                ended[r] = True
                live[r] = False
                return
            rows[r].add(token)
            on_token(r, token)
            if stopped(r) or rows[r].generated >= max_new_tokens or len(rows[r].tokens) >= self.per_sequence:
                live[r] = False

        self.context.kv_cache_clear()
        entries = [(r, token, i, i == len(prompt) - 1) for r, prompt in enumerate(prompts)
                   for i, token in enumerate(prompt)]
        for start in range(0, len(entries), PREFILL_CHUNK):  # logits live until the next decode: pick them now
            chunk = entries[start:start + PREFILL_CHUNK]
            decode(self.context, self.batch, chunk)
            for index, (r, _, _, last) in enumerate(chunk):
                if last:
                    take(r, index)
        while active := [r for r in range(len(rows)) if live[r]]:
            decode(self.context, self.batch,
                   [(r, rows[r].tokens[-1], len(rows[r].tokens) - 1, True) for r in active])
            for index, r in enumerate(active):
                take(r, index)
        return ended

    def _texts(self, prompts: list[list[int]], max_new_tokens: int, choose, deadline: float | None) -> list[str]:
        ids: list[list[int]] = [[] for _ in prompts]
        with self._lock:
            self._run(prompts, max_new_tokens, choose, lambda _: bool(deadline) and time.monotonic() > deadline,
                      lambda r, token: ids[r].append(token))
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]

    def generate(self, abstracts: list[str], max_new_tokens: int, samples: int = 1, temperature: float = 1.0,
                 seed: int = 0, deadline: float | None = None) -> list[list[str]]:
        """For each abstract, `samples` explanations (1 = greedy); decoding stops at `deadline` (time.monotonic).
        Samples draw from the temperature-scaled top-k (generation_config's top_k) with a seeded generator."""
        if samples == 1:
            return [[text] for text in self._texts([self.prompt(a) for a in abstracts], max_new_tokens,
                                                   lambda _, logits: int(np.argmax(logits)), deadline)]
        rng = np.random.default_rng(seed)

        def sample(_, logits: np.ndarray) -> int:
            logits = logits / temperature
            if self.top_k:
                logits[logits < np.partition(logits, -self.top_k)[-self.top_k]] = -np.inf
            weights = np.exp(logits - logits.max())
            return int(rng.choice(len(weights), p=weights / weights.sum()))

        return [self._texts([self.prompt(abstract)] * samples, max_new_tokens, sample, deadline)
                for abstract in abstracts]

    def generate_rows(self, prompts: list[list[int]], max_new_tokens: int, stopped: Callable[[int], bool],
                      on_token: Callable[[int, int], None]) -> list[bool]:
        """Greedy continuations of token-id `prompts` in one batch; after each token the row's `stopped(row)` is
        asked and True ends that row alone (serving's deadlines and disconnects). Returns, per row, whether it
        ended with the end-of-sequence token."""
        with self._lock:
            return self._run(prompts, max_new_tokens, lambda _, logits: int(np.argmax(logits)), stopped, on_token)

    def stream(self, abstract: str, max_new_tokens: int, deadline: float | None = None) -> Iterator[str]:
        """Greedy tokens as text pieces, until EOS, `max_new_tokens` or `deadline` (time.monotonic)."""
        import queue

        pieces: queue.Queue = queue.Queue()
        gone = threading.Event()  # the reader stopped reading: end the decoding too

        def work() -> None:
            try:
                self.generate_rows([self.prompt(abstract)], max_new_tokens,
                                   lambda _: gone.is_set() or (bool(deadline) and time.monotonic() > deadline),
                                   lambda _, token: pieces.put(token))
            finally:
                pieces.put(None)

        threading.Thread(target=work, daemon=True).start()
        ids: list[int] = []
        shown = ""
        try:
            while (token := pieces.get()) is not None:
                ids.append(token)
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                yield text[len(shown):]
                shown = text
        finally:
            gone.set()
