"""The one ratio rule (core/analysis/ratios.py): num / den × scale, NaN where the
denominator is not a positive number. Expected values are worked out here with plain
Python floats, element by element."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis.ratios import ratio

PACKAGE = Path(__file__).resolve().parents[2] / "ev_chargepoints"


def plain(num, den, scale=1.0):
    """The rule for one pair, in plain Python."""
    try:
        n, d = float(num), float(den)
    except (TypeError, ValueError):
        return math.nan
    return n / d * scale if d > 0 else math.nan


def same(got, expected):
    got = list(np.asarray(got, dtype="float64"))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert (math.isnan(g) and math.isnan(e)) or g == e, (got, expected)


def test_zero_negative_and_missing_denominators_give_nan():
    num = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    den = [0.0, -2.0, np.nan, None, -0.0, 8.0]
    out = ratio(num, den)
    assert out.dtype == np.float64
    same(out, [math.nan, math.nan, math.nan, math.nan, math.nan, 6.0 / 8.0])


def test_scale_multiplies_after_dividing():
    rng = np.random.default_rng(5)
    num = rng.uniform(0, 1e4, 500)
    den = rng.uniform(-50, 1e3, 500)
    den[::7] = 0.0
    for scale in (1.0, 100, 10_000):
        same(ratio(num, den, scale), [plain(n, d, scale) for n, d in zip(num, den)])


def test_text_numbers_count_and_other_text_is_missing():
    num = pd.Series(["3", "1.5", "7", "x", None], dtype=object)
    den = pd.Series(["4", "0.5", "apples", "2", "3"], dtype=object)
    same(ratio(num, den, 100), [75.0, 300.0, math.nan, math.nan, math.nan])


def test_integers_series_and_missing_numerators():
    devices = pd.Series([3, 0, 5], dtype="int64", index=[10, 20, 30])
    population = np.array([12_000, 8_000, 0])
    same(ratio(devices, population, 10_000), [3 / 12_000 * 10_000, 0.0, math.nan])
    same(ratio([np.nan, 1.0], [2.0, np.inf]), [math.nan, 0.0])
    nullable = pd.Series([1.0, None], dtype="Float64")
    same(ratio([1.0, 1.0], nullable), [1.0, math.nan])


@pytest.mark.parametrize("value", [2.0, [2.0]])
def test_a_single_value_gives_one_element(value):
    same(ratio(value, 4.0, 100), [50.0])


def test_no_module_keeps_its_own_ratio_helper():
    """Every table takes its ratios from ratios.ratio: no local copy comes back."""
    copies = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "ratios.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "ratio":
                copies.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert copies == []
