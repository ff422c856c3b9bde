"""The map of a GeoPackage store, through the facade (:meth:`Workspace.write_map`): one
GeoPackage per layer in a folder beside the store named by the store's state, the
store's older map folders of that period kind removed, every device and area of the
bundled London data in it."""

from __future__ import annotations

import sqlite3

import pandas as pd

from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.schema import ParseResult
from ev_chargepoints.core.workspace import Workspace

NCR = LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz"


def _rows(file, table: str) -> int:
    with sqlite3.connect(file) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _last_import_id(store) -> int:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT max(id) FROM import_log").fetchone()[0]


def test_a_geopackage_store_gets_its_map_beside_it_and_older_maps_go(tmp_path):
    store = tmp_path / "history.gpkg"
    with Workspace(store) as ws:
        ws.import_bundled_snapshot(synthetic_usage=False)
    older = tmp_path / "history_map_quarter_0"           # a map of an earlier store state
    monthly = tmp_path / "history_map_month_0"            # another period kind's map
    unrelated = tmp_path / "other_map_quarter_0"          # another store's map
    for folder in (older, monthly, unrelated):
        folder.mkdir()

    with Workspace(store) as ws:
        info = ws.write_map("quarter")
    first = tmp_path / f"history_map_quarter_{_last_import_id(store)}"
    assert info.path == first and info.database_schema == ""
    assert not older.exists() and monthly.exists() and unrelated.exists()

    devices = pd.read_csv(NCR, usecols=["chargeDeviceID"], dtype=str)["chargeDeviceID"]
    expected = {"map_devices": devices.nunique(),
                "map_boroughs": _rows(LONDON_SNAPSHOT / "london_boroughs.gpkg",
                                      "london_boroughs"),
                "map_wards": _rows(LONDON_SNAPSHOT / "london_wards_2018.gpkg",
                                   "london_wards_2018")}
    assert expected == {"map_devices": 8940, "map_boroughs": 33, "map_wards": 633}
    assert info.periods == ["no usage data"]                # no usage: one period
    assert {table: _rows(first / f"{table}.gpkg", table) for table in expected} == expected
    assert info.counts == expected

    # the store changes: the next map goes to a new folder and the first one goes
    with Workspace(store) as ws:
        ws.import_result(ParseResult("ncr", "empty", 0), "empty return", "empty-return")
        again = ws.write_map("quarter")
    assert again.path == tmp_path / f"history_map_quarter_{_last_import_id(store)}"
    assert again.path != first and not first.exists() and again.counts == expected
