"""History store: GeoPackage validity, idempotent and atomic imports, history, migrations."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyogrio
import pytest

from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.errors import StoreError
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.store import gpkg_schema as store_module
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.gpkg_file import parse_gpkg_point
from ev_chargepoints.core.store.gpkg_schema import SCHEMA_VERSION
from ev_chargepoints.core.store.importing import MAX_REJECTS_STORED
from ev_chargepoints.core.store.postgis.backend import PostgisStore

ROOT = Path(__file__).resolve().parents[2]
UTC = "UTC"


def ts(text):
    return pd.Timestamp(text, tz=UTC)


def devices_frame(rows):
    base = {"source": "ncr", "connector_count": 2, "max_power_kw": 22.0,
            "updated_utc": ts("2022-05-01")}
    return conform(pd.DataFrame([{**base, **r} for r in rows]), "devices")


def device_result(rows, connectors=None):
    tables = {"devices": devices_frame(rows)}
    if connectors is not None:
        tables["connectors"] = conform(pd.DataFrame(connectors), "connectors")
    return ParseResult("ncr", "ncr", len(rows), tables)


def sessions_frame(n, offset=0, open_every=0):
    start = ts("2018-01-01") + pd.to_timedelta(np.arange(n) * 3600 + offset * 3600, unit="s")
    end = start + pd.Timedelta(minutes=45)
    frame = pd.DataFrame({
        "session_key": [f"s:{i + offset}" for i in range(n)],
        "source_session_id": [str(i + offset) for i in range(n)],
        "device_id": [f"D{(i + offset) % 7}" for i in range(n)],
        "connector_id": [str((i + offset) % 2 + 1) for i in range(n)],
        "start_utc": start, "end_utc": end,
        "kwh": np.round(np.linspace(0.5, 40, n), 3), "source": "test"})
    if open_every:
        frame.loc[frame.index % open_every == 0, ["end_utc", "kwh"]] = [pd.NaT, np.nan]
    return conform(frame, "sessions")


def session_result(frame, rejects=None):
    result = ParseResult("sessions", "test", len(frame), {"sessions": frame})
    if rejects is not None:
        result.rejects = rejects
    return result


@pytest.fixture(params=["geopackage", "postgis"])
def store(request, tmp_path):
    """The backend-neutral tests run on both stores."""
    if request.param == "geopackage":
        opened = HistoryStore.create_or_open(tmp_path / "history.gpkg")
    else:
        opened = PostgisStore.create_or_open(request.getfixturevalue("pg_dsn"))
    with opened:
        yield opened


@pytest.fixture
def gpkg_store(tmp_path):
    with HistoryStore.create_or_open(tmp_path / "history.gpkg") as opened:
        yield opened


def test_new_store_is_a_valid_geopackage(tmp_path):
    path = tmp_path / "history.gpkg"
    with HistoryStore.create_or_open(path) as store:
        store.import_parse_result(device_result([
            {"device_id": "A", "name": "Town Hall", "latitude": 51.5074, "longitude": -0.1278},
            {"device_id": "B", "latitude": np.nan, "longitude": np.nan}]), "ncr.csv", "h1")
        store.import_parse_result(session_result(sessions_frame(5)), "s.csv", "h2")
        assert store.check() == "ok"
        assert store.schema_version == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10300
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    srs = dict(conn.execute("SELECT srs_id, definition FROM gpkg_spatial_ref_sys"))
    assert set(srs) == {-1, 0, 4326, 27700}
    assert 'AUTHORITY["EPSG","27700"]' in srs[27700] and "Transverse_Mercator" in srs[27700]
    contents = dict(conn.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert contents["devices"] == "features"
    assert {contents[t] for t in ("history_parts", "session_completions", "connectors",
                                  "import_log", "import_rejects", "usage_periods",
                                  "store_meta")} == {"attributes"}
    # The usage history is in Parquet parts beside the GeoPackage, listed by the manifest.
    assert "sessions" not in contents and "status_snapshots" not in contents
    parts = conn.execute("SELECT kind, file, rows FROM history_parts").fetchall()
    assert parts == [("sessions", "sessions/part-00000002.parquet", 5)]
    assert (tmp_path / "history.history" / "sessions" / "part-00000002.parquet").is_file()
    assert conn.execute("SELECT column_name, geometry_type_name, srs_id FROM "
                        "gpkg_geometry_columns").fetchall() == [("geom", "POINT", 27700)]
    assert "gpkg_extensions" not in {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    blob = conn.execute("SELECT geom FROM devices WHERE device_id='A'").fetchone()[0]
    assert blob[:4] == b"GP\x00\x01" and blob[8] == 1 and len(blob) == 29
    x, y = wgs84_to_bng(-0.1278, 51.5074)
    assert parse_gpkg_point(blob) == pytest.approx((float(x), float(y)), abs=1e-6)
    conn.close()

    layers = dict(pyogrio.list_layers(path))
    assert layers["devices"] == "Point"
    assert {"history_parts", "connectors", "import_log"} <= set(layers)
    info = pyogrio.read_info(path, layer="devices")
    assert info["crs"] == "EPSG:27700" and info["features"] == 2
    assert info["fid_column"] == "fid"
    meta, _, geometry, fields = pyogrio.raw.read(path, layer="devices")
    names = list(meta["fields"])
    row = names.index("device_id")
    a = list(fields[row]).index("A")
    wkb = geometry[a]  # GDAL hands back plain WKB
    assert wkb[0] == 1 and np.frombuffer(wkb[1:5], "<u4")[0] == 1
    assert tuple(np.frombuffer(wkb[5:21], "<f8")) == pytest.approx((float(x), float(y)),
                                                                  abs=1e-6)
    assert geometry[1 - a] is None
    assert str(meta["dtypes"][names.index("valid_from_utc")]).startswith("datetime64")
    # The parts are plain Parquet files with real UTC time columns.
    con = duckdb.connect()
    part = tmp_path / "history.history" / "sessions" / "part-00000002.parquet"
    types = dict(con.execute(f"DESCRIBE SELECT * FROM '{part}'").fetchall()[i][:2]
                 for i in range(10))
    assert types["start_utc"] == "TIMESTAMP WITH TIME ZONE" and types["import_id"] == "BIGINT"
    assert con.execute(f"SELECT epoch_ms(min(start_utc)) FROM '{part}'").fetchone()[0] == \
        ts("2018-01-01").value // 1_000_000
    con.close()


def test_sessions_round_trip_and_reimport_adds_nothing(store):
    frame = sessions_frame(500, open_every=50)
    first = store.import_parse_result(session_result(frame), "a.csv", "sha-a")
    assert (first.outcome, first.rows_added, first.rows_duplicate) == ("imported", 500, 0)
    back = store.sessions()
    assert back["session_key"].is_monotonic_increasing  # stored in key order per import
    pd.testing.assert_frame_equal(back.set_index("session_key").loc[frame["session_key"]]
                                  .reset_index(), frame)
    again = store.import_parse_result(session_result(frame), "a.csv", "sha-a")
    assert again.outcome == "already imported" and again.rows_added == 0
    copy = store.import_parse_result(session_result(frame), "a-copy.csv", "sha-b")
    assert (copy.outcome, copy.rows_added, copy.rows_duplicate) == ("imported", 0, 500)
    assert store.counts()["sessions"] == 500
    log = store.import_log()
    assert list(log["outcome"]) == ["imported", "already imported", "imported"]
    assert "already imported (import 1" in log["message"][1]
    assert list(log["sha256"]) == ["sha-a", "sha-a", "sha-b"]


def test_a_later_file_completes_sessions_that_were_open(store):
    frame = sessions_frame(100, open_every=10)
    store.import_parse_result(session_result(frame), "early.csv", "e")
    assert store.sessions()["end_utc"].isna().sum() == 10
    report = store.import_parse_result(session_result(sessions_frame(100)), "late.csv", "l")
    assert (report.rows_added, report.rows_updated, report.rows_duplicate) == (0, 10, 90)
    assert store.sessions()["end_utc"].notna().all()


def test_sessions_filter_by_start_and_categorical(store):
    store.import_parse_result(session_result(sessions_frame(48)), "a.csv", "x")
    day = store.sessions(start=ts("2018-01-01T10:00"), end=ts("2018-01-01T20:00"))
    assert len(day) == 10 and day["start_utc"].min() == ts("2018-01-01T10:00")
    fast = store.sessions(categorical=True, columns=["device_id", "start_utc"])
    assert list(fast.columns) == ["device_id", "start_utc"]
    assert isinstance(fast["device_id"].dtype, pd.CategoricalDtype)
    assert list(fast["device_id"].astype(str)) == list(store.sessions()["device_id"])
    assert sorted(fast["device_id"].astype(str)) == sorted(sessions_frame(48)["device_id"])
    assert store.periods("quarter") == ["2018-Q1"]
    assert store.periods("month") == ["2018-01"]


def test_times_written_by_other_tools_are_still_read(tmp_path):
    # QGIS or a user may have stored a time without milliseconds in an old store's
    # sessions table: the move to Parquet parts (schema 5) still reads it.
    path = tmp_path / "v1.gpkg"
    _make_v1_store(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE sessions SET end_utc='2018-01-01T10:50:00Z' WHERE session_key='k1'")
    conn.commit()
    conn.close()
    with HistoryStore.create_or_open(path) as store:
        back = store.sessions()
    assert back["end_utc"][0] == ts("2018-01-01T10:50")
    assert back["start_utc"][0] == ts("2018-01-01T10:00")


def test_device_history_across_snapshots(store):
    first = [{"device_id": "D1", "latitude": 51.5, "longitude": -0.1},
             {"device_id": "D2", "latitude": 51.6, "longitude": -0.2, "name": "old"},
             {"device_id": "D3", "latitude": 51.4, "longitude": -0.3}]
    second = [first[0], {**first[1], "name": "renamed"},
              {"device_id": "D4", "latitude": 51.45, "longitude": -0.05}]
    t1, t2 = ts("2022-01-01"), ts("2022-06-01")
    r1 = store.import_parse_result(device_result(first), "ncr1.csv", "n1", snapshot_utc=t1)
    assert r1.tables["devices"] == {"added": 3, "updated": 0, "duplicate": 0, "closed": 0}
    r2 = store.import_parse_result(device_result(second), "ncr2.csv", "n2", snapshot_utc=t2)
    assert r2.tables["devices"] == {"added": 1, "updated": 1, "duplicate": 1, "closed": 1}

    current = store.devices()
    assert sorted(current["device_id"]) == ["D1", "D2", "D4"]
    assert current.set_index("device_id").loc["D2", "name"] == "renamed"
    then = store.devices(at=ts("2022-03-01"))
    assert sorted(then["device_id"]) == ["D1", "D2", "D3"]
    assert then.set_index("device_id").loc["D2", "name"] == "old"
    history = store.devices(current_only=False)
    assert len(history) == 5
    d3 = history[history["device_id"] == "D3"].iloc[0]
    assert (d3["valid_from_utc"], d3["valid_to_utc"]) == (t1, t2)
    assert store.devices(at=ts("2021-12-31")).empty

    before = store.devices(current_only=False)
    r3 = store.import_parse_result(device_result(second), "ncr2-again.csv", "n2b",
                                   snapshot_utc=ts("2022-07-01"))
    assert r3.rows_added == 0 and r3.rows_updated == 0
    pd.testing.assert_frame_equal(store.devices(current_only=False), before)
    old = store.import_parse_result(device_result(first), "ncr0.csv", "n0",
                                    snapshot_utc=ts("2021-06-01"))
    assert "older than the one already stored" in old.message
    pd.testing.assert_frame_equal(store.devices(current_only=False), before)


def test_devices_and_connectors_read_back_typed(store):
    """Both stores read devices and connectors back as typed columns: missing text as
    None (never NaN), numbers and times typed, rows in stored order; with no rows, the
    same columns, empty."""
    assert store.devices(current_only=False).empty
    assert "device_id" in store.devices(current_only=False)
    rows = [{"device_id": "D2", "latitude": 51.6, "longitude": -0.2, "name": "second",
             "postcode": "E1 6AN", "connector_count": 3},
            {"device_id": "D1", "latitude": 51.5, "longitude": -0.1, "name": None}]
    store.import_parse_result(device_result(rows, [
        {"device_id": "D1", "connector_id": "1", "power_kw": 7.0},
        {"device_id": "D1", "connector_id": "2", "power_kw": None}]), "ncr.csv", "n1",
        snapshot_utc=ts("2022-01-01"))
    back = store.devices()
    assert back["device_id"].tolist() == ["D2", "D1"]
    assert back["name"].tolist() == ["second", None]
    assert back["postcode"].tolist()[1] is None
    assert back["latitude"].dtype == "float64" and back["connector_count"].dtype == "int64"
    assert back["connector_count"].tolist() == [3, 2]
    assert str(back["valid_from_utc"].dtype) == "datetime64[ns, UTC]"
    assert back["valid_from_utc"].tolist() == [ts("2022-01-01")] * 2
    assert back["valid_to_utc"].isna().all()
    connectors = store.connectors()
    assert connectors["connector_id"].tolist() == ["1", "2"]
    assert connectors["power_kw"].dtype == "float64" and connectors["power_kw"].isna().tolist() \
        == [False, True]


def test_session_files_add_devices_without_closing_others(store):
    store.import_parse_result(device_result([{"device_id": "D1", "latitude": 51.5,
                                              "longitude": -0.1}]), "ncr.csv", "n1")
    merged = ParseResult("sessions", "ncr", 1, {
        "devices": devices_frame([{"device_id": "D9", "latitude": 51.5, "longitude": -0.1}]),
        "sessions": sessions_frame(2)})
    store.import_parse_result(merged, "usage.csv", "u1")
    assert sorted(store.devices()["device_id"]) == ["D1", "D9"]


def test_connectors_keep_history(store):
    dev = [{"device_id": "D1", "latitude": 51.5, "longitude": -0.1}]
    store.import_parse_result(device_result(dev, [
        {"device_id": "D1", "connector_id": "1", "power_kw": 7.0},
        {"device_id": "D1", "connector_id": "2", "power_kw": 7.0}]), "a", "a",
        snapshot_utc=ts("2022-01-01"))
    store.import_parse_result(device_result(dev, [
        {"device_id": "D1", "connector_id": "1", "power_kw": 22.0}]), "b", "b",
        snapshot_utc=ts("2022-02-01"))
    now = store.connectors()
    assert list(now["power_kw"]) == [22.0] and list(now["source"]) == ["ncr"]
    assert len(store.connectors(current_only=False)) == 3
    assert sorted(store.connectors(at=ts("2022-01-15"))["power_kw"]) == [7.0, 7.0]


def test_status_snapshots_are_unique_per_time_device_and_evse(store):
    frame = conform(pd.DataFrame({
        "observed_utc": [ts("2024-01-01T00:00")] * 3 + [ts("2024-01-01T00:05")],
        "device_id": ["L1", "L1", "L1", "L1"], "evse_uid": ["E1", "E2", None, "E1"],
        "status": ["AVAILABLE", "CHARGING", "UNKNOWN", "CHARGING"],
        "raw_status": ["AVAILABLE", "CHARGING", "UNKNOWN", "CHARGING"], "source": "ocpi:x"}),
        "status_snapshots")
    result = ParseResult("ocpi-locations", "ocpi:x", 4, {"status_snapshots": frame})
    first = store.import_parse_result(result, "p1.json", "p1")
    second = store.import_parse_result(result, "p2.json", "p2")
    assert (first.rows_added, second.rows_added, second.rows_duplicate) == (4, 0, 4)
    back = store.status_snapshots()
    assert len(back) == 4 and back["evse_uid"].isna().sum() == 1
    assert set(back["status"]) == {"AVAILABLE", "CHARGING", "UNKNOWN"}


def test_rejects_are_recorded_and_capped(store):
    n = MAX_REJECTS_STORED + 500
    rejects = pd.DataFrame({"row": np.arange(2, n + 2),
                            "reason": ["negative kWh"] * (n - 3) + ["end is before start"] * 3})
    report = store.import_parse_result(session_result(sessions_frame(10), rejects), "r.csv",
                                       "r")
    assert report.rows_rejected == n
    stored = store.import_rejects(report.import_id)
    assert len(stored) == MAX_REJECTS_STORED and stored["row"].iloc[0] == 2
    log = store.import_log().iloc[-1]
    assert log["rows_rejected"] == n
    assert f"rejected {n} rows: {n - 3} × negative kWh; 3 × end is before start" in \
        log["message"]


def test_rows_without_identity_are_rejected_not_stored(store):
    frame = sessions_frame(4)
    frame.loc[1, "session_key"] = None
    report = store.import_parse_result(session_result(frame), "k.csv", "k")
    assert (report.rows_added, report.rows_rejected) == (3, 1)
    assert list(store.import_rejects()["reason"]) == [
        "session without key, device or start time"]


def _content(store):
    return {"sessions": store.sessions(), "devices": store.devices(current_only=False),
            "counts": {k: v for k, v in store.counts().items() if k != "import_log"}}


def _part_files(path):
    """(part files on disk, part files the manifest lists) of GeoPackage store ``path``."""
    folder = path.with_name(path.stem + ".history")
    on_disk = {p.relative_to(folder).as_posix() for p in folder.glob("*/part-*.parquet")}
    conn = sqlite3.connect(path)
    listed = {r[0] for r in conn.execute("SELECT file FROM history_parts")}
    conn.close()
    return on_disk, listed


def _same_content(a, b):
    pd.testing.assert_frame_equal(a["sessions"], b["sessions"])
    pd.testing.assert_frame_equal(a["devices"], b["devices"])
    assert a["counts"] == b["counts"]


def test_corrupt_and_unreadable_files_leave_the_store_unchanged(store, tmp_path):
    store.import_parse_result(session_result(sessions_frame(30)), "good.csv", "g")
    before = _content(store)
    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage that is not gzip")
    report = store.import_file(corrupt)
    assert report.outcome == "failed" and "rejected" in report.message
    missing = store.import_file(tmp_path / "nowhere.csv")
    assert missing.outcome == "failed" and "cannot be read" in missing.message
    _same_content(before, _content(store))
    assert list(store.import_log()["outcome"]) == ["imported", "failed", "failed"]


def test_a_failure_during_the_write_rolls_everything_back(store, monkeypatch):
    store.import_parse_result(session_result(sessions_frame(30)), "good.csv", "g")
    before = _content(store)

    def broken(*args, **kwargs):
        raise OSError("disk I/O error")

    monkeypatch.setattr(type(store), "_write_status", broken)
    frame = conform(pd.DataFrame({"observed_utc": [ts("2024-01-01")], "device_id": ["L1"],
                                  "status": ["AVAILABLE"]}), "status_snapshots")
    mixed = ParseResult("x", "x", 31, {"sessions": sessions_frame(30, offset=30),
                                       "status_snapshots": frame})
    with pytest.raises(StoreError, match="rolled back"):
        store.import_parse_result(mixed, "mixed.json", "m")
    _same_content(before, _content(store))
    if isinstance(store, HistoryStore):  # the sessions part written before the failure
        on_disk, listed = _part_files(store.path)  # was removed with the rollback
        assert on_disk == listed and len(listed) == 1
    log = store.import_log()
    assert list(log["outcome"]) == ["imported", "failed"]
    assert "disk I/O error" in log["message"].iloc[-1]
    # The failed file can be imported later: only successful imports block a hash.
    monkeypatch.undo()
    assert store.import_parse_result(mixed, "mixed.json", "m").rows_added == 31


def test_usage_periods_cache_is_replaced(store):
    frame = pd.DataFrame({"device_id": ["A", "B"], "period": ["2018-Q1", "2018-Q1"],
                          "period_start": [pd.Timestamp("2018-01-01").date()] * 2,
                          "period_end": [pd.Timestamp("2018-03-31").date()] * 2,
                          "sessions": [3, 4], "occupancy_pct": [1.5, np.nan]})
    store.write_usage_periods(frame, "quarter")
    store.write_usage_periods(frame.iloc[:1], "quarter")
    back = store.usage_periods("quarter")
    assert list(back["device_id"]) == ["A"] and back["sessions"][0] == 3.0
    assert back["period_start"][0] == "2018-01-01"
    assert store.usage_periods("month").empty


def _make_v1_store(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    store_module._migrate_0_to_1(conn)
    conn.execute("PRAGMA application_id=1196444487")
    conn.execute("PRAGMA user_version=10300")
    conn.execute("INSERT INTO store_meta(key, value) VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO sessions(session_key, device_id, connector_id, start_utc, "
                 "end_utc, kwh, source) VALUES ('k1', 'D1', '1', '2018-01-01T10:00:00.000Z',"
                 " '2018-01-01T11:00:00.000Z', 7.5, 'old')")
    conn.execute("INSERT INTO import_log(file_name, sha256, outcome, message) VALUES "
                 "('old.csv', 'abc', 'imported', '')")
    conn.execute("COMMIT")
    conn.close()


def test_migrates_a_version_1_store(tmp_path):
    path = tmp_path / "v1.gpkg"
    _make_v1_store(path)
    with HistoryStore.create_or_open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        sessions = store.sessions()
        assert list(sessions["session_key"]) == ["k1"] and sessions["kwh"][0] == 7.5
        assert store.import_log()["rows_updated"].tolist() == [0]
        assert store.import_parse_result(session_result(sessions_frame(2)), "new.csv",
                                         "n").rows_added == 2
        assert store.check() == "ok"
    assert "import_rejects" in dict(pyogrio.list_layers(path))


def test_migrates_a_plain_geopackage_and_keeps_its_layers(tmp_path):
    path = tmp_path / "plain.gpkg"
    pyogrio.raw.write(path, geometry=np.array([bytes.fromhex(
        "0101000000000000000000f03f0000000000000040")], dtype=object),
        field_data=[np.array([1], dtype="int64")], fields=["n"], layer="notes",
        driver="GPKG", geometry_type="Point", crs="EPSG:27700")
    with HistoryStore.create_or_open(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    layers = dict(pyogrio.list_layers(path))
    assert layers["notes"] == "Point" and layers["devices"] == "Point"


def test_refuses_files_it_must_not_touch(tmp_path):
    text = tmp_path / "notes.gpkg"
    text.write_text("not a database")
    with pytest.raises(StoreError, match="not an SQLite database"):
        HistoryStore.create_or_open(text)
    newer = tmp_path / "newer.gpkg"
    HistoryStore.create_or_open(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE store_meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer version of the plugin"):
        HistoryStore.create_or_open(newer)
    with pytest.raises(StoreError, match="does not exist"):
        HistoryStore.create_or_open(tmp_path / "missing-dir" / "x.gpkg")


KILL_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "kill_import.py"


@pytest.mark.slow
def test_killing_an_import_leaves_the_old_or_the_new_state(tmp_path):
    path = tmp_path / "history.gpkg"
    journal = tmp_path / "history.gpkg-journal"
    with HistoryStore.create_or_open(path) as store:
        store.import_parse_result(session_result(sessions_frame(50)), "old.csv", "old")
        old = _content(store)
    script = KILL_SCRIPT
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    n_big = 300_000

    def start():
        child = subprocess.Popen([sys.executable, str(script), str(path), str(n_big)],
                                 stdout=subprocess.PIPE, env=env, text=True)
        assert child.stdout.readline().strip() == "writing"
        return child

    killed_mid_write = 0
    committed = False
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3):
        child = start()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        hot_journal = journal.exists() and journal.stat().st_size > 0
        on_disk, listed = _part_files(path)
        hot_journal = hot_journal or bool(on_disk - listed)  # a part no reader sees
        with HistoryStore.create_or_open(path) as store:
            assert store.check() == "ok"
            committed = store.counts()["sessions"] != 50
            if committed:  # the commit won the race
                assert store.counts()["sessions"] == 50 + n_big
                break
            _same_content(old, _content(store))
            assert "importing" not in set(store.import_log()["outcome"])
            assert store.already_imported("big-sha") is None
            killed_mid_write += hot_journal
    assert killed_mid_write > 0, "no kill landed inside the import transaction"
    if not committed:  # left alone, the same import completes
        child = start()
        assert child.wait() == 0 and child.stdout.readline().strip() == "done"
        child.stdout.close()
    with HistoryStore.create_or_open(path) as store:
        assert store.counts()["sessions"] == 50 + n_big
        assert len(store.sessions()) == 50 + n_big
        assert store.check() == "ok"
    on_disk, listed = _part_files(path)  # the next import removed the killed ones' parts
    assert on_disk == listed and len(listed) == 2
