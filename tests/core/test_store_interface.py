"""What both stores share (core/store/interface.py): one way of narrowing a read to a
time window or to the device rows valid at a moment, and one import log frame, checked
on a GeoPackage and on a PostGIS store holding the same real data."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest
from replay_server import ReplayServer
from watched_history import poll_history

from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store.postgis.schema import SCHEMA
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
DUNDEE = ROOT / "resources/data/dundee/cpdata.csv.gz"
NCR = ROOT / "resources/data/london/ncr_chargepoints_london_2022-05.csv.gz"


def registry_ids(path: Path) -> set[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["chargeDeviceID"] for row in csv.DictReader(handle)}


def head_of(source: Path, rows: int, path: Path) -> Path:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        path.write_text("".join(next(handle) for _ in range(rows + 1)), encoding="utf-8")
    return path


@pytest.fixture(params=["geopackage", "postgis"])
def target(request, tmp_path):
    if request.param == "geopackage":
        return tmp_path / "history.gpkg"
    return request.getfixturevalue("pg_dsn")


def test_sessions_are_read_by_start_time_window(target, tmp_path):
    sessions = head_of(DUNDEE, 1500, tmp_path / "dundee.csv")
    parsed = parse_file(sessions).tables["sessions"]
    starts = parsed["start_utc"].dropna().sort_values().reset_index(drop=True)
    start, end = starts.iloc[len(starts) // 4], starts.iloc[3 * len(starts) // 4]
    with Workspace(target) as ws:
        assert ws.import_files([sessions])[0].outcome == "imported"
        stored = ws.store.sessions()
        for window in ((start, end), (start, None), (None, end)):
            keys = set(ws.store.sessions(*window)["session_key"])
            inside = pd.Series(True, index=parsed.index)
            if window[0] is not None:
                inside &= parsed["start_utc"] >= window[0]
            if window[1] is not None:
                inside &= parsed["start_utc"] < window[1]
            assert keys == set(parsed.loc[inside, "session_key"])
            assert 0 < len(keys) < len(stored)


def test_status_snapshots_are_read_by_observation_window(target):
    with ReplayServer() as server, Workspace(target) as ws:
        times = poll_history(ws, server)
        everything = ws.store.status_snapshots()
        start, end = times[1], times[4]
        window = ws.store.status_snapshots(start, end)
    observed = everything["observed_utc"]
    expected = everything[(observed >= start) & (observed < end)].reset_index(drop=True)
    pd.testing.assert_frame_equal(window.reset_index(drop=True), expected)
    assert set(window["observed_utc"]) == set(times[1:4])


def test_devices_are_read_as_they_were_at_a_moment(target, tmp_path):
    first = head_of(NCR, 60, tmp_path / "ncr_first.csv")
    second = head_of(NCR, 90, tmp_path / "ncr_second.csv")
    with Workspace(target) as ws:
        ws.import_result(parse_file(first), first.name, "first", snapshot_utc="2022-05-01")
        ws.import_result(parse_file(second), second.name, "second", snapshot_utc="2022-06-01")
        history = ws.store.devices(current_only=False)
        for at in ("2022-05-15", "2022-06-15"):
            moment = pd.Timestamp(at, tz="UTC")
            valid = history[(history["valid_from_utc"] <= moment)
                            & (history["valid_to_utc"].isna()
                               | (history["valid_to_utc"] > moment))]
            assert set(ws.store.devices(at=at)["device_id"]) == set(valid["device_id"])
        assert set(ws.store.devices(at="2022-05-15")["device_id"]) == registry_ids(first)
        assert set(ws.store.devices()["device_id"]) == registry_ids(second)
        one = history["source"].iloc[0]
        assert set(ws.store.devices(source=one)["source"]) == {one}


def test_the_import_log_gives_the_times_the_database_holds(pg_dsn, tmp_path):
    """Regression: the shared store's import log read every ``imported_utc`` as NaT on
    pandas 1.5 (Debian 12)."""
    import psycopg2

    sessions = head_of(DUNDEE, 50, tmp_path / "dundee.csv")
    with Workspace(pg_dsn) as ws:
        ws.import_files([sessions, sessions])
        log = ws.store.import_log()
    with psycopg2.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT imported_utc FROM {SCHEMA}.import_log ORDER BY id")
        held = [pd.Timestamp(row[0]).tz_convert("UTC") for row in cur.fetchall()]
    conn.close()
    assert list(log["outcome"]) == ["imported", "already imported"]
    assert [t.floor("ms") for t in log["imported_utc"]] == [t.floor("ms") for t in held]
