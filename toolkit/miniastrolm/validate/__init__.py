"""Validators: each one concern, each pure. `registry.py` lists them (name, function, the `Thresholds` fields
it reads, its kind) and is the one way to run them: the filter stage stores one verdict per validator per
generation, `check` and inference run the same validators on other explanations.

The three kinds and their call shapes (a function takes the thresholds it reads as keywords of the same name):
- per item: `(abstract, explanation[, title=]) -> Verdict`, pure, one explanation at a time;
- batched model: `(items, progress=) -> list[Verdict]`, independent per item but batched through a model
  (MiniLM; `progress` shows its bar);
- across the set: `(items) -> list[Verdict]`, each verdict depends on the other items (near-duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class Verdict:
    validator: str
    passed: bool
    score: float | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)  # reason codes with detail, e.g. "invented_number: 42"


class Item(NamedTuple):
    """One explanation to judge; `key` names it in the result, `paper` groups near-duplicates."""

    key: int
    paper: str
    abstract: str
    explanation: str
    title: str = ""
