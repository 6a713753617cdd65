"""The OpenAI chat-completions shape, so existing clients (the `openai` SDK, `huggingface_hub.InferenceClient`)
talk to the student unchanged: the last user message is the abstract, the assistant's reply is the
explanation, `usage` counts tokens, and the validators' verdicts ride along in an extra `checks` field.

The student has one job and one prompt: other turns are not part of its prompt, and it decodes greedily, so
sampling fields (temperature, top_p, ...) are refused with a 422 naming the field rather than ignored.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..explain import Explanation
from .batcher import Generated

FINISH = {"stop": "stop", "length": "length", "timeout": "length", "cancelled": "stop"}  # OpenAI's vocabulary


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields this endpoint honours; any other field is a 422 that names it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"messages": [{"role": "user", "content": "We report the discovery of a faint dwarf galaxy ..."}]}]})
    model: str | None = Field(None, description="accepted and echoed; the server has one student")
    messages: list[ChatMessage] = Field(min_length=1, description="the last user message is the abstract")
    stream: bool = Field(False, description="server-sent events, one chunk per piece of text")
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, description="cut the explanation after this many tokens")
    max_completion_tokens: int | None = Field(None, ge=1, description="the newer name of max_tokens")
    n: Literal[1] = Field(1, description="one explanation per request")

    @model_validator(mode="after")
    def _has_abstract(self) -> ChatRequest:
        if not any(m.role == "user" for m in self.messages):
            raise ValueError("no user message: send the abstract as the user's message")
        return self

    def abstract(self) -> str:
        return [m for m in self.messages if m.role == "user"][-1].text()

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Checks(BaseModel):
    """The validators' verdicts on the explanation (the extra field; OpenAI clients keep unknown fields)."""

    passed: bool
    verdicts: list[dict]
    problems: list[str]
    timed_out: bool = False


class Message(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: Message
    finish_reason: str
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    checks: Checks


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class ChatError(BaseModel):
    """Every 4xx/5xx of /v1/: OpenAI's error object, which its clients turn into their exceptions."""

    error: ErrorDetail


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(done: Generated) -> Usage:
    return Usage(prompt_tokens=done.prompt_tokens, completion_tokens=done.new_tokens,
                 total_tokens=done.prompt_tokens + done.new_tokens)


def checks(result: Explanation, done: Generated) -> Checks:
    return Checks(passed=result.passed, verdicts=result.verdicts, problems=result.problems,
                  timed_out=done.finish == "timeout")


def completion(model: str, result: Explanation, done: Generated) -> ChatCompletion:
    return ChatCompletion(id=completion_id(), created=int(time.time()), model=model, usage=usage(done),
                          choices=[Choice(message=Message(content=result.explanation),
                                          finish_reason=FINISH[done.finish])],
                          checks=checks(result, done))


def chunk(chat_id: str, model: str, delta: dict, finish_reason: str | None = None, **extra) -> dict:
    """One server-sent event of a streamed completion (`chat.completion.chunk`)."""
    return {"id": chat_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra}
