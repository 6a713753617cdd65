"""Provenance of an exported dataset: which teacher wrote it and how (model, revision where known, procedure,
prompt files and their hashes, sampling settings), which filter thresholds kept it, how many papers and
explanations there were at each stage, which recipes made it, and the project version.

What datatrove and distilabel record with a dataset: without it a dataset cannot say how to make it again. It is
written as `provenance.json` beside the data, the recipes and prompt files used are copied into `provenance/`
(uploaded with the data), and `markdown` gives the dataset card's section.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .cards import sha256_of
from .models import SMOLLM2, SMOLLM2_FILE, SMOLLM2_SHA256
from .prompts import Prompt, find_prompt_dir
from .store import Store
from .teacher import recorded_name

if TYPE_CHECKING:
    from .export import ExportConfig
    from .filter import FilterReport
    from .store import Candidate

FOLDER = "provenance"  # recipes and prompt files, beside data/ in the dataset
# Keys of a batch's recipe that say how its procedure made each explanation (label.LabelConfig.identity): a
# multi-call procedure's settings, faithful decoding (true, or why it was skipped) and reader/editor revision.
PROCEDURE_KEYS = ("most_sentences", "max_new_words", "glossary", "faithful_decoding", "revision_rounds",
                  "revision_max_new_tokens", "revision_prompt")


def teacher_revision(backend: str, model: str, recipe: dict) -> str | None:
    """What pins the teacher, where the store can tell: the embedded SmolLM2's checked GGUF, or the imported
    file's hash. None for the rest (an endpoint does not report its revision, a local folder may have changed)."""
    if backend == recorded_name("in_process") and model == SMOLLM2:  # the name the store records
        return f"{SMOLLM2_FILE} sha256:{SMOLLM2_SHA256}"
    if backend == "import" and recipe.get("input_sha256"):
        return f"imported file sha256:{recipe['input_sha256']}... (first 16 hex digits)"
    return None


def prompt_files(version: str, folder: Path) -> dict[str, str] | None:
    """{file: sha256} of the prompt a batch used, copied into `folder`/prompts/<name>/; None when the prompt
    folder is gone or has changed since labelling (its version, a hash of every file, no longer matches)."""
    name = version.split("@", 1)[0]
    try:
        source = find_prompt_dir(name)
        if Prompt.load(str(source)).version != version:
            return None
    except FileNotFoundError:
        return None
    target = folder / "prompts" / name
    target.mkdir(parents=True, exist_ok=True)
    files = {}
    for path in sorted(p for p in source.iterdir() if p.is_file()):
        shutil.copyfile(path, target / path.name)
        files[path.name] = sha256_of(path)
    return files


def recipe_targets(paths: list[str]) -> dict[str, Path]:
    """{path in the dataset: recipe}, each recipe under provenance/<its folder's name>/ (`recipes/label/x.yaml` ->
    `provenance/label/x.yaml`). Checked before anything is written: a missing recipe, or two that would land on
    one name, is an error."""
    targets: dict[str, Path] = {}
    for recipe in map(Path, paths):
        if not recipe.is_file():
            raise ValueError(f"recipes: {recipe} is not a file")
        relative = "/".join(part for part in (FOLDER, recipe.parent.name, recipe.name) if part)
        if relative in targets:
            raise ValueError(f"recipes: {targets[relative]} and {recipe} would both be uploaded as {relative}")
        targets[relative] = recipe
    return targets


def copy_recipes(paths: list[str], output: Path) -> dict[str, str]:
    """Copy the recipes into the dataset folder `output`; {path in the dataset: sha256}."""
    copied = {}
    for relative, recipe in recipe_targets(paths).items():
        (output / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recipe, output / relative)
        copied[relative] = sha256_of(recipe)
    return copied


def teachers(store: Store, batch: int | None, chosen: list[Candidate], folder: Path) -> list[dict]:
    """One record per labelling batch in the export's scope: who wrote, how, with which prompt and settings, how
    many generations of each status, and how many rows of the dataset came from it."""
    tally: dict[int, dict] = {}
    for batch_id, procedure, status, generations in store.generation_tally(batch):
        counts = tally.setdefault(batch_id, {"procedures": Counter(), "statuses": Counter()})
        counts["procedures"][procedure] += generations
        counts["statuses"][status] += generations
    rows = Counter(selected.batch for selected in chosen)
    row_models: dict[int, set[str]] = {}  # an imported provider batch names the model per row
    for selected in chosen:
        row_models.setdefault(selected.batch, set()).add(selected.teacher_model)
    found = []
    for batch_id, backend, model, prompt_version, recipe, created_at in store.batch_records(batch):
        counts = tally.get(batch_id, {"procedures": Counter(), "statuses": Counter()})
        found.append({
            "batch": batch_id, "created_at": created_at, "backend": backend, "model": model,
            "revision": teacher_revision(backend, model, recipe),
            "endpoint": {key: recipe[key] for key in ("base_url", "provider") if recipe.get(key)} or None,
            "procedure": {"name": recipe.get("procedure", "direct"),
                          **{key: recipe[key] for key in PROCEDURE_KEYS if key in recipe}},
            "procedures_stored": dict(counts["procedures"]),
            "prompt_version": prompt_version, "prompt_files": prompt_files(prompt_version, folder),
            "sampling": None if backend == "import" else {**recipe.get("params", {}),
                                                          "samples_per_paper": recipe.get("samples")},
            "recipe": recipe, "generations": {status: counts["statuses"][status] for status in
                                              ("ok", "failed", "skipped")},
            "rows_in_dataset": rows[batch_id], "models_in_rows": sorted(row_models.get(batch_id, ()))})
    return found


def collect(config: ExportConfig, filter_name: str, thresholds: dict, report: FilterReport,
            chosen: list[Candidate], written: dict[str, list]) -> dict:
    """Write `provenance.json` and `provenance/` (recipes, prompt files) into the export folder; the record."""
    output = Path(config.output_dir)
    folder = output / FOLDER
    shutil.rmtree(folder, ignore_errors=True)  # a re-export never keeps a stale recipe
    folder.mkdir(parents=True)
    recipes = copy_recipes(config.recipes, output)
    with Store(config.db) as store:
        batches = teachers(store, config.batch, chosen, folder)
        counts = {"papers_in_store": store.count("papers"), "papers_labelled": store.papers_labelled(config.batch),
                  "generations": {status: sum(b["generations"][status] for b in batches)
                                  for status in ("ok", "failed", "skipped")},
                  "judged_by_filter": report.generations, "passed_every_validator": report.passed,
                  "papers_exported": len(chosen),
                  "rows_by_review": dict(Counter(s.review.decision if s.review else "not reviewed" for s in chosen)),
                  "rows_per_split": {split: len(rows) for split, rows in written.items()}}
    record = {
        "project": {"name": "miniastrolm", "version": __version__}, "date": date.today().isoformat(),
        "teachers": batches, "filter": {"name": filter_name, "thresholds": thresholds}, "counts": counts,
        "recipes": recipes,
        "export": {key: value for key, value in asdict(config).items() if key != "token_env"},
        "data_files": {f"data/{path.name}": sha256_of(path) for path in sorted((output / "data").glob("*"))},
    }
    (output / "provenance.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def markdown(record: dict) -> str:
    """The dataset card's provenance section: teachers, stage counts, recipes; provenance.json has the rest."""
    lines = ["Everything here is also in `provenance.json` beside the data; the prompt files and recipes used are "
             f"in `{FOLDER}/`.", "",
             "| batch | teacher | backend | revision | procedure | prompt | sampling | generations ok / failed / "
             "skipped | rows here |", "|---" * 9 + "|"]
    for teacher in record["teachers"]:
        procedure = teacher["procedure"]
        settings = ", ".join(f"{key}={value}" for key, value in procedure.items() if key != "name")
        sampling = ("none (written elsewhere, imported)" if teacher["sampling"] is None else
                    ", ".join(f"{key}={value}" for key, value in teacher["sampling"].items() if value is not None))
        statuses = teacher["generations"]
        named = ", ".join(model for model in teacher["models_in_rows"] if model != teacher["model"])
        who = f"{teacher['model']} (rows name {named})" if named else teacher["model"]
        lines.append(f"| {teacher['batch']} | {who} | {teacher['backend']} | "
                     f"{teacher['revision'] or 'not recorded'} | {procedure['name']}"
                     f"{f' ({settings})' if settings else ''} | `{teacher['prompt_version']}` | {sampling} | "
                     f"{statuses['ok']} / {statuses['failed']} / {statuses['skipped']} | "
                     f"{teacher['rows_in_dataset']} |")
    lines += ["", "Prompt files (sha256):"]
    for version, files in {t["prompt_version"]: t["prompt_files"] for t in record["teachers"]}.items():
        lines.append(f"- `{version}`: " + (", ".join(f"`{name}` `{digest}`" for name, digest in files.items())
                                           if files else "not in this checkout any more (changed or removed)"))
    counts = record["counts"]
    splits = counts["rows_per_split"]
    lines += ["", "| stage | count |", "|---|---|",
              f"| papers in the store | {counts['papers_in_store']} |",
              f"| papers with an explanation | {counts['papers_labelled']} |",
              f"| explanations generated | {counts['generations']['ok']} |",
              f"| generations failed / skipped before a call | {counts['generations']['failed']} / "
              f"{counts['generations']['skipped']} |",
              f"| explanations judged by the filter | {counts['judged_by_filter']} |",
              f"| passed every validator | {counts['passed_every_validator']} |",
              f"| papers exported | {counts['papers_exported']} |",
              "| rows by a person's decision | " + ", ".join(f"{decision} {rows}" for decision, rows in
                                                          sorted(counts["rows_by_review"].items())) + " |",
              f"| rows per split | {', '.join(f'{split} {rows}' for split, rows in splits.items())} |", ""]
    if record["recipes"]:
        lines += ["Recipes (sha256):"] + [f"- `{path}`: `{digest}`" for path, digest in record["recipes"].items()]
    else:
        lines.append("No recipe files were given to the export (`--recipes`); `provenance.json` has the batches' "
                     "recipes as stored.")
    return "\n".join(lines) + "\n"
