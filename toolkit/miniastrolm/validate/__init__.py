"""Validators: each one concern, each pure: (abstract, explanation) -> Verdict. The filter stage stores one
verdict per validator per generation; inference reuses the same validators on the student's own output."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    validator: str
    passed: bool
    score: float | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)  # reason codes with detail, e.g. "invented_number: 42"
