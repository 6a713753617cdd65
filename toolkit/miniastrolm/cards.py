"""Cards: the student's model card (written after training, its evaluation table refreshed by `eval`) and the
exported dataset's card, both rendered from `templates/`; the model card's usage snippet comes from
`student_format` and its evaluation table shows `evaluation.HEADLINE_METRICS`.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .evaluation import HEADLINE_METRICS, MIN_PAPERS, with_interval
from .student_format import messages_code

if TYPE_CHECKING:
    from .export import ExportConfig
    from .store import Candidate


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def teacher_provenance(split) -> tuple[str, str]:
    def joined(column: str) -> str:
        return ", ".join(sorted(set(split[column]))) if column in split.column_names else "unknown"

    return joined("teacher_model"), joined("prompt_version")


def evaluation_table(path: str | None) -> str:
    """The headline metrics of `miniastrolm eval` (metrics.json) as a markdown table, one row per system."""
    if not path or not Path(path).is_file():
        return ("Not evaluated yet: `miniastrolm eval --student <this folder>` writes the table here "
                "(or pass `--eval_metrics <run>/metrics.json` when training).")
    import json

    metrics = json.loads(Path(path).read_text(encoding="utf-8"))
    lines = [f"On {metrics['n']} held-out papers ({metrics['dataset']}, split `{metrics['split']}`); the teacher's "
             "explanations are the ROUGE reference; lead3 = the abstract's first three sentences. Cells: mean "
             "[95 % bootstrap interval].", ""]
    if metrics["n"] < MIN_PAPERS:
        return "\n".join(lines + [f"Too few to conclude: {metrics['n']} papers (fewer than {MIN_PAPERS}); see the "
                                  "evaluation's metrics.json for the figures."])
    lines += ["| system | n | " + " | ".join(HEADLINE_METRICS) + " |", "|---" * (len(HEADLINE_METRICS) + 2) + "|"]
    for system, values in metrics["systems"].items():
        lines.append(f"| {system} | {values['n']} | " + " | ".join(with_interval(values, name)
                                                                   for name in HEADLINE_METRICS) + " |")
    if metrics.get("rated"):
        lines += ["", "Rated by careful reading, blind to the system (95 % Wilson intervals):", "",
                  "| system | n | acceptable | faithful | degenerate |", "|---|---|---|---|---|"]
        lines += [f"| {system} | {rates['n']} | " + " | ".join(with_interval(rates, key) for key in
                                                              ("acceptable", "faithful", "degenerate")) + " |"
                  for system, rates in metrics["rated"].items()]
    return "\n".join(lines)


def hub_base_model(script, model_args) -> str | None:
    """The base's Hub id for the card metadata; None when it came from scratch, smollm2 or a local folder."""
    source = model_args.model_name_or_path
    if script.init_from_scratch or source == "smollm2" or Path(source).exists():
        return None
    return source


def write_model_card(folder: Path, *, script, sft, description, base_model_id, data, fit_counts, result,
                     load_path) -> None:
    import transformers
    import trl
    from huggingface_hub import ModelCard, ModelCardData

    teachers, prompts = teacher_provenance(data["train"])
    datasets_meta = [script.dataset_name] if not Path(script.dataset_name).exists() else None
    card_data = ModelCardData(
        language="en", license="apache-2.0", library_name="transformers", pipeline_tag="text-generation",
        tags=["astronomy", "distillation", "miniastrolm", "trl", "sft"], datasets=datasets_meta,
        base_model=base_model_id)
    settings = ", ".join(f"{key}={getattr(sft, key)}" for key in (
        "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
        "gradient_accumulation_steps", "max_length", "bf16", "seed"))
    card = ModelCard.from_template(
        card_data, template_str=files("miniastrolm").joinpath("templates/model_card.md").read_text("utf-8"),
        model_name=Path(load_path).name or load_path, load_path=load_path, base_model=description,
        dataset=script.dataset_name, dataset_revision=script.dataset_revision, train_rows=len(data["train"]),
        eval_rows=len(data["validation"]) if "validation" in data else 0, teacher_models=teachers,
        prompt_versions=prompts, fit=fit_counts, settings=settings, result=result, version=__version__,
        trl_version=trl.__version__, transformers_version=transformers.__version__, date=date.today(),
        evaluation=evaluation_table(script.eval_metrics), messages_code=messages_code(),
        weights_sha256=sha256_of(folder / "model.safetensors") if (folder / "model.safetensors").is_file() else None,
        generation={"max_new_tokens": script.max_new_tokens, "repetition_penalty": script.repetition_penalty,
                    "no_repeat_ngram_size": script.no_repeat_ngram_size})
    card.save(folder / "README.md")


def refresh_card_evaluation(folder: Path, metrics_json: str | Path) -> bool:
    """Put the evaluation table from `miniastrolm eval`'s metrics.json into an existing model card."""
    card = Path(folder) / "README.md"
    if not card.is_file() or not Path(metrics_json).is_file():
        return False
    text = card.read_text(encoding="utf-8")
    start = text.index("## Evaluation\n") + len("## Evaluation\n")
    end = text.index("\n## ", start)
    card.write_text(text[:start] + "\n" + evaluation_table(str(metrics_json)) + "\n" + text[end:], encoding="utf-8")
    return True


def size_category(rows: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < bound:
            return name
    return "n>1M"


def dataset_card(config: ExportConfig, filter_name: str, thresholds: dict, chosen: list[Candidate],
                 written: dict[str, list], filter_report: str, shown: list[Candidate], review_report: str,
                 provenance: str):
    """The exported dataset's card: provenance (`provenance.markdown`), filter thresholds and report, people's
    review decisions, split sizes, `shown` as samples."""
    from huggingface_hub import DatasetCard, DatasetCardData

    words = [len(selected.explanation.split()) for selected in chosen]
    card_data = DatasetCardData(
        language="en", license=config.license, pretty_name=config.pretty_name,
        task_categories=["text-generation", "summarization"], size_categories=size_category(len(chosen)),
        tags=["astronomy", "arxiv", "distillation", "plain-language", "miniastrolm"],
        # no `configs`: `data/<split>-*.parquet` is the layout `datasets` finds by itself, and with `configs` in
        # the card `datasets` 5.2 keeps serving its cached copy after the folder is re-exported (stale splits)
    )
    samples = [selected._replace(abstract=selected.abstract[:700] + ("..." if len(selected.abstract) > 700 else ""))
               for selected in shown]
    return DatasetCard.from_template(
        card_data, template_str=files("miniastrolm").joinpath("templates/dataset_card.md").read_text("utf-8"),
        pretty_name=config.pretty_name, load_path=config.push_to_hub or config.output_dir,
        teacher_models=", ".join(sorted({s.teacher_model for s in chosen})),
        prompt_versions=", ".join(sorted({s.prompt_version for s in chosen})), filter_name=filter_name,
        thresholds=", ".join(f"{key}={value}" for key, value in thresholds.items()),
        split_shares=f"{1 - config.validation_share - config.test_share:.0%} / {config.validation_share:.0%} / "
                     f"{config.test_share:.0%}", version=__version__, date=date.today(),
        split_rows={split: len(rows) for split, rows in written.items()},
        words={"mean": round(statistics.mean(words)), "min": min(words), "max": max(words)},
        categories=Counter(s.primary_category for s in chosen).most_common(),
        data_sha256={path.name: sha256_of(path) for path in sorted((Path(config.output_dir) / "data").glob("*"))},
        filter_report=filter_report.replace(
            "# Filter report", "###"), review_report=review_report, provenance=provenance, samples=samples)

