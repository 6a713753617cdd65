"""One teacher interface, several backends: `endpoint` (any chat-completion server), `in_process` (a model in
this process; `local` before it was renamed) and `import` (explanations written elsewhere, read from a file).

A backend turns `Job`s (a chat for one sample of one paper) into `Result`s, yielded as they finish so the
labeller can commit each one on its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Job:
    paper: str
    sample: int
    attempt: int
    messages: list[dict[str, str]]
    seed: int
    part: int = 0  # which call of a multi-call procedure (procedure.py) this is
    faithful_to: str | None = None  # faithful decoding: only numbers and names this text holds (faithful.py)


@dataclass
class Result:
    job: Job
    output: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    steps: list[dict] | None = None  # a multi-call procedure's calls, kept with the explanation they made
    model: str | None = None  # the model that wrote it, where the teacher's name does not say (imported batch output)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class DecodingParams:
    max_new_tokens: int = 320
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0
    repetition_penalty: float = 1.0  # > 1 makes recently generated tokens less likely (loops are the small teacher's
    stop: tuple[str, ...] = ()       # failure); generation ends at the first stop string, which is not kept

    def as_dict(self) -> dict:
        """The settings that shape outputs; the newer ones only when set, so older batch names still hold."""
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seed": self.seed, **({"repetition_penalty": self.repetition_penalty}
                                      if self.repetition_penalty != 1.0 else {}),
                **({"stop": list(self.stop)} if self.stop else {})}

    def cut_at_stop(self, text: str) -> tuple[str, bool]:
        """(text up to the first stop string, whether one was found)."""
        positions = [i for i in (text.find(stop) for stop in self.stop) if i >= 0]
        return (text[:min(positions)], True) if positions else (text, False)


class Teacher(Protocol):
    backend: str
    model: str

    def results(self, jobs: list[Job], params: DecodingParams) -> AsyncIterator[Result]:
        """Yield one Result per job, in the order they finish."""
        ...


def output_problem(text: str | None, finish_reason: str | None) -> str | None:
    """Why a response cannot be a label (empty, cut off, not text), or None when it can."""
    if text is None or not text.strip():
        return "empty output"
    if finish_reason == "length":
        return "cut off: reached max_new_tokens before finishing"
    letters = sum(character.isalpha() for character in text)
    controls = sum(unicodedata.category(character) in ("Cc", "Co", "Cs") and character not in "\n\t"
                   for character in text)
    if controls or "\ufffd" in text or letters < 0.5 * len(text.replace(" ", "")):
        return "not text: the output is mostly symbols or control characters"
    return None


RENAMED_BACKENDS = {"local": "in_process"}  # old recipe value -> its name now (still accepted, with a warning)
# The name the store records for a backend: batch names hash it, so a renamed backend keeps its old name there
# and re-running a recipe resumes the batch it labelled before the rename.
RECORDED_AS = {"in_process": "local"}


def recorded_name(backend: str) -> str:
    return RECORDED_AS.get(backend, backend)


@dataclass
class BackendSettings:
    """What `make_teacher` needs; filled from the labelling recipe."""

    backend: str
    model: str
    base_url: str | None = None
    provider: str | None = None
    token_env: str = "HF_TOKEN"
    concurrency: int = 4
    min_concurrency: int = 1
    max_concurrency: int | None = None  # None: `concurrency` is also the most
    breaker_failures: int = 30
    breaker_seconds: float = 60.0
    timeout_seconds: float = 120.0
    max_retries: int = 4
    backoff_seconds: float = 1.0
    batch_size: int = 16
    dtype: str = "auto"
    engine: str = "auto"
    input: str | None = None


def make_teacher(settings: BackendSettings) -> Teacher:
    if settings.backend == "endpoint":
        from .endpoint import EndpointTeacher

        return EndpointTeacher(settings)
    if settings.backend == "in_process":
        from .in_process import InProcessTeacher

        return InProcessTeacher(settings)
    if settings.backend == "import":
        from .imported import ImportTeacher

        return ImportTeacher(settings)
    raise ValueError(f"unknown teacher backend {settings.backend!r}: use endpoint, in_process or import")
