"""A fixed prompt-completion dataset in the export's format, written for the tests (invented papers): short
enough that a tiny GPT-2 learns it, including where each explanation ends, in a few dozen steps."""

from pathlib import Path

from datasets import Dataset

from miniastrolm.student_format import example

PAIRS = [
    ("We find a cold gas stream feeding a dwarf galaxy.", "A dwarf galaxy is being fed by a stream of cold gas."),
    ("We time twelve pulsars with a small dish.", "A small radio dish can keep time with twelve spinning stars."),
    ("Dark lanes in young discs widen with stellar mass.", "Heavier young stars have wider dark rings around them."),
    ("A drone maps the beam of a radio array.", "A flying drone helps measure what a radio telescope sees."),
    ("A red dwarf shows many flares in eighty days.", "A small red star flared again and again in a few months."),
    ("We detect water ice on a distant comet.", "Frozen water was found on a comet far from the Sun."),
    ("A survey counts faint galaxies near a quasar.", "Many faint galaxies crowd around a very bright galaxy core."),
    ("We measure the spin of a black hole.", "The team worked out how fast a black hole turns."),
]
HELD_OUT = [
    ("We map dust in a nearby spiral galaxy.", "Dust in a nearby spiral galaxy was mapped in detail."),
    ("A binary star shows a slow orbit change.", "Two stars circling each other are slowly changing their dance."),
]


def records(pairs):
    return [{**example(abstract, explanation),
             "arxiv_id": f"2611.8{i:04d}", "teacher_model": "fixture-teacher", "prompt_version": "explain@fixture"}
            for i, (abstract, explanation) in enumerate(pairs)]


def write_student_dataset(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_list(records(PAIRS)).to_parquet(folder / "data" / "train-00000-of-00001.parquet")
    Dataset.from_list(records(HELD_OUT)).to_parquet(folder / "data" / "validation-00000-of-00001.parquet")
    return folder
