"""The Kaggle `arxiv-metadata-oai-snapshot` JSON-lines file (plain or .gz), streamed."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from ..store import Paper
from .record_file import RecordFile
from .records import OutOfScope, Skip, make_paper


def _first_version_date(versions) -> str | None:
    """`versions[0].created` ('Mon, 2 Apr 2007 19:18:42 GMT') as an ISO date, when present."""
    try:
        return parsedate_to_datetime(versions[0]["created"]).date().isoformat()
    except (TypeError, KeyError, IndexError, ValueError):
        return None


def _last_version(versions) -> int | None:
    try:
        return int(str(versions[-1]["version"]).lstrip("v"))
    except (TypeError, KeyError, IndexError, ValueError):
        return None


def read_kaggle(file: RecordFile, category_prefix: str) -> Iterator[tuple[str, Paper | Skip | OutOfScope]]:
    for location, record in file.json_lines(must_contain=category_prefix.encode()):
        if not isinstance(record, dict):
            yield location, record
            continue
        versions = record.get("versions") or []
        yield location, make_paper(
            {
                "arxiv_id": record.get("id"),
                "version": _last_version(versions),
                "title": record.get("title"),
                "abstract": record.get("abstract"),
                "categories": record.get("categories"),
                "authors": record.get("authors"),
                "published": _first_version_date(versions),
                "updated": record.get("update_date"),
            },
            source="kaggle",
            location=location,
        )
