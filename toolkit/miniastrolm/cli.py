"""`miniastrolm`: one verb per pipeline stage. Verbs only parse and call; the work lives in the stage modules.

Stage verbs take `--config recipes/<stage>/<name>.yaml` plus `--key value` overrides; their `--help` lists
every key with its default (the same keys a recipe may set).
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from .store import DEFAULT_DB

app = typer.Typer(
    help="MiniAstroLM: turn arXiv astro-ph abstracts into plain-language explanations, distilled from a "
         "teacher LLM into a small student model. Each verb is one pipeline stage; add --help to any verb.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals could hold tokens
)
db_app = typer.Typer(help="Look inside the SQLite store.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)

# Stage verbs hand every argument, --help included, to the stage's config parser.
STAGE_VERB = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _config(config_class, ctx: typer.Context, description: str):
    from .config import ConfigError, parse_config

    try:
        return parse_config(config_class, list(ctx.args), prog=f"miniastrolm {ctx.info_name}",
                            description=description)
    except ConfigError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error


@app.command(context_settings=STAGE_VERB)
def ingest(ctx: typer.Context) -> None:
    """Read arXiv records (Kaggle snapshot, arXiv API, OAI-PMH, local JSONL/CSV) into the store."""
    from .ingest import IngestConfig
    from .ingest import ingest as run_ingest

    config = _config(IngestConfig, ctx, ingest.__doc__ + " Bad records are skipped with a reason; "
                     "the command fails only when no record could be read.")
    try:
        report = run_ingest(config, progress=True)
    except (FileNotFoundError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error

    table = Table(title=f"ingest run {report.run_id} into {config.db}", show_header=False)
    for label, value in [("records read", report.read), ("outside categories", report.out_of_scope),
                         ("papers kept", report.kept), ("  new", report.inserted),
                         ("  newer version replaced stored", report.updated),
                         ("  already stored", report.unchanged), ("skipped", report.skipped)]:
        table.add_row(label, f"{value:,}")
    console.print(table)
    if report.skips:
        skips = Table(title="skipped records (all in table ingest_skips)")
        for column in ("reason", "count", "first at", "detail"):
            skips.add_column(column)
        first = {}
        for skip in report.skips:
            first.setdefault(skip.reason, skip)
        for reason, count in report.skip_reasons().most_common():
            skips.add_row(reason, f"{count:,}", first[reason].location, first[reason].detail[:100])
        console.print(skips)
    if report.nothing_read:
        console.print("[red]error:[/red] no record could be read")
        raise typer.Exit(1)


@db_app.command()
def stats(db: str = typer.Option(DEFAULT_DB, help="SQLite store")) -> None:
    """Counts of papers by category and source, and why records were skipped."""
    from pathlib import Path

    from .store import Store

    if not Path(db).is_file():
        console.print(f"[red]error:[/red] no store at {db} (run `miniastrolm ingest` first)")
        raise typer.Exit(2)
    with Store(db) as store:
        out = Console()
        out.print(f"[bold]{db}[/bold]: schema version {store.schema_version}, "
                  f"{store.count('papers'):,} papers, {store.count('paper_versions'):,} version updates, "
                  f"{store.count('ingest_runs'):,} ingest runs")
        for title, rows in [("papers by primary category", store.papers_by_category()),
                            ("papers by source", store.papers_by_source()),
                            ("skipped records by reason", store.skip_reasons())]:
            if rows:
                table = Table(title=title)
                table.add_column(title.split(" by ")[1])
                table.add_column("count", justify="right")
                for key, count in rows:
                    table.add_row(str(key), f"{count:,}")
                out.print(table)


if __name__ == "__main__":
    app()
