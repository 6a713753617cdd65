"""Stage configs: dataclasses filled from a YAML recipe, then from CLI flags (CLI > YAML > default).

This is the mechanism TRL's `TrlParser` uses (YAML values become argparse defaults), built on
`transformers.HfArgumentParser` so every field's `metadata={"help": ...}` shows up in `--help`.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import os
import re
import warnings
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")
_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}")


class OneSpellingHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """`--help` lists each flag once, as its recipe key (`--max_new_tokens`); the parser also takes the dashed
    spelling (`--max-new-tokens`), which it registers as an alias."""

    def _format_action_invocation(self, action):
        def dashed_twin(name: str) -> bool:
            underscored = "--" + name[2:].replace("-", "_")
            return name.startswith("--") and underscored != name and underscored in action.option_strings

        shown = copy.copy(action)
        shown.option_strings = [name for name in action.option_strings if not dashed_twin(name)]
        return super()._format_action_invocation(shown)


def renamed(key: str, value, renames: dict[str, str]):
    """A recipe value that was renamed: still accepted, with a warning that names the new value."""
    if value not in renames:
        return value
    warnings.warn(f"{key}: {value!r} is deprecated, write {renames[value]!r} instead (same meaning)",
                  FutureWarning, stacklevel=4)
    return renames[value]


class ConfigError(ValueError):
    """A recipe or flag that cannot be turned into a config; the message names the key and the file."""


def load_recipe(path: str | Path, known_keys: set[str]) -> dict:
    """Read a YAML recipe and refuse keys the stage does not know (a typo must not pass silently)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe not found: {path}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of key: value, got {type(values).__name__}")
    unknown = sorted(set(values) - known_keys)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known_keys))}")
    return {key: _expand_env(path, key, value) for key, value in values.items()}


def _expand_env(path: Path, key: str, value):
    """`${NAME}` in a string value is read from the environment, so recipes can name servers and repos
    without holding them (keep secrets out of recipes: tokens are read by the stage from their own variable)."""
    if not isinstance(value, str) or "${" not in value:
        return value
    missing = [name for name in _ENV_REFERENCE.findall(value) if name not in os.environ]
    if missing:
        raise ConfigError(f"{path}: key {key} needs the environment variable {', '.join(missing)}")
    return _ENV_REFERENCE.sub(lambda match: os.environ[match[1]], value)


def parse_config(config_class: type[T], args: list[str], prog: str, description: str = "") -> T:
    """Build `config_class` from `--config recipe.yaml` and `--key value` overrides in `args`."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(
        config_class, prog=prog, description=description, formatter_class=OneSpellingHelpFormatter
    )
    parser.add_argument("--config", help="YAML recipe; its keys are the flags below, flags given here win")
    keys = {field.name for field in dataclasses.fields(config_class)}
    known, _ = parser.parse_known_args(args)
    if known.config:
        parser.set_defaults(**load_recipe(known.config, keys))
    config, _config_flag, unknown = parser.parse_args_into_dataclasses(args=args, return_remaining_strings=True)
    if unknown:
        flags = [flag.lstrip("-").split("=")[0] for flag in unknown if flag.startswith("--")]
        hints = [f"--{match}" for flag in flags for match in difflib.get_close_matches(flag, keys, n=1)]
        raise ConfigError(f"unknown argument(s) {' '.join(unknown)}" + (f" (did you mean {', '.join(hints)}?)"
                                                                        if hints else "; see --help"))
    return config
