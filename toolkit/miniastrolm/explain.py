"""Explain: the student behind `transformers.pipeline("text-generation")`, with validated generation.

Input is abstract text, an arXiv id (from the local store, else the arXiv API) or many abstracts. Every
explanation is checked by the filter's validators; with `best_of=N` the student samples N candidates and the
best passing one is returned; when none passes, the best one is returned with its failed checks stated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from tqdm.auto import tqdm

from .ingest.arxiv_api import API_URL, read_arxiv_api
from .ingest.records import ARXIV_ID, split_version
from .selection import selection_score
from .store import Paper, Store
from .student_format import messages, prompt_ids
from .text import unwrap
from .validate import Item, Verdict
from .validate.format import english_share, words
from .validate.registry import Thresholds, judge, judge_one

MAX_ABSTRACT_CHARS = 6000  # real abstracts stay under ~2,000 characters (arXiv caps them at 1,920)
# What a person reads above the web demo (serve's page and the Space).
INTRO = ("Paste an astro-ph abstract (or give an arXiv id) and a small model explains it in plain language. "
         "Every explanation is checked for invented numbers, names and instruments, drift from the abstract, and "
         "readability; the checks are listed below it. It is a small model: check important claims against the "
         "paper.")


# The student's engines: the reference and the converted fast paths (converted once, cached beside the model).
ENGINES = {"transformers": "the reference pipeline, fp32", "llama.cpp": "GGUF f16, the fast CPU path",
           "ctranslate2": "int8"}


class InputError(ValueError):
    """Input a user can fix; the message says what is wrong with it."""


class UnknownPaper(InputError):
    """A well-formed arXiv id that neither the store nor arXiv knows."""


class GenerationTimeout(RuntimeError):
    """The explanation was not done by its deadline; generation stopped there (it does not run on unseen)."""


def check_abstract(text, max_chars: int = MAX_ABSTRACT_CHARS) -> str:
    if not isinstance(text, str):
        raise InputError(f"an abstract must be text, got {type(text).__name__}")
    text = unwrap(text.strip()) if text.strip() else ""
    if not text:
        raise InputError("the abstract is empty")
    if len(text) > max_chars:
        raise InputError(f"the text is {len(text):,} characters; an abstract has at most {max_chars:,} "
                         f"(paste the abstract, not the paper)")
    if len(words(text)) < 5:
        raise InputError("the abstract has fewer than five words")
    if english_share(text) < 0.1:
        raise InputError("the abstract does not look like English (the student explains English abstracts)")
    return text


def find_paper(arxiv_id: str, db: str | None, api_url: str = API_URL) -> Paper:
    """A paper by arXiv id: the local store first, else the arXiv API."""
    if not isinstance(arxiv_id, str) or not arxiv_id.strip():
        raise InputError("the arXiv id is empty")
    bare, _ = split_version(arxiv_id.strip().removeprefix("arXiv:"))
    if not ARXIV_ID.match(bare):
        raise InputError(f"{arxiv_id!r} is not an arXiv id (like 2401.01234 or astro-ph/0601001)")
    if db and Path(db).is_file():
        with Store(db) as store:
            paper = store.paper(bare)
        if paper:
            return paper
    for _, found in read_arxiv_api(categories=[], ids=[bare], date_from=None, date_to=None, base_url=api_url,
                                   max_retries=2, timeout_seconds=20):
        if isinstance(found, Paper) and found.arxiv_id == bare:
            return found
        if getattr(found, "reason", None) == "fetch_failed":
            raise RuntimeError(f"the arXiv API could not be reached for {bare}: {found.detail}")
    raise UnknownPaper(f"arXiv has no paper {bare}")


@dataclass
class Explanation:
    explanation: str
    passed: bool
    verdicts: list[dict]
    model: str
    params: dict
    latency_seconds: float
    new_tokens: int
    candidates: int = 1
    arxiv_id: str | None = None
    problems: list[str] = field(default_factory=list)  # the failed checks, in words, when passed is False

    def to_dict(self) -> dict:
        return asdict(self)


def verdict_dicts(verdicts: list[Verdict]) -> list[dict]:
    """Verdicts as JSON-ready dicts, the shape every output (CLI, API, stream) uses."""
    return [{"validator": v.validator, "passed": v.passed, "score": v.score, "reasons": list(v.reasons)}
            for v in verdicts]


class ExplainPipeline:
    """`pipeline("text-generation", model=...)` plus the validators: what `miniastrolm explain` and `serve` run."""

    def __init__(self, model: str, *, best_of: int = 1, temperature: float = 0.7, seed: int = 0,
                 max_new_tokens: int | None = None, check: bool = True, db: str | None = None,
                 api_url: str = API_URL, max_chars: int = MAX_ABSTRACT_CHARS,
                 filter_config: Thresholds | None = None, engine: str = "transformers"):
        import torch
        from transformers import AutoTokenizer, GenerationConfig, pipeline

        if engine not in ENGINES:
            choices = ", ".join(f"{name} ({what})" for name, what in ENGINES.items())
            raise ValueError(f"engine {engine!r}: choose {choices}")
        self.model, self.engine = model, engine
        self.pipe = self.fast = None
        if engine != "transformers":  # the transformers weights are not loaded: only the converted copy runs
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            generation_config = GenerationConfig.from_pretrained(model)
            if engine == "llama.cpp":
                from .llamacpp_engine import LlamaCppStudent

                self.fast = LlamaCppStudent(model, self.tokenizer, generation_config)
            else:
                from .ctranslate2_engine import CTranslate2Student

                self.fast = CTranslate2Student(model, self.tokenizer, generation_config)
        else:
            self.pipe = pipeline("text-generation", model=model, dtype=torch.float32)
            self.tokenizer, generation_config = self.pipe.tokenizer, self.pipe.model.generation_config
        self.best_of, self.temperature, self.seed = best_of, temperature, seed
        self.max_new_tokens = max_new_tokens or generation_config.max_new_tokens or 320
        self.check, self.db, self.api_url, self.max_chars = check, db, api_url, max_chars
        self.filter_config = filter_config or Thresholds()
        self._lock = threading.Lock()  # seeded sampling sets a global seed: one seeded generation at a time

    def _params(self, best_of: int) -> dict:
        params = {"max_new_tokens": self.max_new_tokens, "return_full_text": False}
        if best_of > 1:
            params.update(do_sample=True, temperature=self.temperature, num_return_sequences=best_of)
        return params

    def verdicts(self, abstract: str, text: str) -> list[Verdict]:
        return judge_one(abstract, text, self.filter_config)

    def judge_texts(self, pairs: list[tuple[str, str]]) -> list[list[Verdict]]:
        """Verdicts for many (abstract, text) pairs in one pass: the encoder, nearly all of the validators' time,
        embeds them in batches. One paper key for all, so none is flagged a near-duplicate of another."""
        if not self.check:
            return [[] for _ in pairs]
        judged = judge([Item(i, "", abstract, text) for i, (abstract, text) in enumerate(pairs)], self.filter_config)
        return [judged[i] for i in range(len(pairs))]

    def explain(self, abstract: str, best_of: int | None = None, arxiv_id: str | None = None,
                timeout_seconds: float | None = None) -> Explanation:
        """With `timeout_seconds`, generation stops at the deadline (waiting for the lock counts) and
        GenerationTimeout is raised, so an abandoned request does not keep the CPU busy."""
        abstract = check_abstract(abstract, self.max_chars)
        best_of = best_of or self.best_of
        deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
        texts, latency = self.generate(abstract, best_of, deadline)
        if deadline and time.monotonic() > deadline:
            raise GenerationTimeout(f"generation took longer than {timeout_seconds:g} s")
        return self.choose(abstract, texts, self.params(best_of), latency, arxiv_id)

    def params(self, best_of: int) -> dict:
        """The decoding parameters an Explanation reports."""
        return {k: v for k, v in self._params(best_of).items() if k != "return_full_text"} | {
            "engine": self.engine, "seed": self.seed}

    def generate(self, abstract: str, best_of: int, deadline: float | None = None) -> tuple[list[str], float]:
        """`best_of` candidate texts for a checked abstract (seeded when sampled) and the seconds they took;
        decoding stops at `deadline` (time.monotonic)."""
        from transformers import set_seed

        with self._lock:
            set_seed(self.seed)
            start = time.perf_counter()
            if self.fast:
                texts = self.fast.generate([abstract], self.max_new_tokens, best_of, self.temperature, self.seed,
                                           deadline=deadline)[0]
            else:
                limit = {"max_time": max(deadline - time.monotonic(), 0.0)} if deadline else {}
                replies = self.pipe(messages(abstract), **self._params(best_of), **limit)
                texts = [reply["generated_text"].strip() for reply in replies]
            return texts, time.perf_counter() - start

    def prompt(self, abstract: str) -> list[int]:
        """The token ids the student is given for a checked abstract."""
        return prompt_ids(self.tokenizer, abstract, tokenize=True, return_dict=True)["input_ids"]

    def generate_rows(self, prompts: list[list[int]], stopped: Callable[[int], bool],
                      on_token: Callable[[int, int], None]) -> list[bool]:
        """Greedy continuations of several prompts in one batch on either engine, each row stopped on its own
        (see batched.py); returns per row whether it ended with its end-of-sequence token."""
        if self.fast:
            return self.fast.generate_rows(prompts, self.max_new_tokens, stopped, on_token)
        from .batched import generate_rows

        return generate_rows(self.pipe.model, prompts, self.max_new_tokens, stopped, on_token)

    def choose(self, abstract: str, texts: list[str], params: dict, latency: float, arxiv_id: str | None,
               verdicts: list[list[Verdict]] | None = None) -> Explanation:
        """The best of the candidate `texts` by the documented rank, with its verdicts (judged here unless given,
        one list per text)."""
        judged = list(zip(texts, verdicts or self.judge_texts([(abstract, text) for text in texts]), strict=True))

        def rank(item):  # passing first, then fewer failed checks, then the documented selection score
            text, verdicts = item
            scores = {v.validator: v.score for v in verdicts}
            return (all(v.passed for v in verdicts), sum(v.passed for v in verdicts), selection_score(scores))

        text, verdicts = max(judged, key=rank)
        tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return Explanation(
            explanation=text, passed=all(v.passed for v in verdicts), model=self.model,
            verdicts=verdict_dicts(verdicts), params=params, latency_seconds=round(latency, 3), new_tokens=tokens,
            candidates=len(texts), arxiv_id=arxiv_id,
            problems=[reason for v in verdicts for reason in v.reasons])

    def paper(self, arxiv_id: str) -> Paper:
        return find_paper(arxiv_id, self.db, self.api_url)

    def explain_arxiv_id(self, arxiv_id: str, best_of: int | None = None,
                         timeout_seconds: float | None = None) -> Explanation:
        paper = self.paper(arxiv_id)
        return self.explain(paper.abstract, best_of, arxiv_id=paper.arxiv_id, timeout_seconds=timeout_seconds)

    def stream(self, abstract: str, timeout_seconds: float | None = None) -> Iterator[str]:
        """Yield the explanation as it is generated (greedy, one candidate); validate the joined text after.
        With `timeout_seconds`, generation stops at that deadline (the text ends there, unfinished)."""
        from transformers import TextIteratorStreamer

        abstract = check_abstract(abstract, self.max_chars)
        if self.fast:
            deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
            yield from self.fast.stream(abstract, self.max_new_tokens, deadline)
            return
        tokenizer = self.tokenizer
        inputs = prompt_ids(tokenizer, abstract, return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        # Greedy needs no seed, so no lock: a client that goes away mid-stream must not block the others.
        worker = threading.Thread(target=self.pipe.model.generate, daemon=True, kwargs={
            **inputs, "streamer": streamer, "max_new_tokens": self.max_new_tokens, "do_sample": False,
            "max_time": timeout_seconds})
        worker.start()
        yield from streamer


def explain_jsonl(explainer: ExplainPipeline, path: str, output: str) -> tuple[int, int, int]:
    """Explain every line of a JSONL file (`abstract` or `arxiv_id`); a bad line becomes an error record naming
    file:line, never the end of the run. Returns (explained, failed, explained and passing every check)."""
    lines = Path(path).read_bytes().splitlines()
    done = failed = passed = 0
    with open(output, "wb") as out:
        for number, line in enumerate(tqdm(lines, desc="explain", unit=" abstract"), 1):
            try:
                record = orjson.loads(line)
                if not isinstance(record, dict):
                    raise InputError("a line must be a JSON object")
                result = (explainer.explain_arxiv_id(record["arxiv_id"]) if record.get("arxiv_id")
                          else explainer.explain(record.get("abstract")))
                out.write(orjson.dumps({"line": number, **result.to_dict()}) + b"\n")
                done += 1
                passed += result.passed
            except (orjson.JSONDecodeError, InputError, RuntimeError) as error:
                out.write(orjson.dumps({"line": number, "error": f"{path}:{number}: {error}"}) + b"\n")
                failed += 1
    return done, failed, passed
