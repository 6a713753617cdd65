"""Inference with a trained student folder on a GPU machine (benchmarks/gpu_check.sh): first-token latency and
generation tokens/s, greedy, batch 1, on a few abstracts written for this check.

`miniastrolm explain` / `ExplainPipeline` have no device or dtype option: they call
`pipeline("text-generation", model=..., dtype=float32)` with no device, and transformers then puts the model on
its default device, cuda:0 when a GPU is present (seen on the H200, benchmarks/GPU.md). So the last row is
ExplainPipeline itself (fp32 on cuda:0 there, natural lengths); the other rows use plain
`pipeline(..., device="cuda")` on the same folder to vary dtype and decoding:

  cuda fp32 / cuda bf16, saved generation_config (repetition_penalty, no_repeat_ngram_size): what a user gets
  cuda bf16 without no_repeat_ngram_size / repetition_penalty: what those logits processors cost per token
  ExplainPipeline as shipped (check=False: the MiniLM package is too big to carry to the GPU machine)

Timing: `max_new_tokens=1` for the first token (templating + tokenizing + prefill + one step, what a user
waits for); `min_new_tokens=max_new_tokens=N` for tokens/s so every run generates exactly N tokens (the
ExplainPipeline row cannot force a length: its tokens/s is over the lengths the student chose).

    python benchmarks/gpu_explain.py MODEL_FOLDER [--new-tokens 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

ABSTRACTS = [
    "We present deep radio observations of a nearby dwarf galaxy and detect a faint stream of neutral hydrogen "
    "extending 12 kpc from its disc. The stream's velocity field suggests it is falling onto the galaxy, "
    "supplying fresh gas at a rate of about 0.1 solar masses per year, comparable to the galaxy's current star "
    "formation rate. We argue that cold accretion of this kind can sustain star formation in low-mass galaxies "
    "for several billion years without the need for mergers.",
    "Using four years of photometry from a space telescope, we measure the rotation periods of 340 red dwarfs "
    "in a young open cluster. Stars with periods shorter than two days flare ten times more often than slower "
    "rotators, and the most energetic flares occur on the fastest spinning stars. We discuss what this implies "
    "for the habitability of planets orbiting young M dwarfs, which may be exposed to strong ultraviolet "
    "radiation during their first few hundred million years.",
    "We report the timing of twelve millisecond pulsars over eight years with a single 30 m radio dish. After "
    "correcting for interstellar dispersion we reach a timing precision of 400 ns for the brightest pulsars. "
    "We show that a network of small telescopes with modest receivers can contribute useful data to pulsar "
    "timing arrays searching for low-frequency gravitational waves, at a small fraction of the cost of large "
    "facilities.",
    "Spectra of a distant comet taken at 4 au from the Sun reveal absorption bands of crystalline water ice. "
    "The ice survives on the surface despite solar heating, which suggests that it was recently exposed by an "
    "outburst. Models of the thermal evolution of the nucleus indicate that the exposed patch should disappear "
    "within a few months, and we propose follow-up observations to test this prediction.",
]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(call, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    call()
    sync(device)
    return time.perf_counter() - start


def measure_pipeline(folder: str, device: str, dtype: torch.dtype, new_tokens: int, **overrides) -> dict:
    from transformers import pipeline

    from miniastrolm.student_format import messages as student_messages

    start = time.perf_counter()
    pipe = pipeline("text-generation", model=folder, device=device, dtype=dtype)
    load = time.perf_counter() - start
    messages = [student_messages(abstract) for abstract in ABSTRACTS]
    pipe(messages[0], max_new_tokens=8, return_full_text=False, **overrides)  # warm-up: kernels, allocator
    first = [timed(lambda m=m: pipe(m, max_new_tokens=1, return_full_text=False, **overrides), device)
             for m in messages]
    rates, prompt_tokens, sample = [], [], ""
    for m in messages:
        prompt_tokens.append(len(pipe.tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=True,
                                                                    return_dict=True)["input_ids"]))
        out = []
        seconds = timed(lambda m=m, out=out: out.append(pipe(m, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                                    return_full_text=False, **overrides)), device)
        rates.append(new_tokens / seconds)
        sample = sample or out[0][0]["generated_text"]
    return {"load_s": load, "first_token_ms_median": 1000 * statistics.median(first),
            "first_token_ms_all": [round(1000 * s, 1) for s in first], "tokens_per_s_median": statistics.median(rates),
            "tokens_per_s_all": [round(r, 1) for r in rates], "prompt_tokens": prompt_tokens,
            "new_tokens": new_tokens, "sample": sample[:300],
            "peak_gpu_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None}


def measure_explain_pipeline(folder: str, new_tokens: int) -> dict:
    """ExplainPipeline as `miniastrolm explain` builds it (fp32, transformers' default device), check=False."""
    from miniastrolm.explain import ExplainPipeline

    start = time.perf_counter()
    first_pipe = ExplainPipeline(folder, check=False, max_new_tokens=1)
    load = time.perf_counter() - start
    first_pipe.explain(ABSTRACTS[0])  # warm-up
    first = [first_pipe.explain(abstract).latency_seconds for abstract in ABSTRACTS]
    pipe = ExplainPipeline(folder, check=False, max_new_tokens=new_tokens)
    results = [pipe.explain(abstract) for abstract in ABSTRACTS]
    return {"load_s": load, "first_token_ms_median": 1000 * statistics.median(first),
            "first_token_ms_all": [round(1000 * s, 1) for s in first],
            "tokens_per_s_median": statistics.median(r.new_tokens / r.latency_seconds for r in results),
            "new_tokens_all": [r.new_tokens for r in results],
            "latency_s_all": [r.latency_seconds for r in results], "sample": results[0].explanation[:300],
            "device_of_model": str(pipe.pipe.model.device), "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--json", default=None)
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    rows: dict[str, dict] = {}
    plans = []
    if torch.cuda.is_available():
        plain = {"no_repeat_ngram_size": 0, "repetition_penalty": 1.0}
        plans = [("cuda fp32, saved generation_config", "cuda", torch.float32, {}),
                 ("cuda bf16, saved generation_config", "cuda", torch.bfloat16, {}),
                 ("cuda bf16, no no_repeat_ngram/repetition_penalty", "cuda", torch.bfloat16, plain)]
    else:
        print("no CUDA device: the GPU rows are skipped")
    for name, device, dtype, overrides in plans:
        try:
            rows[name] = measure_pipeline(args.model, device, dtype, args.new_tokens, **overrides)
        except Exception as error:  # noqa: BLE001 - a failed row is a result to record, not the end of the run
            rows[name] = {"error": f"{type(error).__name__}: {error}"}
        print(f"{name}: {json.dumps(rows[name])}", flush=True)
    if not args.skip_cpu:
        name = "ExplainPipeline as shipped (fp32, default device)"
        try:
            rows[name] = measure_explain_pipeline(args.model, args.new_tokens)
        except Exception as error:  # noqa: BLE001
            rows[name] = {"error": f"{type(error).__name__}: {error}"}
        print(f"{name}: {json.dumps(rows[name])}", flush=True)
    print(f"\n{'row':<52}{'first token ms':>15}{'tok/s':>9}")
    for name, row in rows.items():
        if "error" in row:
            print(f"{name:<52}  ERROR {row['error'][:80]}")
        else:
            print(f"{name:<52}{row['first_token_ms_median']:15.1f}{row['tokens_per_s_median']:9.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
