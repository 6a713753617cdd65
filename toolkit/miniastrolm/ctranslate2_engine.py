"""The optimised CPU path for the student: CTranslate2 (int8 weights, fused kernels), chosen with
`--engine ctranslate2`. The plain transformers `pipeline` stays the reference; under greedy decoding int8 can
pick a different token where two are nearly tied, so `benchmarks/bench_infer.py` measures the agreement.

The converted model is cached beside the student (or under the miniastrolm cache for a Hub id) and reused.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .student_format import prompt_ids


def converted(model: str, quantization: str = "int8") -> Path:
    """The CTranslate2 copy of a transformers model folder or Hub id, converted on first use."""
    import ctranslate2

    if Path(model).is_dir():
        target = Path(model) / f"ctranslate2-{quantization}"
    else:
        from .models import cache_dir

        target = cache_dir() / "ctranslate2" / f"{hashlib.sha256(model.encode()).hexdigest()[:16]}-{quantization}"
    if not (target / "model.bin").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        ctranslate2.converters.TransformersConverter(model).convert(str(target), quantization=quantization, force=True)
    return target


class CTranslate2Student:
    """Greedy or sampled generation from chat-template prompts, with the model's own generation defaults."""

    def __init__(self, model: str, tokenizer, generation_config, quantization: str = "int8"):
        import ctranslate2

        self.generator = ctranslate2.Generator(str(converted(model, quantization)), device="cpu",
                                               compute_type=quantization, intra_threads=os.cpu_count() or 1)
        self.tokenizer = tokenizer
        self.options = {"end_token": tokenizer.eos_token,
                        "repetition_penalty": generation_config.repetition_penalty or 1.0,
                        "no_repeat_ngram_size": generation_config.no_repeat_ngram_size or 0}

    def prompt_tokens(self, abstract: str) -> list[str]:
        ids = prompt_ids(self.tokenizer, abstract, tokenize=True, return_dict=True)["input_ids"]
        return self.tokenizer.convert_ids_to_tokens(ids)

    def generate(self, abstracts: list[str], max_new_tokens: int, samples: int = 1, temperature: float = 1.0,
                 seed: int = 0, deadline: float | None = None) -> list[list[str]]:
        """For each abstract, `samples` explanations (1 = greedy); decoding stops at `deadline` (time.monotonic)."""
        import ctranslate2

        ctranslate2.set_random_seed(seed)
        sampling = {"sampling_topk": 0, "sampling_temperature": temperature,
                    "num_hypotheses": samples} if samples > 1 else {"sampling_topk": 1}
        results = self.generator.generate_batch([self.prompt_tokens(a) for a in abstracts], max_length=max_new_tokens,
                                                include_prompt_in_result=False, **sampling, **self.options,
                                                callback=(lambda _: time.monotonic() > deadline) if deadline else None)
        return [[self.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in result.sequences_ids]
                for result in results]

    def generate_rows(self, prompts: list[list[int]], max_new_tokens: int, stopped: Callable[[int], bool],
                      on_token: Callable[[int, int], None]) -> list[bool]:
        """Greedy continuations of token-id `prompts` in one batch; after each token the row's `stopped(row)` is
        asked and True ends that row alone (the serving queue's deadlines and disconnects). Returns, per row,
        whether it ended with the end-of-sequence token."""
        ended = [False] * len(prompts)
        eos = self.tokenizer.eos_token

        # The callback must not hold `self`: CTranslate2 may drop it on one of its own threads, and if that
        # freed the generator, its destructor would join the very thread it runs on (an abort).
        def step(result) -> bool:
            if result.token == eos:
                ended[result.batch_id] = True
                return True
            on_token(result.batch_id, result.token_id)
            return stopped(result.batch_id)

        self.generator.generate_batch([self.tokenizer.convert_ids_to_tokens(p) for p in prompts],
                                      max_length=max_new_tokens, include_prompt_in_result=False, sampling_topk=1,
                                      **self.options, callback=step)
        return ended

    def stream(self, abstract: str, max_new_tokens: int, deadline: float | None = None) -> Iterator[str]:
        """Greedy tokens as text pieces, until EOS, `max_new_tokens` or `deadline` (time.monotonic)."""
        ids: list[int] = []
        shown = ""
        for step in self.generator.generate_tokens(self.prompt_tokens(abstract), max_length=max_new_tokens,
                                                   sampling_topk=1, **self.options):
            if deadline and time.monotonic() > deadline:
                break
            if step.is_last and step.token == self.tokenizer.eos_token:
                break
            ids.append(step.token_id)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            yield text[len(shown):]
            shown = text
