"""Greedy generation of several prompts in one transformers `generate` call, each row with its own stop.

The server batches concurrent requests (serving/batcher.py); each request still has its own deadline, token
limit and client. `stopped(row)` is asked after every step and a row it stops gets no more tokens (generate
pads it from then on, and the call returns once every row is done), so a request the server gave up on
does not keep growing inside a batch. Tokens reach `on_token(row, token_id)` as they are generated.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers.generation import BaseStreamer, StoppingCriteria, StoppingCriteriaList


class _Rows(BaseStreamer, StoppingCriteria):
    """Both generate hooks in one: new tokens go to `on_token` (streamer), per-row stops back to generate."""

    def __init__(self, rows: int, eos: set[int], stopped: Callable[[int], bool], on_token: Callable[[int, int], None]):
        self.eos, self.stopped, self.on_token = eos, stopped, on_token
        self.done = [False] * rows
        self.ended = [False] * rows  # the row wrote its end-of-sequence token
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate hands the streamer the prompt first
            self.prompt_seen = True
            return
        for row, token in enumerate(value.tolist()):
            if self.done[row]:
                continue
            if token in self.eos:
                self.done[row] = self.ended[row] = True
            else:
                self.on_token(row, token)

    def end(self) -> None:
        pass

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        for row in range(len(self.done)):
            self.done[row] = self.done[row] or self.stopped(row)
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


def generate_rows(model, prompts: list[list[int]], max_new_tokens: int, stopped: Callable[[int], bool],
                  on_token: Callable[[int, int], None]) -> list[bool]:
    """Greedy continuations of token-id `prompts` (left-padded into one batch); returns, per row, whether it
    ended with its end-of-sequence token (False: `max_new_tokens` or `stopped` ended it)."""
    config = model.generation_config
    eos = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    pad = config.pad_token_id if config.pad_token_id is not None else eos[0]
    width = max(map(len, prompts))
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    rows = _Rows(len(prompts), set(eos), stopped, on_token)
    with torch.inference_mode():
        model.generate(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device),
                       max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad, streamer=rows,
                       stopping_criteria=StoppingCriteriaList([rows]))
    return rows.ended
