"""Write benchmarks/RESULTS.md from the figures each benchmark recorded in benchmarks/results/."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from results import FOLDER, machine


def _ratio(r: dict) -> str:
    return "none (no baseline)" if r.get("ratio") is None else f"{r['ratio']:.2f}x"


def _target(r: dict) -> str:
    return "none" if r.get("target") is None else f">= {r['target']}x"


def _met(r: dict) -> str:
    return "n/a" if r.get("met") is None else "yes" if r["met"] else "**no**"


def main() -> None:
    records = [json.loads(path.read_text()) for path in sorted(FOLDER.glob("*.json"))]
    lines = [f"# Benchmark results ({date.today()})", "", f"Machine: {machine()}.", "",
             "| benchmark | command | figures | ratio vs same-run baseline | target | met | measured |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['name']} | `{r['command']}` | {r['figures']} | {_ratio(r)} | {_target(r)} | {_met(r)} | "
              f"{r['when']} |" for r in records]
    out = Path(__file__).resolve().parent / "RESULTS.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(records)} benchmarks)")


if __name__ == "__main__":
    main()
