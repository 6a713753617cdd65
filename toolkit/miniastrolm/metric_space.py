"""The project's `evaluate` modules (metrics/) as Hugging Face metric Spaces.

Each metric folder has the layout `evaluate-cli create` makes: the module script named after the folder, a
metric card (README.md whose front matter carries the Space settings), app.py and requirements.txt. app.py
builds `widget` here rather than calling `evaluate.utils.launch_gradio_widget`, which uses `gr.inputs`, gone
since Gradio 4. The modules import this package, which is not on PyPI, so `write_metric_space` stages the
folder with a copy of the package beside app.py, as `miniastrolm space` does for the demo.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from .space import copy_package, space_requirements

SPACE_FILES = ("app.py", "README.md", "requirements.txt")  # beside the module script `<folder name>.py`


def widget(module, card: Path):
    """A Gradio page for `module`: a table with one column per input feature and a row per item, a per-item
    switch, the result as JSON, and the metric card below."""
    import gradio as gr
    from evaluate.utils import parse_readme

    features = module.features[0] if isinstance(module.features, list) else module.features
    names = list(features)

    def compute(table: list[list], per_item: bool) -> dict:
        rows = [[str(cell).strip() for cell in row] for row in table if any(str(cell).strip() for cell in row)]
        if not rows or any(not all(row) for row in rows):
            raise gr.Error(f"fill in every column ({', '.join(names)}) of each row you use")
        return module.compute(**{name: [row[i] for row in rows] for i, name in enumerate(names)}, per_item=per_item)

    return gr.Interface(
        compute, title=f"Metric: {module.name}", description=module.description, article=parse_readme(card),
        inputs=[gr.Dataframe(headers=names, datatype=["str"] * len(names), type="array", row_count=2,
                             column_count=len(names), label="one item per row"),
                gr.Checkbox(label="each item's values (per_item) instead of the mean")],
        outputs=gr.JSON(label=module.name), flagging_mode="never")


def refresh(folder: Path) -> None:
    """Bring a metric folder's requirements.txt and card sdk_version up to this checkout's requirements and Gradio
    (staging does it to the staged copy, so a pushed Space never lags setup.cfg)."""
    (folder / "requirements.txt").write_text("\n".join(space_requirements()) + "\n", encoding="utf-8")
    card = folder / "README.md"
    card.write_text(re.sub(r"(?m)^sdk_version: .*$", f"sdk_version: {metadata.version('gradio')}",
                           card.read_text(encoding="utf-8"), count=1), encoding="utf-8")


def write_metric_space(folder: Path, output: Path) -> Path:
    """The Space repo for the metric in `folder`: its module script, card, app.py and requirements.txt (brought up
    to date), and a copy of this package. A folder missing one of them is an error naming it."""
    script = folder / f"{folder.name}.py"
    missing = [path.name for path in (script, *(folder / name for name in SPACE_FILES)) if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a metric Space folder: {', '.join(missing)} missing")
    output.mkdir(parents=True, exist_ok=True)
    for path in (script, *(folder / name for name in SPACE_FILES)):
        shutil.copyfile(path, output / path.name)
    refresh(output)
    copy_package(output)
    return output
