"""The `file` source: your own JSON-lines or CSV file, with any column names mapped onto paper fields."""

from __future__ import annotations

from collections.abc import Iterator

from ..store import Paper
from .record_file import RecordFile
from .records import Skip, make_paper

FIELDS = ("arxiv_id", "version", "title", "abstract", "categories", "authors", "published", "updated")


def column_map(pairs: list[str]) -> dict[str, str]:
    """['arxiv_id=id', 'abstract=summary'] -> {field: column}; unnamed fields use their own name."""
    mapping = {field: field for field in FIELDS}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or field not in FIELDS or not column:
            raise ValueError(f"column mapping {pair!r}: write field=column with field one of {', '.join(FIELDS)}")
        mapping[field] = column
    return mapping


def read_file(file: RecordFile, columns: list[str]) -> Iterator[tuple[str, Paper | Skip]]:
    mapping = column_map(columns)
    rows = file.csv_rows() if file.path.name.removesuffix(".gz").endswith(".csv") else file.json_lines()
    for location, row in rows:
        if isinstance(row, Skip):
            yield location, row
            continue
        fields = {field: row.get(column) for field, column in mapping.items()}
        yield location, make_paper(fields, source="file", location=location)
