"""The `import` teacher: explanations written elsewhere (a provider's batch API, a notebook, people, a reference
set) become generations of a labelling batch, so filter, export, train and eval treat them like any other.

Input: JSON lines `{"arxiv_id": ..., "explanation": ...}`. A bad line is reported with file:line and left out;
the batch covers the papers of the recipe's scope that the file explains (label.select_papers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson

from . import BackendSettings, DecodingParams, Job, Result, output_problem


def read_explanations(path: str) -> tuple[dict[str, str], list[str]]:
    """(arxiv id -> explanation, problems as 'file:line: what is wrong')."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"import: input {path!r} does not exist")
    found, problems = {}, []
    for number, line in enumerate(Path(path).read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("arxiv_id"), str):
                raise ValueError("a line must be an object with a string 'arxiv_id'")
            if not isinstance(record.get("explanation"), str) or not record["explanation"].strip():
                raise ValueError("'explanation' is missing or empty")
            if record["arxiv_id"] in found:
                raise ValueError(f"arxiv_id {record['arxiv_id']!r} appears twice")
            found[record["arxiv_id"]] = record["explanation"].strip()
        except (orjson.JSONDecodeError, ValueError) as error:
            problems.append(f"{path}:{number}: {error}")
    return found, problems


class ImportTeacher:
    backend = "import"

    def __init__(self, settings: BackendSettings):
        if not settings.input:
            raise ValueError("backend import needs --input FILE.jsonl (lines: arxiv_id, explanation)")
        self.model = settings.model
        self.path = settings.input
        self.explanations, self.problems = read_explanations(settings.input)

    async def results(self, jobs: list[Job], params: DecodingParams) -> AsyncIterator[Result]:
        for job in jobs:
            text = self.explanations.get(job.paper)
            if text is None:
                yield Result(job, error=f"no explanation for {job.paper} in {self.path}")
                continue
            yield Result(job, output=text, finish_reason="stop", latency_ms=0.0, error=output_problem(text, "stop"))
