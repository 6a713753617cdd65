"""astro_readability as a Hugging Face metric Space: this folder's module behind a Gradio page (`miniastrolm
metric-space` stages it with the miniastrolm package it imports)."""
from pathlib import Path

import evaluate

from miniastrolm.metric_space import widget

HERE = Path(__file__).parent
demo = widget(evaluate.load(str(HERE / "astro_readability.py")), HERE / "README.md")

if __name__ == "__main__":
    demo.launch()
