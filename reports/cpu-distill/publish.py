"""Copy the CPU distillation's evaluation into this folder and add what the evaluation does not know: the
learning curve, the stage counts, the recipes and the hashes of the dataset files and the weights.

    python reports/cpu-distill/publish.py      # after `miniastrolm run --config recipes/cpu-distill.yaml`

Writes eval.md (the evaluation report), metrics.json, examples.md, the plots, learning_curve.png and
provenance.json here; report.md (the written conclusions) cites them. Weights and abstracts stay in runs/.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

from miniastrolm.cards import sha256_of

RUN = Path("runs/cpu-distill")
HERE = Path(__file__).resolve().parent
RECIPES = ["recipes/cpu-distill.yaml", "recipes/label/cpu-distill-teacher.yaml", "recipes/filter/default.yaml",
           "recipes/export/cpu-distill.yaml", "recipes/student/smollm2-cpu-distill.yaml",
           "recipes/eval/cpu-distill.yaml"]


def learning_curve(state: dict, out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(row["step"], row["loss"]) for row in state["log_history"] if "loss" in row]
    valid = [(row["step"], row["eval_loss"]) for row in state["log_history"] if "eval_loss" in row]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(*zip(*train, strict=True), label="train loss (explanation tokens)")
    if valid:
        axis.plot(*zip(*valid, strict=True), marker="o", label="validation loss")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("cross-entropy")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return {"train": train, "validation": valid}


def stage_counts(db: Path) -> dict:
    with sqlite3.connect(db) as connection:
        one = connection.execute
        return {"papers_in_store": one("SELECT count(*) FROM papers").fetchone()[0],
                "teacher_explanations": one("SELECT count(*) FROM generations WHERE status = 'ok'").fetchone()[0],
                "passing_every_validator": one(
                    "SELECT count(*) FROM (SELECT generation FROM verdicts GROUP BY generation, filter "
                    "HAVING min(passed) = 1)").fetchone()[0]}


def add_reader_verdicts(examples: str, ratings: Path) -> str:
    """Each explanation's header in examples.md gains the blind reader's verdict (ratings.jsonl)."""
    verdicts = {(row["system"], row["arxiv_id"]): row for row in map(json.loads, ratings.read_text().splitlines())}
    lines, paper = [], None
    for line in examples.splitlines():
        if line.startswith("## "):
            paper = line.split("arXiv:", 1)[1].strip()
        elif line.startswith("**") and paper and (row := verdicts.get((line[2:].split("**", 1)[0], paper))):
            line = line.rstrip(":") + (f"; reader: {'acceptable' if row['acceptable'] else 'not acceptable'}, "
                                       f"faithful {row['faithful']}, clarity {row['clarity']}, "
                                       f"degenerate {row['degenerate']}:")
        lines.append(line)
    return "\n".join(lines) + "\n"


def redact_copies(examples: str, abstracts: list[str], n: int = 10) -> str:
    """Replace every run of `n`+ words an explanation shares with a dev abstract (the base model often echoes its
    input) by a marker: the repository never holds abstract text."""
    def norm(words: list[str]) -> list[str]:
        return [re.sub(r"[^\w%-]", "", word).lower() for word in words]

    copied = set()
    for abstract in abstracts:
        words = norm(abstract.split())
        copied |= {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    lines = []
    for line in examples.splitlines():
        words = line.split()
        normed = norm(words)
        keys = [tuple(normed[i:i + n]) for i in range(len(words) - n + 1)]
        hidden = {j for i, key in enumerate(keys) if key in copied for j in range(i, i + n)}
        if hidden:
            kept, run = [], 0
            for j, word in enumerate(words + [""]):
                if j in hidden:
                    run += 1
                    continue
                if run:
                    kept.append(f"[{run} words copied from the abstract]")
                    run = 0
                kept.append(word)
            line = " ".join(kept).rstrip()
        lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> None:
    for name in ("metrics.json", "metrics.png", "readability.png", "length.png"):
        shutil.copy(RUN / "eval" / name, HERE / name)
    examples = (RUN / "eval" / "examples.md").read_text(encoding="utf-8")
    with sqlite3.connect(RUN / "miniastrolm.db") as connection:
        abstracts = [row[0] for row in connection.execute("SELECT abstract FROM papers")]
    examples = redact_copies(add_reader_verdicts(examples, HERE / "ratings.jsonl"), abstracts)
    (HERE / "examples.md").write_text(examples, encoding="utf-8")
    shutil.copy(RUN / "eval" / "report.md", HERE / "eval.md")
    student = RUN / "student"
    curve = learning_curve(json.loads((student / "trainer_state.json").read_text()), HERE / "learning_curve.png")
    provenance = {
        "command": "miniastrolm run --config recipes/cpu-distill.yaml && python reports/cpu-distill/publish.py",
        "recipes": {path: Path(path).read_text(encoding="utf-8") for path in RECIPES},
        "stages": stage_counts(RUN / "miniastrolm.db"),
        "test_papers_evaluated": json.loads((RUN / "eval" / "metrics.json").read_text())["n"],
        "dataset_files_sha256": {path.name: sha256_of(path) for path in sorted((RUN / "dataset" / "data").glob("*"))},
        "curated_jsonl_sha256": sha256_of(RUN / "curated.jsonl"),
        "weights_sha256": sha256_of(student / "model.safetensors"),
        "learning_curve": curve,
    }
    (HERE / "provenance.json").write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    print(f"published to {HERE}")


if __name__ == "__main__":
    main()
