"""Faithfulness, astronomy-aware: what an explanation states as fact must be traceable to the abstract.

- numbers: every quantity in the explanation has the same value in the abstract (after unit scaling, so
  '2 Gyr' -> 'two billion years' passes), and where both give a unit, the same unit ('1000 km/s' -> '1000
  light years' fails as a swapped unit);
- designations: catalogue objects (NGC/IC/M, SN, GRB, GW, FRB, AT, J-coordinates, exoplanets) named in the
  explanation appear in the abstract;
- missions and instruments (JWST, ALMA, Gaia, ...) named in the explanation appear in the abstract;
- no hype the abstract does not use ("groundbreaking", "proves", "game-changer"): readers rate it an overstated
  finding.
Both texts are compared as plain text (TeX rendered), so `$10^{12}\\,M_\\odot$` and '10^12 M_⊙' agree.
"""

from __future__ import annotations

import re

from ..text import plain_text
from . import Verdict
from .numbers import quantities

_DESIGNATION = re.compile(
    r"\b(?:NGC|IC|UGC|PGC|Messier|M)\s?\d{1,5}[A-Za-z]?\b"
    r"|\b(?:SN|AT)\s?\d{4}[a-z]{1,3}\b"
    r"|\bGRB\s?\d{6}[A-Z]?\b|\bGW\s?\d{6}(?:_\d{6})?\b|\bFRB\s?\d{6,8}[A-Z]?\b"
    r"|\b(?:PSR\s?)?[JB]\d{4}(?:\.\d+)?[+\-−]\d{2,4}(?:\.\d+)?\b"
    r"|\b(?:Kepler|K2|TOI|TRAPPIST|WASP|HAT-P|HD|GJ|LHS|KELT|XO|CoRoT|Gliese|Proxima|LTT|TIC)[- ]?\d+"
    r"(?:\s?[A-Za-z](?![a-z]))?",
)
# Canonical mission/instrument name -> spellings (matched case-insensitively as whole words).
INSTRUMENTS = {
    "JWST": ("JWST", "James Webb", "Webb"), "HST": ("HST", "Hubble Space Telescope", "Hubble telescope"),
    "ALMA": ("ALMA", "Atacama Large Millimeter"), "Gaia": ("Gaia",), "Chandra": ("Chandra",),
    "XMM-Newton": ("XMM-Newton", "XMM"), "Fermi": ("Fermi",), "TESS": ("TESS",), "Kepler": ("Kepler",),
    "Spitzer": ("Spitzer",), "Herschel": ("Herschel",), "Euclid": ("Euclid",), "Planck": ("Planck",),
    "WMAP": ("WMAP",), "Rubin": ("Rubin", "LSST"), "VLT": ("VLT", "Very Large Telescope"), "Keck": ("Keck",),
    "Subaru": ("Subaru",), "Gemini": ("Gemini",), "SDSS": ("SDSS", "Sloan"), "DESI": ("DESI",),
    "LIGO": ("LIGO",), "Virgo detector": ("Virgo interferometer", "LIGO-Virgo", "LVK"), "KAGRA": ("KAGRA",),
    "IceCube": ("IceCube",), "SKA": ("SKA", "Square Kilometre Array"), "LOFAR": ("LOFAR",),
    "MeerKAT": ("MeerKAT",), "ASKAP": ("ASKAP",), "CHIME": ("CHIME",), "FAST": ("FAST telescope",),
    "VLA": ("VLA", "Very Large Array"), "eROSITA": ("eROSITA",), "Swift": ("Swift",), "NuSTAR": ("NuSTAR",),
    "WISE": ("WISE", "NEOWISE"), "2MASS": ("2MASS",), "Pan-STARRS": ("Pan-STARRS",), "ZTF": ("ZTF",
    "Zwicky Transient Facility"), "Event Horizon Telescope": ("EHT", "Event Horizon Telescope"),
    "NIRSpec": ("NIRSpec",), "NIRCam": ("NIRCam",), "MIRI": ("MIRI",), "MUSE": ("MUSE",), "Roman": ("Roman",),
    "Arecibo": ("Arecibo",), "GALEX": ("GALEX",), "Hipparcos": ("Hipparcos",), "CHEOPS": ("CHEOPS",),
    "PLATO": ("PLATO",), "LISA": ("LISA",), "JCMT": ("JCMT",), "NOEMA": ("NOEMA",), "APOGEE": ("APOGEE",),
}
_INSTRUMENT = {canonical: re.compile(r"\b(?:" + "|".join(re.escape(s) for s in spellings) + r")\b",
                                     re.IGNORECASE if canonical not in {"FAST", "Swift", "Roman", "MUSE"} else 0)
               for canonical, spellings in INSTRUMENTS.items()}


def _squash(text: str) -> str:
    return re.sub(r"[\s\-−]", "", text).upper()


def designations(text: str) -> set[str]:
    return {_squash(match[0]) for match in _DESIGNATION.finditer(text)}


def instruments(text: str) -> set[str]:
    return {canonical for canonical, pattern in _INSTRUMENT.items() if pattern.search(text)}


def number_problems(source: str, text: str) -> tuple[int, list[str]]:
    """(quantities in `text`, the problems among them): each must match a quantity of `source` in value after
    unit scaling, and in unit where both give one. Both texts are plain (no TeX)."""
    source_quantities = quantities(_DESIGNATION.sub(" ", source))  # 'NGC 4993' names an object, not a number
    found = quantities(_DESIGNATION.sub(" ", text))
    problems = []
    for quantity in found:
        same_value = [q for q in source_quantities if q.same_value(quantity)]
        if not same_value:
            problems.append(f"invented_number: {quantity.text}" + (f" {quantity.unit}" if quantity.unit else ""))
        elif quantity.unit and all(q.unit and q.unit != quantity.unit for q in same_value):
            problems.append(f"swapped_unit: {quantity.text} is {same_value[0].unit} in the abstract, "
                            f"{quantity.unit} here")
    return len(found), problems


# Hype a small teacher adds to sound exciting; readers rate it an overstated finding unless the abstract says so.
_HYPE = re.compile(r"\b(?:game[- ]changer|groundbreaking|ground-breaking|revolutionar(?:y|ise|ize)|breakthrough|"
                   r"paradigm shift|never (?:thought|seen|been) (?:possible|before)|changes? everything|"
                   r"challenges? our understanding|rewrites? (?:the|our)|proves?|proven|proved)\b", re.IGNORECASE)


def check_faithfulness(abstract: str, explanation: str, title: str = "") -> Verdict:
    """Score = share of the explanation's checkable facts (quantities, names) traceable to the abstract (or the
    title: its facts count too)."""
    source, text = plain_text(f"{title}\n{abstract}" if title else abstract), plain_text(explanation)
    checked, reasons = number_problems(source, text)
    source_names, names = designations(source), designations(text)
    checked += len(names)
    reasons += [f"invented_object: {name}" for name in sorted(names - source_names)]
    source_instruments, named = instruments(source), instruments(text)
    checked += len(named)
    reasons += [f"invented_instrument: {name}" for name in sorted(named - source_instruments)]
    hype = {match[0].lower() for match in _HYPE.finditer(text)} - {m[0].lower() for m in _HYPE.finditer(source)}
    checked += len(hype)
    reasons += [f"overstated: {word!r} (the abstract does not say so)" for word in sorted(hype)]
    score = 1.0 - len(reasons) / checked if checked else 1.0
    return Verdict("faithfulness", not reasons, round(score, 4), tuple(reasons))
