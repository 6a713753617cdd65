"""Label: ask the teacher for explanations of stored papers, one committed row per call.

A batch is identified by the hash of everything that shapes its outputs (backend, model, prompt version,
decoding parameters, samples per paper). Re-running the same recipe resumes that batch: stored successes
are never regenerated, failed samples are retried until `max_attempts`, and new papers can be added by
raising `limit`. Each finished generation is committed on its own, so a kill loses at most the calls in flight.

Several `label` processes may share a batch: each claims samples a chunk at a time under a lease (store.claim) that
a thread renews while it works, so they split the batch and no call is made twice; when a worker dies its samples
are taken over once its lease lapses (at once on its own host, where its process is seen to be gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

import orjson
from tqdm.auto import tqdm

from .config import renamed
from .procedure import Direct, Sentences, glossary
from .prompts import Prompt
from .revision import review, revision_job
from .store import DEFAULT_DB, Paper, Store
from .teacher import (
    RENAMED_BACKENDS,
    BackendSettings,
    DecodingParams,
    Job,
    Result,
    Teacher,
    make_teacher,
    output_problem,
    recorded_name,
)
from .teacher.adaptive import BatchPaused
from .teacher.imported import read_explanations
from .text import plain_text
from .validate.registry import Thresholds


@dataclass
class LabelConfig:
    db: str = field(default=DEFAULT_DB, metadata={"help": "SQLite store"})
    backend: Literal["in_process", "endpoint", "import", "local"] = field(
        default="in_process", metadata={
            "help": "in_process: a model in this process; endpoint: a chat-completion server or Hub model; import: "
                    "explanations written elsewhere, from --input (local: the old name of in_process, deprecated)"})
    model: str = field(default="smollm2", metadata={
        "help": "in_process: 'smollm2' (the embedded SmolLM2-135M GGUF), a model folder or a .gguf file; "
                "endpoint: a Hub model id, or the served model name when base_url is set; import: the name of "
                "whoever wrote them (stored as the teacher; batch output: each row keeps the model its body names)"})
    input: str | None = field(default=None, metadata={
        "help": "import: JSONL, either lines {arxiv_id, explanation[, sample]} or OpenAI-style batch output "
                "(custom_id '<arxiv_id>' or '<arxiv_id>#<sample>'; the body's model and usage are stored), told "
                "apart by the first line; the batch covers the papers in scope that the file explains, bad, failed "
                "or non-200 lines are reported with file:line and left out"})
    base_url: str | None = field(default=None, metadata={
        "help": "endpoint: an OpenAI-compatible server (TGI, vLLM, llama.cpp, Ollama), e.g. http://127.0.0.1:8080"})
    provider: str | None = field(default=None, metadata={"help": "endpoint without base_url: HF inference provider"})
    token_env: str = field(default="HF_TOKEN", metadata={
        "help": "name of the environment variable holding the API token (the token is never stored or logged)"})
    prompt: str = field(default="explain", metadata={"help": "prompt folder name under prompts/, or a path"})
    procedure: Literal["direct", "sentences"] = field(default="direct", metadata={
        "help": "direct: one call per explanation; sentences: the abstract's key sentences rewritten one call "
                "each (prompt: simplify), joined, jargon defined from the glossary (procedure.py)"})
    most_sentences: int = field(default=5, metadata={"help": "sentences procedure: key sentences rewritten"})
    max_new_words: float = field(default=0.5, metadata={
        "help": "sentences procedure: a rewrite whose content words are more than this share new to its "
                "sentence is dropped as drift"})
    glossary: str | None = field(default=None, metadata={
        "help": "sentences procedure: term<TAB>definition file (default prompts/glossary.tsv); 'none' for none"})
    samples: int = field(default=1, metadata={"help": "explanations per paper"})
    max_new_tokens: int = field(default=320, metadata={"help": "per explanation (200 words is ~270 tokens)"})
    temperature: float = field(default=0.7, metadata={"help": "0 = greedy"})
    top_p: float = field(default=0.95)
    repetition_penalty: float = field(default=1.0, metadata={
        "help": "> 1 penalises tokens already generated (llama.cpp last 64 tokens / transformers; endpoint: sent "
                "as repetition_penalty, which TGI, vLLM and llama.cpp servers read)"})
    stop: list[str] = field(default_factory=list, metadata={
        "help": "stop strings: the explanation ends at the first one (e.g. a blank line for one paragraph)"})
    seed: int = field(default=1234, metadata={"help": "sample i of a paper uses seed + i"})
    category_prefix: str = field(default="astro-ph", metadata={"help": "papers whose primary category starts so"})
    date_from: str | None = field(default=None, metadata={"help": "papers published on or after (YYYY-MM-DD)"})
    date_to: str | None = field(default=None, metadata={"help": "papers published on or before (YYYY-MM-DD)"})
    limit: int | None = field(default=None, metadata={"help": "papers in the batch (raise it to extend a batch)"})
    balanced: bool = field(default=True, metadata={"help": "take papers round-robin across primary categories"})
    skip_labelled_elsewhere: bool = field(default=True, metadata={
        "help": "leave out papers that already have a successful label from another batch"})
    max_abstract_chars: int = field(default=4000, metadata={
        "help": "longer abstracts are skipped with a recorded reason (the prompt must fit the context)"})
    max_attempts: int = field(default=3, metadata={"help": "calls per sample before it is given up"})
    concurrency: int = field(default=4, metadata={
        "help": "endpoint: requests in flight at the start; adapts between min_concurrency and max_concurrency"})
    min_concurrency: int = field(default=1, metadata={
        "help": "endpoint: the fewest requests in flight (AIMD halves toward it on 429/503/timeouts)"})
    max_concurrency: int | None = field(default=None, metadata={
        "help": "endpoint: the most requests in flight (AIMD adds one per window of successes up to it); "
                "default: concurrency"})
    breaker_failures: int = field(default=30, metadata={
        "help": "endpoint: failed call attempts in a row (429/5xx/timeouts/resets) that pause the batch, once they "
                "also span breaker_seconds; 0 = never pause"})
    breaker_seconds: float = field(default=60.0, metadata={
        "help": "endpoint: how long failures must go on before the batch is paused"})
    lease_seconds: float = field(default=120.0, metadata={
        "help": "a worker's hold on the samples it claimed, renewed while it runs (several `label` runs may share "
                "a batch): a dead worker's samples are retried by the others after this"})
    timeout_seconds: float = field(default=120.0, metadata={"help": "endpoint: per request"})
    max_retries: int = field(default=4, metadata={"help": "endpoint: per call, on 429/5xx/timeouts/resets"})
    backoff_seconds: float = field(default=1.0, metadata={"help": "endpoint: first backoff (doubles, jittered)"})
    batch_size: int = field(default=16, metadata={"help": "in_process: prompts generated together (bench_label.py)"})
    dtype: Literal["auto", "float32", "bfloat16"] = field(
        default="auto", metadata={"help": "in_process, transformers engine: auto = bf16 only with AMX, else fp32"})
    engine: Literal["auto", "llama_cpp", "transformers"] = field(
        default="auto", metadata={
            "help": "in_process: auto = llama.cpp (batched) for a GGUF, transformers for a folder"})
    faithful_decoding: bool = field(default=False, metadata={
        "help": "in_process: the teacher cannot generate a token holding a digit, an acronym or a capitalised name "
                "that its paper's title and abstract lack (teacher/faithful.py); endpoint/import: skipped, and the "
                "batch record says so"})
    revision_rounds: int = field(default=0, metadata={
        "help": "an explanation that fails the validators goes back to the teacher with each problem as feedback "
                "(prompt: revise), up to this many rewrites; every round is stored with its parent (revision.py)"})
    revision_prompt: str = field(default="revise", metadata={"help": "revision: the editor's prompt folder"})
    revision_max_new_tokens: int = field(default=320, metadata={"help": "revision: per rewrite"})
    trim_cut_off: bool = field(default=False, metadata={
        "help": "keep the complete sentences of a response that hit max_new_tokens (finish_reason "
                "'length_trimmed') instead of failing it; for small teachers that rarely stop by themselves"})
    price_input_per_mtok: float | None = field(default=None, metadata={"help": "USD per million prompt tokens"})
    price_output_per_mtok: float | None = field(default=None, metadata={"help": "USD per million completion tokens"})

    def __post_init__(self):
        self.backend = renamed("backend", self.backend, RENAMED_BACKENDS)

    def params(self) -> DecodingParams:
        return DecodingParams(self.max_new_tokens, self.temperature, self.top_p, self.seed, self.repetition_penalty,
                              tuple(self.stop))

    def backend_settings(self) -> BackendSettings:
        """Every BackendSettings field from the recipe field of the same name."""
        return BackendSettings(**{setting.name: getattr(self, setting.name) for setting in fields(BackendSettings)})

    def identity(self, prompt_version: str) -> dict:
        """What shapes the outputs; its hash names the batch. Holds no secret (only the token's variable name).
        The backend is named as the store records it (`recorded_name`), so renaming one keeps its batches."""
        return {"backend": recorded_name(self.backend), "model": self.model, "base_url": self.base_url,
                "provider": self.provider, "prompt_version": prompt_version, "samples": self.samples,
                "params": self.params().as_dict(),
                **({"trim_cut_off": True} if self.trim_cut_off else {}),  # absent when off: old batch names hold
                **({"faithful_decoding": True if self.backend == "in_process" else
                    f"skipped: the {self.backend} backend has no per-token constraint here"}
                   if self.faithful_decoding else {}),
                **({"revision_rounds": self.revision_rounds, "revision_max_new_tokens": self.revision_max_new_tokens,
                    "revision_prompt": Prompt.load(self.revision_prompt).version} if self.revision_rounds else {}),
                **({"input_sha256": hashlib.sha256(Path(self.input).read_bytes()).hexdigest()[:16]}
                   if self.backend == "import" and self.input and Path(self.input).is_file() else {}),
                **({"procedure": self.procedure, "most_sentences": self.most_sentences,
                    "max_new_words": self.max_new_words, "glossary": self.glossary_version()}
                   if self.procedure != "direct" else {})}

    def make_procedure(self, prompt: Prompt) -> Direct | Sentences:
        if self.procedure == "direct":
            return Direct(prompt)
        terms = {} if self.glossary == "none" else glossary(self.glossary)
        return Sentences(prompt, self.most_sentences, terms, self.max_new_words)

    def glossary_version(self) -> str:
        if self.glossary == "none":
            return "none"
        terms = glossary(self.glossary)
        return hashlib.sha256(orjson.dumps(terms, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


@dataclass
class LabelReport:
    batch_id: int
    planned: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    completion_tokens: int = 0
    already_done: int = 0
    interrupted: bool = False
    paused: str | None = None  # why the endpoint's breaker paused the batch
    done_elsewhere: int = 0  # planned samples another worker finished first
    input_problems: list[str] = field(default_factory=list)  # import: bad lines of the input, with file:line

    @property
    def remaining(self) -> int:
        """Planned samples this run neither stored nor saw finished by another worker (a pause, a Ctrl-C)."""
        return self.planned - self.ok - self.failed - self.done_elsewhere


def select_papers(store: Store, config: LabelConfig, batch_id: int) -> list[Paper]:
    """Papers in scope, in a stable order (hash of the id), round-robin across categories when balanced; for
    `import`, only papers the input file explains."""
    in_scope = store.papers_in_scope(config.category_prefix, config.date_from, config.date_to,
                                     batch_id if config.skip_labelled_elsewhere else None)
    if config.backend == "import" and config.input:
        explained = read_explanations(config.input)[0]
        in_scope = [paper for paper in in_scope if paper.arxiv_id in explained]
    papers = sorted(in_scope, key=lambda p: hashlib.sha256(p.arxiv_id.encode()).digest())
    if config.balanced:
        by_category: dict[str, list[Paper]] = {}
        for paper in papers:
            by_category.setdefault(paper.primary_category, []).append(paper)
        queues = [by_category[category] for category in sorted(by_category)]
        papers = [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]
    return papers[:config.limit] if config.limit is not None else papers


def plan_jobs(store: Store, config: LabelConfig, procedure: Direct | Sentences, batch_id: int,
              report: LabelReport) -> tuple[list[Job], list[tuple[Paper, int, str]], dict[str, Paper]]:
    """Calls still to make, (paper, sample, reason) for papers skipped before any call, and the papers."""
    done = store.sample_states(batch_id)  # (paper, sample) -> (finished, attempts so far)
    jobs, skips, papers = [], [], {}
    for paper in select_papers(store, config, batch_id):
        papers[paper.arxiv_id] = paper
        for sample in range(config.samples):
            finished, attempts = done.get((paper.arxiv_id, sample), (False, 0))
            if finished or attempts >= config.max_attempts:
                report.already_done += 1
                continue
            if len(paper.abstract) > config.max_abstract_chars:
                skips.append((paper, sample, f"abstract is {len(paper.abstract)} characters, more than "
                                             f"max_abstract_chars={config.max_abstract_chars}"))
                continue
            faithful_to = (f"{paper.title}\n{plain_text(paper.title)}\n{paper.abstract}\n{plain_text(paper.abstract)}"
                           if config.faithful_decoding and config.backend == "in_process" else None)
            jobs += [replace(job, faithful_to=faithful_to)
                     for job in procedure.jobs(paper, sample, attempts + 1, config.seed + sample)]
    return jobs, skips, papers


async def _run(teacher: Teacher, jobs: list[Job], config: LabelConfig, store: Store, batch_id: int,
               prompt: Prompt, report: LabelReport, progress: bool, params_json: str,
               procedure: Direct | Sentences, papers: dict[str, Paper]) -> None:
    started = time.perf_counter()
    calls = Counter((job.paper, job.sample) for job in jobs)  # calls that make each explanation
    parts: dict[tuple[str, int], list[Result]] = {}
    drafts: list[tuple[Result, list[str], int | None]] = []  # sent back to the teacher: what to fix, the stored row
    thresholds = Thresholds()

    def keep(result: Result, round_: int, parent: int | None = None) -> tuple[Result, list[str], int | None] | None:
        """Store one explanation (a draft or a rewrite); if it goes back, return it with the reader's asks and its
        row id (the rewrite's parent)."""
        row = _row(result, batch_id, prompt.version, teacher, params_json, procedure.name)
        asks = review(papers[result.job.paper], result.output, thresholds) \
            if result.ok and round_ < config.revision_rounds else []
        if asks:  # superseded by its rewrite: not a label
            row |= {"status": "failed", "error": "sent back for revision: " + "; ".join(asks)}
        if round_:
            row |= {"round": round_, "parent": parent}
        stored = store.add_generation(row)
        report.completion_tokens += result.completion_tokens or 0
        if asks:
            return result, asks, stored
        report.ok += result.ok
        report.failed += not result.ok
        return None
    with tqdm(total=len(calls), desc="label", unit=" gen", disable=None if progress else True) as bar:
        async for part in teacher.results(jobs, config.params()):
            key = (part.job.paper, part.job.sample)
            parts.setdefault(key, []).append(part)
            if len(parts[key]) < calls[key]:
                continue
            result = procedure.finish(papers[part.job.paper], parts.pop(key))
            if config.trim_cut_off:
                result = trimmed(result)
            if draft := keep(result, 0):
                drafts.append(draft)
            elapsed = time.perf_counter() - started
            bar.set_postfix(ok=report.ok, failed=report.failed, tok_s=f"{report.completion_tokens / elapsed:.1f}")
            bar.update(1)
    editor = Prompt.load(config.revision_prompt) if config.revision_rounds else None
    revision_params = replace(config.params(), max_new_tokens=config.revision_max_new_tokens)
    for round_ in range(1, config.revision_rounds + 1):  # all drafts of a round in one go: batched generation
        if not drafts:
            break
        jobs = {(draft.job.paper, draft.job.sample): (revision_job(editor, papers[draft.job.paper], draft, asks),
                                                       stored)
                for draft, asks, stored in drafts}
        drafts = []
        async for result in teacher.results([job for job, _ in jobs.values()], revision_params):
            result = trimmed(result) if config.trim_cut_off else result
            if draft := keep(replace(result, steps=[{"step": "revise", "round": round_}]), round_,
                             jobs[(result.job.paper, result.job.sample)][1]):
                drafts.append(draft)


def worker_name() -> str:
    """host:pid:token: unique per process, and says where to look whether the holder of a claim still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def release_dead_workers(store: Store, batch_id: int) -> None:
    """Hand back claims of workers on this host whose process is gone (a re-run after a kill need not wait)."""
    host = socket.gethostname()
    for worker, _, _ in store.claim_holders(batch_id):
        holder_host, pid, _ = worker.rsplit(":", 2)
        if holder_host == host and not _alive(int(pid)):
            store.release_claims(worker)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class _Lease(threading.Thread):
    """Renews a worker's claims on its own connection, so a long synchronous generation cannot let them lapse."""

    def __init__(self, db: str, worker: str, seconds: float):
        super().__init__(daemon=True, name="label-lease")
        self.db, self.worker, self.seconds = db, worker, seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        with Store(self.db) as store:
            while not self.stopped.wait(self.seconds / 3):
                store.renew_claims(self.worker, self.seconds)


def chunk_size(config: LabelConfig) -> int:
    """Samples claimed at a time: enough to keep every slot busy, few enough for other workers to share."""
    return max(256, 16 * max(config.concurrency, config.max_concurrency or 0, config.batch_size))


async def _run_claimed(teacher: Teacher, jobs: list[Job], config: LabelConfig, store: Store, batch_id: int,
                       prompt: Prompt, report: LabelReport, progress: bool, params_json: str,
                       procedure: Direct | Sentences, papers: dict[str, Paper], worker: str) -> None:
    """Claim samples a chunk at a time and label each chunk with `_run`; when only samples held by other workers
    are left, wait for them to be finished or for their leases to lapse."""
    by_sample: dict[tuple[str, int], list[Job]] = {}
    for job in jobs:
        by_sample.setdefault((job.paper, job.sample), []).append(job)
    async with contextlib.AsyncExitStack() as finally_:
        bar = finally_.enter_context(tqdm(total=len(by_sample), desc="label", unit=" gen",
                                          disable=None if progress else True))
        if hasattr(teacher, "aclose"):  # the endpoint's client lives across chunks
            finally_.push_async_callback(teacher.aclose)
        while by_sample:
            claimed, settled = store.claim(batch_id, by_sample, worker, config.lease_seconds, chunk_size(config),
                                           config.max_attempts)
            for key in settled:
                del by_sample[key]
            report.done_elsewhere += len(settled)
            before = report.ok + report.failed
            if claimed:  # a sample's calls so far are counted again now: another worker may have made some
                chunk = [replace(job, attempt=calls + 1)
                         for key, calls in claimed.items() for job in by_sample.pop(key)]
                try:
                    await _run(teacher, chunk, config, store, batch_id, prompt, report, False, params_json, procedure,
                               papers)
                finally:
                    store.release_claims(worker)
            elif by_sample:
                release_dead_workers(store, batch_id)
                holders = store.claim_holders(batch_id)
                soonest = min((expires for _, _, expires in holders), default=0.0)
                bar.set_postfix_str(f"{len(by_sample)} held by {len(holders)} other worker(s)")
                await asyncio.sleep(min(max(soonest, 0.1), 1.0))
            bar.update(report.ok + report.failed - before + len(settled))
            bar.set_postfix(ok=report.ok, failed=report.failed, elsewhere=report.done_elsewhere)


_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?(?=\s|$)")


def trimmed(result: Result) -> Result:
    """A response cut off by max_new_tokens, back to its last complete sentence; failed if it has none."""
    if result.finish_reason != "length" or not result.output:
        return result
    ends = list(_SENTENCE_END.finditer(result.output))
    if not ends:
        return result
    text = result.output[:ends[-1].end()].rstrip()
    return replace(result, output=text, finish_reason="length_trimmed", error=output_problem(text, "length_trimmed"))


def _row(result: Result, batch_id: int, prompt_version: str, teacher: Teacher, params_json: str,
         procedure: str) -> dict:
    return {"paper": result.job.paper, "batch": batch_id, "sample": result.job.sample,
            "attempt": result.job.attempt, "status": "ok" if result.ok else "failed",
            "prompt_version": prompt_version, "backend": recorded_name(teacher.backend),
            "model": result.model or teacher.model, "params": params_json, "output": result.output,
            "finish_reason": result.finish_reason,
            "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "latency_ms": result.latency_ms, "error": result.error, "procedure": procedure,
            "steps": orjson.dumps(result.steps).decode() if result.steps is not None else None}


def label(config: LabelConfig, progress: bool = True) -> LabelReport:
    """Run (or resume, or join other workers on) the batch the recipe names."""
    prompt = Prompt.load(config.prompt)
    identity = config.identity(prompt.version)
    with Store(config.db) as store:
        batch_id = store.open_batch(
            recipe_hash=hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16],
            recipe=identity, price_input=config.price_input_per_mtok, price_output=config.price_output_per_mtok)
        report = LabelReport(batch_id)
        procedure = config.make_procedure(prompt)
        jobs, skips, papers = plan_jobs(store, config, procedure, batch_id, report)
        params_json = orjson.dumps(config.params().as_dict()).decode()
        for paper, sample, reason in skips:
            store.add_generation({"paper": paper.arxiv_id, "batch": batch_id, "sample": sample, "attempt": 1,
                                  "status": "skipped", "prompt_version": prompt.version, "backend": identity["backend"],
                                  "model": config.model, "params": params_json, "error": reason,
                                  "procedure": procedure.name})
        report.skipped, report.planned = len(skips), len({(job.paper, job.sample) for job in jobs})
        if jobs:
            teacher = make_teacher(config.backend_settings())
            report.input_problems = list(getattr(teacher, "problems", ()))
            release_dead_workers(store, batch_id)
            lease = _Lease(config.db, worker_name(), config.lease_seconds)
            lease.start()
            try:
                asyncio.run(_run_claimed(teacher, jobs, config, store, batch_id, prompt, report, progress,
                                         params_json, procedure, papers, lease.worker))
            except KeyboardInterrupt:
                report.interrupted = True
            except BatchPaused as paused:
                report.paused = str(paused)
            finally:
                lease.stopped.set()
                store.release_claims(lease.worker)
        store.set_batch_status(batch_id, "interrupted" if report.interrupted else
                               "paused" if report.paused else "done")
    return report
