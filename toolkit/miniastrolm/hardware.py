"""What this CPU can do fast. bf16 pays off only with AMX (`amx_bf16`: about 8x fp32's matmul rate, 2026-11-25).
AVX512-BF16 alone is not enough: on an AMD EPYC with `avx512_bf16` and no AMX a bare bf16 matmul ran ~4x fp32's
rate, yet the student's bf16 training steps took 175-260 s against 30-40 s in fp32 (2026-11-27; the ops around
the matmuls run emulated). AVX2-only CPUs emulate bf16 at ~1 % of fp32."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FAST_BF16_FLAGS = frozenset({"amx_bf16"})


def flags_of(cpuinfo: str) -> frozenset[str]:
    """The CPU flags in the text of /proc/cpuinfo (its first `flags` line)."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        return flags_of(Path("/proc/cpuinfo").read_text())
    except OSError:
        return frozenset()


def fast_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU (this one, or one with the given flags) has AMX bf16 tiles."""
    return bool(FAST_BF16_FLAGS & (cpu_flags() if flags is None else flags))


def best_cpu_dtype(preference: str = "auto"):
    """`auto`: bf16 where the CPU has AMX, else fp32; or force 'bfloat16' / 'float32'."""
    import torch

    if preference == "auto":
        return torch.bfloat16 if fast_bf16() else torch.float32
    return {"bfloat16": torch.bfloat16, "float32": torch.float32}[preference]
