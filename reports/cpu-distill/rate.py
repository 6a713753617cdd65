"""Blind rating of the CPU distillation's test explanations (docs/rating.md), in two steps.

    python reports/cpu-distill/rate.py batches --systems student teacher --raters 5 --wave 1
    python reports/cpu-distill/rate.py batches --systems base --raters 3 --wave 2
    # -> runs/cpu-distill/rating/wave<w>-rater-<k>.jsonl, each read by a separate reader following
    #    ratings/RATER_PROMPT.md; answers: wave<w>-rater-<k>.out.jsonl
    python reports/cpu-distill/rate.py merge                   # -> reports/cpu-distill/ratings.jsonl

`batches` pools the chosen systems' explanations of the test papers (student and base: the evaluation's
outputs.jsonl; teacher: the test split of the exported dataset), hides which system wrote each, shuffles them and
cuts them into batches (abstracts are joined from the store for the readers and never committed); the key is
appended to key.jsonl. Waves let rating start while a slower system is still generating.
`merge` joins the answers back to their systems; `miniastrolm eval --ratings reports/cpu-distill/ratings.jsonl`
then reports them (acceptable / faithful / degenerate with Wilson intervals).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from datasets import load_dataset

from miniastrolm.store import Store
from miniastrolm.student_format import explanation_of

RUN = Path("runs/cpu-distill")
FOLDER = RUN / "rating"
RATINGS = Path(__file__).resolve().parent / "ratings.jsonl"
def batches(systems: list[str], raters: int, wave: int, seed: int) -> None:
    items = []
    for line in (RUN / "eval" / "outputs.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["system"] in systems:
            items.append({"system": record["system"], "arxiv_id": record["arxiv_id"], "explanation": record["text"]})
    if "teacher" in systems:
        for record in load_dataset(str(RUN / "dataset"), split="test"):
            items.append({"system": "teacher", "arxiv_id": record["arxiv_id"],
                          "explanation": explanation_of(record["completion"])})
    for item in items:
        item["item"] = hashlib.sha256(f"{item['system']}\0{item['arxiv_id']}".encode()).hexdigest()[:10]
    random.Random(seed + wave).shuffle(items)
    FOLDER.mkdir(parents=True, exist_ok=True)
    with open(FOLDER / "key.jsonl", "a", encoding="utf-8") as key:
        key.write("".join(json.dumps(item) + "\n" for item in items))
    with Store(RUN / "miniastrolm.db") as store:
        for k in range(raters):
            with open(FOLDER / f"wave{wave}-rater-{k}.jsonl", "w", encoding="utf-8") as out:
                for item in items[k::raters]:
                    paper = store.paper(item["arxiv_id"])
                    out.write(json.dumps({"item": item["item"], "title": paper.title, "abstract": paper.abstract,
                                          "explanation": item["explanation"]}) + "\n")
            print(f"wave{wave}-rater-{k}: {len(items[k::raters])} items")


def merge() -> None:
    key = {item["item"]: item for item in map(json.loads, (FOLDER / "key.jsonl").read_text().splitlines())}
    rows = []
    for path in sorted(FOLDER.glob("wave*-rater-*.out.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            answer = json.loads(line)
            if answer["item"] not in key:
                raise ValueError(f"{path}:{number}: unknown item {answer['item']!r}")
            item = key[answer["item"]]
            rows.append({"system": item["system"], "arxiv_id": item["arxiv_id"],
                         **{field: answer[field] for field in ("faithful", "clarity", "degenerate", "acceptable",
                                                               "errors")}, "rater": path.name.split(".")[0]})
    rows.sort(key=lambda row: (row["system"], row["arxiv_id"]))
    RATINGS.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"{len(rows)} ratings of {len(key)} items -> {RATINGS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("batches", "merge"))
    parser.add_argument("--systems", nargs="+", default=["student", "teacher", "base"])
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--wave", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    batches(args.systems, args.raters, args.wave, args.seed) if args.step == "batches" else merge()


if __name__ == "__main__":
    main()
