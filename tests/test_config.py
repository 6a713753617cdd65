from dataclasses import dataclass, field
from pathlib import Path

import pytest

from miniastrolm.config import ConfigError, parse_config


@dataclass
class Example:
    name: str = "default"
    size: int = 1
    tags: list[str] = field(default_factory=list)
    flag: bool = False


def test_defaults_then_yaml_then_cli(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: from-yaml\nsize: 5\ntags: [a, b]\n")
    assert parse_config(Example, [], prog="t") == Example()
    assert parse_config(Example, ["--config", str(recipe)], prog="t") == Example("from-yaml", 5, ["a", "b"])
    assert parse_config(Example, ["--config", str(recipe), "--size", "7", "--flag"], prog="t") == Example(
        "from-yaml", 7, ["a", "b"], True)


def test_unknown_flag_gets_a_did_you_mean_hint():
    with pytest.raises(ConfigError, match=r"unknown argument\(s\) --nmae x \(did you mean --name\?\)"):
        parse_config(Example, ["--nmae", "x"], prog="t")
    with pytest.raises(ConfigError, match="see --help") as raised:
        parse_config(Example, ["--zzzz", "x"], prog="t")
    assert "did you mean" not in str(raised.value)


def test_unknown_recipe_key_is_named(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("nmae: typo\n")
    with pytest.raises(ConfigError, match="unknown key.*nmae"):
        parse_config(Example, ["--config", str(recipe)], prog="t")


def test_missing_recipe_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        parse_config(Example, ["--config", str(tmp_path / "none.yaml")], prog="t")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config(Example, ["--config", str(bad)], prog="t")


RECIPES = Path(__file__).parents[1] / "recipes"


def recipe_class(recipe: Path):
    """The config class that reads a recipe, by its folder (full.yaml and quickstart.yaml: `miniastrolm run`)."""
    from miniastrolm.evaluation import EvalConfig
    from miniastrolm.export import ExportConfig
    from miniastrolm.filter import FilterConfig
    from miniastrolm.ingest import IngestConfig
    from miniastrolm.label import LabelConfig
    from miniastrolm.pipeline import PipelineConfig

    return {"ingest": IngestConfig, "label": LabelConfig, "filter": FilterConfig, "export": ExportConfig,
            "eval": EvalConfig, "recipes": PipelineConfig}[recipe.parent.name]


def test_every_shipped_recipe_parses(monkeypatch):
    """Every YAML file under recipes/, each read the way its command reads it: stage recipes by their config
    class, student recipes by TrlParser (miniastrolm.train), accelerate configs by accelerate's own loader."""
    from accelerate.commands.config.config_args import ClusterConfig

    from miniastrolm.train import parse

    for name in ("TEACHER_URL", "MINIASTROLM_DATASET_REPO", "MINIASTROLM_MODEL_REPO"):
        monkeypatch.setenv(name, "http://127.0.0.1:8080/v1" if name == "TEACHER_URL" else "me/repo")
    recipes = sorted(RECIPES.rglob("*.yaml"))
    parsed = set()
    for recipe in recipes:
        if recipe.parent.name == "student":
            script, sft, model = parse(["--config", str(recipe)])
            assert sft.output_dir and script.dataset_name, recipe
        elif recipe.parent.name == "accelerate_configs":
            assert ClusterConfig.from_yaml_file(recipe).num_processes >= 1, recipe
        else:
            config = parse_config(recipe_class(recipe), ["--config", str(recipe)], prog="t")
            if recipe.parent == RECIPES:  # `miniastrolm run`: every stage recipe it names exists
                # (reference_recipe is optional: full.yaml leaves it out)
                stages = [value for key, value in vars(config).items() if key.endswith("_recipe") and value]
                assert stages and all((RECIPES.parent / stage).is_file() for stage in stages), recipe
        parsed.add(recipe.relative_to(RECIPES).as_posix())
    assert {"full.yaml", "quickstart.yaml", "student/gpt2-sft.yaml", "export/default.yaml", "eval/default.yaml",
            "accelerate_configs/fsdp.yaml"} <= parsed


def test_recipe_values_read_environment_variables(tmp_path, monkeypatch):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: ${FIXTURE_NAME}-model\n")
    monkeypatch.setenv("FIXTURE_NAME", "mine")
    assert parse_config(Example, ["--config", str(recipe)], prog="t").name == "mine-model"
    monkeypatch.delenv("FIXTURE_NAME")
    with pytest.raises(ConfigError, match="needs the environment variable FIXTURE_NAME"):
        parse_config(Example, ["--config", str(recipe)], prog="t")


def test_renamed_values_still_work_with_a_warning_naming_the_new_one(tmp_path):
    """`local` was both an ingest source and a teacher backend; old recipes keep working, with a warning."""
    from miniastrolm.ingest import IngestConfig
    from miniastrolm.label import LabelConfig

    recipe = tmp_path / "old.yaml"
    recipe.write_text("source: local\n")
    with pytest.warns(FutureWarning, match="'local' is deprecated, write 'file'"):
        assert parse_config(IngestConfig, ["--config", str(recipe)], prog="t").source == "file"
    with pytest.warns(FutureWarning, match="'local' is deprecated, write 'in_process'"):
        old = parse_config(LabelConfig, ["--backend", "local"], prog="t")
    assert old.backend == "in_process" == LabelConfig().backend
    # The store still records the in-process backend as "local": batches labelled before the rename resume.
    assert old.identity("explain@x")["backend"] == LabelConfig().identity("explain@x")["backend"] == "local"
