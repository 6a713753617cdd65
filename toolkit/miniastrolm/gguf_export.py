"""The student as GGUF, for llama.cpp and Ollama users and for the `--engine llama.cpp` fast path.

llama.cpp's own converter writes the file: `convert_hf_to_gguf.py`, shipped in llama-cpp-python's wheel (under
site-packages/bin) and run on the installed `gguf` package. It writes f32 / f16 / q8_0 directly; q4_0 and
q4_k_m come from llama.cpp's quantizer (`llama_model_quantize`) applied to the f16 file, as `llama-quantize`
does. The tokenizer and the chat template (the student's prompt format) travel inside the GGUF.

The converter imports `mistral_common` at the top but uses it only for Mistral-format checkpoints (upstream
llama.cpp later made that import optional); its package pins numpy < 2.4, so rather than installing it the
converter runs in its own process with empty stand-ins for those names (see `_run_converter`).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CONVERTER_TYPES = ("f32", "f16", "q8_0")  # written by convert_hf_to_gguf.py itself
QUANTIZED_TYPES = ("q4_0", "q4_k_m")  # llama_model_quantize on the f16 file
OUTTYPES = CONVERTER_TYPES + QUANTIZED_TYPES
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


class ConversionError(RuntimeError):
    """The folder cannot be converted; the message names the folder and the reason."""


def converter_script() -> Path:
    """llama.cpp's convert_hf_to_gguf.py as installed with llama-cpp-python (found, not imported)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError("GGUF export needs llama-cpp-python: pip install -e '.[local-teacher]'")
    script = Path(next(iter(spec.submodule_search_locations))).parent / "bin" / "convert_hf_to_gguf.py"
    if not script.is_file():
        raise ConversionError(f"llama-cpp-python is installed without its converter ({script} is missing)")
    return script


def model_folder(model: str) -> Path:
    """A local model folder, or a Hub id's snapshot (HF_HUB_OFFLINE honoured), checked for what the converter
    needs: config.json with an architecture, safetensors weights and a tokenizer."""
    folder = Path(model)
    if not folder.is_dir():
        if folder.exists() or model.count("/") != 1:
            raise ConversionError(f"{model}: not a model folder or a Hub id (owner/name)")
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(model, allow_patterns=["*.json", "*.jinja", "*.safetensors", "*.txt",
                                                                "tokenizer.model"]))
    if not (folder / "config.json").is_file():
        raise ConversionError(f"{folder}: no config.json (not a transformers model folder)")
    architectures = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    if not architectures:
        raise ConversionError(f"{folder}/config.json names no architecture")
    if not any(folder.glob("*.safetensors")):
        raise ConversionError(f"{folder}: no safetensors weights")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ConversionError(f"{folder}: no tokenizer ({', '.join(TOKENIZER_FILES)}); a GGUF carries its "
                              "tokenizer, so save the tokenizer with the model (`miniastrolm train` does)")
    return folder


def default_output(model: str, outtype: str) -> Path:
    """`<folder>/gguf/<folder name>-<outtype>.gguf` beside a local student; under the miniastrolm cache for a
    Hub id."""
    if Path(model).is_dir():
        folder = Path(model).resolve()
        return folder / "gguf" / f"{folder.name}-{outtype}.gguf"
    from .models import cache_dir

    name = model.replace("/", "--")
    return cache_dir() / "gguf" / f"{name}-{hashlib.sha256(model.encode()).hexdigest()[:8]}-{outtype}.gguf"


def convert(model: str, outtype: str = "q8_0", output: str | Path | None = None, *, force: bool = False) -> Path:
    """Write the GGUF of a student folder (or Hub id) and return its path; an existing file is reused unless
    `force`."""
    if outtype not in OUTTYPES:
        raise ConversionError(f"outtype {outtype!r}: choose one of {', '.join(OUTTYPES)}")
    target = Path(output) if output else default_output(model, outtype)
    if target.is_file() and not force:
        return target
    folder = model_folder(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial")  # a half-written file is never taken for a finished one
    if outtype in CONVERTER_TYPES:
        _run_converter(folder, outtype, staging)
    else:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            f16 = Path(scratch) / "f16.gguf"
            _run_converter(folder, "f16", f16)
            _quantize(f16, staging, outtype)
    staging.replace(target)
    return target


def legacy_hparams(config: dict) -> dict:
    """The config with the keys the converter reads that transformers 5 no longer writes: GPT-2's `n_ctx` (its
    `n_positions`) and `rope_theta` / `rope_scaling` (now inside `rope_parameters`). Without them the converter
    fails on GPT-2 and writes Llama with llama.cpp's default rope base (10,000 instead of SmolLM2's 100,000),
    whose text differs from the first tokens."""
    config = dict(config)
    if config.get("model_type") == "gpt2" and "n_positions" in config:
        config.setdefault("n_ctx", config["n_positions"])
    rope = config.get("rope_parameters") or {}
    if "rope_theta" in rope:
        config.setdefault("rope_theta", rope["rope_theta"])
    if rope.get("rope_type", "default") != "default":
        config.setdefault("rope_scaling", {k: v for k, v in rope.items() if k != "rope_theta"})
    return config


def _run_converter(folder: Path, outtype: str, output: Path) -> None:
    command = [sys.executable, "-m", "miniastrolm.gguf_export", "--run-converter", str(converter_script()),
               str(folder), "--outtype", outtype, "--outfile", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_LOCAL_GGUF": "1"})
    if done.returncode != 0 or not output.is_file():
        output.unlink(missing_ok=True)
        errors = re.findall(r"^ERROR:hf-to-gguf:(.*)$", done.stderr, re.M)
        unsupported = next((e for e in errors if e.endswith("is not supported")), None)
        if unsupported:
            raise ConversionError(f"{folder}: llama.cpp's converter does not support this architecture "
                                  f"({unsupported.strip()}); GPT-2 and Llama (SmolLM2) students convert")
        detail = "; ".join(errors) or (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConversionError(f"{folder}: llama.cpp's converter failed (exit {done.returncode}): {detail}")


def _quantize(source: Path, output: Path, outtype: str) -> None:
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{outtype.upper()}")
    params.nthread = os.cpu_count() or 1
    llama_cpp.llama_backend_init()
    with suppress_stdout_stderr(disable=False):  # it logs every tensor
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(output).encode(), params)
    if failed:
        output.unlink(missing_ok=True)
        raise ConversionError(f"{source}: llama.cpp's quantizer failed to write {outtype}")


def _converter_main(script: str, argv: list[str]) -> None:
    """Run convert_hf_to_gguf.py's main() on `argv`, its configs read through `legacy_hparams`, with
    `mistral_common`'s names set to None (as upstream does when the package is absent): they are read only for
    Mistral-format checkpoints."""
    import runpy
    import types

    stand_ins = {"mistral_common": {}, "mistral_common.tokens": {}, "mistral_common.tokens.tokenizers": {},
                 "mistral_common.tokens.tokenizers.base": {"TokenizerVersion": None},
                 "mistral_common.tokens.tokenizers.multimodal": {"DATASET_MEAN": None, "DATASET_STD": None},
                 "mistral_common.tokens.tokenizers.tekken": {"Tekkenizer": None},
                 "mistral_common.tokens.tokenizers.sentencepiece": {"SentencePieceTokenizer": None}}
    if importlib.util.find_spec("mistral_common") is None:
        for name, attributes in stand_ins.items():
            sys.modules[name] = module = types.ModuleType(name)
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
            module.__dict__.update(attributes)
    converter = runpy.run_path(script, run_name="convert_hf_to_gguf")  # defines everything, runs nothing
    base = converter["ModelBase"]
    load_hparams = base.load_hparams
    base.load_hparams = staticmethod(lambda *args: legacy_hparams(load_hparams(*args)))
    sys.argv = [script, *argv]
    converter["main"]()


if __name__ == "__main__" and sys.argv[1:2] == ["--run-converter"]:
    _converter_main(sys.argv[2], sys.argv[3:])
