"""Teacher throughput on the same 32 dev abstracts, the same SmolLM2 GGUF, prompt and max_new_tokens,
measured in one run (greedy decoding, so every engine does comparable work):

  (a) llama.cpp in process, one request at a time            -- the baseline
  (b) the `in_process` backend as shipped (llama.cpp, many sequences per decode call; --with-transformers adds
      the transformers engine, batched, for comparison)
  (c) the `endpoint` backend against llama.cpp's OpenAI-compatible server, concurrency 1 and 4

Generated tokens/s counts completion tokens over wall time, prompt processing included. (a), (b) and (c) count
them the same way: the generated tokens without the end-of-sequence token (llama.cpp's `usage`, which the in_process
backend matches). (b') is transformers' count, which includes the end token of a finished sequence.
Target: (b) >= 1.5x (a).

    python benchmarks/bench_label.py [--abstracts 32] [--max-new-tokens 320] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import orjson
from results import record

from miniastrolm.models import smollm2_gguf
from miniastrolm.prompts import Prompt
from miniastrolm.store import Paper
from miniastrolm.teacher import BackendSettings, DecodingParams, Job
from miniastrolm.teacher.endpoint import EndpointTeacher
from miniastrolm.teacher.in_process import InProcessTeacher

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from llama_server import llama_cpp_server  # noqa: E402 - the test helper, found once tests/ is on the path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "astro-ph-dev.jsonl"


def dev_jobs(corpus: Path, count: int) -> list[Job]:
    prompt = Prompt.load("explain")
    jobs = []
    for line in corpus.read_bytes().splitlines()[:count]:
        record = orjson.loads(line)
        paper = Paper(record["id"], None, " ".join(record["title"].split()), " ".join(record["abstract"].split()),
                      record["categories"], record["categories"].split()[0], "", None, None, "bench")
        jobs.append(Job(paper.arxiv_id, 0, 1, prompt.messages(paper), seed=0))
    return jobs


def llama_cpp_baseline(jobs: list[Job], params: DecodingParams) -> tuple[int, float]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf()), n_ctx=4096, n_threads=2, n_threads_batch=2, verbose=False)
    start, tokens = time.perf_counter(), 0
    for job in jobs:
        out = llm.create_chat_completion(job.messages, max_tokens=params.max_new_tokens, temperature=0.0)
        tokens += out["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - start


async def _drain(teacher, jobs, params) -> int:
    tokens = 0
    async for result in teacher.results(jobs, params):
        tokens += result.completion_tokens or 0
    return tokens


def timed(teacher, jobs, params) -> tuple[int, float]:
    start = time.perf_counter()
    tokens = asyncio.run(_drain(teacher, jobs, params))
    return tokens, time.perf_counter() - start


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--abstracts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=320, help="as in recipes/label/in-process-smollm2.yaml")
    parser.add_argument("--batch-size", type=int, default=16, help="the in_process backend batch, as shipped")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--with-transformers", action="store_true", help="also time engine=transformers")
    args = parser.parse_args()
    jobs = dev_jobs(args.corpus, args.abstracts)
    params = DecodingParams(max_new_tokens=args.max_new_tokens, temperature=0.0)

    rows = [("(a) llama.cpp in process, 1 at a time (baseline)", *llama_cpp_baseline(jobs, params))]
    in_process = InProcessTeacher(BackendSettings(backend="in_process", model="smollm2", batch_size=args.batch_size))
    rows.append((f"(b) in_process backend as shipped (llama.cpp, {args.batch_size} sequences)",
                 *timed(in_process, jobs, params)))
    del in_process
    if args.with_transformers:
        in_process = InProcessTeacher(BackendSettings(backend="in_process", model="smollm2",
                                                      batch_size=args.batch_size, engine="transformers"))
        rows.append((f"(b') in_process backend, engine=transformers (batch {args.batch_size}, "
                     f"{in_process.engine.lm.dtype})", *timed(in_process, jobs, params)))
        del in_process
    with llama_cpp_server(smollm2_gguf(), threads=2) as url:
        for concurrency in (1, 4):
            teacher = EndpointTeacher(BackendSettings(backend="endpoint", model="smollm2", base_url=url + "/v1",
                                                      concurrency=concurrency, timeout_seconds=600))
            rows.append((f"(c) endpoint -> llama.cpp server, concurrency {concurrency}",
                         *timed(teacher, jobs, params)))

    baseline = rows[0][1] / rows[0][2]
    print(f"{len(jobs)} abstracts, max_new_tokens {args.max_new_tokens}, greedy")
    results = {}
    for name, tokens, seconds in rows:
        rate = tokens / seconds
        results[name] = rate
        print(f"{name:<62} {rate:7.1f} tok/s  ({tokens} tokens, {seconds:.0f} s)  ratio {rate / baseline:.2f}")
    shipped = list(results.values())[1] / baseline
    print(f"target: in_process backend >= 1.5x baseline: {'met' if shipped >= 1.5 else 'NOT met'} ({shipped:.2f}x)")
    record("label", "python benchmarks/bench_label.py", "; ".join(f"{name} {rate:.1f} tok/s" for name, rate in
                                                               results.items()), shipped, 1.5)
    return {"bench": "label", "tok_s": results, "ratio_in_process": shipped, "target": 1.5}


if __name__ == "__main__":
    main()
