"""Teacher prompts: Jinja templates in `prompts/<name>/`, versioned by the hash of their content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import jinja2
import orjson

from .store import Paper
from .text import plain_text

PROJECT_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def find_prompt_dir(name_or_path: str) -> Path:
    """A folder path as given, else `prompts/<name>` in the working directory, else in this checkout."""
    for candidate in (Path(name_or_path), Path("prompts") / name_or_path, PROJECT_PROMPTS / name_or_path):
        if (candidate / "user.jinja").is_file():
            return candidate
    raise FileNotFoundError(f"prompt {name_or_path!r}: no folder with a user.jinja (looked in ./prompts and "
                            f"{PROJECT_PROMPTS})")


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: jinja2.Template | None
    user: jinja2.Template
    fewshot: tuple[dict, ...]

    @classmethod
    def load(cls, name_or_path: str) -> Prompt:
        folder = find_prompt_dir(name_or_path)
        files = sorted(path for path in folder.iterdir() if path.is_file())
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
        system_file, fewshot_file = folder / "system.jinja", folder / "fewshot.jsonl"
        return cls(
            name=folder.name,
            version=f"{folder.name}@{digest.hexdigest()[:12]}",
            system=env.from_string(system_file.read_text(encoding="utf-8")) if system_file.is_file() else None,
            user=env.from_string((folder / "user.jinja").read_text(encoding="utf-8")),
            fewshot=tuple(orjson.loads(line) for line in fewshot_file.read_bytes().splitlines() if line.strip())
            if fewshot_file.is_file() else (),
        )

    def _user_turn(self, **variables: str) -> str:
        return self.user.render(**{name: plain_text(value) if name in ("title", "abstract") else value
                                   for name, value in variables.items()}).strip()

    def messages(self, paper: Paper, **extra: str) -> list[dict[str, str]]:
        """The chat the teacher sees for one paper: system, few-shot turns, then the paper. A few-shot line's
        fields other than `explanation` are its template variables; `extra` adds variables for this call (a
        procedure's step, e.g. the `sentence` to rewrite)."""
        chat = [{"role": "system", "content": self.system.render().strip()}] if self.system else []
        for example in self.fewshot:
            chat.append({"role": "user", "content": self._user_turn(
                **{name: value for name, value in example.items() if name != "explanation"})})
            chat.append({"role": "assistant", "content": example["explanation"].strip()})
        chat.append({"role": "user", "content": self._user_turn(
            title=paper.title, abstract=paper.abstract, categories=paper.categories, arxiv_id=paper.arxiv_id,
            **extra)})
        return chat
