"""The web demo as a Hugging Face Space: a Gradio app over `ExplainPipeline`, and the folder a Space runs.

`build_demo` streams the explanation in, then lists every check with its verdict; bad input is shown as a
Gradio error message, never a stack trace. `write_space` lays out a Space repo (README.md with the Space
metadata, app.py, requirements.txt, this package, and the student when it is a local folder) so that
`python app.py` runs it here and `miniastrolm space --push-to-hub` deploys it.
"""

from __future__ import annotations

import configparser
import shutil
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from .explain import INTRO, ExplainPipeline, InputError, verdict_dicts

APP = '''"""MiniAstroLM on a Hugging Face Space (written by `miniastrolm space`): the student explains abstracts."""
import os

from miniastrolm.explain import ExplainPipeline
from miniastrolm.space import build_demo

demo = build_demo(ExplainPipeline(os.environ.get("MINIASTROLM_MODEL", {model!r})))

if __name__ == "__main__":
    demo.launch()  # on a Space, GRADIO_SERVER_NAME/PORT come from the environment
'''

CARD = """---
title: MiniAstroLM
emoji: 🔭
colorFrom: indigo
colorTo: gray
sdk: gradio
sdk_version: {gradio}
app_file: app.py
license: apache-2.0
{models}---

# MiniAstroLM

{intro}

Student: `{model}`. Written by `miniastrolm space`; the same folder runs locally with `python app.py`.
"""


def checks_markdown(verdicts: list[dict]) -> str:
    return "\n".join(f"- {'PASS' if v['passed'] else 'FAIL'} **{v['validator']}**"
                     + (f": {'; '.join(v['reasons'])}" if v["reasons"] else "") for v in verdicts)


def explain_stream(explainer: ExplainPipeline, abstract: str, arxiv_id: str) -> Iterator[tuple[str, str]]:
    """(explanation so far, checks) as the student writes; the checks once it is done."""
    import gradio as gr

    try:
        if arxiv_id and arxiv_id.strip():
            abstract = explainer.paper(arxiv_id).abstract
        text = ""
        for piece in explainer.stream(abstract):
            text += piece
            yield text, "*checking when the explanation is complete...*"
    except (InputError, RuntimeError) as error:
        raise gr.Error(str(error)) from None
    yield text.strip(), checks_markdown(verdict_dicts(explainer.verdicts(abstract, text.strip())))


def build_demo(explainer: ExplainPipeline):
    import gradio as gr

    with gr.Blocks(title="MiniAstroLM") as demo:
        gr.Markdown(f"# MiniAstroLM\n\n{INTRO}")
        abstract = gr.Textbox(label="Abstract", lines=8, elem_id="abstract",
                              placeholder="We report the discovery of ...")
        arxiv_id = gr.Textbox(label="or arXiv id", elem_id="arxiv_id", placeholder="2401.01234")
        button = gr.Button("Explain", variant="primary", elem_id="explain")
        gr.Markdown("## Explanation")
        explanation = gr.Markdown(elem_id="explanation")
        gr.Markdown("## Checks")
        checks = gr.Markdown(elem_id="checks")

        def explain(text: str, paper: str) -> Iterator[tuple[str, str]]:  # a generator function: Gradio streams it
            yield from explain_stream(explainer, text, paper)

        button.click(explain, [abstract, arxiv_id], [explanation, checks], api_name="explain")
    return demo


def copy_package(output: Path) -> None:
    """This package into a Space folder, where app.py imports it (it is not on PyPI)."""
    package = Path(__file__).parent
    shutil.copytree(package, output / package.name, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def space_requirements() -> list[str]:
    """What a Space running this package installs: the package's own requirements, and the Gradio in use here
    (also the card's sdk_version). Read from the checkout's setup.cfg when there is one: an editable install's
    metadata keeps the requirements of the day it was installed."""
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg", encoding="utf-8")
    if setup.get("metadata", "name", fallback=None) == "miniastrolm":
        listed = [line.strip() for line in setup.get("options", "install_requires").splitlines() if line.strip()]
    else:
        listed = [r for r in metadata.requires("miniastrolm") or [] if "extra ==" not in r]
    return listed + [f"gradio=={metadata.version('gradio')}"]


def write_space(model: str, output: Path) -> Path:
    """The Space repo folder: metadata card, app.py, requirements (this package's own, plus gradio), a copy of
    this package, and the student itself when `model` is a local folder (else app.py loads the Hub id)."""
    output.mkdir(parents=True, exist_ok=True)
    copy_package(output)
    local = Path(model).is_dir()
    if local:
        shutil.copytree(model, output / "student", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("checkpoint-*", "runs", "*.pt", "*.pth"))
    served = "student" if local else model
    (output / "app.py").write_text(APP.format(model=served), "utf-8")
    (output / "requirements.txt").write_text("\n".join(space_requirements()) + "\n", "utf-8")
    models = "" if local else f"models:\n- {model}\n"
    (output / "README.md").write_text(
        CARD.format(gradio=metadata.version("gradio"), models=models, intro=INTRO, model=served), "utf-8")
    return output
