"""Class breaks and palettes: pure numbers, checked without QGIS."""

import math

import pytest

from ev_chargepoints.core.outputs import styling


def test_default_occupancy_bands_cover_every_value_exactly_once():
    bands = styling.occupancy_bands()
    assert [b.label for b in bands] == [
        "< 5 % (under-used)", "5–15 % (typical)", "15–25 % (busy)",
        "≥ 25 % (consider more capacity)"]
    for value, expected in [(0.0, "band1"), (4.999, "band1"), (5.0, "band2"), (14.9, "band2"),
                            (15.0, "band3"), (24.99, "band3"), (25.0, "band4"), (100.0, "band4")]:
        matches = [b.key for b in bands if b.contains(value)]
        assert matches == [expected], value
    assert styling.band_for(float("nan"), bands) is None
    assert styling.band_for(None, bands) is None


def test_bands_are_configurable_and_validated():
    bands = styling.occupancy_bands((10, 20, 40))
    assert bands[1].lower == 10 and bands[1].upper == 20
    with pytest.raises(ValueError):
        styling.occupancy_bands((20, 10, 40))
    with pytest.raises(ValueError):
        styling.occupancy_bands((5, 15))


@pytest.mark.parametrize("palette", [styling.OCCUPANCY_COLOURS, styling.AREA_COLOURS])
def test_palettes_get_darker_step_by_step_so_greyscale_print_keeps_the_order(palette):
    lum = [styling.relative_luminance(c) for c in palette]
    assert all(a > b for a, b in zip(lum, lum[1:])), lum
    # each step differs enough to tell apart in grey (contrast ratio >= 1.3)
    ratios = [(a + 0.05) / (b + 0.05) for a, b in zip(lum, lum[1:])]
    assert min(ratios) >= 1.3, ratios


def test_live_status_classes_differ_by_shape_not_only_colour():
    styles = styling.LIVE_STATUS_STYLES
    assert [s.key for s in styles] == ["available", "charging", "out_of_order", "unknown",
                                       "stale"]
    # greyscale print and colour-blind readers: every class has a look of its own
    # without colour (shape, or filled against hollow)
    looks = {(s.shape, s.hollow) for s in styles}
    assert len(looks) == len(styles)
    assert len({s.colour for s in styles}) == len(styles)
    by_key = {s.key: s for s in styles}
    assert by_key["out_of_order"].size_mm == max(s.size_mm for s in styles)
    assert by_key["stale"].hollow and not any(s.hollow for s in styles if s.key != "stale")


def test_every_ocpi_status_has_a_live_status_class():
    from ev_chargepoints.core.schema import STATUS_VALUES

    assert set(styling.LIVE_STATUS_OF) == set(STATUS_VALUES)
    assert set(styling.LIVE_STATUS_OF.values()) == set(styling.LIVE_STATUS_PRIORITY)
    assert styling.LIVE_STATUS_OF["BLOCKED"] == styling.LIVE_STATUS_OF["CHARGING"]


def test_the_stale_legend_says_the_age_limit():
    labels = {s.key: s.label for s in styling.live_status_styles(45)}
    assert labels["stale"] == "Stale (no report for over 45 min)"
    assert labels["available"] == "Available"
    assert [s.key for s in styling.live_status_styles()] == \
        [s.key for s in styling.LIVE_STATUS_STYLES]


def test_nice_breaks_are_increasing_round_numbers_inside_the_range():
    values = [0.0, 1.2, 3.4, 5.5, 7.9, 12.3, 18.0, 25.2, 40.1, 77.7]
    breaks = styling.nice_breaks(values, 5)
    assert breaks == sorted(set(breaks)) and len(breaks) == 4
    assert all(0.0 < b < 77.7 for b in breaks)
    assert all(math.isclose(b, round(b, 2)) for b in breaks)
    bands = styling.area_bands(values, "per 10,000 residents")
    assert len(bands) == 5 and bands[0].label.endswith("per 10,000 residents")
    for v in values:
        assert sum(b.contains(v) for b in bands) == 1


def test_degenerate_values_give_a_single_class():
    assert styling.nice_breaks([3.0, 3.0, 3.0]) == []
    bands = styling.area_bands([3.0, 3.0], "devices")
    assert len(bands) == 1 and bands[0].contains(3.0)
