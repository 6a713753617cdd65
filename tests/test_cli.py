"""The `miniastrolm` command as a user runs it: a real subprocess, real exit codes."""

import subprocess
import sys

from conftest import PAPERS, kaggle_line


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "miniastrolm.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_verbs_and_ingest_help_lists_keys():
    top = run("--help")
    assert top.returncode == 0 and "ingest" in top.stdout and "db" in top.stdout
    verb = run("ingest", "--help")
    assert verb.returncode == 0
    assert "--category_prefix" in verb.stdout and "--config" in verb.stdout and "astro-ph" in verb.stdout


def test_ingest_recipe_with_override_then_db_stats(tmp_path):
    data = tmp_path / "k.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS) + b"not json but astro-ph\n")
    db = tmp_path / "s.db"
    done = run("ingest", "--config", "recipes/ingest/kaggle.yaml", "--path", str(data), "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "malformed_json" in done.stderr and "k.jsonl:6" in done.stderr
    stats = run("db", "stats", "--db", str(db))
    assert stats.returncode == 0
    assert "5 papers" in stats.stdout and "astro-ph.GA" in stats.stdout and "malformed_json" in stats.stdout


def test_exit_codes(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"astro-ph junk\n{astro-ph\n")
    failed = run("ingest", "--path", str(junk), "--db", str(tmp_path / "s.db"))
    assert failed.returncode == 1 and "no record could be read" in failed.stderr
    missing = run("ingest", "--path", str(tmp_path / "none.jsonl"), "--db", str(tmp_path / "s.db"))
    assert missing.returncode == 2 and "not found" in missing.stderr and "Traceback" not in missing.stderr
    typo = run("ingest", "--category_prefx", "x")
    assert typo.returncode == 2 and "did you mean --category_prefix?" in typo.stderr
    assert "Traceback" not in typo.stderr
    nothing_close = run("ingest", "--zzz", "x")
    assert nothing_close.returncode == 2 and "did you mean" not in nothing_close.stderr
    no_db = run("db", "stats", "--db", str(tmp_path / "none.db"))
    assert no_db.returncode == 2 and "no store" in no_db.stderr


def test_every_verb_takes_underscores_or_dashes_and_help_shows_one_spelling(tmp_path):
    data = tmp_path / "k.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS))
    for spelling in ("--category_prefix", "--category-prefix"):
        done = run("ingest", "--path", str(data), "--db", str(tmp_path / f"{spelling}.db"), spelling, "astro-ph.GA")
        assert done.returncode == 0 and "papers kept" in done.stderr, done.stderr
    for spelling in ("--arxiv_id", "--arxiv-id"):  # a typer verb: the option is known under both names
        both = run("explain", spelling, "2401.00001", "--input", "x.jsonl")
        assert both.returncode == 2 and "give exactly one of" in both.stderr, both.stderr
    stage_help = run("eval", "--help").stdout
    assert "--max_new_tokens" in stage_help and "--max-new-tokens" not in stage_help
    typer_help = run("explain", "--help").stdout
    assert "--max-new-tokens" in typer_help and "--max_new_tokens" not in typer_help
