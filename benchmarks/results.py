"""Benchmark results: each bench_*.py records its figures here (results/<name>.json); `summarize.py` turns
them into RESULTS.md with the date and machine details (`make bench` runs both)."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "results"


def machine() -> str:
    model, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vector = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if flag in flags]
    return f"{model}, {os.cpu_count()} cores ({', '.join(vector) or 'no AVX2'}), Python {platform.python_version()}"


def record(name: str, command: str, figures: str, ratio: float | None, target: float | None) -> None:
    """One benchmark's headline: the figures as one line, and its ratio against the same-run baseline (None
    for a benchmark with no baseline and no target: nothing is divided by a constant to look like a ratio)."""
    FOLDER.mkdir(exist_ok=True)
    (FOLDER / f"{name}.json").write_text(json.dumps({
        "name": name, "command": command, "figures": figures, "ratio": None if ratio is None else round(ratio, 3),
        "target": target, "met": None if ratio is None or target is None else ratio >= target,
        "when": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "machine": machine()}, indent=1), encoding="utf-8")
