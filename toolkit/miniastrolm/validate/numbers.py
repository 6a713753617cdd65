"""Numbers as a reader meets them -- digits, words, scientific notation, TeX powers, ranges, percentages --
each with the unit that follows it, normalised so '2 Gyr' and '2 billion years' are the same quantity."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

WORD_VALUES = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1e3, "dozen": 12,
}  # "one" is left out: "one of the", "no one" are not quantities
SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}

# Unit spellings -> (canonical unit, factor). Prefixed units fold into their base so conversions by powers of
# ten (Gyr -> billion years, kpc -> thousand parsecs) still match; conversions between systems do not.
UNITS: dict[str, tuple[str, float]] = {}
for names, canonical, factor in [
    (("gyr", "gyrs", "ga"), "year", 1e9), (("myr", "myrs", "ma"), "year", 1e6), (("kyr", "kyrs"), "year", 1e3),
    (("yr", "yrs", "year", "years"), "year", 1.0),
    (("day", "days", "d"), "day", 1.0), (("hour", "hours", "hr", "hrs", "h"), "hour", 1.0),
    (("minute", "minutes", "min"), "minute", 1.0), (("second", "seconds", "s"), "second", 1.0),
    (("ms", "millisecond", "milliseconds"), "second", 1e-3), (("ns", "nanosecond", "nanoseconds"), "second", 1e-9),
    (("mpc", "megaparsec", "megaparsecs"), "pc", 1e6), (("kpc", "kiloparsec", "kiloparsecs"), "pc", 1e3),
    (("pc", "parsec", "parsecs"), "pc", 1.0),
    (("ly", "light-year", "light-years", "light year", "light years", "lightyear", "lightyears"), "lightyear", 1.0),
    (("au",), "au", 1.0), (("km/s", "km s^-1", "km s-1", "kms"), "km/s", 1.0),
    (("km",), "m", 1e3), (("m", "metre", "metres", "meter", "meters"), "m", 1.0), (("cm",), "m", 1e-2),
    (("mm",), "m", 1e-3), (("μm", "um", "micron", "microns", "micrometre", "micrometres"), "m", 1e-6),
    (("nm", "nanometre", "nanometres", "nanometer", "nanometers"), "m", 1e-9),
    (("k", "kelvin"), "kelvin", 1.0),
    (("m_⊙", "m_sun", "msun", "solar mass", "solar masses", "suns"), "solar_mass", 1.0),
    (("l_⊙", "l_sun", "lsun", "solar luminosity", "solar luminosities"), "solar_luminosity", 1.0),
    (("r_⊙", "r_sun", "solar radius", "solar radii"), "solar_radius", 1.0),
    (("m_⊕", "earth mass", "earth masses"), "earth_mass", 1.0),
    (("r_⊕", "earth radius", "earth radii"), "earth_radius", 1.0),
    (("m_j", "m_jup", "jupiter mass", "jupiter masses"), "jupiter_mass", 1.0),
    (("%", "per cent", "percent"), "percent", 1.0),
    (("ghz",), "hz", 1e9), (("mhz",), "hz", 1e6), (("khz",), "hz", 1e3), (("hz", "hertz"), "hz", 1.0),
    (("kev",), "ev", 1e3), (("mev",), "ev", 1e6), (("gev",), "ev", 1e9), (("tev",), "ev", 1e12),
    (("ev",), "ev", 1.0), (("erg", "ergs"), "erg", 1.0), (("sigma", "σ"), "sigma", 1.0),
    (("degree", "degrees", "deg", "°"), "degree", 1.0), (("arcsec", "arcseconds", "″"), "arcsec", 1.0),
    (("arcmin", "arcminutes", "′"), "arcmin", 1.0), (("mag", "magnitude", "magnitudes"), "mag", 1.0),
    (("jy",), "jy", 1.0), (("mjy",), "jy", 1e-3), (("μjy", "ujy"), "jy", 1e-6),
]:
    for name in names:
        UNITS[name] = (canonical, factor)
_UNIT_ALTERNATION = "|".join(sorted((re.escape(name) for name in UNITS), key=len, reverse=True))

_NUMBER = r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_POWER = r"10\s*\^\s*\{?\s*(?P<power>[-−–]?\s*\d+)\s*\}?"
_QUANTITY = re.compile(
    rf"(?P<mantissa>{_NUMBER})?\s*(?:[×x*]|\\times)?\s*(?:{_POWER})"  # 3×10^6, 10^{12}
    rf"|(?P<plain>{_NUMBER})(?:\s*[eE](?P<exp>[-+]?\d+))?"              # 1,200  4.1  1e5
    rf"|(?P<word>\b(?:{'|'.join(WORD_VALUES)})\b)",
    re.IGNORECASE,
)
_SCALE = re.compile(rf"\s*(?:-\s*)?({'|'.join(SCALES)})\b", re.IGNORECASE)
_UNIT_AFTER = re.compile(rf"\s*(?:-\s*)?({_UNIT_ALTERNATION})(?![\w/])", re.IGNORECASE)
_PLUS_MINUS = re.compile(rf"\s*(?:±|\+/-|\+-)\s*{_NUMBER}")
_REDSHIFT = re.compile(r"\b(?:z|redshift(?: of)?)\s*(?:=|~|≈|∼|of|around|about)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    value: float  # normalised by the unit's factor
    unit: str | None
    text: str
    written: float  # the number as written, before scale words and unit factors

    def same_value(self, other: Quantity) -> bool:
        """The same normalised value; or, when one side gives no unit, the same number as written (the abstract's
        '0.165 ± 0.025 cm^2/g' holds the 0.025 an explanation may quote bare)."""
        if math.isclose(self.value, other.value, rel_tol=1e-6, abs_tol=1e-12):
            return True
        return (self.unit is None or other.unit is None) and math.isclose(self.written, other.written, rel_tol=1e-6)


def quantities(text: str) -> list[Quantity]:
    """Every number in `text` with its unit, if one follows (or 'redshift' when one precedes: z = 0.8)."""
    found, consumed = [], 0
    for match in _QUANTITY.finditer(text):
        if match.start() < consumed:  # the scale word of the previous quantity ("120 thousand"), not a number
            continue
        if match["word"]:
            value = float(WORD_VALUES[match["word"].lower()])
        elif match["plain"]:
            value = float(match["plain"].replace(",", "")) * (10 ** int(match["exp"]) if match["exp"] else 1)
        else:
            exponent = int(re.sub(r"[\s−–]", lambda m: "-" if m[0] in "−–" else "", match["power"]))
            value = float(match["mantissa"].replace(",", "")) * 10**exponent if match["mantissa"] else 10.0**exponent
        written, end = value, match.end()
        if uncertainty := _PLUS_MINUS.match(text, end):  # '12.8 +/- 0.3 Gyr': the unit is the value's too
            end = uncertainty.end()
        scale = _SCALE.match(text, end)
        if scale and not (match["word"] and match["word"].lower() in SCALES):
            value *= SCALES[scale[1].lower()]
            end = scale.end()
        unit = None
        unit_match = _UNIT_AFTER.match(text, end)
        if unit_match:
            canonical, factor = UNITS[unit_match[1].lower()]
            unit, value = canonical, value * factor
        elif _REDSHIFT.search(text[max(0, match.start() - 16):match.start()]):
            unit = "redshift"
        consumed = scale.end() if scale and not uncertainty else match.end()  # '± 0.3' is a quantity of its own
        found.append(Quantity(value, unit, match[0].strip(), written))
    return found
