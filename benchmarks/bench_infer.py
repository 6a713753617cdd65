"""Student inference speed on a trained student (default: the CPU distillation's SmolLM2-135M student,
runs/cpu-distill/student), real dev abstracts, the student's own greedy decoding (its generation_config:
repetition penalty, no-repeat n-grams, EOS), measured in one run through the engines explain and serve use:

  (a) transformers fp32 (the pipeline's model), batch 1   -- the baseline (the reference text)
  (b) CTranslate2 int8                 (c) llama.cpp GGUF f16 (the shipped fast path, `--engine llama.cpp`)
  (d) llama.cpp GGUF q8_0              (e) llama.cpp GGUF q4_k_m
each at batch 1 (one abstract at a time) and batch 8 (the abstracts in groups of 8, serve's --max-batch).

Prints tokens/s from the tokens each engine actually generated (prompt ids in, token ids out; prefill included),
the ratio to (a) batch 1, and how many greedy tokens each engine shares with (a) before its first difference,
summed over the abstracts (and how many abstracts are identical to the end). Target: the shipped fast path
(c) at batch 1 >= 3x (a) at batch 1, with the reference's text.

    python benchmarks/bench_infer.py [--model runs/cpu-distill/student] [--abstracts 8] [--new-tokens 128]
    python benchmarks/bench_infer.py --abstracts 2 --new-tokens 16 --engines a,c   # a quick check
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import orjson
import torch
from results import record
from transformers import GenerationConfig

from miniastrolm.explain import ExplainPipeline, check_abstract
from miniastrolm.llamacpp_engine import LlamaCppStudent

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / ".." / "shared" / "data" / "astro-ph-dev.jsonl"
ENGINES = {"a": ("transformers fp32", "transformers", None), "b": ("ctranslate2 int8", "ctranslate2", None),
           "c": ("llama.cpp f16 (shipped)", "llama.cpp", None), "d": ("llama.cpp q8_0", "llama.cpp", "q8_0"),
           "e": ("llama.cpp q4_k_m", "llama.cpp", "q4_k_m")}
BATCH = 8


def shared_prefix(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def run(explainer: ExplainPipeline, prompts: list[list[int]], batch: int) -> tuple[list[list[int]], float]:
    """Each prompt's generated tokens and the seconds they took, `batch` prompts per generate call."""
    tokens: list[list[int]] = [[] for _ in prompts]
    start = time.perf_counter()
    for first in range(0, len(prompts), batch):
        explainer.generate_rows(prompts[first:first + batch], lambda _: False,
                                lambda row, token, first=first: tokens[first + row].append(token))
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "runs" / "cpu-distill" / "student"))
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--abstracts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--engines", default="a,b,c,d,e", help="which of a-e to run (a, the baseline, always runs)")
    args = parser.parse_args()
    if not (Path(args.model) / "config.json").is_file():
        raise SystemExit(f"no trained student at {args.model}: train one (`make quickstart` writes "
                         "runs/quickstart/student) and pass --model")
    records = [orjson.loads(line) for line in args.corpus.read_bytes().splitlines()[-args.abstracts:]]
    abstracts = [check_abstract(record["abstract"]) for record in records]
    keys = ["a", *[k for k in args.engines.split(",") if k in ENGINES and k != "a"]]

    rates: dict[tuple[str, int], float] = {}
    matches: dict[str, tuple[int, int, int]] = {}
    generated: dict[tuple[str, int], int] = {}
    reference: list[list[int]] = []
    for key in keys:
        name, engine, outtype = ENGINES[key]
        explainer = ExplainPipeline(args.model, engine=engine, max_new_tokens=args.new_tokens, check=False)
        if outtype:
            explainer.fast = LlamaCppStudent(args.model, explainer.tokenizer, 
                                            GenerationConfig.from_pretrained(args.model), outtype)
        prompts = [explainer.prompt(abstract) for abstract in abstracts]
        run(explainer, prompts[:1], 1)  # warm-up (and the conversion, once)
        for batch in (1, BATCH):
            tokens, seconds = run(explainer, prompts, batch)
            rates[key, batch] = sum(map(len, tokens)) / seconds
            generated[key, batch] = sum(map(len, tokens))
            if batch == 1:
                reference = reference or tokens
                shared = [shared_prefix(ref, got) for ref, got in zip(reference, tokens, strict=True)]
                same = sum(ref == got for ref, got in zip(reference, tokens, strict=True))
                matches[key] = (sum(shared), sum(map(len, reference)), same)
        del explainer
        gc.collect()

    base = rates["a", 1]
    print(f"{args.model}: {len(abstracts)} dev abstracts (prompts {min(map(len, prompts))}-{max(map(len, prompts))} "
          f"tokens), up to {args.new_tokens} new tokens each, greedy with the student's generation_config, "
          f"{torch.get_num_threads()} threads")
    print(f"{'engine':<28}{'batch 1 tok/s':>14}{'ratio':>8}{'batch 8 tok/s':>15}{'ratio':>8}"
          f"{'tokens':>9}   greedy tokens shared with (a) before the first difference")
    for key in keys:
        shared, total, same = matches[key]
        print(f"({key}) {ENGINES[key][0]:<24}{rates[key, 1]:14.1f}{rates[key, 1] / base:7.2f}x"
              f"{rates[key, BATCH]:15.1f}{rates[key, BATCH] / base:7.2f}x{generated[key, 1]:9d}   "
              f"{shared} of {total} ({same} of {len(abstracts)} abstracts identical)")
    figures = "; ".join(f"({k}) {ENGINES[k][0]} {rates[k, 1]:.1f} tok/s batch 1, {rates[k, BATCH]:.1f} batch 8, "
                        f"{matches[k][0]}/{matches[k][1]} greedy tokens as (a)" for k in keys)
    ratio = rates["c", 1] / base if ("c", 1) in rates else None
    if ratio is not None:
        print(f"target (c) batch 1 >= 3x (a) batch 1: {'MET' if ratio >= 3 else 'NOT met'} ({ratio:.2f}x)")
    record("infer", "python benchmarks/bench_infer.py", f"{Path(args.model).name}, {len(abstracts)} dev abstracts, "
           f"<= {args.new_tokens} new tokens greedy: {figures}", ratio, 3.0)


if __name__ == "__main__":
    main()
