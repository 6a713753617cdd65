"""Student training on the tiny recipe: real SFTTrainer runs on a fixed fixture dataset, then the saved folder is
loaded with plain `pipeline(...)` (no project code), as a user of a published student would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from miniastrolm.hardware import fast_bf16, flags_of
from miniastrolm.hub import RevisionExists, push_folder
from miniastrolm.student_format import FitCounts, fit_to_length
from miniastrolm.train import gpt2_tokenizer, load_base, parse, prepare_tokenizer, train

from student_data import PAIRS, write_student_dataset

ROOT = Path(__file__).parents[1]
TINY = str(ROOT / "recipes" / "student" / "tiny-sft.yaml")


def test_loss_goes_down_and_the_folder_has_what_users_need(tiny_student):
    model_dir, _ = tiny_student
    history = json.loads((model_dir / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert losses[-1] < 0.5 * losses[0]
    assert any("eval_loss" in entry for entry in history)
    assert (model_dir / "model.safetensors").is_file() and not list(model_dir.glob("*.bin"))
    generation = json.loads((model_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == 50256 and generation["pad_token_id"] == 50257
    assert generation["max_new_tokens"] == 64 and generation["no_repeat_ngram_size"] == 4
    resolved = (model_dir / "training_config.yaml").read_text()
    assert "init_from_scratch: true" in resolved and "max_steps: 80" in resolved


def test_plain_pipeline_loads_the_student_and_stops_at_eos(tiny_student):
    from transformers import pipeline

    model_dir, _ = tiny_student
    explain = pipeline("text-generation", model=str(model_dir))
    abstract, explanation = PAIRS[0]
    reply = explain([{"role": "user", "content": abstract}])
    answer = reply[0]["generated_text"][-1]
    assert answer["role"] == "assistant" and answer["content"].strip() == explanation  # learnt the training pair

    tokenizer, model = explain.tokenizer, explain.model
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": abstract}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    output = model.generate(**prompt)[0, prompt["input_ids"].shape[1]:]
    assert output[-1].item() == tokenizer.eos_token_id and len(output) < 64  # stopped by itself


def test_chat_template_renders_the_prompt_the_trainer_saw(tiny_student):
    from transformers import AutoTokenizer

    model_dir, _ = tiny_student
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.pad_token == "<|pad|>" and tokenizer.pad_token != tokenizer.eos_token
    abstract, explanation = PAIRS[1]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": abstract}], add_generation_prompt=True,
                                           tokenize=False)
    full = tokenizer.apply_chat_template([{"role": "user", "content": abstract},
                                          {"role": "assistant", "content": explanation}], tokenize=False)
    assert prompt == f"Abstract: {abstract}\n\nExplanation:"
    assert full == f"{prompt} {explanation}<|endoftext|>"  # the prompt is a prefix; EOS closes the answer


def test_model_card_renders_real_values(tiny_student):
    model_dir, dataset = tiny_student
    card = (model_dir / "README.md").read_text()
    state = json.loads((model_dir / "trainer_state.json").read_text())
    assert card.startswith("---\n") and "pipeline_tag: text-generation" in card
    assert f"after {state['global_step']} steps" in card and "validation loss" in card
    assert str(dataset) in card and "fixture-teacher" in card and "explain@fixture" in card
    assert f'pipeline("text-generation", model="{model_dir}")' in card
    assert 'reply = explain([{"role": "user", "content": abstract}])' in card  # rendered from student_format
    assert "8 training and 2 validation examples" in card and "can state wrong facts" in card


def test_long_abstracts_are_shortened_in_the_prompt_never_the_explanation():
    from datasets import Dataset

    tokenizer = gpt2_tokenizer()
    tokenizer.chat_template = (ROOT / "prompts" / "student" / "chat_template.jinja").read_text()
    explanation = "A plain explanation of the work. " * 10
    rows = [{"prompt": [{"role": "user", "content": "word " * 600}],
             "completion": [{"role": "assistant", "content": explanation}]},
            {"prompt": [{"role": "user", "content": "short abstract"}],
             "completion": [{"role": "assistant", "content": "too long " * 300}]},
            {"prompt": [{"role": "user", "content": "short abstract"}],
             "completion": [{"role": "assistant", "content": explanation}]}]
    counts = FitCounts()
    fitted = fit_to_length(Dataset.from_list(rows), tokenizer, 256, counts)
    assert (counts.shortened, counts.dropped, len(fitted)) == (1, 1, 2)
    assert fitted[0]["completion"][0]["content"] == explanation and fitted[0]["prompt"][0]["content"].endswith("...")
    full = tokenizer.apply_chat_template(fitted[0]["prompt"] + fitted[0]["completion"], tokenize=True,
                                         return_dict=True)["input_ids"]
    assert len(full) <= 256 and fitted[1]["prompt"] == rows[2]["prompt"]


def test_unreachable_hub_base_fails_at_once_naming_the_offline_options(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    script, _, model_args = parse(["--config", TINY, "--init_from_scratch", "false",
                                   "--model_name_or_path", "openai-community/gpt2"])
    with pytest.raises(RuntimeError, match="--init_from_scratch true") as raised:
        load_base(script, model_args)
    assert "smollm2" in str(raised.value) and "local model folder" in str(raised.value)


def test_push_guard_refuses_an_existing_revision(tmp_path, monkeypatch):
    """No Hub is reachable here: the guard is exercised at the huggingface_hub boundary (HfApi)."""
    import huggingface_hub
    from huggingface_hub.hf_api import GitRefInfo, GitRefs

    uploads = []

    class ExistingRepo:
        def __init__(self, token=None):
            pass

        def list_repo_refs(self, repo_id, repo_type):
            main = GitRefInfo(name="main", ref="refs/heads/main", target_commit="0" * 40)
            return GitRefs(branches=[main], converts=[], tags=[])

        def create_repo(self, *args, **kwargs):
            pass

        def upload_folder(self, **kwargs):
            uploads.append(kwargs)
            return huggingface_hub.CommitInfo(commit_url="https://huggingface.co/me/student/commit/1", oid="1" * 40,
                                              commit_message="m", commit_description="")

    monkeypatch.setattr(huggingface_hub, "HfApi", ExistingRepo)
    with pytest.raises(RevisionExists, match="me/student@main already exists"):
        push_folder(tmp_path, "me/student", repo_type="model", private=False, revision=None, token=None,
                    overwrite=False)
    assert uploads == []
    push_folder(tmp_path, "me/student", repo_type="model", private=False, revision=None, token=None, overwrite=True)
    assert len(uploads) == 1


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes_ddp(tmp_path):
    dataset = write_student_dataset(tmp_path / "dataset")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(ROOT / "recipes" / "accelerate_configs" / "cpu.yaml"), "--num_processes", "2",
               "-m", "miniastrolm.train", "--config", TINY, "--dataset_name", str(dataset),
               "--output_dir", str(tmp_path / "student"), "--max_steps", "4", "--eval_steps", "2",
               "--save_steps", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((tmp_path / "student" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert "on 2 process(es)" in done.stdout


def test_same_recipe_twice_gives_byte_identical_weights(tmp_path):
    """Reproducibility: the same data, recipe and seed give the same model.safetensors, byte for byte, and the
    model card records its sha256."""
    from miniastrolm.cards import sha256_of
    from miniastrolm.train import train

    dataset = write_student_dataset(tmp_path / "dataset")
    recipe = Path(__file__).parents[1] / "recipes" / "student" / "tiny-sft.yaml"
    digests = []
    for run in ("a", "b"):
        folder = tmp_path / run
        train(*parse(["--config", str(recipe), "--dataset_name", str(dataset), "--output_dir", str(folder),
                      "--max_steps", "6", "--eval_strategy", "no", "--save_strategy", "no",
                      "--load_best_model_at_end", "false", "--full_determinism", "true"]))
        digests.append(sha256_of(folder / "model.safetensors"))
        assert digests[-1] in (folder / "README.md").read_text()
    assert digests[0] == digests[1]


def test_lora_student_is_merged_into_a_plain_transformers_folder(tmp_path):
    """TRL's `use_peft` switch trains only the adapter (every other weight stays as initialised); the saved
    folder holds merged weights and no adapter, and plain `pipeline(...)` generates from it."""
    import torch
    from safetensors.torch import load_file
    from transformers import pipeline, set_seed

    dataset = write_student_dataset(tmp_path / "dataset")
    script, sft, model_args = parse(["--config", TINY, "--dataset_name", str(dataset),
                                     "--output_dir", str(tmp_path / "student"), "--max_steps", "12",
                                     "--eval_strategy", "no", "--save_strategy", "no",
                                     "--load_best_model_at_end", "false", "--use_peft", "true", "--lora_r", "8",
                                     "--lora_alpha", "16", "--lora_dropout", "0", "--learning_rate", "1e-2",
                                     "--lora_target_modules", "c_attn", "c_fc"])
    folder = train(script, sft, model_args)
    assert not (folder / "adapter_config.json").exists() and not (folder / "adapter_model.safetensors").exists()

    set_seed(sft.seed)  # the base exactly as train() built it
    tokenizer, base, _ = load_base(script, model_args)
    prepare_tokenizer(tokenizer, base, script.chat_template)
    initial = {name: tensor.detach() for name, tensor in base.state_dict().items()}
    saved = load_file(folder / "model.safetensors")
    assert not any("lora" in name for name in saved)
    adapted = [name for name in saved if name.endswith(("attn.c_attn.weight", "mlp.c_fc.weight"))]
    assert len(adapted) == 4 and all(not torch.equal(saved[name], initial[name]) for name in adapted)
    assert all(torch.equal(tensor, initial[name]) for name, tensor in saved.items() if name not in adapted)
    history = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert losses[-1] < losses[0]
    assert "LoRA r=8, alpha=16" in (folder / "README.md").read_text()

    explain = pipeline("text-generation", model=str(folder))
    assert type(explain.model).__name__ == "GPT2LMHeadModel"
    reply = explain([{"role": "user", "content": PAIRS[0][0]}], max_new_tokens=8)
    assert reply[0]["generated_text"][-1]["role"] == "assistant"


@pytest.mark.parametrize(("flags", "fast"), [
    ("fpu sse2 avx avx2 fma avx512f avx512bw avx512_bf16 avx512_vnni", False),  # AMD EPYC Zen 4: no AMX
    ("fpu sse2 avx avx2 fma", False),  # AVX2 only: bf16 emulated
    ("fpu sse2 avx2 avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8", True),  # Sapphire Rapids
])
def test_bf16_counts_as_fast_only_with_amx(flags, fast):
    cpuinfo = f"processor\t: 0\nmodel name\t: some CPU\nflags\t\t: {flags}\nbugs\t\t: none\n"
    assert fast_bf16(flags_of(cpuinfo)) is fast
