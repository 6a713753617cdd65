"""`miniastrolm check`: the filter's validators on explanations from any source, with agreement against a
reader's `acceptable` when the lines carry one."""

import orjson
from typer.testing import CliRunner

from miniastrolm.check import CheckConfig, check_file
from miniastrolm.cli import app
from miniastrolm.validate.registry import NAMES

from validation_set import FRB, GOOD_FRB, GOOD_SATELLITE, SATELLITE


def _write(path, lines):
    path.write_bytes(b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines))


def test_check_writes_one_result_per_line_and_names_bad_lines(tmp_path):
    source = tmp_path / "in.jsonl"
    _write(source, [
        {"abstract": FRB["abstract"], "explanation": GOOD_FRB, "title": FRB["title"], "acceptable": 1},
        b"{not json",
        {"abstract": SATELLITE["abstract"], "explanation": GOOD_SATELLITE.replace(
            "the team found", "Dr. Sarah Patel found"), "acceptable": 0},
        {"abstract": "", "explanation": "text"},
        {"arxiv_id": "2611.90001", "explanation": "text"},
        [1, 2],
    ])
    summary = check_file(CheckConfig(input=str(source), output=str(tmp_path / "out.jsonl"),
                                     db=str(tmp_path / "none.db"), report=str(tmp_path / "check.md")),
                         progress=False)
    out = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert [row["line"] for row in out] == [1, 2, 3, 4, 5, 6]
    assert out[0]["passed"] and out[0]["problems"] == [] and set(out[0]["scores"]) == set(NAMES)
    assert not out[2]["passed"] and out[2]["failed"] == ["grounding"]
    assert "invented_person: Dr. Sarah Patel" in out[2]["problems"]
    assert out[1]["error"].startswith(f"{source}:2: ")
    assert "non-empty 'abstract'" in out[3]["error"]
    assert "'2611.90001' is not in the store" in out[4]["error"]
    assert "JSON object" in out[5]["error"]
    assert (summary.checked, summary.passed, summary.errors) == (2, 1, 4)
    agreement = summary.agreement
    assert (agreement.rated, agreement.acceptable, agreement.passed, agreement.passed_acceptable) == (2, 1, 1, 1)
    assert agreement.confusion["grounding"] == [1, 0, 0, 1]  # passes the good one, rejects the invented person
    assert "precision: passes every validator -> acceptable | 1.00" in (tmp_path / "check.md").read_text()


def test_check_cli_reads_thresholds_from_the_filter_recipe_and_a_split(tmp_path):
    source = tmp_path / "in.jsonl"
    _write(source, [{"abstract": FRB["abstract"], "explanation": GOOD_FRB, "split": "test"},
                    {"abstract": FRB["abstract"], "explanation": GOOD_FRB, "split": "dev"}])
    recipe = tmp_path / "filter.yaml"
    recipe.write_text("min_words: 500\nreport: elsewhere.md\n")
    result = CliRunner().invoke(app, ["check", "--input", str(source), "--output", str(tmp_path / "out.jsonl"),
                                      "--filter_recipe", str(recipe), "--split", "test"])
    assert result.exit_code == 0, result.output
    out = [orjson.loads(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert len(out) == 1 and out[0]["failed"] == ["format"]  # the recipe's min_words, not the default
    missing = CliRunner().invoke(app, ["check", "--input", str(tmp_path / "nope.jsonl"),
                                       "--output", str(tmp_path / "o.jsonl")])
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.output.split())
