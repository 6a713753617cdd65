"""Student training speed: GPT-2 124M (scratch init), max_length 512, batch 4, 5 optimizer steps after one
warm-up step, on prompt-completion examples made from the dev abstracts. Measured in one run:

  (a) plain `SFTTrainer` defaults in fp32 (bf16=False, which CPU-only machines need; TRL's other defaults,
      gradient checkpointing included) -- the baseline
  (b) the shipped recipe's settings (recipes/student/gpt2-sft.yaml: no gradient checkpointing; bf16 only where
      the CPU has AMX/AVX512-BF16, see miniastrolm.hardware)

Prints training tokens/s (non-padding tokens through forward+backward), model FLOP/s (6 x params x tokens/s)
and the ratio to a peak matmul rate measured in the same run. Target: (b) >= 3x (a).

    python benchmarks/bench_train.py [--steps 5] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import yaml
from bench_filter import DEFAULT_CORPUS, load
from datasets import Dataset
from results import record
from transformers import GPT2Config, GPT2LMHeadModel, TrainerCallback
from trl import SFTConfig, SFTTrainer

from miniastrolm.hardware import fast_bf16
from miniastrolm.student_format import example
from miniastrolm.train import gpt2_tokenizer, prepare_tokenizer

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "student" / "gpt2-sft.yaml"
MATMUL_SIZE = 2048


class StepClock(TrainerCallback):
    def __init__(self):
        self.ends: list[float] = []
        self.tokens: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            self.tokens.append(int(logs["num_tokens"]))


def peak_matmul(dtype: torch.dtype, size: int, repeats: int) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def run(name: str, dataset: Dataset, steps: int, **settings) -> tuple[float, int]:
    torch.manual_seed(0)
    tokenizer = gpt2_tokenizer()
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer)))
    prepare_tokenizer(tokenizer, model, "auto")
    params = sum(p.numel() for p in model.parameters())
    clock = StepClock()
    with tempfile.TemporaryDirectory() as folder:
        args = SFTConfig(output_dir=folder, max_length=512, per_device_train_batch_size=4, max_steps=steps + 1,
                         logging_steps=1, save_strategy="no", report_to="none", shuffle_dataset=False,
                         dataloader_drop_last=True, **settings)
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             callbacks=[clock])
        trainer.train()
    seconds = clock.ends[-1] - clock.ends[0]  # the steps after the warm-up step
    tokens = clock.tokens[-1] - clock.tokens[0]
    print(f"  {name}: {tokens} tokens in {seconds:.1f} s over {steps} steps", flush=True)
    return tokens / seconds, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    pairs = load(args.corpus, 4 * (args.steps + 1))
    dataset = Dataset.from_list([example(paper.abstract, explanation) for paper, explanation in pairs])
    recipe = yaml.safe_load(RECIPE.read_text())
    shipped = {"activation_checkpointing": recipe["activation_checkpointing"], "bf16": fast_bf16(),
               "packing": recipe["packing"]}
    # Both dtypes on the same 2048 x 2048 product; bf16 is emulated (~100x slower) without AMX/AVX512-BF16, so
    # there it is timed over one product instead of eight (the repeat count does not change the rate measured).
    fp32_peak = peak_matmul(torch.float32, MATMUL_SIZE, 8)
    bf16_peak = peak_matmul(torch.bfloat16, MATMUL_SIZE, 8 if fast_bf16() else 1)
    print(f"peak matmul {MATMUL_SIZE}x{MATMUL_SIZE} ({torch.get_num_threads()} threads): fp32 {fp32_peak / 1e9:.0f} "
          f"GFLOP/s, bf16 {bf16_peak / 1e9:.1f} GFLOP/s; fast bf16 on this CPU: {fast_bf16()}", flush=True)
    baseline, params = run("(a) SFTTrainer defaults, fp32", dataset, args.steps, bf16=False)
    shipped_rate, _ = run(f"(b) shipped recipe {shipped}", dataset, args.steps, **shipped)
    peak = max(fp32_peak, bf16_peak) if shipped["bf16"] else fp32_peak
    print(f"\n{'run':<34}{'train tok/s':>12}{'model GFLOP/s':>15}{'of peak':>9}")
    for name, rate in (("(a) SFTTrainer defaults, fp32", baseline), ("(b) shipped recipe", shipped_rate)):
        flops = 6 * params * rate
        print(f"{name:<34}{rate:12.1f}{flops / 1e9:15.1f}{flops / peak:9.1%}")
    ratio = shipped_rate / baseline
    print(f"\n(b)/(a) = {ratio:.2f}x; target >= 3x: {'MET' if ratio >= 3 else 'NOT met'} ({params / 1e6:.0f}M params)")
    record("train", "python benchmarks/bench_train.py", f"GPT-2 124M scratch, batch 4, max_length 512: (a) TRL "
           f"defaults fp32 {baseline:.1f} train tok/s; (b) shipped recipe {shipped_rate:.1f} tok/s "
           f"({6 * params * shipped_rate / peak:.0%} of the {peak / 1e9:.0f} GFLOP/s peak); peak matmul "
           f"{MATMUL_SIZE}x{MATMUL_SIZE}: fp32 {fp32_peak / 1e9:.0f} GFLOP/s, bf16 {bf16_peak / 1e9:.1f} GFLOP/s "
           f"({'native' if fast_bf16() else 'emulated'})", ratio, 3.0)


if __name__ == "__main__":
    main()
