"""Student training speed and quality: SmolLM2-135M-Instruct (the offline student) on real pairs, the dev
abstracts with the explanations of reports/cpu-distill/teacher-explanations.jsonl, batch 4, the recipe's
max_length, a constant learning rate, the same examples in the same order. Measured in one run:

  (a) plain `SFTTrainer` defaults in fp32 (bf16=False, which CPU-only machines need; TRL's other defaults,
      activation checkpointing and learning rate included) -- the baseline
  (b) the shipped recipe's settings (recipes/student/smollm2-quickstart.yaml, the quickstart's student: full
      fine-tuning, no activation checkpointing, its learning rate)
  (c) LoRA through TRL's `use_peft` (recipes/student/smollm2-lora.yaml: the same with LoRA and its learning
      rate), first for the same steps as (b), then on until its steps have taken as long as (b)'s: equal wall time

Each run takes 1 warm-up step, then `--steps` timed steps (the step itself: evaluation and logging excluded).
Prints training tokens/s (non-padding tokens through forward+backward) and the validation loss on 16 held-out
pairs after the same steps and, for (c), at (b)'s wall time. Target: the shipped recipe >= 2x (a) train
tokens/s; LoRA would be shipped only with a validation loss at equal wall time no worse than (b)'s. bf16 is
used only where miniastrolm.hardware says it is fast (AMX); both dtypes' peak matmul rates are printed.

    python benchmarks/bench_train.py [--steps 5] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from bench_filter import DEFAULT_CORPUS
from datasets import Dataset
from results import record
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer

from miniastrolm.hardware import fast_bf16
from miniastrolm.models import resolve_model
from miniastrolm.student_format import FitCounts, example, fit_to_length
from miniastrolm.train import prepare_tokenizer

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "student" / "smollm2-quickstart.yaml"
LORA_RECIPE = ROOT / "recipes" / "student" / "smollm2-lora.yaml"
TEACHER = ROOT / "reports" / "cpu-distill" / "teacher-explanations.jsonl"
BATCH, EVAL_EXAMPLES, MATMUL_SIZE = 4, 16, 2048
LORA_KEYS = ("use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")


@dataclass
class Run:
    tokens_per_s: float
    steps: int
    seconds: float
    eval_loss_same_steps: float
    eval_loss_end: float


class Clock(TrainerCallback):
    """Times each optimizer step after the warm-up one, counts its tokens, evaluates once after `eval_step`
    steps, and stops training once the timed steps have taken `budget` seconds (None: at max_steps)."""

    def __init__(self, eval_step: int, budget: float | None):
        self.eval_step, self.budget = eval_step, budget
        self.seconds, self.steps, self.started = 0.0, 0, 0.0
        self.tokens: list[int] = []
        self.eval_losses: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step > 1:
            self.seconds += time.perf_counter() - self.started
            self.steps += 1
        control.should_evaluate = state.global_step == self.eval_step
        if self.budget is not None and self.seconds >= self.budget:
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs and "num_tokens" in logs:
            self.tokens.append(int(logs["num_tokens"]))

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.eval_losses.append(metrics["eval_loss"])


def pairs(corpus: Path, count: int) -> list[dict]:
    """`count` prompt-completion examples: dev abstracts with the teacher's explanations, in file order."""
    abstracts = {}
    for line in corpus.read_text(encoding="utf-8").splitlines():
        record_ = json.loads(line)
        abstracts[record_["id"]] = " ".join(record_["abstract"].split())
    rows = [json.loads(line) for line in TEACHER.read_text(encoding="utf-8").splitlines()]
    examples = [example(abstracts[row["arxiv_id"]], row["explanation"]) for row in rows if row["arxiv_id"] in abstracts]
    if len(examples) < count:
        raise ValueError(f"{TEACHER.name}: {len(examples)} explanations of papers in {corpus}, {count} needed")
    return examples[:count]


def run(name: str, train: Dataset, validation: Dataset, steps: int, max_steps: int, budget: float | None,
        **settings) -> Run:
    torch.manual_seed(0)
    folder, _ = resolve_model("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
    prepare_tokenizer(tokenizer, model, "auto")
    peft_config = None
    if settings.pop("use_peft", False):
        from trl import ModelConfig, get_peft_config

        peft_config = get_peft_config(ModelConfig(use_peft=True, **{key: settings.pop(key) for key in LORA_KEYS[1:]
                                                                    if key in settings}))
    clock = Clock(eval_step=steps + 1, budget=budget)
    with tempfile.TemporaryDirectory() as output:
        args = SFTConfig(output_dir=output, per_device_train_batch_size=BATCH, per_device_eval_batch_size=8,
                         max_steps=max_steps, logging_steps=1, save_strategy="no", eval_strategy="no",
                         report_to="none", shuffle_dataset=False, dataloader_drop_last=True, seed=0, **settings)
        trainer = SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=validation,
                             processing_class=tokenizer, callbacks=[clock], peft_config=peft_config)
        trainer.train()
        same_steps = clock.eval_losses[0]
        end = trainer.evaluate()["eval_loss"] if clock.steps > steps else same_steps
    tokens = clock.tokens[-1] - clock.tokens[0]
    print(f"  {name}: {tokens} tokens in {clock.seconds:.1f} s over {clock.steps} timed steps; eval loss "
          f"{same_steps:.4f} after {steps + 1} steps" + (f", {end:.4f} after {clock.steps + 1}" if end != same_steps
                                                         else ""), flush=True)
    return Run(tokens / clock.seconds, clock.steps, clock.seconds, same_steps, end)


def peak_matmul(dtype: torch.dtype, size: int, repeats: int) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="timed steps of (a) and (b), after a warm-up step")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    recipe, lora_recipe = yaml.safe_load(RECIPE.read_text()), yaml.safe_load(LORA_RECIPE.read_text())
    # (c) may take up to 4x (b)'s steps in (b)'s time; the 16 last pairs are held out for the validation loss
    max_steps_c = 4 * (args.steps + 1)
    examples = pairs(args.corpus, BATCH * max_steps_c + EVAL_EXAMPLES)
    folder, _ = resolve_model("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    train = fit_to_length(Dataset.from_list(examples[:-EVAL_EXAMPLES]), tokenizer, recipe["max_length"], FitCounts())
    validation = fit_to_length(Dataset.from_list(examples[-EVAL_EXAMPLES:]), tokenizer, recipe["max_length"],
                               FitCounts())

    shape = {"max_length": recipe["max_length"]}
    shipped = {"activation_checkpointing": recipe["activation_checkpointing"], "bf16": recipe.get("bf16", fast_bf16()),
               "learning_rate": recipe["learning_rate"], "lr_scheduler_type": "constant",
               **{key: recipe[key] for key in LORA_KEYS if key in recipe}}
    lora = {**shipped, "learning_rate": lora_recipe["learning_rate"], **{key: lora_recipe[key] for key in LORA_KEYS}}
    fp32_peak = peak_matmul(torch.float32, MATMUL_SIZE, 8)
    bf16_peak = peak_matmul(torch.bfloat16, MATMUL_SIZE, 8 if fast_bf16() else 1)
    print(f"peak matmul {MATMUL_SIZE}x{MATMUL_SIZE} ({torch.get_num_threads()} threads): fp32 {fp32_peak / 1e9:.0f} "
          f"GFLOP/s, bf16 {bf16_peak / 1e9:.1f} GFLOP/s; bf16 used (AMX present): {fast_bf16()}", flush=True)
    print(f"{len(train)} training and {len(validation)} validation examples, batch {BATCH}", flush=True)

    a = run("(a) SFTTrainer defaults, fp32", train, validation, args.steps, args.steps + 1, None, bf16=False,
            **shape)
    b = run(f"(b) shipped recipe {shipped}", train, validation, args.steps, args.steps + 1, None, **shipped,
            **shape)
    c = run(f"(c) LoRA {lora}", train, validation, args.steps, max_steps_c, b.seconds, **lora, **shape)

    print(f"\n{'run':<30}{'train tok/s':>12}{'vs (a)':>8}{'eval loss, same steps':>23}{'at (b) time':>13}")
    for name, result in (("(a) TRL defaults, fp32", a), ("(b) shipped recipe", b), ("(c) LoRA", c)):
        print(f"{name:<30}{result.tokens_per_s:12.1f}{result.tokens_per_s / a.tokens_per_s:7.2f}x"
              f"{result.eval_loss_same_steps:23.4f}{result.eval_loss_end:13.4f}")
    ratio = b.tokens_per_s / a.tokens_per_s
    holds = c.eval_loss_end <= b.eval_loss_end
    print(f"\nshipped recipe (b)/(a) = {ratio:.2f}x; target >= 2x: {'MET' if ratio >= 2 else 'NOT met'}")
    print(f"LoRA (c)/(a) = {c.tokens_per_s / a.tokens_per_s:.2f}x, (c)/(b) = {c.tokens_per_s / b.tokens_per_s:.2f}x; "
          f"eval loss at (b)'s wall time {'no worse than' if holds else 'WORSE than'} (b)'s "
          f"({c.eval_loss_end:.4f} after {c.steps + 1} steps vs {b.eval_loss_end:.4f} after {b.steps + 1})")
    record("train", f"python benchmarks/bench_train.py --steps {args.steps}",
           f"SmolLM2-135M, batch {BATCH}, max_length {recipe['max_length']}, {args.steps} timed steps, real teacher "
           f"pairs: (a) TRL defaults fp32 {a.tokens_per_s:.1f} train tok/s (eval loss {a.eval_loss_end:.3f}); "
           f"(b) shipped recipe{' (LoRA)' if shipped.get('use_peft') else ''} {b.tokens_per_s:.1f} tok/s (eval loss "
           f"{b.eval_loss_end:.3f}); (c) LoRA {c.tokens_per_s:.1f} tok/s = {c.tokens_per_s / a.tokens_per_s:.2f}x (a), "
           f"{c.tokens_per_s / b.tokens_per_s:.2f}x (b) (eval loss {c.eval_loss_same_steps:.3f} after the same "
           f"steps, {c.eval_loss_end:.3f} at (b)'s wall time: {'no worse' if holds else 'WORSE'}); peak matmul "
           f"fp32 {fp32_peak / 1e9:.0f} GFLOP/s, bf16 {bf16_peak / 1e9:.1f} GFLOP/s (bf16 "
           f"{'used: AMX' if fast_bf16() else 'unused: no AMX'})", ratio, 2.0)


if __name__ == "__main__":
    main()
