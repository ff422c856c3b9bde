"""Summaries leave the plugin masked: the CLI's `summary` suppresses by default, and only
`--internal` lifts it, saying INTERNAL on the file and the result line.

The store holds the bundled registry (8,940 real devices) with a quarter of SYNTHETIC
usage over them, so ward figures rest on few devices in many wards. The expected
suppression is recomputed here with plain pandas from the per-device utilisation,
the devices' places and their operators.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ev_chargepoints.core.outputs import disclosure
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
THRESHOLD = 3
USAGE = ["sessions", "kwh", "plugged_hours", "available_hours", "occupancy_pct",
         "capacity_factor_pct"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ))


@pytest.fixture(scope="module")
def london(tmp_path_factory):
    store = tmp_path_factory.mktemp("publishable") / "london.gpkg"
    with Workspace(store) as ws:
        ws.import_bundled_snapshot(usage_start="2022-04-01", usage_end="2022-07-01")
        full, _ = ws.summary(level="ward")
        usage = ws.utilisation("quarter")
        places = ws.assignment().table[["device_id", "ward_code", "borough_code"]]
        operators = ws.devices()[["device_id", "operator"]]
    return store, full, usage, places, operators


def expected_suppressed(table, usage, places, operators, code, group=None, filters=None):
    """Codes whose usage must not be published: fewer than THRESHOLD devices or one
    operator behind the figures, plus one partner where a group's total would reveal a
    lone suppressed area."""
    periods = [table.attrs["period"], table.attrs.get("previous_period")]
    used = usage.loc[usage["period"].isin([p for p in periods if p]), ["device_id"]]
    rows = used.drop_duplicates().merge(places, on="device_id").merge(operators,
                                                                     on="device_id")
    for key, wanted in (filters or {}).items():
        rows = rows[rows[key].fillna("").str.strip().str.lower().isin(
            [w.lower() for w in wanted])]
    rows = rows.assign(op=rows["operator"].fillna("").str.strip().str.lower())
    per = rows.dropna(subset=[code]).groupby(code).agg(n=("device_id", "nunique"),
                                                       ops=("op", "nunique"))
    cells = table[["area_code"] + ([group] if group else [])].copy()
    cells["n"] = cells["area_code"].map(per["n"]).fillna(0).astype(int)
    cells["ops"] = cells["area_code"].map(per["ops"]).fillna(0).astype(int)
    cells["hidden"] = (cells["n"] > 0) & ((cells["n"] < THRESHOLD) | (cells["ops"] <= 1))
    hidden = set(cells.loc[cells["hidden"], "area_code"])
    for _parent, rows_of in (cells.groupby(group) if group else [(None, cells)]):
        shown = rows_of[(rows_of["n"] > 0) & ~rows_of["hidden"]]
        if rows_of["hidden"].sum() == 1 and len(shown):
            hidden.add(shown.sort_values(["n", "area_code"]).iloc[0]["area_code"])
    return hidden, cells.set_index("area_code")["n"]


def test_ward_summary_is_published_with_small_and_single_operator_wards_suppressed(
        london, tmp_path):
    store, full, usage, places, operators = london
    out = tmp_path / "wards.csv"
    result = cli("summary", "--store", store, "--level", "ward", "--out", out)
    assert result.returncode == 0, result.stderr
    table = read_csv(out).set_index("area_code")
    assert len(table) == 633
    hidden, n = expected_suppressed(full, usage, places, operators, "ward_code",
                                    group="parent_code")
    # the wards of 1-2 devices the issue counted, and more: single operators, partners
    assert (n.loc[list(hidden)].between(1, 2)).sum() >= 80 and len(hidden) > 100
    suppressed = set(table.index[table["usage_disclosure"].str.startswith("suppressed")])
    assert suppressed == hidden
    assert table.loc[list(hidden), USAGE].isna().all().all()
    # every other ward keeps its figures, and every count is public
    full = full.set_index("area_code")
    shown = table.index.difference(list(hidden))
    for column in USAGE:
        np.testing.assert_allclose(table.loc[shown, column].to_numpy(float),
                                   full.loc[shown, column].to_numpy(float), rtol=1e-9,
                                   equal_nan=True, err_msg=column)
    assert (table["devices"] == full.loc[table.index, "devices"]).all()
    assert (table.loc[table["usage_disclosure"] == disclosure.NO_USAGE, "usage_devices"]
            == 0).all()
    # no borough's total gives away a lone suppressed ward
    for parent, wards in table.groupby("parent_code"):
        lone = wards["usage_disclosure"].str.startswith("suppressed").sum() == 1
        assert not (lone and (wards["usage_disclosure"] == disclosure.SHOWN).any()), parent
    with open(out, newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == [NOTE]
    assert disclosure.INTERNAL not in out.read_text(encoding="utf-8")
    assert f"{disclosure.note(THRESHOLD)}: {len(hidden):,} of 633 areas" in result.stderr
    assert disclosure.INTERNAL not in result.stdout


def test_internal_summary_keeps_every_figure_and_says_internal(london, tmp_path):
    store, full, *_ = london
    out = tmp_path / "wards_internal.csv"
    result = cli("summary", "--store", store, "--level", "ward", "--internal", "--out", out)
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == [disclosure.INTERNAL_NOTE] and lines[1] == [NOTE]
    assert result.stdout.strip().endswith(disclosure.INTERNAL_SUFFIX)
    assert disclosure.INTERNAL_NOTE in result.stderr
    table = read_csv(out).set_index("area_code")
    full = full.set_index("area_code")
    for column in USAGE:
        np.testing.assert_allclose(table[column].to_numpy(float),
                                   full.loc[table.index, column].to_numpy(float), rtol=1e-9,
                                   equal_nan=True, err_msg=column)
    assert "usage_disclosure" not in table.columns


def test_one_operator_filtered_is_one_operator_everywhere(london, tmp_path):
    store, _full, usage, places, operators = london
    out = tmp_path / "ubitricity.csv"
    result = cli("summary", "--store", store, "--operator", "ubitricity", "--out", out)
    assert result.returncode == 0, result.stderr
    table = read_csv(out).set_index("area_code")
    with Workspace(store) as ws:
        filtered, _ = ws.summary(level="borough", filters={"operator": ["ubitricity"]})
    hidden, n = expected_suppressed(filtered, usage, places, operators, "borough_code",
                                    filters={"operator": ["ubitricity"]})
    assert len(hidden) >= 10 and hidden == set(n.index[n > 0])
    assert set(table.index[table["usage_disclosure"].str.startswith("suppressed")]) == hidden
    assert table.loc[list(hidden), USAGE].isna().all().all()


def test_a_threshold_below_one_is_one_line(london, tmp_path):
    store, *_ = london
    out = tmp_path / "x.csv"
    result = cli("summary", "--store", store, "--threshold", "0", "--out", out)
    assert result.returncode == 2 and result.stderr.strip() == \
        "error: --threshold must be at least 1."
    assert not out.exists()
