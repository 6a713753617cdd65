"""`miniastrolm.train.main()` unchanged, plus a timing callback on the SFTTrainer it builds: steady-state train
tokens/s (non-padding tokens, TRL's `num_tokens`) over the optimizer steps after the warm-up ones, and the peak
GPU memory torch allocated. Launched like the module itself (benchmarks/gpu_check.sh):

    accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml --num_processes 1 \
        benchmarks/gpu_train.py --config recipes/student/gpt2-sft.yaml [--key value ...]

GPU_TRAIN_CLOCK names the JSON file the figures are written to (process 0 only).
"""

from __future__ import annotations

import json
import os
import time

import torch
import trl
from transformers import TrainerCallback

from miniastrolm import train as student


class StepClock(TrainerCallback):
    def __init__(self):
        self.start = time.perf_counter()
        self.ends: dict[int, float] = {}
        self.tokens: dict[int, float] = {}
        self.losses: dict[int, float] = {}
        self.interrupted: set[int] = set()  # steps followed by an evaluation or a checkpoint

    def on_train_begin(self, args, state, control, **kwargs):
        self.begin = time.perf_counter()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_step_end(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.ends[state.global_step] = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            self.tokens[state.global_step] = float(logs["num_tokens"])
        if logs and "loss" in logs:
            self.losses[state.global_step] = float(logs["loss"])

    def on_evaluate(self, args, state, control, **kwargs):
        self.interrupted.add(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        self.interrupted.add(state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        steps = sorted(step for step in self.ends if step in self.tokens)
        warm = [step for step in steps if step > 2]  # step 1-2: CUDA kernels chosen, allocator warms up
        seconds = tokens = 0.0
        intervals = 0
        for before, after in zip(warm, warm[1:], strict=False):
            if before in self.interrupted:
                continue
            intervals += after - before
            seconds += self.ends[after] - self.ends[before]
            tokens += self.tokens[after] - self.tokens[before]
        cuda = torch.cuda.is_available()
        figures = {
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "bf16": bool(args.bf16), "steps": state.global_step, "timed_steps": intervals,
            "tokens_total": max(self.tokens.values(), default=0.0),
            "train_seconds": time.perf_counter() - self.begin,
            "steady_tokens_per_s": tokens / seconds if seconds else None,
            "seconds_per_step": seconds / intervals if intervals else None,
            "first_loss": self.losses[min(self.losses)] if self.losses else None,
            "last_loss": self.losses[max(self.losses)] if self.losses else None,
            "peak_gpu_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
            "peak_gpu_reserved_gib": torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
        }
        print("gpu_train figures: " + json.dumps(figures), flush=True)
        if os.environ.get("GPU_TRAIN_CLOCK"):
            with open(os.environ["GPU_TRAIN_CLOCK"], "w", encoding="utf-8") as out:
                json.dump(figures, out, indent=1)


class TimedSFTTrainer(trl.SFTTrainer):
    def __init__(self, *args, callbacks=None, **kwargs):
        super().__init__(*args, callbacks=[*(callbacks or []), StepClock()], **kwargs)


trl.SFTTrainer = TimedSFTTrainer  # train() imports SFTTrainer from trl when it runs

if __name__ == "__main__":
    student.main()
