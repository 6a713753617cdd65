"""What each teacher procedure costs per explanation, and per explanation the filter keeps, on the same dev
papers in one run (nothing else running): the label recipe as shipped, each in a fresh store, timed around the
whole `label` call (the GGUF load, ~1 s, included), then the filter's validators on what it stored.

  (a) recipes/label/explain-direct.yaml         -- the baseline: one free-form call (the old quickstart setup)
  (b) recipes/label/retell.yaml, 1 sample       -- short retelling, few-shot, stop at a blank line
  (c) recipes/label/sentences.yaml              -- sentence-grounded simplification (several calls each)

    python benchmarks/bench_procedures.py [--papers 16] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from results import record

from miniastrolm.config import parse_config
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label
from miniastrolm.store import Store
from miniastrolm.validate import Item
from miniastrolm.validate.registry import Thresholds, judge

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / ".." / "shared" / "data" / "astro-ph-dev.jsonl"
SETUPS = {"baseline": ("recipes/label/explain-direct.yaml", []),
          "retell": ("recipes/label/retell.yaml", ["--samples", "1"]),
          "sentences": ("recipes/label/sentences.yaml", [])}


def run(name: str, corpus: Path, papers: int, work: Path) -> dict:
    recipe, overrides = SETUPS[name]
    db = str(work / f"{name}.db")
    ingest(IngestConfig(path=str(corpus), db=db), progress=False)
    config = parse_config(LabelConfig, ["--config", str(ROOT / recipe), "--db", db, "--limit", str(papers),
                                        *overrides], prog=name)
    started = time.perf_counter()
    report = label(config, progress=False)
    seconds = time.perf_counter() - started
    with Store(db) as store:
        rows = [row for row in store.batch_outputs(report.batch_id) if row["status"] == "ok"]
        items = [Item(row["generation"], row["arxiv_id"], store.paper(row["arxiv_id"]).abstract, row["output"],
                      store.paper(row["arxiv_id"]).title) for row in rows]
    kept = sum(all(v.passed for v in verdicts) for verdicts in judge(items, Thresholds()).values())
    return {"seconds": seconds, "explanations": len(rows), "kept": kept,
            "tokens": sum(row["completion_tokens"] or 0 for row in rows),
            "trimmed": sum(row["finish_reason"] == "length_trimmed" for row in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=16)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as work:
        for name in SETUPS:
            figures[name] = run(name, args.corpus, args.papers, Path(work))
            f = figures[name]
            each = f["seconds"] / max(f["explanations"], 1)
            per_kept = f"{f['seconds'] / f['kept']:.1f} s per kept" if f["kept"] else "none kept"
            print(f"{name}: {f['explanations']} explanations in {f['seconds']:.0f} s ({each:.1f} s and "
                  f"{f['tokens'] / max(f['explanations'], 1):.0f} generated tokens each), {f['trimmed']} cut off and "
                  f"trimmed, {f['kept']} pass the filter ({per_kept})", flush=True)
    base = figures["baseline"]["seconds"] / max(figures["baseline"]["explanations"], 1)
    line = "; ".join(f"{name} {f['seconds'] / max(f['explanations'], 1):.1f} s/explanation, {f['kept']}/"
                     f"{f['explanations']} kept" for name, f in figures.items())
    record("procedures", f"python benchmarks/bench_procedures.py --papers {args.papers}",
           f"{args.papers} dev papers: {line}; seconds per explanation relative to (a) "
           + ", ".join(f"{name} {f['seconds'] / max(f['explanations'], 1) / base:.2f}x" for name, f in figures.items()),
           ratio=None, target=None)


if __name__ == "__main__":
    main()
