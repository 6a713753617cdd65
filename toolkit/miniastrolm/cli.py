"""`miniastrolm`: one verb per pipeline stage. Verbs only parse and call; the work lives in the stage modules.

Stage verbs take `--config recipes/<stage>/<name>.yaml` plus `--key value` overrides; their `--help` lists
every key with its default (the same keys a recipe may set). On every verb a flag may be spelled with
underscores or dashes (`--max_new_tokens` or `--max-new-tokens`): the stage verbs' help shows the recipe key,
explain / serve / space show dashes.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from .store import DEFAULT_DB


def dashed(arg: str) -> str:
    """`--max_new_tokens[=v]` -> `--max-new-tokens[=v]`; anything not a long flag unchanged."""
    if not arg.startswith("--"):
        return arg
    name, equals, value = arg.partition("=")
    return name.replace("_", "-") + equals + value


class AnySpellingGroup(TyperGroup):
    """Reads underscores in flag names as dashes, so typer's dashed options take both spellings (the stage
    verbs' parser registers both)."""

    def main(self, args=None, *rest, **kwargs):
        return super().main([dashed(arg) for arg in (sys.argv[1:] if args is None else args)], *rest, **kwargs)


app = typer.Typer(
    cls=AnySpellingGroup,
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


@contextmanager
def _stage_errors(exit_code: int = 2, *, errors: tuple[type[Exception], ...] = (FileNotFoundError, ValueError,
                                                                               RuntimeError)):
    """A stage's expected failures (bad input, missing files, unreachable services) end in one clear line."""
    try:
        yield
    except errors as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(exit_code) from error


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
    """Read arXiv records (Kaggle snapshot, arXiv API, OAI-PMH, your own JSONL/CSV file) into the store."""
    from .ingest import IngestConfig
    from .ingest import ingest as run_ingest

    config = _config(IngestConfig, ctx, ingest.__doc__ + " Bad records are skipped with a reason; "
                     "the command fails only when no record could be read.")
    with _stage_errors(errors=(FileNotFoundError, ValueError)):
        report = run_ingest(config, progress=True)

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


@app.command(context_settings=STAGE_VERB)
def filter(ctx: typer.Context) -> None:  # noqa: A001 - the verb's name
    """Run every validator on the stored labels."""
    from .filter import FilterConfig, run_filter
    from .validate.registry import describe

    config = _config(FilterConfig, ctx, filter.__doc__ + f" Validators: {describe()}. One verdict per "
                     "validator per generation is stored with its reasons; a markdown report counts rejections per "
                     "reason and pass rates per category.")
    report = run_filter(config)
    _reason_table(f"filter {report.filter}: {report.passed} of {report.generations} pass", report.reasons)
    console.print(f"report written to {config.report}")


def _reason_table(title: str, reasons) -> None:
    table = Table(title=title)
    table.add_column("rejection reason")
    table.add_column("explanations", justify="right")
    for reason, count in reasons.most_common():
        table.add_row(reason, str(count))
    console.print(table)


@app.command(context_settings=STAGE_VERB)
def check(ctx: typer.Context) -> None:
    """Validate explanations from any source (JSONL in, one verdict line per input line out)."""
    from .check import CheckConfig, check_file
    from .validate.registry import describe

    config = _config(CheckConfig, ctx, check.__doc__ + f" Validators: {describe()}; with the filter's "
                     "thresholds (--filter_recipe). Input lines: {\"abstract\": ..., "
                     "\"explanation\": ..., \"title\": optional} or arxiv_id instead of abstract (with --db).")
    if not config.input or not config.output:
        console.print("[red]error:[/red] give --input FILE.jsonl and --output OUT.jsonl")
        raise typer.Exit(2)
    with _stage_errors():
        summary = check_file(config)
    _reason_table(f"check: {summary.passed} of {summary.checked} pass, {summary.errors} bad lines", summary.reasons)
    if summary.agreement.rated:
        console.print(summary.agreement.markdown())
    console.print(f"results written to {config.output}" + (f", summary to {config.report}" if config.report else ""))


@app.command(context_settings=STAGE_VERB)
def export(ctx: typer.Context) -> None:
    """Write the best passing explanation per paper as curated JSONL and a Hub-layout dataset folder."""
    from .export import ExportConfig
    from .export import export as run_export

    config = _config(ExportConfig, ctx, export.__doc__ + " Splits are by paper (hash of the arXiv id); the "
                     "folder loads with datasets.load_dataset(<folder>) and --push_to_hub uploads it unchanged.")
    with _stage_errors(1, errors=(ValueError, RuntimeError)):
        report = run_export(config)
    splits = ", ".join(f"{split} {rows}" for split, rows in report.split_rows.items())
    console.print(f"filter {report.filter}: {splits} papers -> {report.output_dir} and {report.jsonl}\n"
                  f"provenance (teachers, prompts, settings, counts, recipes): {report.output_dir}/provenance.json\n"
                  f"load it with: datasets.load_dataset({str(report.output_dir)!r})")
    if report.pushed:
        console.print(f"pushed: {report.pushed}")


@app.command(context_settings=STAGE_VERB)
def train(ctx: typer.Context) -> None:
    """Fine-tune the student on the exported dataset (TRL SFTTrainer); same as `python -m miniastrolm.train`."""
    from .train import main

    with _stage_errors():
        main(list(ctx.args))


@app.command(name="eval", context_settings=STAGE_VERB)
def evaluate(ctx: typer.Context) -> None:
    """Compare the student with the teacher, the untuned base model and lead-3 on held-out papers."""
    from .evaluation import MIN_PAPERS, EvalConfig, headline
    from .evaluation import evaluate as run_eval

    config = _config(EvalConfig, ctx, evaluate.__doc__ + " Writes report.md, metrics.json and PNG plots; pass "
                     "metrics.json to training (--eval_metrics) to put the table in the model card.")
    with _stage_errors(errors=(FileNotFoundError, ValueError, OSError)):
        result = run_eval(config)
    header, rows = headline(result)
    table = Table(title=f"evaluation on {result['n']} papers: mean [95 % bootstrap interval]")
    for number, column in enumerate(header):
        table.add_column(column, justify="right" if number else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if result["n"] < MIN_PAPERS:
        console.print(f"[yellow]too few to conclude:[/yellow] {result['n']} papers (fewer than {MIN_PAPERS}); the "
                      "intervals are too wide for a comparison")
    console.print(f"full report: {config.output_dir}/report.md (examples.md, metrics.json, plots beside it)")
    from pathlib import Path

    from .cards import refresh_card_evaluation

    if refresh_card_evaluation(Path(config.student), Path(config.output_dir) / "metrics.json"):
        console.print(f"evaluation table written into the model card {config.student}/README.md")


@app.command(context_settings=STAGE_VERB)
def run(ctx: typer.Context) -> None:
    """The whole pipeline on embedded defaults, offline: ingest, label, filter, export, train, eval, explain."""
    from .pipeline import PipelineConfig, summary
    from .pipeline import run as run_pipeline

    config = _config(PipelineConfig, ctx, run.__doc__ + " Re-running reuses stored labels and a student "
                     "trained on the same dataset; --fresh true starts over.")
    with _stage_errors(1):
        summary(run_pipeline(config))


@app.command()
def explain(
    abstract: str = typer.Argument(None, help="the abstract to explain (or use --arxiv-id / --input)"),
    arxiv_id: str = typer.Option(None, "--arxiv-id", help="explain this paper (local store first, else arXiv)"),
    input: str = typer.Option(None, "--input", help="JSONL of abstracts: fields 'abstract' or 'arxiv_id'"),  # noqa: A002
    output: str = typer.Option(None, "--output", help="write one JSON result per input line here"),
    model: str = typer.Option("runs/quickstart/student", help="student: a model folder or Hub id"),
    best_of: int = typer.Option(1, "--best-of", min=1, max=16, help="sample N candidates, return the best that "
                                "passes the validators (1 = greedy)"),
    stream: bool = typer.Option(False, "--stream", help="print the explanation as it is generated (one abstract)"),
    max_new_tokens: int = typer.Option(None, help="default: the model's generation_config"),
    db: str = typer.Option(DEFAULT_DB, help="store to look arXiv ids up in first"),
    arxiv_api_url: str = typer.Option("https://export.arxiv.org/api/query", hidden=True),
    as_json: bool = typer.Option(False, "--json", help="print the result (explanation, verdicts, metadata) as JSON"),
    engine: str = typer.Option("transformers", help="transformers (the reference pipeline, fp32), llama.cpp "
                               "(GGUF f16, the fast CPU path) or ctranslate2 (int8); a fast path converts the "
                               "model once and caches it beside the model"),
) -> None:
    """Explain an abstract with the student; every explanation is checked by the filter's validators."""
    import json

    from .explain import ExplainPipeline, InputError, explain_jsonl

    if sum(x is not None for x in (abstract, arxiv_id, input)) != 1:
        console.print("[red]error:[/red] give exactly one of: an abstract, --arxiv-id, --input")
        raise typer.Exit(2)
    if (input is None) != (output is None):
        console.print("[red]error:[/red] --input and --output go together")
        raise typer.Exit(2)
    with _stage_errors(errors=(InputError, OSError, ValueError, RuntimeError)):
        explainer = ExplainPipeline(model, best_of=best_of, max_new_tokens=max_new_tokens, db=db,
                                    api_url=arxiv_api_url, engine=engine)
        if input:
            done, failed, passed = explain_jsonl(explainer, input, output)
            console.print(f"{done} explained ({passed} pass every check), {failed} failed (with their reason) "
                          f"-> {output}")
            return
        if stream and abstract:
            out = Console()
            for piece in explainer.stream(abstract):
                out.print(piece, end="")
            out.print()
            return
        result = explainer.explain_arxiv_id(arxiv_id) if arxiv_id else explainer.explain(abstract)
    if as_json:
        print(json.dumps(result.to_dict(), indent=1))
        return
    Console().print(result.explanation)
    console.print(("all checks passed" if result.passed else "[yellow]failed checks:[/yellow] " +
                   "; ".join(result.problems)) + f" ({result.candidates} candidate(s), {result.latency_seconds:.1f} s)")


@app.command()
def serve(
    model: str = typer.Option("runs/quickstart/student", help="student: a model folder or Hub id"),
    host: str = typer.Option("127.0.0.1", help="interface to listen on (0.0.0.0 to expose it)"),
    port: int = typer.Option(8000),
    best_of: int = typer.Option(1, "--best-of", min=1, max=8, help="default candidates per request"),
    timeout_seconds: float = typer.Option(120.0, help="per request, queueing included; then HTTP 504 and the "
                                          "generation stops"),
    max_request_bytes: int = typer.Option(64_000, help="larger request bodies get HTTP 413"),
    max_queue: int = typer.Option(32, min=1, help="requests waiting for the worker; more get HTTP 503 + Retry-After"),
    max_batch: int = typer.Option(8, min=1, help="waiting requests generated together in one batch"),
    db: str = typer.Option(DEFAULT_DB, help="store to look arXiv ids up in first"),
    engine: str = typer.Option("transformers", help="transformers (reference), llama.cpp (GGUF f16, the fast "
                               "CPU path) or ctranslate2 (int8)"),
) -> None:
    """Serve the student: JSON API (POST /explain, /explain/stream), OpenAI-compatible POST /v1/chat/completions,
    GET /health, /metrics, /docs and a web page at /."""
    import uvicorn

    from .explain import ExplainPipeline
    from .serve import create_app

    with _stage_errors(errors=(OSError, ValueError)):
        explainer = ExplainPipeline(model, best_of=best_of, db=db, engine=engine)
    console.print(f"serving {model} on http://{host}:{port}/ (API: POST /explain, POST /v1/chat/completions, "
                  "GET /docs)")
    uvicorn.run(create_app(explainer, max_request_bytes=max_request_bytes, timeout_seconds=timeout_seconds,
                           max_queue=max_queue, max_batch=max_batch), host=host, port=port, log_level="info")


@app.command()
def convert(
    model: str = typer.Option("runs/quickstart/student", help="student: a model folder (as `train` writes it) or "
                              "Hub id"),
    outtype: str = typer.Option("f16", help="f16 or q8_0 (llama.cpp's converter), f32, or q4_0 / q4_k_m "
                                "(llama.cpp's quantizer on the f16 file)"),
    output: str = typer.Option(None, help="the .gguf file to write (default: <model>/gguf/<name>-<outtype>.gguf)"),
    force: bool = typer.Option(False, "--force", help="write it again even if the file exists"),
) -> None:
    """Convert a student to GGUF with llama.cpp's own converter, for llama.cpp, Ollama and `--engine llama.cpp`."""
    from .gguf_export import ConversionError
    from .gguf_export import convert as to_gguf

    with _stage_errors(errors=(ConversionError, OSError)):
        path = to_gguf(model, outtype, output, force=force)
    console.print(f"GGUF {outtype}: {path} ({path.stat().st_size / 1e6:,.1f} MB)")
    print(path)


@app.command()
def space(
    model: str = typer.Option("runs/quickstart/student", help="student: a model folder (copied in) or Hub id"),
    output: str = typer.Option("runs/space", help="the Space folder to write; `python app.py` in it runs the demo"),
    push_to_hub: str = typer.Option(None, "--push-to-hub", help="Space repo id to upload the folder to "
                                    "(token from HF_TOKEN; HF_ENDPOINT honoured)"),
    private: bool = typer.Option(False, help="create the Space private"),
) -> None:
    """Write the web demo as a Hugging Face Space (Gradio app.py, requirements.txt, README.md), and push it."""
    from pathlib import Path

    from .space import write_space

    with _stage_errors(errors=(OSError, ValueError)):
        folder = write_space(model, Path(output))
    console.print(f"Space written to {folder} (try it: cd {folder} && python app.py)")
    _push_space(folder, push_to_hub, private)


def _push_space(folder, repo_id: str | None, private: bool) -> None:
    """Upload a Space folder when a repo id is given (token from HF_TOKEN)."""
    from .hub import push_folder

    if repo_id:
        with _stage_errors(1, errors=(OSError, ValueError, RuntimeError)):
            url = push_folder(folder, repo_id, repo_type="space", private=private, revision=None,
                              token=os.environ.get("HF_TOKEN"), space_sdk="gradio")
        console.print(f"pushed: {url}")


@app.command(name="metric-space")
def metric_space(
    metric: str = typer.Argument(..., help="a metric folder, e.g. metrics/astro_readability"),
    output: str = typer.Option(None, help="the Space folder to write (default runs/metric-spaces/<metric name>)"),
    push_to_hub: str = typer.Option(None, "--push-to-hub", help="Space repo id to upload the folder to "
                                    "(token from HF_TOKEN; HF_ENDPOINT honoured)"),
    private: bool = typer.Option(False, help="create the Space private"),
) -> None:
    """Stage one of the project's `evaluate` modules as a Hugging Face metric Space (its script, card, app.py,
    requirements.txt and a copy of this package), and push it."""
    from pathlib import Path

    from .metric_space import write_metric_space

    source = Path(metric)
    with _stage_errors(errors=(OSError, ValueError)):
        folder = write_metric_space(source, Path(output or f"runs/metric-spaces/{source.resolve().name}"))
    console.print(f"metric Space written to {folder} (try it: cd {folder} && python app.py)")
    _push_space(folder, push_to_hub, private)


@app.command()
def review(
    db: str = typer.Option(DEFAULT_DB, help="SQLite store whose explanations to review"),
    filter_name: str = typer.Option(None, "--filter", help="verdict set to show (default: the latest one run)"),
    batch: int = typer.Option(None, help="labelling batch id (default: all)"),
    reviewer: str = typer.Option(os.environ.get("USER", ""), help="name stored with each decision (the page can "
                                 "change it)"),
    host: str = typer.Option("127.0.0.1", help="interface to listen on (0.0.0.0 to expose it)"),
    port: int = typer.Option(8001),
    page_size: int = typer.Option(50, min=1, help="explanations per page"),
) -> None:
    """A web page to accept, reject (with a reason) or edit the teacher's explanations; export honours it."""
    from pathlib import Path

    import uvicorn

    from .review import create_review_app

    if not Path(db).is_file():
        console.print(f"[red]error:[/red] no store at {db} (run `miniastrolm ingest` and `label` first)")
        raise typer.Exit(2)
    with _stage_errors(errors=(ValueError,)):
        page = create_review_app(db, filter_name=filter_name, batch=batch, reviewer=reviewer, page_size=page_size)
    console.print(f"reviewing {db} on http://{host}:{port}/ (keys: j/k move, a accept, r reject, e edit)")
    uvicorn.run(page, host=host, port=port, log_level="warning")


@db_app.command()
def stats(db: str = typer.Option(DEFAULT_DB, help="SQLite store")) -> None:
    """Counts of papers, skipped records, generations, and the teacher's token and cost ledger."""
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
                            ("skipped records by reason", store.skip_reasons()),
                            ("generations not ok by reason", store.generation_failures())]:
            if rows:
                table = Table(title=title)
                table.add_column(title.split(" by ")[1])
                table.add_column("count", justify="right")
                for key, count in rows:
                    table.add_row(str(key), f"{count:,}")
                out.print(table)
        ledger = store.token_ledger()
        if ledger:
            table = Table(title="teacher cost ledger")
            for column in ("model", "calls", "ok", "prompt tokens", "completion tokens", "cost estimate"):
                table.add_column(column, justify="left" if column == "model" else "right")
            for model, calls, ok, prompt, completion, cost in ledger:
                table.add_row(model, f"{calls:,}", f"{ok:,}", f"{prompt:,}", f"{completion:,}",
                              "no price set" if cost is None else f"${cost:,.4f}")
            out.print(table)


@app.command(context_settings=STAGE_VERB)
def label(ctx: typer.Context) -> None:
    """Ask the teacher for plain-language explanations of stored papers; resumable, one row per call."""
    from .label import LabelConfig
    from .label import label as run_label

    config = _config(LabelConfig, ctx, label.__doc__ + " Re-running the same recipe continues its batch: "
                     "successes are never regenerated, failures are retried up to max_attempts. Several runs of "
                     "the same recipe on one store share its batch (each claims samples under a lease), so N "
                     "processes split the work and no call is made twice.")
    with _stage_errors():
        report = run_label(config)
    console.print(f"batch {report.batch_id}: {report.ok} ok, {report.failed} failed, {report.skipped} skipped "
                  f"before a call, {report.already_done} already done"
                  + (f", {report.done_elsewhere} done by other workers" if report.done_elsewhere else "")
                  + f"; {report.completion_tokens:,} tokens generated. See `miniastrolm db stats --db {config.db}`.")
    for problem in report.input_problems:
        console.print(f"[yellow]skipped input line:[/yellow] {problem}")
    if report.interrupted:
        console.print("interrupted: run the same command again to continue where it stopped")
        raise typer.Exit(130)
    if report.paused:
        console.print(f"[red]batch {report.batch_id} paused:[/red] {report.paused}. The endpoint kept failing, so "
                      f"no more calls were made; {report.remaining} samples are still to do and nothing was lost. "
                      "Run the same command again to resume once the endpoint answers (breaker_failures and "
                      "breaker_seconds set when to pause).")
        raise typer.Exit(75)  # EX_TEMPFAIL: try again later


if __name__ == "__main__":
    app()
