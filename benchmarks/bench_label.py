"""Teacher throughput on the shipped labelling procedure (recipes/label/quickstart.yaml: the `simplify` prompt,
sentence by sentence, its max_new_tokens, stop and repetition penalty), the same dev abstracts and SmolLM2 GGUF,
measured in one run, greedy so that every engine does comparable work:

  (a) llama.cpp in process, one request at a time            -- the baseline (`Llama.create_chat_completion`,
      which reuses the KV cache of the prompt prefix it shares with the request before)
  (b) the `in_process` backend as shipped: llama.cpp, up to batch_size sequences per decode call, the shared
      prompt prefix evaluated once and copied, a finished sequence's slot refilled at once (--with-transformers
      adds the transformers engine, batched, for comparison)
  (c) the `endpoint` backend against llama.cpp's OpenAI-compatible server, concurrency 1 and 4

Generated tokens/s counts completion tokens over wall time, prompt processing included. (a), (b) and (c) count
them the same way: the generated tokens without the end-of-sequence token (llama.cpp's `usage`, which the in_process
backend matches). (b') is transformers' count, which includes the end token of a finished sequence.
Target: (b) >= 1.5x (a).

    python benchmarks/bench_label.py [--papers 16] [--recipe recipes/label/quickstart.yaml] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
from results import record

from miniastrolm.config import parse_config
from miniastrolm.label import LabelConfig
from miniastrolm.models import smollm2_gguf
from miniastrolm.prompts import Prompt
from miniastrolm.store import Paper
from miniastrolm.teacher import BackendSettings, DecodingParams, Job
from miniastrolm.teacher.endpoint import EndpointTeacher
from miniastrolm.teacher.in_process import InProcessTeacher

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from llama_server import llama_cpp_server  # noqa: E402 - the test helper, found once tests/ is on the path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / ".." / "shared" / "data" / "astro-ph-dev.jsonl"
DEFAULT_RECIPE = ROOT / "recipes" / "label" / "quickstart.yaml"
WARM_UP = [{"role": "user", "content": "Hello"}]  # one untimed token per engine first: weights paged in, threads up


def recipe_jobs(config: LabelConfig, corpus: Path, papers: int) -> list[Job]:
    """The recipe's calls for the first `papers` dev abstracts, one sample each (greedy samples are alike)."""
    procedure = config.make_procedure(Prompt.load(config.prompt))
    jobs = []
    for line in corpus.read_bytes().splitlines()[:papers]:
        record = orjson.loads(line)
        paper = Paper(record["id"], None, " ".join(record["title"].split()), " ".join(record["abstract"].split()),
                      record["categories"], record["categories"].split()[0], "", None, None, "bench")
        jobs += procedure.jobs(paper, 0, 1, config.seed)
    return jobs


def llama_cpp_baseline(jobs: list[Job], params: DecodingParams) -> tuple[int, float, list[int]]:
    """(completion tokens, seconds, prompt tokens per job)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf()), n_ctx=4096, n_threads=2, n_threads_batch=2, verbose=False)
    llm.create_chat_completion(WARM_UP, max_tokens=1)
    start, tokens, prompts = time.perf_counter(), 0, []
    for job in jobs:
        out = llm.create_chat_completion(job.messages, max_tokens=params.max_new_tokens, temperature=0.0,
                                         repeat_penalty=params.repetition_penalty, stop=list(params.stop) or None)
        tokens += out["usage"]["completion_tokens"]
        prompts.append(out["usage"]["prompt_tokens"])
    return tokens, time.perf_counter() - start, prompts


async def _drain(teacher, jobs, params) -> int:
    tokens = 0
    async for result in teacher.results(jobs, params):
        tokens += result.completion_tokens or 0
    return tokens


def timed(teacher, jobs, params) -> tuple[int, float]:
    start = time.perf_counter()
    tokens = asyncio.run(_drain(teacher, jobs, params))
    return tokens, time.perf_counter() - start


def shared_prefix(teacher: InProcessTeacher, jobs: list[Job]) -> int:
    """Prompt tokens every job starts with (instructions and few-shot turns before the paper's text)."""
    prompts = [teacher.engine.engine.prompt_tokens(job.messages) for job in jobs]
    length = min(map(len, prompts))
    for prompt in prompts[1:]:
        length = next((i for i in range(length) if prompt[i] != prompts[0][i]), length)
    return length


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=16, help="dev abstracts; the recipe makes one call per key "
                                                               "sentence (up to its most_sentences)")
    parser.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE, help="the labelling recipe to time")
    parser.add_argument("--max-new-tokens", type=int, help="override the recipe's (a quick check)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--with-transformers", action="store_true", help="also time engine=transformers")
    args = parser.parse_args()
    config = parse_config(LabelConfig, ["--config", str(args.recipe)], prog="bench_label")
    jobs = recipe_jobs(config, args.corpus, args.papers)
    params = replace(config.params(), temperature=0.0, **({"max_new_tokens": args.max_new_tokens}
                                                          if args.max_new_tokens else {}))
    settings = BackendSettings(backend="in_process", model=config.model, batch_size=config.batch_size)

    tokens, seconds, prompt_tokens = llama_cpp_baseline(jobs, params)
    rows = [("(a) llama.cpp in process, 1 at a time (baseline)", tokens, seconds)]
    in_process = InProcessTeacher(settings)
    engine = in_process.engine.engine
    engine.generate([engine.prompt_tokens(WARM_UP)], replace(params, max_new_tokens=1), [0])
    prefix = shared_prefix(in_process, jobs)
    rows.append((f"(b) in_process backend as shipped (llama.cpp, {settings.batch_size} sequences)",
                 *timed(in_process, jobs, params)))
    del in_process
    if args.with_transformers:
        in_process = InProcessTeacher(replace(settings, engine="transformers"))
        rows.append((f"(b') in_process backend, engine=transformers (batch {settings.batch_size}, "
                     f"{in_process.engine.lm.dtype})", *timed(in_process, jobs, params)))
        del in_process
    with llama_cpp_server(smollm2_gguf(), threads=2) as url:
        for concurrency in (1, 4):
            teacher = EndpointTeacher(BackendSettings(backend="endpoint", model="smollm2", base_url=url + "/v1",
                                                      concurrency=concurrency, timeout_seconds=600))
            rows.append((f"(c) endpoint -> llama.cpp server, concurrency {concurrency}",
                         *timed(teacher, jobs, params)))

    baseline = rows[0][1] / rows[0][2]
    setup = (f"{args.recipe.name}: {args.papers} dev abstracts, {len(jobs)} calls ({config.prompt} prompt, "
             f"{config.procedure} procedure), max_new_tokens {params.max_new_tokens}, greedy; prompts "
             f"{sum(prompt_tokens) / len(prompt_tokens):.0f} tokens on average, the first {prefix} shared by all")
    print(setup)
    results = {}
    for name, tokens, seconds in rows:
        rate = tokens / seconds
        results[name] = rate
        print(f"{name:<62} {rate:7.1f} tok/s  ({tokens} tokens, {seconds:.0f} s)  ratio {rate / baseline:.2f}")
    shipped = list(results.values())[1] / baseline
    print(f"target: in_process backend >= 1.5x baseline: {'met' if shipped >= 1.5 else 'NOT met'} ({shipped:.2f}x)")
    command = "python benchmarks/bench_label.py" + "".join(f" {flag}" for flag in sys.argv[1:])
    record("label", command, setup + ": " + "; ".join(f"{name} {rate:.1f} tok/s" for name, rate in results.items()),
           shipped, 1.5)
    return {"bench": "label", "tok_s": results, "ratio_in_process": shipped, "target": 1.5}


if __name__ == "__main__":
    main()
