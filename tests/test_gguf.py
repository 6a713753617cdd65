"""The student as GGUF: llama.cpp's own converter on the tiny trained student (conftest), read back by
llama-cpp-python, and the `--engine llama.cpp` path compared token for token with the transformers pipeline."""

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from miniastrolm.cli import app
from miniastrolm.explain import ExplainPipeline
from miniastrolm.gguf_export import ConversionError, convert, legacy_hparams
from miniastrolm.student_format import prompt_ids

from student_data import PAIRS

ABSTRACT, TAUGHT = PAIRS[0]


@pytest.fixture(scope="module")
def student(tiny_student):
    return str(tiny_student[0])


@pytest.fixture(scope="module")
def reference(student):
    return ExplainPipeline(student, check=False)


def pipeline_tokens(reference, abstract: str) -> list[int]:
    """The pipeline's greedy tokens for an abstract, up to (not including) its end-of-sequence token."""
    inputs = prompt_ids(reference.tokenizer, abstract, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = reference.pipe.model.generate(**inputs, max_new_tokens=reference.max_new_tokens)[0].tolist()
    eos = reference.pipe.model.generation_config.eos_token_id
    new = out[inputs["input_ids"].shape[1]:]
    return new[:new.index(eos)] if eos in new else new


def test_convert_verb_writes_f16_and_q8_0_that_llama_cpp_reads_with_the_students_prompt(student, reference):
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    for outtype in ("f16", "q8_0"):
        result = CliRunner().invoke(app, ["convert", "--model", student, "--outtype", outtype])
        assert result.exit_code == 0, result.output
        path = convert(student, outtype)  # reused, not written again
        assert path.name == f"student-{outtype}.gguf" and str(path) in result.stdout
        llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
        assert llm.metadata["general.file_type"] == {"f16": "1", "q8_0": "7"}[outtype]
        # The GGUF carries the tokenizer and the chat template: llama.cpp builds the pipeline's prompt ids.
        prompt = Jinja2ChatFormatter(llm.metadata["tokenizer.chat_template"], eos_token="", bos_token="")(
            messages=[{"role": "user", "content": ABSTRACT}]).prompt
        assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == reference.prompt(ABSTRACT)


def test_llama_cpp_engine_greedy_matches_the_pipeline_token_for_token(student, reference):
    fast = ExplainPipeline(student, engine="llama.cpp", check=False)
    for abstract, taught in PAIRS[:3]:
        expected = pipeline_tokens(reference, abstract)  # every token up to EOS (11 to 13 here)
        got: list[int] = []
        ended = fast.generate_rows([fast.prompt(abstract)], lambda _: False, lambda _, token, to=got: to.append(token))
        assert got == expected and ended == [True]
        assert fast.explain(abstract).explanation == reference.explain(abstract).explanation == taught
    assert "".join(fast.stream(ABSTRACT)).strip() == TAUGHT
    # Batched rows (serve's worker) give each row's tokens alone, and a stopped row ends alone.
    rows: list[list[int]] = [[], [], []]
    ended = fast.generate_rows([fast.prompt(a) for a, _ in PAIRS[:3]], lambda row: row == 1 and len(rows[1]) >= 2,
                               lambda row, token: rows[row].append(token))
    assert rows[0] == pipeline_tokens(reference, PAIRS[0][0]) and len(rows[1]) == 2 and ended == [True, False, True]
    assert fast.explain(ABSTRACT, best_of=3).candidates == 3  # sampled candidates run on it too


def test_q8_0_engine_gives_the_taught_text_on_the_trained_student(student, reference):
    from miniastrolm.llamacpp_engine import LlamaCppStudent

    q8 = LlamaCppStudent(student, reference.tokenizer, reference.pipe.model.generation_config, "q8_0")
    assert q8.generate([a for a, _ in PAIRS[:3]], 64) == [[taught] for _, taught in PAIRS[:3]]


def test_clear_errors_for_what_cannot_be_converted(student, tmp_path):
    lacking = shutil.copytree(student, tmp_path / "no-tokenizer", ignore=shutil.ignore_patterns("tokenizer*", "gguf"))
    with pytest.raises(ConversionError, match="no tokenizer"):
        convert(str(lacking), "f16")
    alien = shutil.copytree(student, tmp_path / "alien", ignore=shutil.ignore_patterns("gguf"))
    config = json.loads((alien / "config.json").read_text())
    (alien / "config.json").write_text(json.dumps({**config, "architectures": ["NoSuchModelForCausalLM"]}))
    with pytest.raises(ConversionError, match="does not support this architecture.*NoSuchModelForCausalLM"):
        convert(str(alien), "f16")
    with pytest.raises(ConversionError, match="outtype 'q3'"):
        convert(student, "q3")
    result = CliRunner().invoke(app, ["convert", "--model", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a model folder" in result.output


def test_transformers_5_configs_get_the_keys_the_converter_reads():
    llama = {"model_type": "llama", "rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}}
    assert legacy_hparams(llama)["rope_theta"] == 100000.0 and "rope_scaling" not in legacy_hparams(llama)
    scaled = {"rope_parameters": {"rope_theta": 5e5, "rope_type": "linear", "factor": 2.0}}
    assert legacy_hparams(scaled)["rope_scaling"] == {"rope_type": "linear", "factor": 2.0}
    assert legacy_hparams({"model_type": "gpt2", "n_positions": 512})["n_ctx"] == 512
