"""The project's `evaluate` modules (metrics/): each loads offline from its folder, carries its metric card, and
gives hand-computed values on fixed inputs; `miniastrolm eval` computes through the same modules."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

METRICS = Path(__file__).parents[1] / "metrics"
NAMES = ("astro_readability", "astro_faithfulness", "astro_degeneration", "minilm_similarity")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """The Hub is unreachable here; a module that tried to fetch anything would fail at once."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def load(name: str):
    import evaluate

    return evaluate.load(str(METRICS / name), keep_in_memory=True)


@pytest.mark.parametrize("name", NAMES)
def test_each_module_loads_from_its_folder_with_its_metric_card(name):
    module = load(name)
    assert module.name == name and module.description.strip()
    card = (METRICS / name / "README.md").read_text(encoding="utf-8")
    assert card.startswith(f"---\ntitle: {name}\n") and "- evaluate\n- metric\n" in card
    for section in ("## Metric Description", "## How to Use", "### Inputs", "### Output Values",
                    "## Limitations and Bias", "## Citation"):
        assert section in card


def test_readability_equals_the_formulas_by_hand():
    # "The cat sat on the mat.": 1 sentence, 6 words, 6 syllables, 17 letters, no difficult word.
    # "Astronomers measured the luminosity of distant galaxies.": 1 sentence, 7 words, 4+2+1+5+1+2+3 = 18
    # syllables, 11+8+3+10+2+7+8 = 49 letters, 5 difficult words (all but "the" and "of"; textstat counts the
    # inflected "measured" as difficult), so Dale-Chall adds 3.6365 (over 5 % difficult).
    fkgl = [0.39 * 6 + 11.8 * 6 / 6 - 15.59, 0.39 * 7 + 11.8 * 18 / 7 - 15.59]
    dale_chall = [0.0496 * 6, 0.1579 * (5 / 7 * 100) + 0.0496 * 7 + 3.6365]
    coleman_liau = [0.058 * (17 / 6 * 100) - 0.296 * (1 / 6 * 100) - 15.8,  # textstat's 0.058, not 0.0588
                    0.058 * (49 / 7 * 100) - 0.296 * (1 / 7 * 100) - 15.8]
    texts = ["The cat sat on the mat.", "Astronomers measured the luminosity of distant galaxies."]
    metric = load("astro_readability")
    per_item = metric.compute(predictions=texts, per_item=True)
    assert per_item["fkgl"] == pytest.approx(fkgl, abs=0.01)
    assert per_item["dale_chall"] == pytest.approx(dale_chall, abs=0.01)
    assert per_item["coleman_liau"] == pytest.approx(coleman_liau, abs=0.01)
    means = metric.compute(predictions=texts)
    assert means == pytest.approx({"fkgl": np.mean(fkgl), "dale_chall": np.mean(dale_chall),
                                   "coleman_liau": np.mean(coleman_liau)}, abs=0.01)


def test_faithfulness_rates_count_the_planted_faults():
    abstract = "Over six months we detected 47 bursts at a redshift of z = 0.19 with CHIME."
    explanations = ["In six months the team saw 47 bursts from a galaxy at redshift 0.19.",  # faithful
                    "In eight months the team saw 52 bursts from a galaxy at redshift 0.19.",  # two invented numbers
                    "The James Webb Space Telescope saw 47 bursts.",  # an instrument the abstract does not name
                    "As an AI language model I cannot help."]  # not an explanation
    metric = load("astro_faithfulness")
    per_item = metric.compute(predictions=explanations, sources=[abstract] * 4, per_item=True)
    assert per_item == {"invented_number_rate": [0.0, 1.0, 0.0, 0.0], "invented_name_rate": [0.0, 0.0, 1.0, 0.0],
                        "on_task_rate": [1.0, 1.0, 1.0, 0.0]}
    assert metric.compute(predictions=explanations, sources=[abstract] * 4) == {
        "invented_number_rate": 0.25, "invented_name_rate": 0.25, "on_task_rate": 0.75}


def test_degeneration_rate_and_distinct_word_pairs_by_hand():
    looping = "The star is old. The star is old. It glows faintly in red light."
    clean = "Astronomers timed twelve pulsars with a small dish for three years."
    # looping: 14 words, 13 word pairs, of which "the star", "star is", "is old" come twice: 10 distinct
    metric = load("astro_degeneration")
    result = metric.compute(predictions=[looping, clean],
                            sources=["We time 12 millisecond pulsars with a 15 m dish over three years."] * 2)
    assert result == {"degenerate_rate": 0.5, "distinct_bigrams": pytest.approx((round(10 / 13, 4) + 1.0) / 2)}


def test_similarity_is_the_cosine_of_the_minilm_embeddings():
    from sentence_transformers import SentenceTransformer

    from miniastrolm.validate.similarity import minilm_folder

    abstract = "We report a thin stream of cold gas falling onto a dwarf galaxy."
    explanations = ["Astronomers found a cold stream of gas feeding a small galaxy.",
                    "A recipe for bread needs flour, water and salt."]
    encoder = SentenceTransformer(str(minilm_folder()), device="cpu")
    left, *right = encoder.encode([abstract, *explanations])
    by_hand = [float(np.dot(left, r) / (np.linalg.norm(left) * np.linalg.norm(r))) for r in right]
    metric = load("minilm_similarity")
    per_item = metric.compute(predictions=explanations, references=[abstract] * 2, per_item=True)["similarity"]
    assert per_item == pytest.approx(by_hand, abs=1e-5) and per_item[0] > 0.55 > per_item[1]
    assert metric.compute(predictions=[abstract], references=[abstract])["similarity"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_each_module_folder_has_what_a_metric_space_needs(name):
    """Staging (`miniastrolm metric-space`) brings requirements.txt and sdk_version up to setup.cfg and the
    installed Gradio; the committed files only have to be a consistent Space."""
    import yaml
    from packaging.requirements import Requirement

    folder = METRICS / name
    settings = yaml.safe_load((folder / "README.md").read_text(encoding="utf-8").split("---")[1])
    assert (settings["sdk"], settings["app_file"], settings["title"]) == ("gradio", "app.py", name)
    assert {"evaluate", "metric"} <= set(settings["tags"]) and settings["description"]
    requirements = {Requirement(line).name: str(Requirement(line).specifier)
                    for line in (folder / "requirements.txt").read_text(encoding="utf-8").splitlines()}
    assert {"evaluate", "datasets", "torch"} <= set(requirements)
    assert requirements["gradio"] == f"=={settings['sdk_version']}"
    assert f'evaluate.load(str(HERE / "{name}.py"))' in (folder / "app.py").read_text(encoding="utf-8")


@pytest.mark.slow  # two fresh interpreters importing torch, evaluate and Gradio: ~45 s on the shared 2 cores
def test_the_app_computes_through_the_module_and_the_staged_space_runs_its_own_package(tmp_path):
    """app.py imported as a Space would, in a staged folder (`miniastrolm metric-space`), with the Hub
    unreachable: the widget's function gives the module's values and reads the package copied beside it."""
    import subprocess
    import sys

    from miniastrolm.metric_space import write_metric_space
    from miniastrolm.space import space_requirements

    staged = tmp_path / "space"
    done = subprocess.run([sys.executable, "-m", "miniastrolm.cli", "metric-space", str(METRICS / "astro_readability"),
                           "--output", str(staged)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in staged.iterdir() if path.is_file()) == [
        "README.md", "app.py", "astro_readability.py", "requirements.txt"]
    assert (staged / "requirements.txt").read_text().splitlines() == space_requirements()  # current, not committed
    probe = ("import json, runpy, miniastrolm; app = runpy.run_path('app.py', run_name='space'); "
             "print(json.dumps([miniastrolm.__file__, app['demo'].fn([['The cat sat on the mat.'], ['', '']], True)]))")
    ran = subprocess.run([sys.executable, "-c", probe], cwd=staged, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert ran.returncode == 0, ran.stderr[-2000:]
    package, values = json.loads(ran.stdout.strip().splitlines()[-1])
    assert Path(package).is_relative_to(staged)
    assert values == {key: [value] for key, value in
                      load("astro_readability").compute(predictions=["The cat sat on the mat."]).items()}
    with pytest.raises(FileNotFoundError, match="is not a metric Space folder: .*app.py"):
        write_metric_space(tmp_path, tmp_path / "x")
