"""Dataset provenance: the export writes provenance.json and provenance/ (the prompt files and recipes used) beside
the data, and the card's section, from what the store holds: two real labelling recipes (the embedded SmolLM2 with
the sentences procedure, and an import), generations of every status, a real filter run."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

from miniastrolm import __version__
from miniastrolm.export import ExportConfig, export
from miniastrolm.filter import FilterConfig, run_filter
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig
from miniastrolm.models import SMOLLM2_SHA256
from miniastrolm.prompts import Prompt
from miniastrolm.store import Store

from validation_set import GOOD_FRB, GOOD_SATELLITE, GOOD_SPOTS

ROOT = Path(__file__).parents[1]
BODY_MODEL = "gpt-4o-mini-2024-07-18"  # what an imported batch output's rows name
SAMPLES = ROOT / "samples" / "illustrative_abstracts.jsonl"
RECIPES = [str(ROOT / "recipes" / "label" / "quickstart.yaml"), str(ROOT / "recipes" / "filter" / "default.yaml"),
           str(ROOT / "recipes" / "export" / "quickstart.yaml")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_batch(store: Store, config: LabelConfig, prompt: Prompt, rows: list[tuple[str, int, str, str | None]],
              row_model: str | None = None) -> int:
    """A batch named by the recipe's real identity, and its generations: (paper, sample, status, output); each
    row's model is `row_model` when given (as an imported provider batch names it per row)."""
    identity = config.identity(prompt.version)
    batch = store.open_batch(recipe_hash=json.dumps(identity, sort_keys=True)[:60], recipe=identity,
                             price_input=None, price_output=None)
    for paper, sample, status, output in rows:
        store.add_generation({"paper": paper, "batch": batch, "sample": sample, "attempt": 1, "status": status,
                              "prompt_version": prompt.version, "backend": config.backend,
                              "model": row_model or config.model,
                              "params": json.dumps(identity["params"]), "output": output,
                              "error": None if status == "ok" else "a reason", "procedure": config.procedure})
    return batch


@pytest.fixture(scope="module")
def store_with_two_teachers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("provenance")
    db = str(folder / "s.db")
    ingest(IngestConfig(path=str(SAMPLES), db=db), progress=False)
    local = LabelConfig(db=db, backend="in_process", model="smollm2", prompt="simplify", procedure="sentences",
                        most_sentences=5, samples=2, max_new_tokens=90, temperature=0.3, top_p=0.9,
                        repetition_penalty=1.1, stop=["\n"], seed=1234, faithful_decoding=True, revision_rounds=2)
    imported = folder / "written.jsonl"
    imported.write_text('{"arxiv_id": "2611.90004", "explanation": "x"}\n', encoding="utf-8")
    writer = LabelConfig(db=db, backend="import", model="reference-writer", input=str(imported), prompt="explain")
    with Store(db) as store:
        add_batch(store, local, Prompt.load("simplify"), [
            ("2611.90001", 0, "ok", GOOD_SATELLITE), ("2611.90001", 1, "ok", "I'm sorry, but I cannot help."),
            ("2611.90002", 0, "failed", None), ("2611.90003", 0, "skipped", None)])
        add_batch(store, writer, Prompt.load("explain"), [("2611.90004", 0, "ok", GOOD_FRB),
                                                          ("2611.90002", 0, "ok", GOOD_SPOTS)], row_model=BODY_MODEL)
    run_filter(FilterConfig(db=db, report=str(folder / "report.md")), progress=False)
    return db, local, writer


def test_provenance_json_records_teachers_prompts_settings_counts_and_recipes(store_with_two_teachers, tmp_path):
    db, local, writer = store_with_two_teachers
    output = tmp_path / "ds"
    result = export(ExportConfig(db=db, output_dir=str(output), jsonl=str(tmp_path / "c.jsonl"), recipes=RECIPES,
                                 validation_share=0.0, test_share=0.5))
    record = json.loads((output / "provenance.json").read_text())
    assert record["project"] == {"name": "miniastrolm", "version": __version__}

    smollm2, imported = record["teachers"]
    assert (smollm2["backend"], smollm2["model"], imported["backend"], imported["model"]) == (
        "local", "smollm2", "import", "reference-writer")
    assert smollm2["revision"] == f"SmolLM2-135M-Instruct.Q4_1.gguf sha256:{SMOLLM2_SHA256}"
    assert imported["revision"].startswith(f"imported file sha256:{sha256(Path(writer.input))[:16]}")
    assert smollm2["procedure"] == {"name": "sentences", "most_sentences": 5, "max_new_words": 0.5,
                                    "glossary": local.glossary_version(), "faithful_decoding": True,
                                    "revision_rounds": 2, "revision_max_new_tokens": 320,
                                    "revision_prompt": Prompt.load("revise").version}
    assert smollm2["procedures_stored"] == {"sentences": 4} and imported["procedure"] == {"name": "direct"}
    assert smollm2["sampling"] == {"max_new_tokens": 90, "temperature": 0.3, "top_p": 0.9, "seed": 1234,
                                   "repetition_penalty": 1.1, "stop": ["\n"], "samples_per_paper": 2}
    assert imported["sampling"] is None  # written elsewhere: the recipe's decoding defaults never applied
    assert smollm2["generations"] == {"ok": 2, "failed": 1, "skipped": 1}
    assert imported["generations"] == {"ok": 2, "failed": 0, "skipped": 0}
    # the prompt files, hashed and copied: the same bytes as prompts/simplify/
    assert smollm2["prompt_version"] == Prompt.load("simplify").version
    prompt_folder = ROOT / "prompts" / "simplify"
    assert smollm2["prompt_files"] == {path.name: sha256(path) for path in sorted(prompt_folder.iterdir())}
    for path in prompt_folder.iterdir():
        assert (output / "provenance" / "prompts" / "simplify" / path.name).read_bytes() == path.read_bytes()

    rows = {split: len(load_dataset(str(output), split=split)) for split in result.split_rows}
    assert rows == result.split_rows  # the extra files do not disturb load_dataset
    assert record["counts"] == {
        "papers_in_store": 12, "papers_labelled": 3, "generations": {"ok": 4, "failed": 1, "skipped": 1},
        "judged_by_filter": 4, "passed_every_validator": 3, "papers_exported": 3,
        "rows_by_review": {"not reviewed": 3}, "rows_per_split": result.split_rows}
    assert [t["rows_in_dataset"] for t in record["teachers"]] == [1, 2]
    assert [t["models_in_rows"] for t in record["teachers"]] == [["smollm2"], [BODY_MODEL]]
    assert record["filter"]["thresholds"]["min_words"] == 100
    assert record["export"]["recipes"] == RECIPES and "token_env" not in record["export"]
    assert record["data_files"] == {f"data/{p.name}": sha256(p) for p in sorted((output / "data").iterdir())}

    expected = {"provenance/label/quickstart.yaml": RECIPES[0], "provenance/filter/default.yaml": RECIPES[1],
                "provenance/export/quickstart.yaml": RECIPES[2]}
    assert record["recipes"] == {name: sha256(Path(source)) for name, source in expected.items()}
    for name, source in expected.items():
        assert (output / name).read_bytes() == Path(source).read_bytes()

    card = (output / "README.md").read_text()
    assert "## Provenance" in card and "provenance.json" in card
    assert f"| 1 | smollm2 | local | SmolLM2-135M-Instruct.Q4_1.gguf sha256:{SMOLLM2_SHA256} | sentences (" in card
    assert "faithful_decoding=True, revision_rounds=2" in card  # the dataset card says how it was made
    assert f"| 2 | reference-writer (rows name {BODY_MODEL}) | import |" in card
    assert "| none (written elsewhere, imported) | 2 / 0 / 0 | 2 |" in card
    assert "| passed every validator | 3 |" in card and "| papers in the store | 12 |" in card
    assert f"- `provenance/filter/default.yaml`: `{sha256(Path(RECIPES[1]))}`" in card


def test_re_export_without_recipes_leaves_no_stale_recipe(store_with_two_teachers, tmp_path):
    db, _, _ = store_with_two_teachers
    config = ExportConfig(db=db, output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl"), recipes=RECIPES)
    export(config)
    export(ExportConfig(**{**config.__dict__, "recipes": []}))
    assert not (tmp_path / "ds" / "provenance" / "label").exists()
    assert json.loads((tmp_path / "ds" / "provenance.json").read_text())["recipes"] == {}
    assert "No recipe files were given to the export" in (tmp_path / "ds" / "README.md").read_text()


def test_a_missing_or_clashing_recipe_fails_before_anything_is_written(store_with_two_teachers, tmp_path):
    db, _, _ = store_with_two_teachers
    with pytest.raises(ValueError, match="recipes: .*nope.yaml is not a file"):
        export(ExportConfig(db=db, output_dir=str(tmp_path / "ds"), recipes=[str(tmp_path / "nope.yaml")]))
    twin = tmp_path / "other" / "label" / "quickstart.yaml"
    twin.parent.mkdir(parents=True)
    twin.write_text("db: x.db\n")
    with pytest.raises(ValueError, match="would both be uploaded as provenance/label/quickstart.yaml"):
        export(ExportConfig(db=db, output_dir=str(tmp_path / "ds"), recipes=[RECIPES[0], str(twin)]))
    assert not (tmp_path / "ds").exists()


def test_run_hands_export_the_recipes_that_made_the_dataset(store_with_two_teachers, tmp_path, monkeypatch):
    """`miniastrolm run` on the quickstart recipe: the stage recipes up to export, and the pipeline settings as
    run (with the command line's --limit), are uploaded beside the data."""
    from miniastrolm.config import parse_config
    from miniastrolm.pipeline import PipelineConfig, recipes_run

    monkeypatch.chdir(ROOT)
    config = parse_config(PipelineConfig, ["--config", "recipes/quickstart.yaml", "--workdir", str(tmp_path / "qs"),
                                           "--limit", "3"], prog="run")
    (tmp_path / "qs").mkdir()
    recipes = recipes_run(config, tmp_path / "qs", ["recipes/filter/default.yaml"])  # listed by the export recipe
    db, _, _ = store_with_two_teachers
    record = export(ExportConfig(db=db, output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl"),
                                 recipes=recipes))
    names = {"ingest/kaggle.yaml", "label/quickstart.yaml", "label/quickstart-reference.yaml",
             "filter/default.yaml", "export/quickstart.yaml"}
    uploaded = json.loads((tmp_path / "ds" / "provenance.json").read_text())["recipes"]
    assert set(uploaded) == {f"provenance/{name}" for name in names} | {"provenance/qs/pipeline.yaml"}
    for name in names:
        assert (tmp_path / "ds" / "provenance" / name).read_bytes() == (ROOT / "recipes" / name).read_bytes()
    settings = yaml.safe_load((tmp_path / "ds" / "provenance" / "qs" / "pipeline.yaml").read_text())
    assert settings["limit"] == 3 and settings["label_recipe"] == "recipes/label/quickstart.yaml"
    assert record.split_rows
