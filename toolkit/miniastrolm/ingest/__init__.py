"""Ingest: read arXiv records from one source into the store, skipping bad records with a reason.

Every source yields (location, Paper | Skip | OUT_OF_SCOPE); this module filters, de-duplicates within
the run, writes in batches (one transaction each, so a crash loses at most the batch in flight and never
alters what was stored before) and keeps the tally.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from tqdm.auto import tqdm

from ..config import renamed
from ..store import DEFAULT_DB, Paper, Store
from .arxiv_api import API_URL, read_arxiv_api
from .file import read_file
from .kaggle import read_kaggle
from .oai import OAI_URL, read_oai
from .record_file import RecordFile
from .records import OutOfScope, Skip, in_scope

RENAMED_SOURCES = {"local": "file"}  # old recipe value -> its name now (still accepted, with a warning)
ASTRO_PH = ["astro-ph.CO", "astro-ph.EP", "astro-ph.GA", "astro-ph.HE", "astro-ph.IM", "astro-ph.SR"]


@dataclass
class IngestConfig:
    source: Literal["kaggle", "arxiv_api", "oai", "file", "local"] = field(
        default="kaggle",
        metadata={"help": "kaggle: arxiv-metadata-oai-snapshot JSON lines (.gz ok); arxiv_api: the arXiv "
                          "API; oai: OAI-PMH ListRecords; file: your JSONL/CSV with --columns (local: the old "
                          "name of file, deprecated)"})
    path: str | None = field(default=None, metadata={"help": "input file for kaggle/file"})
    db: str = field(default=DEFAULT_DB, metadata={"help": "SQLite store"})
    category_prefix: str = field(
        default="astro-ph", metadata={"help": "keep papers whose primary category starts with this ('' keeps all)"})
    cross_lists: bool = field(
        default=False, metadata={"help": "also keep papers cross-listed to category_prefix"})
    limit: int | None = field(default=None, metadata={"help": "stop after this many papers kept"})
    columns: list[str] = field(
        default_factory=list,
        metadata={"help": "file: field=column pairs, e.g. arxiv_id=id abstract=summary "
                          "(fields: arxiv_id version title abstract categories authors published updated)"})
    api_url: str = field(default=API_URL, metadata={"help": "arXiv API endpoint"})
    api_categories: list[str] = field(default_factory=lambda: list(ASTRO_PH),
                                      metadata={"help": "arxiv_api: categories to query"})
    ids: list[str] = field(default_factory=list, metadata={"help": "arxiv_api: fetch these ids instead"})
    date_from: str | None = field(default=None, metadata={"help": "arxiv_api/oai: YYYY-MM-DD, inclusive"})
    date_to: str | None = field(default=None, metadata={"help": "arxiv_api/oai: YYYY-MM-DD, inclusive"})
    page_size: int = field(default=100, metadata={"help": "arxiv_api: results per call"})
    delay_seconds: float = field(default=3.0, metadata={"help": "arxiv_api: pause between calls (arXiv asks 3 s)"})
    oai_url: str = field(default=OAI_URL, metadata={"help": "OAI-PMH endpoint"})
    oai_set: str = field(default="physics:astro-ph", metadata={"help": "oai: set to harvest"})
    timeout_seconds: float = field(default=30.0, metadata={"help": "per HTTP request"})
    max_retries: int = field(default=5, metadata={"help": "per HTTP request, on connection errors, 429 and 5xx"})
    batch_size: int = field(default=2000, metadata={"help": "papers per database transaction"})

    def __post_init__(self):
        self.source = renamed("source", self.source, RENAMED_SOURCES)


@dataclass
class IngestReport:
    run_id: int
    read: int = 0
    out_of_scope: int = 0
    kept: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skips: list[Skip] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.skips)

    @property
    def nothing_read(self) -> bool:
        """True when not one record could be parsed: the only case that fails the command."""
        return self.read == self.skipped

    def skip_reasons(self) -> Counter:
        return Counter(skip.reason for skip in self.skips)


class _Input:
    """A source as records plus what the progress bar needs (bytes for files, records for the network)."""

    def __init__(self, config: IngestConfig):
        self.file: RecordFile | None = None
        if config.source in ("kaggle", "file"):
            if not config.path:
                raise ValueError(f"source {config.source} needs --path <file>")
            self.file = RecordFile(config.path)
        self.config = config

    @property
    def location(self) -> str:
        config = self.config
        return {"arxiv_api": config.api_url, "oai": config.oai_url}.get(config.source, str(config.path))

    def records(self) -> Iterator[tuple[str, Paper | Skip | OutOfScope]]:
        config = self.config
        if config.source == "kaggle":
            return read_kaggle(self.file, config.category_prefix)
        if config.source == "file":
            return read_file(self.file, config.columns)
        if config.source == "arxiv_api":
            return read_arxiv_api(
                categories=config.api_categories, ids=config.ids, date_from=config.date_from,
                date_to=config.date_to, base_url=config.api_url, page_size=config.page_size,
                delay_seconds=config.delay_seconds, timeout_seconds=config.timeout_seconds,
                max_retries=config.max_retries)
        return read_oai(base_url=config.oai_url, oai_set=config.oai_set, date_from=config.date_from,
                        date_to=config.date_to, timeout_seconds=config.timeout_seconds,
                        max_retries=config.max_retries)

    def progress_bar(self, enabled: bool):
        disable = None if enabled else True  # None: tqdm hides itself when stderr is not a terminal
        if self.file:
            return tqdm(total=self.file.size, unit="B", unit_scale=True, desc="ingest", disable=disable)
        return tqdm(unit=" records", desc="ingest", disable=disable)

    def close(self) -> None:
        if self.file:
            self.file.close()


def ingest(config: IngestConfig, progress: bool = True) -> IngestReport:
    """Run one ingest into `config.db`; stored papers are only ever replaced by newer versions."""
    source = _Input(config)
    store = Store(config.db)
    report = IngestReport(run_id=store.start_ingest_run(config.source, source.location))
    first_seen: dict[str, tuple[int, str]] = {}  # id -> (version, location): grows with kept papers only
    batch: list[Paper] = []
    skips_in_batch: list[Skip] = []

    def flush() -> None:
        counts = store.upsert_papers(batch)
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        store.record_skips(report.run_id, ((s.location, s.arxiv_id, s.reason, s.detail) for s in skips_in_batch))
        batch.clear()
        skips_in_batch.clear()

    done = 0
    try:
        with source.progress_bar(progress) as bar:
            for location, item in source.records():
                report.read += 1
                if isinstance(item, Skip):
                    report.skips.append(item)
                    skips_in_batch.append(item)
                elif isinstance(item, OutOfScope) or not in_scope(item.categories, config.category_prefix,
                                                                  config.cross_lists):
                    report.out_of_scope += 1
                else:
                    version = item.version or 0
                    seen = first_seen.get(item.arxiv_id)
                    if seen is not None and version <= seen[0]:
                        skip = Skip(location, item.arxiv_id, "duplicate_id", f"already read at {seen[1]}")
                        report.skips.append(skip)
                        skips_in_batch.append(skip)
                    else:
                        first_seen[item.arxiv_id] = (version, location)
                        batch.append(item)
                        report.kept += 1
                if len(batch) >= config.batch_size or len(skips_in_batch) >= config.batch_size:
                    flush()
                if report.read % 1000 == 0:
                    position = source.file.position() if source.file else report.read
                    bar.update(position - done)
                    done = position
                if config.limit is not None and report.kept >= config.limit:
                    break
            bar.update((source.file.size if source.file else report.read) - done)
    finally:  # also on Ctrl-C: what was read is stored, the run row says how far it got
        try:
            flush()
        finally:
            store.finish_ingest_run(report.run_id, read=report.read, kept=report.kept,
                                    inserted=report.inserted, updated=report.updated, skipped=report.skipped)
            source.close()
            store.close()
    return report
