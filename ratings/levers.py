"""Per setup (teacher procedure or student) of the rated set: what readers accepted, what the filter keeps, and
how often it invents a number or runs to the token limit. Every rate with n and its 95 % Wilson interval.

    python ratings/levers.py        # -> ratings/levers.md

Columns: rated acceptable and degenerate (all rated explanations of the setup); invented number (the
faithfulness validator's `invented_number`, on the same explanations); cut off (stopped by max_new_tokens and
trimmed to the last sentence); passes the filter; filter precision (acceptable among those that pass);
yield (papers with at least one explanation that passes the filter and was rated acceptable, over papers);
generated tokens per explanation. Seconds per explanation come from `benchmarks/bench_procedures.py`.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import orjson

from miniastrolm.check import CheckConfig, check_file
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.stats import rate

HERE = Path(__file__).resolve().parent
DEV = HERE.parents[1] / "shared" / "data" / "astro-ph-dev.jsonl"


def table(rated: Path = HERE / "rated.jsonl", dev: Path = DEV) -> str:
    rows = [orjson.loads(line) for line in rated.read_bytes().splitlines()]
    with tempfile.TemporaryDirectory() as work:
        db = str(Path(work) / "dev.db")
        ingest(IngestConfig(path=str(dev), db=db), progress=False)
        check_file(CheckConfig(input=str(rated), output=str(Path(work) / "out.jsonl"), db=db), progress=False)
        checked = [orjson.loads(line) for line in (Path(work) / "out.jsonl").read_bytes().splitlines()]
    by_source = defaultdict(list)
    for row, result in zip(rows, checked, strict=True):
        by_source[row["source"]].append((row, result))
    lines = ["| setup | rated acceptable | degenerate | invented number | cut off | passes the filter | "
             "filter precision | yield (papers) | tokens / explanation |", "|---|---|---|---|---|---|---|---|---|"]
    for source, pairs in sorted(by_source.items()):
        n = len(pairs)
        passed = [row for row, result in pairs if result["passed"]]
        papers = {row["arxiv_id"] for row, _ in pairs}
        kept = {row["arxiv_id"] for row in passed if row["acceptable"]}
        tokens = [row["completion_tokens"] for row, _ in pairs if row["completion_tokens"]]
        lines.append(" | ".join([
            f"| {source}", rate(sum(row["acceptable"] for row, _ in pairs), n),
            rate(sum(row["degenerate"] for row, _ in pairs), n),
            rate(sum(any(p.startswith("invented_number") for p in result["problems"]) for _, result in pairs), n),
            rate(sum(row["finish_reason"] in ("length", "length_trimmed") for row, _ in pairs), n),
            rate(len(passed), n), rate(sum(row["acceptable"] for row in passed), len(passed)),
            rate(len(kept), len(papers)), f"{sum(tokens) / len(tokens):.0f} |" if tokens else "- |"]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = table()
    print(text)
    (HERE / "levers.md").write_text("# Levers, measured on the rated set\n\n" + __doc__.split("\n\n", 2)[2]
                                    + "\n" + text, encoding="utf-8")
