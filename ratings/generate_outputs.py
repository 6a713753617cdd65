"""Write real explanations of dev abstracts from several setups, for blind rating (docs/rating.md).

    python ratings/generate_outputs.py --papers 70 --setup baseline=recipes/label/explain-direct.yaml \
        --setup retell=recipes/label/retell.yaml:--samples=1
    python ratings/generate_outputs.py --papers 40 --student runs/quickstart/student
    python ratings/generate_outputs.py --papers 70 --drafts sentences-faithful \
        --setup sentences-faithful-revised=recipes/label/sentences.yaml:--faithful_decoding=true:--revision_rounds=2

Each teacher setup is a label recipe (plus overrides) run on the same papers of the dev corpus
(../shared/data, ingested into runs/rated/store.db; the first N in the labeller's balanced order); resumable,
since labelling is. The student (a trained folder) explains the first N of the same papers one at a time.
Outputs land in runs/rated/outputs/<setup>.jsonl, one line per
explanation, with the tokens and seconds it cost. Abstracts stay out of these files.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson

from miniastrolm.config import parse_config
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label, select_papers
from miniastrolm.store import Store

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "astro-ph-dev.jsonl"


def run_teacher(name: str, recipe: str, overrides: list[str], db: str, papers: int, out: Path,
                drafts: str | None = None) -> list[str]:
    """Label the papers with one setup; with revision, `completion_tokens` counts every round of an explanation,
    and `drafts` names a second setup written from the first drafts (round 0): exactly what the same recipe
    without revision writes, since revision only adds rounds after them."""
    config = parse_config(LabelConfig, ["--config", recipe, "--db", db, "--limit", str(papers),
                                        "--skip_labelled_elsewhere", "false", *overrides], prog=name)
    report = label(config)
    with Store(db) as store:
        rows = store.batch_outputs(report.batch_id)
        chosen = [paper.arxiv_id for paper in select_papers(store, config, report.batch_id)]  # balanced order
        rounds = dict(store.db.execute("SELECT id, round FROM generations WHERE batch = ?", (report.batch_id,)))
        parents = dict(store.db.execute("SELECT id, parent FROM generations WHERE batch = ? AND parent IS NOT NULL",
                                        (report.batch_id,)))
    tokens = {row["generation"]: row["completion_tokens"] or 0 for row in rows}

    def chain_tokens(generation: int) -> int:
        return tokens[generation] + (chain_tokens(parents[generation]) if generation in parents else 0)

    with open(out / f"{name}.jsonl", "wb") as file:
        for row in rows:
            if row["status"] == "ok" and row["arxiv_id"] in chosen:
                row = {**row, "completion_tokens": chain_tokens(row["generation"])}  # rows stay whole for drafts
                file.write(orjson.dumps({"source": name, "explanation": row.pop("output"), **row}) + b"\n")
    if drafts:
        with open(out / f"{drafts}.jsonl", "wb") as file:
            for row in rows:
                sent_back = row["status"] == "failed" and (row["error"] or "").startswith("sent back for revision")
                if (row["status"] == "ok" or sent_back) and rounds[row["generation"]] == 0 \
                        and row["arxiv_id"] in chosen:
                    row = {**row, "status": "ok", "error": None, "completion_tokens": tokens[row["generation"]]}
                    file.write(orjson.dumps({"source": drafts, "explanation": row.pop("output"), **row}) + b"\n")
    return chosen


def run_student(folder: str, arxiv_ids: list[str], db: str, out: Path) -> None:
    from miniastrolm.explain import ExplainPipeline

    explainer = ExplainPipeline(folder, best_of=1, db=db)
    done = {orjson.loads(line)["arxiv_id"] for line in (out / "student.jsonl").read_bytes().splitlines()} \
        if (out / "student.jsonl").exists() else set()
    with open(out / "student.jsonl", "ab") as file:  # appended one by one: an interrupted run resumes
        for arxiv_id in arxiv_ids:
            if arxiv_id in done:
                continue
            started = time.perf_counter()
            result = explainer.explain_arxiv_id(arxiv_id)
            file.write(orjson.dumps({"source": "student", "arxiv_id": arxiv_id, "explanation": result.explanation,
                                     "seconds": round(time.perf_counter() - started, 2),
                                     "completion_tokens": result.new_tokens,
                                     # the pipeline does not say why it stopped; a re-tokenised count can
                                     # be one short of the limit
                                     "finish_reason": "length" if result.new_tokens >= explainer.max_new_tokens - 1
                                     else "stop"}) + b"\n")
            file.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=70, help="dev papers, balanced over sub-categories")
    parser.add_argument("--setup", action="append", default=[],
                        help="name=recipe.yaml[:--key=value:...] a teacher setup (label recipe + overrides)")
    parser.add_argument("--drafts", help="with one revising --setup: also write this setup from its first drafts")
    parser.add_argument("--student", help="a trained student folder to explain the same papers")
    parser.add_argument("--workdir", default="runs/rated")
    parser.add_argument("--dev", default=str(DEV), help="the dev corpus (Kaggle-schema JSONL)")
    args = parser.parse_args()
    out = Path(args.workdir) / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    db = str(Path(args.workdir) / "store.db")
    ingest(IngestConfig(path=args.dev, db=db), progress=False)
    for setup in args.setup:
        name, spec = setup.split("=", 1)
        recipe, *overrides = spec.split(":")
        overrides = [part for override in overrides for part in override.split("=", 1)]
        print(f"{name}: {len(run_teacher(name, recipe, overrides, db, args.papers, out, args.drafts))} papers -> "
              f"{out / name}.jsonl", flush=True)
    if args.student:
        with Store(db) as store:  # the papers every teacher setup labels: the labeller's balanced order
            chosen = select_papers(store, LabelConfig(db=db, limit=args.papers, skip_labelled_elsewhere=False), 0)
        run_student(args.student, [paper.arxiv_id for paper in chosen], db, out)
        print(f"student: -> {out / 'student.jsonl'}", flush=True)


if __name__ == "__main__":
    main()
