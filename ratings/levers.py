"""Per setup (teacher procedure or student) of the rated set: what readers accepted, what the filter keeps, and
how often it invents a number or runs to the token limit. Every rate with n and its 95 % Wilson interval.

    python ratings/levers.py        # -> ratings/levers.md

Columns: rated acceptable and degenerate (all rated explanations of the setup); invented number (the
faithfulness validator's `invented_number`, on the same explanations); cut off (stopped by max_new_tokens and
trimmed to the last sentence); passes the filter; filter precision (acceptable among those that pass);
yield (papers with at least one explanation that passes the filter and was rated acceptable, over papers);
generated tokens per explanation (with revision: every round's). Seconds per explanation come from
`benchmarks/bench_procedures.py`. A setup whose outputs (runs/rated/outputs/<setup>.jsonl) are written but not yet
rated gets its automatic columns, and "not rated yet" in the readers' ones, until ratings/merge.py adds them.
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
OUTPUTS = HERE.parent / "runs" / "rated" / "outputs"  # generate_outputs.py: setups written, perhaps not yet rated
HEADER = ["| setup | rated acceptable | degenerate | invented number | cut off | passes the filter | "
          "filter precision | yield (papers) | tokens / explanation |", "|---|---|---|---|---|---|---|---|---|"]


def _checked(path: Path, db: str, work: str) -> list[tuple[dict, dict]]:
    """(row, the filter's result) for every line of a JSONL of explanations."""
    out = Path(work) / "out.jsonl"
    check_file(CheckConfig(input=str(path), output=str(out), db=db), progress=False)
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return list(zip(rows, [orjson.loads(line) for line in out.read_bytes().splitlines()], strict=True))


def _line(source: str, pairs: list[tuple[dict, dict]]) -> str:
    """One setup's row; the reader's columns say "not rated yet" until its ratings are merged."""
    n = len(pairs)
    rated = all(row.get("acceptable") is not None for row, _ in pairs)
    passed = [row for row, result in pairs if result["passed"]]
    papers = {row["arxiv_id"] for row, _ in pairs}
    tokens = [row["completion_tokens"] for row, _ in pairs if row.get("completion_tokens")]
    unrated = "not rated yet"
    return " | ".join([
        f"| {source}", rate(sum(row["acceptable"] for row, _ in pairs), n) if rated else unrated,
        rate(sum(row["degenerate"] for row, _ in pairs), n) if rated else unrated,
        rate(sum(any(p.startswith("invented_number") for p in result["problems"]) for _, result in pairs), n),
        rate(sum(row["finish_reason"] in ("length", "length_trimmed") for row, _ in pairs), n),
        rate(len(passed), n), rate(sum(row["acceptable"] for row in passed), len(passed)) if rated else unrated,
        rate(len({row["arxiv_id"] for row in passed if row["acceptable"]}), len(papers)) if rated else unrated,
        f"{sum(tokens) / len(tokens):.0f} |" if tokens else "- |"])


def table(rated: Path = HERE / "rated.jsonl", dev: Path = DEV, outputs: Path = OUTPUTS) -> str:
    """One row per setup of the rated set, then one per setup in `outputs` that has no ratings yet."""
    with tempfile.TemporaryDirectory() as work:
        db = str(Path(work) / "dev.db")
        ingest(IngestConfig(path=str(dev), db=db), progress=False)
        by_source = defaultdict(list)
        for row, result in _checked(rated, db, work):
            by_source[row["source"]].append((row, result))
        for path in sorted(outputs.glob("*.jsonl")) if outputs.is_dir() else []:
            if path.stem not in by_source:
                by_source[path.stem] = _checked(path, db, work)
    return "\n".join([*HEADER, *(_line(source, pairs) for source, pairs in sorted(by_source.items()))]) + "\n"


if __name__ == "__main__":
    text = table()
    print(text)
    (HERE / "levers.md").write_text("# Levers, measured on the rated set\n\n" + __doc__.split("\n\n", 2)[2]
                                    + "\n" + text, encoding="utf-8")
