"""OAI-PMH `ListRecords` (arXivRaw metadata) for a set, following resumption tokens via `sickle`."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from sickle import Sickle
from sickle.oaiexceptions import NoRecordsMatch

from ..store import Paper
from .records import Skip, make_paper

OAI_URL = "https://oaipmh.arxiv.org/oai"
_NS = {"raw": "http://arxiv.org/OAI/arXivRaw/"}


def _iso_date(rfc2822: str | None) -> str | None:
    try:
        return parsedate_to_datetime(rfc2822).date().isoformat() if rfc2822 else None
    except (TypeError, ValueError):
        return None


def _record_fields(xml) -> dict:
    raw = xml.find(".//raw:arXivRaw", _NS)
    if raw is None:
        return {}

    def text(tag: str) -> str | None:
        return raw.findtext(f"raw:{tag}", default=None, namespaces=_NS)

    versions = raw.findall("raw:version", _NS)
    return {
        "arxiv_id": text("id"),
        "version": versions[-1].get("version") if versions else None,
        "title": text("title"),
        "abstract": text("abstract"),
        "categories": text("categories"),
        "authors": text("authors"),
        "published": _iso_date(versions[0].findtext("raw:date", namespaces=_NS)) if versions else None,
        "updated": _iso_date(versions[-1].findtext("raw:date", namespaces=_NS)) if versions else None,
    }


def read_oai(
    *,
    base_url: str = OAI_URL,
    oai_set: str = "physics:astro-ph",
    date_from: str | None = None,
    date_to: str | None = None,
    timeout_seconds: float = 30.0,
    max_retries: int = 5,
    retry_after_seconds: int = 20,
) -> Iterator[tuple[str, Paper | Skip]]:
    """Yield (oai identifier, paper); sickle retries 503 responses as long as `Retry-After` asks."""
    client = Sickle(base_url, max_retries=max_retries, default_retry_after=retry_after_seconds,
                    timeout=timeout_seconds)
    params = {"metadataPrefix": "arXivRaw", "set": oai_set, "ignore_deleted": True}
    if date_from:
        params["from"] = date_from
    if date_to:
        params["until"] = date_to
    try:
        for record in client.ListRecords(**params):
            location = record.header.identifier
            yield location, make_paper(_record_fields(record.xml), source="oai", location=location)
    except NoRecordsMatch:
        return
    except Exception as error:  # sickle raises requests' HTTPError and its own OAI errors alike
        yield base_url, Skip(base_url, None, "fetch_failed", f"{type(error).__name__}: {error}")
