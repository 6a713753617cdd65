"""The `import` teacher: explanations written elsewhere (a provider's batch API, a notebook, people, a reference
set) become generations of a labelling batch, so filter, export, train and eval treat them like any other.

Two formats, told apart per file by its first record (`detect_format`):
- `explanations`: lines `{"arxiv_id": ..., "explanation": ..., "sample": 0}` (`sample` optional, default 0);
- `openai-batch`: the output file of OpenAI's Batch API (and of providers that copy its shape), lines
  `{"id", "custom_id", "response": {"status_code", "body": {"choices": [{"message": {"content"}, "finish_reason"}],
  "model", "usage"}}, "error"}`. `custom_id` names the paper: `<arxiv_id>` for sample 0, `<arxiv_id>#<n>` for
  sample n; give the batch's input lines these custom_ids. The model the body names and its token usage are
  stored with each generation; a line with an `error` or a status other than 200 is reported and left out.
A bad line is reported with file:line and left out; the batch covers the papers of the recipe's scope that the
file explains (label.select_papers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..ingest.records import ARXIV_ID
from . import BackendSettings, DecodingParams, Job, Result, output_problem


@dataclass(frozen=True)
class Imported:
    """One explanation read from the file, with what the provider said about it (batch output only)."""

    text: str
    finish_reason: str = "stop"
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def detect_format(records: list[object]) -> str:
    """`openai-batch` when the first JSON object carries `custom_id`, else `explanations`."""
    first = next((record for record in records if isinstance(record, dict)), {})
    return "openai-batch" if "custom_id" in first else "explanations"


def paper_and_sample(custom_id: object) -> tuple[str, int]:
    """'2401.01234' -> ('2401.01234', 0); '2401.01234#2' -> ('2401.01234', 2)."""
    if not isinstance(custom_id, str):
        raise ValueError("'custom_id' must be a string")
    arxiv_id, mark, sample = custom_id.partition("#")
    if not ARXIV_ID.match(arxiv_id) or (mark and not sample.isdigit()):
        raise ValueError(f"custom_id {custom_id!r} is not '<arxiv_id>' or '<arxiv_id>#<sample>'")
    return arxiv_id, int(sample or 0)


def from_explanation_line(record: object) -> tuple[str, int, Imported]:
    if not isinstance(record, dict) or not isinstance(record.get("arxiv_id"), str):
        raise ValueError("a line must be an object with a string 'arxiv_id'")
    if not isinstance(record.get("explanation"), str) or not record["explanation"].strip():
        raise ValueError("'explanation' is missing or empty")
    sample = record.get("sample", 0)
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        raise ValueError(f"'sample' must be a whole number >= 0, not {sample!r}")
    return record["arxiv_id"], sample, Imported(record["explanation"].strip())


def from_batch_line(record: object) -> tuple[str, int, Imported]:
    if not isinstance(record, dict):
        raise ValueError("a line must be a JSON object")
    arxiv_id, sample = paper_and_sample(record.get("custom_id"))
    if record.get("error"):
        error = record["error"]
        detail = (f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else str(error))
        raise ValueError(f"the request failed ({detail})")
    response = record.get("response")
    if not isinstance(response, dict):
        raise ValueError("no 'response' object")
    body = response.get("body") if isinstance(response.get("body"), dict) else {}
    if response.get("status_code") != 200:
        message = body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else None
        raise ValueError(f"status {response.get('status_code')}" + (f": {message}" if message else ""))
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices, list) and isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ValueError("the body has no choices[0].message.content")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    prompt_tokens, completion_tokens = (usage.get(key) if isinstance(usage.get(key), int) else None
                                        for key in ("prompt_tokens", "completion_tokens"))
    model, finish_reason = body.get("model"), choice.get("finish_reason")
    return arxiv_id, sample, Imported(content.strip(), finish_reason if isinstance(finish_reason, str) else "stop",
                                      model if isinstance(model, str) else None, prompt_tokens, completion_tokens)


def read_explanations(path: str) -> tuple[dict[str, dict[int, Imported]], list[str]]:
    """({arxiv id: {sample: explanation}}, problems as 'file:line: what is wrong')."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"import: input {path!r} does not exist")
    lines = [(number, line) for number, line in enumerate(Path(path).read_bytes().splitlines(), 1) if line.strip()]
    found: dict[str, dict[int, Imported]] = {}
    problems, records = [], []
    for number, line in lines:
        try:
            records.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as error:
            problems.append((number, f"{path}:{number}: {error}"))
    parse = from_batch_line if detect_format([record for _, record in records]) == "openai-batch" else \
        from_explanation_line
    for number, record in records:
        try:
            arxiv_id, sample, explanation = parse(record)
            if sample in found.get(arxiv_id, {}):
                raise ValueError(f"{arxiv_id} sample {sample} appears twice")
            found.setdefault(arxiv_id, {})[sample] = explanation
        except ValueError as error:
            problems.append((number, f"{path}:{number}: {error}"))
    return found, [problem for _, problem in sorted(problems)]


class ImportTeacher:
    backend = "import"

    def __init__(self, settings: BackendSettings):
        if not settings.input:
            raise ValueError("backend import needs --input FILE.jsonl (lines {arxiv_id, explanation}, or OpenAI "
                             "batch output with custom_id '<arxiv_id>' or '<arxiv_id>#<sample>')")
        self.model = settings.model
        self.path = settings.input
        self.explanations, self.problems = read_explanations(settings.input)

    async def results(self, jobs: list[Job], params: DecodingParams) -> AsyncIterator[Result]:
        for job in jobs:
            found = self.explanations.get(job.paper, {}).get(job.sample)
            if found is None:
                yield Result(job, error=f"no explanation for {job.paper} sample {job.sample} in {self.path}")
                continue
            yield Result(job, output=found.text, finish_reason=found.finish_reason, latency_ms=0.0,
                         prompt_tokens=found.prompt_tokens, completion_tokens=found.completion_tokens,
                         error=output_problem(found.text, found.finish_reason), model=found.model)
