from dataclasses import dataclass, field

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


@pytest.mark.parametrize("stage", ["ingest", "label", "filter"])
def test_every_shipped_recipe_parses(stage, monkeypatch):
    from pathlib import Path

    from miniastrolm.filter import FilterConfig
    from miniastrolm.ingest import IngestConfig
    from miniastrolm.label import LabelConfig

    monkeypatch.setenv("TEACHER_URL", "http://127.0.0.1:8080/v1")
    recipes = sorted((Path(__file__).parents[1] / "recipes" / stage).glob("*.yaml"))
    assert recipes
    for recipe in recipes:
        config_class = {"ingest": IngestConfig, "label": LabelConfig, "filter": FilterConfig}[stage]
        parse_config(config_class, ["--config", str(recipe)], prog="t")


def test_recipe_values_read_environment_variables(tmp_path, monkeypatch):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: ${FIXTURE_NAME}-model\n")
    monkeypatch.setenv("FIXTURE_NAME", "mine")
    assert parse_config(Example, ["--config", str(recipe)], prog="t").name == "mine-model"
    monkeypatch.delenv("FIXTURE_NAME")
    with pytest.raises(ConfigError, match="needs the environment variable FIXTURE_NAME"):
        parse_config(Example, ["--config", str(recipe)], prog="t")
