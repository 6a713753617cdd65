"""Student inference speed: GPT-2 124M architecture (random weights), greedy, 200 new tokens from a 400-token
prompt. Measured in one run:

  (a) plain `pipeline("text-generation")`, fp32, batch 1      -- the baseline (the reference path)
  (b) the optimised path (`--engine ctranslate2`: int8), batch 1
  (c) the optimised path, batch 16 (throughput)

Prints generated tokens/s (the tokens each path actually returned, over its time from prompt text to token
ids: tokenisation included on both sides), first-token latency and ratios, and how many greedy tokens (b)
shares with (a) before the first difference (int8 can flip near-ties; random weights make near-ties common).
Target: (b) >= 2x (a) in tokens/s.

    python benchmarks/bench_infer.py [--new-tokens 200] [--prompt-tokens 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from results import record
from transformers import GPT2Config, GPT2LMHeadModel, pipeline

from miniastrolm.ctranslate2_engine import converted
from miniastrolm.train import gpt2_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--prompt-tokens", type=int, default=400)
    args = parser.parse_args()
    import ctranslate2

    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer()
    with tempfile.TemporaryDirectory() as folder:
        GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer))).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        prompt_ids = torch.randint(1000, 30000, (args.prompt_tokens,)).tolist()
        prompt = tokenizer.decode(prompt_ids)
        prompt_ids = tokenizer(prompt)["input_ids"][:args.prompt_tokens]
        prompt = tokenizer.decode(prompt_ids)
        fixed = {"max_new_tokens": args.new_tokens, "min_new_tokens": args.new_tokens, "do_sample": False}

        # Both paths start from the prompt text and end with token ids: tokenisation is inside every timer,
        # and every rate divides the tokens actually generated (counted from the outputs) by the time taken.
        def ct2_tokens(text: str) -> list[str]:
            return tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])

        reference = pipeline("text-generation", model=folder, dtype=torch.float32)
        reference(prompt, max_new_tokens=2)  # warm-up
        start = time.perf_counter()
        reference(prompt, max_new_tokens=1, min_new_tokens=1, do_sample=False)
        first_a = time.perf_counter() - start
        start = time.perf_counter()
        out_a = reference(prompt, return_tensors=True, **fixed)[0]["generated_token_ids"]
        seconds_a = time.perf_counter() - start
        new_a = list(out_a)[len(tokenizer(prompt)["input_ids"]):]  # the pipeline returns prompt + new tokens
        rate_a = len(new_a) / seconds_a

        generator = ctranslate2.Generator(str(converted(folder, "int8")), device="cpu", compute_type="int8",
                                          intra_threads=torch.get_num_threads())
        options = {"max_length": args.new_tokens, "min_length": args.new_tokens, "sampling_topk": 1,
                   "include_prompt_in_result": False}
        generator.generate_batch([ct2_tokens(prompt)], max_length=2, include_prompt_in_result=False)  # warm-up
        start = time.perf_counter()
        next(iter(generator.generate_tokens(ct2_tokens(prompt), max_length=1, sampling_topk=1)))
        first_b = time.perf_counter() - start
        start = time.perf_counter()
        new_b = generator.generate_batch([ct2_tokens(prompt)], **options)[0].sequences_ids[0]
        rate_b = len(new_b) / (time.perf_counter() - start)
        start = time.perf_counter()
        batch = generator.generate_batch([ct2_tokens(prompt) for _ in range(16)], **options)
        rate_c = sum(len(result.sequences_ids[0]) for result in batch) / (time.perf_counter() - start)

    shared = next((i for i, (a, b) in enumerate(zip(new_a, new_b, strict=False)) if a != b), min(len(new_a),
                                                                                                 len(new_b)))
    print(f"generated tokens: (a) {len(new_a)}, (b) {len(new_b)}, (c) {sum(len(r.sequences_ids[0]) for r in batch)} "
          f"(requested {args.new_tokens} each)")
    print(f"GPT-2 124M (random weights), prompt {len(prompt_ids)} tokens, {args.new_tokens} new tokens, greedy, "
          f"{torch.get_num_threads()} threads")
    print(f"{'run':<44}{'tok/s':>8}{'first token':>13}{'ratio':>8}")
    for name, rate, first in (("(a) pipeline fp32, batch 1 (baseline)", rate_a, first_a),
                              ("(b) ctranslate2 int8, batch 1", rate_b, first_b),
                              ("(c) ctranslate2 int8, batch 16 (throughput)", rate_c, None)):
        print(f"{name:<44}{rate:8.1f}{'' if first is None else f'{first * 1000:10.0f} ms':>13}{rate / rate_a:7.2f}x")
    print(f"greedy tokens shared by (a) and (b) before the first difference: {shared} of {len(new_a)}")
    ratio = rate_b / rate_a
    print(f"target (b) >= 2x (a): {'MET' if ratio >= 2 else 'NOT met'} ({ratio:.2f}x)")
    record("infer", "python benchmarks/bench_infer.py", f"GPT-2 124M, 400-token prompt, 200 new tokens greedy: (a) "
           f"pipeline fp32 {rate_a:.1f} tok/s (first token {first_a * 1000:.0f} ms); (b) ctranslate2 int8 "
           f"{rate_b:.1f} tok/s ({first_b * 1000:.0f} ms); (c) batch 16 {rate_c:.1f} tok/s; {shared}/"
           f"{len(new_a)} greedy tokens identical", ratio, 2.0)


if __name__ == "__main__":
    main()
