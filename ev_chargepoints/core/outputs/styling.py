"""Class breaks and colours for the map, as plain numbers (no QGIS here).

Palettes are chosen to stay readable for colour-blind readers and in greyscale
print: sequential colours with strictly increasing darkness, and meaning that
does not rest on hue alone (no-data and faults also differ in shape).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional, Sequence


@dataclass(frozen=True)
class Band:
    key: str
    lower: Optional[float]   # inclusive; None = open
    upper: Optional[float]   # exclusive; None = open
    label: str
    colour: str              # #rrggbb

    def contains(self, value: Optional[float]) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return ((self.lower is None or value >= self.lower)
                and (self.upper is None or value < self.upper))


NO_DATA_COLOUR = "#bdbdbd"
NO_DATA_LABEL = "No usage data"

# Viridis steps: perceptually uniform, darkness rises with occupancy.
OCCUPANCY_COLOURS = ("#fde725", "#35b779", "#31688e", "#440154")
DEFAULT_OCCUPANCY_BREAKS = (5.0, 15.0, 25.0)
OCCUPANCY_MEANINGS = ("under-used", "typical", "busy", "consider more capacity")


def occupancy_bands(breaks: Sequence[float] = DEFAULT_OCCUPANCY_BREAKS) -> list[Band]:
    """Bands for occupancy %; the defaults are the industry's rule of thumb (configurable)."""
    cuts = [float(b) for b in breaks]
    if len(cuts) != 3 or cuts != sorted(cuts) or len(set(cuts)) != 3 or cuts[0] <= 0:
        raise ValueError("occupancy bands need three increasing positive break values")
    edges = [None, *cuts, None]
    bands = []
    for i, meaning in enumerate(OCCUPANCY_MEANINGS):
        lower, upper = edges[i], edges[i + 1]
        if lower is None:
            text = f"< {_num(upper)} %"
        elif upper is None:
            text = f"≥ {_num(lower)} %"
        else:
            text = f"{_num(lower)}–{_num(upper)} %"
        bands.append(Band(f"band{i + 1}", lower, upper, f"{text} ({meaning})",
                          OCCUPANCY_COLOURS[i]))
    return bands


def band_for(value: Optional[float], bands: Sequence[Band]) -> Optional[Band]:
    return next((b for b in bands if b.contains(value)), None)


# Symbol size (mm) by DfT power class, so rapid hubs stand out at London scale.
POWER_CLASS_SIZE_MM = {"slow": 1.3, "fast": 2.0, "rapid": 3.0, "ultra": 4.0}
POWER_CLASS_LABEL = {"slow": "Slow (3–7 kW)", "fast": "Fast (8–49 kW)",
                     "rapid": "Rapid (50–149 kW)", "ultra": "Ultra (150 kW +)"}
UNKNOWN_POWER_SIZE_MM = 1.3


@dataclass(frozen=True)
class StatusStyle:
    key: str
    label: str
    colour: str
    shape: str   # marker shape name understood by the QGIS adapter
    size_mm: float = 2.6
    hollow: bool = False   # white fill, ``colour`` as a thick outline (else a dark outline)


# Live status classes of the map's "Live status" layer (core.mapdata.classify_live_status).
# Okabe-Ito colours (told apart with any colour vision; none of them blue, so they stand
# out on the blue ward shading), and a shape of its own per class, so greyscale print
# keeps every class apart; stale is hollow, and unlike the occupancy layer's hollow
# "no usage data" ring it is a hexagon. Out of order is drawn largest.
LIVE_STATUS_STYLES = (
    StatusStyle("available", "Available", "#009e73", "circle", 3.0),
    StatusStyle("charging", "Charging", "#f0e442", "square", 2.8),
    StatusStyle("out_of_order", "Out of order", "#d55e00", "cross_fill", 3.6),
    StatusStyle("unknown", "Unknown", "#bdbdbd", "diamond", 3.0),
    StatusStyle("stale", "Stale", "#4d4d4d", "hexagon", 3.0, hollow=True),
)
STALE = "stale"
# OCPI EVSE status -> class; BLOCKED (a vehicle in the bay) and RESERVED count as busy.
LIVE_STATUS_OF = {
    "AVAILABLE": "available", "CHARGING": "charging", "BLOCKED": "charging",
    "RESERVED": "charging",
    "INOPERATIVE": "out_of_order", "OUTOFORDER": "out_of_order",
    "UNKNOWN": "unknown", "PLANNED": "unknown", "REMOVED": "unknown",
}
# A device with several EVSEs shows the first class any of them has: one free EVSE
# makes the device available, as it is for a driver.
LIVE_STATUS_PRIORITY = ("available", "charging", "out_of_order", "unknown")
DEFAULT_STATUS_MAX_AGE_MINUTES = 30


def live_status_styles(max_age_minutes: float = DEFAULT_STATUS_MAX_AGE_MINUTES
                       ) -> list[StatusStyle]:
    """The live status classes with the legend text of "Stale" saying the age limit."""
    text = f"Stale (no report for over {_num(float(max_age_minutes))} min)"
    return [replace(s, label=text) if s.key == STALE else s for s in LIVE_STATUS_STYLES]


# ColorBrewer Blues, 5 classes: light to dark, prints as a grey ramp.
AREA_COLOURS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")


def nice_breaks(values: Sequence[float], classes: int = 5) -> list[float]:
    """Quantile breaks rounded to 'nice' numbers, strictly increasing.

    Returns ``classes - 1`` inner breaks (fewer when the data has few values).
    """
    clean = sorted(v for v in values if v is not None and not _isnan(v))
    if len(clean) < 2 or clean[0] == clean[-1]:
        return []
    breaks: list[float] = []
    for k in range(1, classes):
        q = clean[min(len(clean) - 1, int(round(k * (len(clean) - 1) / classes)))]
        nice = _round_nice(q)
        if clean[0] < nice < clean[-1] and (not breaks or nice > breaks[-1]):
            breaks.append(nice)
    return breaks


# The ward choropleth's classes in its style file (resources/styles/map_wards.qml, the
# default a map GeoPackage opened by hand shows): what nice_breaks gives for the
# bundled London snapshot's devices per 10,000 residents. The plugin's own map computes
# the classes of the data it shows.
DEFAULT_WARD_BREAKS = (1.1, 3.5, 7.2, 16.0)


def area_bands(values: Sequence[float], unit: str, classes: int = 5) -> list[Band]:
    return bands_between(nice_breaks(values, classes), unit)


def bands_between(inner: Sequence[float], unit: str) -> list[Band]:
    """Area classes split at the increasing ``inner`` breaks (open below and above)."""
    edges = [None, *inner, None]
    colours = AREA_COLOURS if len(edges) - 1 == 5 else _spread(AREA_COLOURS, len(edges) - 1)
    bands = []
    for i in range(len(edges) - 1):
        lower, upper = edges[i], edges[i + 1]
        if lower is None and upper is None:
            text = "All areas"
        elif lower is None:
            text = f"< {_num(upper)}"
        elif upper is None:
            text = f"≥ {_num(lower)}"
        else:
            text = f"{_num(lower)}–{_num(upper)}"
        bands.append(Band(f"class{i + 1}", lower, upper, f"{text} {unit}".strip(), colours[i]))
    return bands


# Demand gap per ward (connectors needed - now): a diverging scheme, purple where the
# ward has more than the scenario needs, grey where it is met, ColorBrewer Oranges (dark
# = most short) for the shortfall; each class darker than the last on both sides of 0.
GAP_SURPLUS_COLOUR = "#b2abd2"
GAP_MET_COLOUR = "#f7f7f7"
GAP_SHORT_COLOURS = ("#fdd0a2", "#fdae6b", "#e6550d", "#a63603")


def gap_bands(values: Sequence[float], classes: int = 4) -> list[Band]:
    """Classes of the demand gap: more than needed (< 0), met (0) and up to ``classes``
    shortfall classes split at nice quantile breaks of the positive gaps."""
    short = [v for v in values if v is not None and not _isnan(v) and v >= 1]
    inner = sorted({math.ceil(b) for b in nice_breaks(short, classes) if b > 1})  # whole
    edges = [1.0, *inner, None]
    colours = GAP_SHORT_COLOURS if len(edges) - 1 == len(GAP_SHORT_COLOURS) else \
        _spread(GAP_SHORT_COLOURS, len(edges) - 1)
    bands = [Band("gap_surplus", None, 0.0, "More than needed (gap < 0)",
                  GAP_SURPLUS_COLOUR),
             Band("gap_met", 0.0, 1.0, "Met (gap 0)", GAP_MET_COLOUR)]
    for i in range(len(edges) - 1):
        lower, upper = edges[i], edges[i + 1]
        text = f"≥ {_num(lower)}" if upper is None else f"{_num(lower)}–{_num(upper - 1)}"
        bands.append(Band(f"gap_short{i + 1}", lower, upper,
                          f"{text} connectors short", colours[i]))
    return bands


def _spread(palette: Sequence[str], n: int) -> list[str]:
    if n <= 1:
        return [palette[len(palette) // 2]]
    return [palette[round(i * (len(palette) - 1) / (n - 1))] for i in range(n)]


def _round_nice(x: float) -> float:
    if x == 0:
        return 0.0
    magnitude = 10 ** math.floor(math.log10(abs(x)))
    for step in (0.1, 0.2, 0.25, 0.5, 1.0):
        unit = magnitude * step
        if unit * 10 >= abs(x) / 5:  # keep two significant figures at most
            return round(x / unit) * unit
    return round(x)


def _num(x: Optional[float]) -> str:
    if x is None:
        return ""
    return f"{x:g}"


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of #rrggbb (used to prove greyscale ordering)."""
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
