"""The student's contract, the published model's public interface: what it is given and what it answers.

The prompt is the bare abstract as the one user turn (`messages`); the answer is the explanation as the
assistant turn (`example` writes both, the exported dataset's row). Bases without a chat template get
`TEMPLATE`, saved with the tokenizer. An abstract too long for the context is shortened inside the prompt,
never the explanation (`fit_to_length`). Change the format here: export, training, evaluation, explain, the
CTranslate2 engine and the model card's usage snippet all build it from these functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .prompts import PROJECT_PROMPTS

TEMPLATE = PROJECT_PROMPTS / "student" / "chat_template.jinja"
_PLACEHOLDER = "\0abstract\0"


def messages(abstract: str) -> list[dict]:
    """The chat the student is given: the abstract as the user turn, nothing else."""
    return [{"role": "user", "content": abstract}]


def example(abstract: str, explanation: str) -> dict:
    """A prompt-completion training example (TRL's conversational format)."""
    return {"prompt": messages(abstract), "completion": [{"role": "assistant", "content": explanation}]}


def abstract_of(prompt: list[dict]) -> str:
    """The abstract in a prompt written by `messages` (its last turn)."""
    return prompt[-1]["content"]


def explanation_of(completion: list[dict]) -> str:
    """The explanation in a completion written by `example`."""
    return completion[0]["content"]


def messages_code(variable: str = "abstract") -> str:
    """`messages` as Python source with the abstract in `variable`: the model card's usage snippet."""
    return json.dumps(messages(_PLACEHOLDER)).replace(json.dumps(_PLACEHOLDER), variable)


def prompt_ids(tokenizer, abstract: str, **kwargs):
    """The prompt rendered by the tokenizer's chat template, ready for the assistant's turn."""
    return tokenizer.apply_chat_template(messages(abstract), add_generation_prompt=True, **kwargs)


def set_chat_template(tokenizer, chat_template: str) -> None:
    """auto: keep the base's own chat template, else `TEMPLATE`; otherwise the template file at that path."""
    if chat_template != "auto":
        tokenizer.chat_template = Path(chat_template).read_text(encoding="utf-8")
    elif not tokenizer.chat_template:
        tokenizer.chat_template = TEMPLATE.read_text(encoding="utf-8")


@dataclass
class FitCounts:
    shortened: int = 0
    dropped: int = 0


def fit_to_length(dataset, tokenizer, max_length: int | None, counts: FitCounts):
    """Shorten the abstract (the prompt) so prompt + explanation fit `max_length`; drop an example only when
    the explanation alone leaves no room for a useful prompt. Never cut the explanation."""
    if not max_length:
        return dataset

    def length(chat) -> int:
        return len(tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"])

    def fit(row):
        abstract = abstract_of(row["prompt"])
        overflow = length(row["prompt"] + row["completion"]) - max_length
        if overflow <= 0:
            return {**row, "keep": True}
        ids = tokenizer(abstract, add_special_tokens=False)["input_ids"]
        keep = len(ids) - overflow - 8  # margin: BPE may merge differently at the new end
        if keep < 64:
            counts.dropped += 1
            return {**row, "keep": False}
        counts.shortened += 1
        prompt = [*row["prompt"][:-1], *messages(tokenizer.decode(ids[:keep]).rstrip() + " ...")]
        return {**row, "prompt": prompt, "keep": True}

    return dataset.map(fit).filter(lambda row: row["keep"]).remove_columns("keep")
