"""Check: the filter's validators on explanations from any source (another teacher, a notebook, people).

Input: JSONL lines `{"abstract": ..., "explanation": ..., "title": optional}`, or `arxiv_id` instead of
`abstract` (looked up in the store `db`). Output: one line per input line, in order, with `passed`,
`problems` ("reason: detail") and each validator's score; a bad line becomes an error record naming
file:line and the run goes on. Thresholds are the filter's (`Thresholds`), read from the same recipe.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .config import parse_config
from .filter import FilterConfig
from .stats import rate
from .store import DEFAULT_DB, Store
from .validate import Item
from .validate.registry import Thresholds, judge


@dataclass
class CheckConfig:
    input: str = field(default="", metadata={"help": "JSONL: abstract (or arxiv_id) + explanation (+ title)"})
    output: str = field(default="", metadata={"help": "JSONL written here: one result per input line"})
    filter_recipe: str | None = field(default=None, metadata={
        "help": "a filter recipe whose thresholds to use (default: the built-in ones, as in "
                "recipes/filter/default.yaml)"})
    db: str = field(default=DEFAULT_DB, metadata={"help": "store to look arxiv_id lines up in"})
    split: str | None = field(default=None, metadata={
        "help": "rated sets: check only lines whose 'split' field has this value (e.g. test)"})
    report: str | None = field(default=None, metadata={"help": "also write the summary as markdown here"})

    def thresholds(self) -> Thresholds:
        if self.filter_recipe is None:
            return Thresholds()
        return parse_config(FilterConfig, ["--config", self.filter_recipe], prog="filter recipe")


@dataclass
class Agreement:
    """How "passes every validator" agrees with a careful reader's `acceptable` (lines that carry one)."""

    rated: int = 0
    acceptable: int = 0
    passed: int = 0
    passed_acceptable: int = 0
    # validator -> [passes & acceptable, passes & not, fails & acceptable, fails & not]
    confusion: dict = field(default_factory=dict)

    def add(self, verdicts: list, acceptable: bool) -> None:
        passed = all(verdict.passed for verdict in verdicts)
        self.rated += 1
        self.acceptable += acceptable
        self.passed += passed
        self.passed_acceptable += passed and acceptable
        for verdict in verdicts:
            cell = self.confusion.setdefault(verdict.validator, [0, 0, 0, 0])
            cell[(not verdict.passed) * 2 + (not acceptable)] += 1

    def markdown(self) -> str:
        lines = [f"Filter vs careful reading: {self.rated} rated explanations, {self.acceptable} acceptable.", "",
                 "| measure | value [95 % Wilson interval] (n) |", "|---|---|",
                 f"| precision: passes every validator -> acceptable | {rate(self.passed_acceptable, self.passed)} |",
                 f"| recall: acceptable -> passes every validator | {rate(self.passed_acceptable, self.acceptable)} |",
                 f"| pass rate | {rate(self.passed, self.rated)} |", "",
                 "| validator | passes, acceptable | passes, not acceptable | fails, acceptable | "
                 "fails, not acceptable |",
                 "|---|---|---|---|---|"]
        lines += [f"| {name} | {' | '.join(map(str, cell))} |" for name, cell in self.confusion.items()]
        return "\n".join(lines) + "\n"


@dataclass
class CheckSummary:
    checked: int = 0
    passed: int = 0
    errors: int = 0
    reasons: Counter = field(default_factory=Counter)  # reason code -> explanations failing with it
    agreement: Agreement = field(default_factory=Agreement)

    def markdown(self) -> str:
        lines = [f"# Check: {self.passed} of {self.checked} explanations pass every validator", "",
                 f"{self.errors} input lines could not be read.", "", "| rejection reason | explanations |",
                 "|---|---|", *(f"| {reason} | {count} |" for reason, count in self.reasons.most_common()), ""]
        return "\n".join(lines) + ("\n" + self.agreement.markdown() if self.agreement.rated else "")


def _read(path: str, db: str, split: str | None) -> tuple[list[Item], dict[int, str], dict[int, bool]]:
    """(items keyed by line number, error message by line number, the reader's `acceptable` by line number)."""
    items, errors, labels = [], {}, {}
    store = Store(db) if Path(db).is_file() else None
    try:
        for number, line in enumerate(Path(path).read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("a line must be a JSON object")
                if split is not None and record.get("split") != split:
                    continue
                if record.get("acceptable") is not None:
                    labels[number] = bool(record["acceptable"])
                explanation, abstract = record.get("explanation"), record.get("abstract")
                title = record.get("title") or ""
                if not isinstance(explanation, str) or not explanation.strip():
                    raise ValueError("'explanation' is missing or empty")
                if abstract is None and record.get("arxiv_id"):
                    paper = store.paper(str(record["arxiv_id"])) if store else None
                    if paper is None:
                        raise ValueError(f"arXiv id {record['arxiv_id']!r} is not in the store {db}")
                    abstract, title = paper.abstract, title or paper.title
                if not isinstance(abstract, str) or not abstract.strip():
                    raise ValueError("give a non-empty 'abstract' (or an 'arxiv_id' in the store)")
                # Explanations of one abstract are never near-duplicates of each other: group them by it.
                items.append(Item(number, abstract, abstract, explanation, title))
            except (orjson.JSONDecodeError, ValueError) as error:
                errors[number] = f"{path}:{number}: {error}"
    finally:
        if store:
            store.close()
    return items, errors, labels


def check_file(config: CheckConfig, progress: bool = True) -> CheckSummary:
    if not Path(config.input).is_file():
        raise FileNotFoundError(f"input {config.input!r} does not exist")
    items, errors, labels = _read(config.input, config.db, config.split)
    judged = judge(items, config.thresholds(), progress)
    summary = CheckSummary(errors=len(errors))
    Path(config.output).parent.mkdir(parents=True, exist_ok=True)
    with open(config.output, "wb") as out:
        for number in sorted([*judged, *errors]):
            if number in errors:
                out.write(orjson.dumps({"line": number, "error": errors[number]}) + b"\n")
                continue
            verdicts = judged[number]
            problems = [reason for verdict in verdicts for reason in verdict.reasons]
            passed = all(verdict.passed for verdict in verdicts)
            summary.checked += 1
            summary.passed += passed
            summary.reasons.update({problem.split(":", 1)[0] for problem in problems})
            if number in labels:
                summary.agreement.add(verdicts, labels[number])
            out.write(orjson.dumps({"line": number, "passed": passed, "problems": problems,
                                    "scores": {v.validator: v.score for v in verdicts},
                                    "failed": [v.validator for v in verdicts if not v.passed]}) + b"\n")
    if config.report:
        Path(config.report).write_text(summary.markdown(), encoding="utf-8")
    return summary
