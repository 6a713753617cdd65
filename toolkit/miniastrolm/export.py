"""Export: the best passing explanation per paper as curated JSONL and a Hub-layout dataset folder.

The folder (`data/<split>-00000-of-00001.parquet` + `README.md` card whose YAML names the splits) is exactly
what `load_dataset("<folder>")` reads and what `--push_to_hub` uploads, so local and Hub users see the same
thing. Splits hash the arXiv id: no paper in two splits, and adding papers never moves an existing one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from datasets import Dataset, Features, Value

from .cards import dataset_card
from .filter import report_from_store
from .hub import push_folder
from .provenance import collect, markdown, recipe_targets
from .selection import curate
from .store import DEFAULT_DB, Candidate, Store
from .student_format import example
from .validate.registry import NAMES

SPLITS = ("train", "validation", "test")
FEATURES = Features({
    "prompt": [{"role": Value("string"), "content": Value("string")}],
    "completion": [{"role": Value("string"), "content": Value("string")}],
    "arxiv_id": Value("string"),
    "title": Value("string"),
    "categories": [Value("string")],
    "primary_category": Value("string"),
    "teacher_model": Value("string"),
    "prompt_version": Value("string"),
    "generation_id": Value("int64"),
    "selection_score": Value("float64"),
    "scores": {name: Value("float64") for name in NAMES},
    "review": {"decision": Value("string"), "reviewer": Value("string"), "decided_at": Value("string")},
})


@dataclass
class ExportConfig:
    db: str = field(default=DEFAULT_DB, metadata={"help": "SQLite store"})
    filter: str | None = field(default=None, metadata={
        "help": "verdict set to export (the name `miniastrolm filter` printed); default: the latest one"})
    batch: int | None = field(default=None, metadata={"help": "labelling batch id (default: all)"})
    output_dir: str = field(default="dataset", metadata={"help": "Hub-layout folder: data/*.parquet + README.md"})
    jsonl: str = field(default="curated.jsonl", metadata={"help": "curated JSONL, one record per paper"})
    validation_share: float = field(default=0.05, metadata={"help": "share of papers in the validation split"})
    test_share: float = field(default=0.05, metadata={"help": "share of papers in the test split"})
    pretty_name: str = field(default="MiniAstroLM explanations", metadata={"help": "dataset card title"})
    license: str = field(default="other", metadata={
        "help": "card licence id; abstracts keep their arXiv licences, explanations the teacher's terms"})
    card_samples: int = field(default=2, metadata={"help": "sample records shown in the card"})
    recipes: list[str] = field(default_factory=list, metadata={
        "help": "recipe YAML files to upload beside the data in provenance/ (e.g. the label, filter and export "
                "recipes used); default none. provenance.json records the teacher, prompts and counts anyway"})
    push_to_hub: str | None = field(default=None, metadata={
        "help": "Hub dataset repo id to upload the folder to (token read from token_env; HF_ENDPOINT honoured)"})
    private: bool = field(default=False, metadata={"help": "create the Hub repo private"})
    revision: str | None = field(default=None, metadata={"help": "Hub branch to upload to (created if missing)"})
    token_env: str = field(default="HF_TOKEN", metadata={"help": "environment variable holding the Hub token"})


SPLIT_SALT = b"miniastrolm split\0"


def split_of(arxiv_id: str, validation_share: float, test_share: float) -> str:
    """A paper's split from a salted hash of its id: the same id always lands in the same split. The salt keeps
    the split independent of the labeller's order (the plain sha256 of the id): without it, labelling the first N
    papers of a large store picks the lowest hashes, and they would nearly all land in the test split."""
    position = int.from_bytes(hashlib.sha256(SPLIT_SALT + arxiv_id.encode()).digest()[:8], "big") / 2**64
    if position < test_share:
        return "test"
    return "validation" if position < test_share + validation_share else "train"


def to_record(chosen: Candidate) -> dict:
    """One dataset row; after a person's edit the validators' scores (of the teacher's text) are left empty."""
    edited = chosen.review is not None and chosen.review.decision == "edit"
    return {
        **example(chosen.abstract, chosen.explanation),
        "arxiv_id": chosen.arxiv_id, "title": chosen.title, "categories": chosen.categories.split(),
        "primary_category": chosen.primary_category, "teacher_model": chosen.teacher_model,
        "prompt_version": chosen.prompt_version, "generation_id": chosen.generation,
        "selection_score": None if edited else chosen.selection_score,
        "scores": {name: None if edited else chosen.scores.get(name) for name in NAMES},
        "review": chosen.review and {"decision": chosen.review.decision, "reviewer": chosen.review.reviewer,
                                     "decided_at": chosen.review.decided_at},
    }


@dataclass
class ExportReport:
    filter: str
    split_rows: dict[str, int]
    output_dir: Path
    jsonl: Path
    pushed: str | None = None


def export(config: ExportConfig) -> ExportReport:
    recipe_targets(config.recipes)  # a missing recipe fails before anything is written
    with Store(config.db) as store:
        found = store.filter_thresholds(config.filter)
        if found is None:
            raise ValueError(f"{config.db}: " + (f"no verdict set named {config.filter!r}" if config.filter else
                                                 "no verdicts yet; run `miniastrolm filter` first"))
        name, thresholds = found
        curation = curate(store, name, config.batch)
        chosen = curation.chosen
        filter_report = report_from_store(store, name, config.batch)
    if not chosen:
        raise ValueError(f"{config.db}: no explanation passed every validator of filter {name} or was accepted in "
                         f"`miniastrolm review`; nothing to export (see the filter report for the rejection reasons)")
    records = {split: [] for split in SPLITS}
    for selected in chosen:
        records[split_of(selected.arxiv_id, config.validation_share, config.test_share)].append(to_record(selected))

    output = Path(config.output_dir)
    if (output / "data").is_dir():
        shutil.rmtree(output / "data")  # a re-export replaces the shards, never mixes old and new
    (output / "data").mkdir(parents=True)
    written = {split: rows for split, rows in records.items() if rows}
    for split, rows in written.items():
        Dataset.from_list(rows, features=FEATURES).to_parquet(output / "data" / f"{split}-00000-of-00001.parquet")
    jsonl = Path(config.jsonl)
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    with jsonl.open("wb") as out:
        for split, rows in written.items():
            for row in rows:
                out.write(orjson.dumps({**row, "split": split}) + b"\n")
    shown = sorted(chosen, key=lambda s: split_of(s.arxiv_id, config.validation_share, config.test_share) != "train")
    provenance = collect(config, name, thresholds, filter_report, chosen, written)
    card = dataset_card(config, name, thresholds, chosen, written, filter_report.markdown(),
                        shown[:config.card_samples], curation.markdown(), markdown(provenance))
    card.save(output / "README.md")
    report = ExportReport(name, {split: len(rows) for split, rows in written.items()}, output, jsonl)
    if config.push_to_hub:
        try:
            report.pushed = push_folder(output, config.push_to_hub, repo_type="dataset", private=config.private,
                                        revision=config.revision, token=os.environ.get(config.token_env))
        except Exception as error:  # HTTP, auth, offline mode: the local export stands; say what failed
            raise RuntimeError(f"exported to {output}, but the push to {config.push_to_hub} failed: "
                               f"{type(error).__name__}: {error}") from error
    return report
