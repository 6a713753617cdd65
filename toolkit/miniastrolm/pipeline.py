"""`miniastrolm run`: the whole pipeline, ingest -> label -> filter -> export -> train -> evaluate -> explain,
from a pipeline recipe (recipes/quickstart.yaml: embedded defaults, offline; recipes/full.yaml: real data).

Each step runs from its own stage recipe (the same ones the stage verbs take), with paths placed under
`workdir`. Re-running reuses what is done (stored labels, a student trained on the same dataset) and says
so; `--fresh true` starts over.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
import yaml
from rich.console import Console
from rich.table import Table

from .cards import refresh_card_evaluation
from .config import parse_config
from .evaluation import HEADLINE_METRICS, EvalConfig, evaluate
from .export import ExportConfig, export, split_of
from .filter import FilterConfig, run_filter
from .hub import push_folder
from .ingest import IngestConfig, ingest
from .label import LabelConfig, label
from .store import Store
from .student_format import messages
from .train import parse, train
from .validate import Verdict
from .validate.registry import judge_one

console = Console()


@dataclass
class PipelineConfig:
    """A pipeline recipe (recipes/quickstart.yaml, recipes/full.yaml): a stage recipe per step, and where the
    artefacts go. The defaults are the quickstart's."""

    input: str = field(default="samples/illustrative_abstracts.jsonl", metadata={
        "help": "abstracts to start from (Kaggle-snapshot JSON lines), e.g. ../shared/data/astro-ph-dev.jsonl"})
    workdir: str = field(default="runs/quickstart", metadata={"help": "where every artefact goes"})
    fresh: bool = field(default=False, metadata={"help": "delete workdir first instead of reusing it"})
    limit: int | None = field(default=None, metadata={"help": "papers to label (default: the label recipe's)"})
    ingest_recipe: str = field(default="recipes/ingest/kaggle.yaml", metadata={"help": "stage recipe: ingest"})
    label_recipe: str = field(default="recipes/label/quickstart.yaml", metadata={"help": "stage recipe: label"})
    reference_recipe: str | None = field(default=None, metadata={
        "help": "a second label recipe whose explanations join the first's before the filter, e.g. an import of a "
                "stronger teacher's (recipes/label/quickstart-reference.yaml)"})
    filter_recipe: str = field(default="recipes/filter/default.yaml", metadata={"help": "stage recipe: filter"})
    export_recipe: str = field(default="recipes/export/quickstart.yaml", metadata={"help": "stage recipe: export"})
    student_recipe: str = field(default="recipes/student/smollm2-quickstart.yaml", metadata={
        "help": "training recipe (TrlParser)"})
    eval_recipe: str = field(default="recipes/eval/quickstart.yaml", metadata={"help": "stage recipe: eval"})
    dataset_repo: str | None = field(default=None, metadata={"help": "push the dataset to this Hub repo id"})
    model_repo: str | None = field(default=None, metadata={"help": "push the student to this Hub repo id"})


def stage(config_class, recipe: str, overrides: dict):
    args = ["--config", recipe]
    for key, value in overrides.items():
        if value is not None:
            args += [f"--{key}", str(value)]
    return parse_config(config_class, args, prog=config_class.__name__)


def files_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def recipes_run(config: PipelineConfig, work: Path, listed: list[str]) -> list[str]:
    """The recipes that made the dataset, for export to upload beside it (provenance/): this run's pipeline
    settings as run (after command-line overrides such as --limit; written to `work`/pipeline.yaml) and the stage
    recipes up to export, after any the export recipe lists itself."""
    settings = work / "pipeline.yaml"
    settings.write_text("# miniastrolm run: the pipeline recipe as run, command-line overrides applied\n"
                        + yaml.safe_dump(asdict(config), sort_keys=False), encoding="utf-8")
    stages = (config.ingest_recipe, config.label_recipe, config.reference_recipe, config.filter_recipe,
              config.export_recipe)
    unique = {Path(recipe).resolve(): recipe for recipe in [*listed, str(settings), *filter(None, stages)]}
    return list(unique.values())


def train_student(config: PipelineConfig, dataset: Path, jsonl: Path, folder: Path) -> tuple[Path, bool]:
    """Train unless the folder already holds a student trained on exactly this dataset with this recipe; a
    training of the same inputs that was interrupted resumes from its last checkpoint."""
    stamp = folder / "training-inputs.sha256"
    digest = files_digest(jsonl, Path(config.student_recipe))
    if stamp.is_file() and stamp.read_text() == digest:
        if (folder / "model.safetensors").is_file():
            return folder, True
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        stamp.write_text(digest)
    script, sft, model_args = parse(["--config", config.student_recipe, "--dataset_name", str(dataset),
                                     "--output_dir", str(folder)])
    train(script, sft, model_args)
    return folder, False


def held_back_paper(db: str, export_config: ExportConfig, trained_on: set[str]) -> tuple[str, str, str, int] | None:
    """(arxiv id, abstract, teacher explanation, generation id) of a labelled paper the student never saw, from
    the test split first."""
    with Store(db) as store:
        rows = store.labelled_papers()
    unseen = [row for row in rows if row[0] not in trained_on]
    unseen.sort(key=lambda row: split_of(row[0], export_config.validation_share, export_config.test_share) != "test")
    return unseen[0] if unseen else None


def stored_verdicts(db: str, generation: int, filter_name: str) -> list[Verdict]:
    with Store(db) as store:
        return [Verdict(*row) for row in store.verdicts(generation, filter_name)]


def verdict_lines(verdicts: list[Verdict]) -> str:
    return "\n".join(f"{'PASS' if v.passed else 'FAIL'} {v.validator}" + (f": {'; '.join(v.reasons)[:90]}"
                                                                          if v.reasons else "") for v in verdicts)


def run(config: PipelineConfig) -> dict:
    from transformers import pipeline

    work = Path(config.workdir)
    if config.fresh and work.exists():
        shutil.rmtree(work)
        console.print(f"--fresh: removed {work}")
    db = str(work / "miniastrolm.db")

    console.rule("1/7 ingest")
    ingested = ingest(stage(IngestConfig, config.ingest_recipe, {"path": config.input, "db": db}), progress=True)
    console.print(f"{ingested.kept} papers read from {config.input}: {ingested.inserted} new, "
                  f"{ingested.unchanged} already stored")

    console.rule("2/7 label (the teacher recipe, then the reference teacher's explanations, if any, imported)")
    for recipe in [recipe for recipe in (config.label_recipe, config.reference_recipe) if recipe]:
        label_config = stage(LabelConfig, recipe, {"db": db, "limit": config.limit})
        labelled = label(label_config)
        console.print(f"{label_config.model} ({label_config.backend}): {labelled.ok} new explanations, "
                      f"{labelled.failed} failed, {labelled.already_done} reused from an earlier run")

    console.rule("3/7 filter")
    filter_config = stage(FilterConfig, config.filter_recipe, {"db": db, "report": work / "filter_report.md"})
    filtered = run_filter(filter_config)
    console.print(f"{filtered.passed} of {filtered.generations} explanations pass every validator; "
                  f"rejections: {dict(filtered.reasons.most_common(6))}")

    console.rule("4/7 export")
    export_config = stage(ExportConfig, config.export_recipe, {"db": db, "output_dir": work / "dataset",
                                                               "jsonl": work / "curated.jsonl",
                                                               "push_to_hub": config.dataset_repo})
    export_config.recipes = recipes_run(config, work, export_config.recipes)
    exported = export(export_config)
    console.print(f"dataset {exported.output_dir}: {exported.split_rows}")
    if "train" not in exported.split_rows:
        raise ValueError("no passing explanation landed in the train split; label more papers (--limit) or use "
                         "real data (--input ../shared/data/astro-ph-dev.jsonl)")

    console.rule("5/7 train the student")
    student, reused = train_student(config, exported.output_dir, exported.jsonl, work / "student")
    console.print(f"student {student}" + (" reused: already trained on this dataset" if reused else " trained"))

    console.rule("6/7 evaluate on the held-out test split")
    eval_config = stage(EvalConfig, config.eval_recipe, {"dataset": exported.output_dir, "db": db,
                                                         "student": student, "output_dir": work / "eval"})
    if "test" in exported.split_rows:
        evaluated = evaluate(eval_config)
        for name, metrics in evaluated["systems"].items():
            console.print(f"{name:>8}: " + ", ".join(f"{key} {_fmt(metrics.get(key))}" for key in HEADLINE_METRICS))
        console.print(f"report: {work / 'eval' / 'report.md'}")
        if refresh_card_evaluation(student, work / "eval" / "metrics.json"):
            console.print(f"the evaluation table is in the model card {student / 'README.md'}")
    else:
        console.print("no passing explanation landed in the test split: nothing to evaluate on")

    if config.model_repo:  # after the evaluation, so the published card carries its table
        url = push_folder(student, config.model_repo, repo_type="model", private=False, revision=None,
                          token=os.environ.get("HF_TOKEN"), overwrite=False, ignore_patterns=["checkpoint-*"])
        console.print(f"student pushed: {url}")

    console.rule("7/7 explain a held-back abstract with the student, via plain pipeline(...)")
    trained_on = {record["arxiv_id"] for record in map(orjson.loads, exported.jsonl.read_bytes().splitlines())
                  if record["split"] == "train"}
    held = held_back_paper(db, export_config, trained_on)
    result = {"store": db, "dataset": str(exported.output_dir), "student": str(student),
              "filter_report": str(work / "filter_report.md"), "eval_report": str(work / "eval" / "report.md")}
    if held is None:
        console.print("every labelled paper was used for training; nothing held back to compare on")
        return result
    arxiv_id, abstract, teacher_text, generation = held
    explain = pipeline("text-generation", model=str(student))
    student_text = explain(messages(abstract))[0]["generated_text"][-1]["content"].strip()
    table = Table(title=f"held-back paper {arxiv_id}: teacher vs student", show_lines=True)
    table.add_column("teacher (SmolLM2-135M, long instructions)", ratio=1)
    table.add_column("student (fine-tuned on the bare abstract)", ratio=1)
    table.add_row(teacher_text, student_text)
    table.add_row(verdict_lines(stored_verdicts(db, generation, filtered.filter)),
                  verdict_lines(judge_one(abstract, student_text, filter_config)))
    console.print(table)
    result.update({"paper": arxiv_id, "teacher": teacher_text, "student_explanation": student_text})
    return result


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summary(result: dict) -> None:
    console.rule("done")
    console.print(f"""[bold]Artefacts[/bold]
  store          {result['store']}   (miniastrolm db stats --db {result['store']})
  filter report  {result['filter_report']}
  dataset        {result['dataset']}   (datasets.load_dataset("{result['dataset']}"))
  student        {result['student']}   (transformers.pipeline("text-generation", model="{result['student']}"))
  eval report    {result['eval_report']}

Offline, the student starts from SmolLM2-135M-Instruct (the only pretrained small causal LM that installs \
offline) and learns to explain from the bare abstract, without the teacher's long instructions. The teacher \
is the same small model, so expect mistakes: the verdicts above show which checks caught them.

[bold]Next[/bold]
  real abstracts:  miniastrolm run --config recipes/quickstart.yaml --input ../shared/data/astro-ph-dev.jsonl --limit 50
  a real teacher:  recipes/label/endpoint.yaml (TGI / Inference Endpoints / any OpenAI-compatible server)
  the real student: recipes/student/gpt2-sft.yaml (see README, "Stage 5"), or recipes/full.yaml""")
