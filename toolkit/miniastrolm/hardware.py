"""What this CPU can do fast: bf16 pays off only with AMX or AVX512-BF16 (about 8x over fp32 there);
elsewhere (e.g. AVX2-only CPUs) torch emulates bf16 and it is slower than fp32."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FAST_BF16_FLAGS = {"amx_bf16", "avx512_bf16"}


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def fast_bf16() -> bool:
    """True when this CPU has native bf16 matmuls (AMX or AVX512-BF16)."""
    return bool(FAST_BF16_FLAGS & cpu_flags())


def best_cpu_dtype(preference: str = "auto"):
    """`auto`: bf16 where the CPU has native bf16, else fp32; or force 'bfloat16' / 'float32'."""
    import torch

    if preference == "auto":
        return torch.bfloat16 if fast_bf16() else torch.float32
    return {"bfloat16": torch.bfloat16, "float32": torch.float32}[preference]
