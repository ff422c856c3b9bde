"""The GeoPackage store's usage history in Parquet parts (schema 5): the migration of a
real schema-4 store, completions of open sessions, status duplicates, orphan parts, the
reading API for the DuckDB engine, and a store without DuckDB."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.errors import StoreError
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.gpkg_schema import SCHEMA_VERSION
from ev_chargepoints.core.store.history_parts import MISSING_DUCKDB, duckdb_connection

ROOT = Path(__file__).resolve().parents[2]
STORES = ROOT / "tests" / "data" / "stores"

# What the schema-4 code (commit b8c541e, tests/data/stores/make_schema4_store.py) wrote.
SCHEMA4_COUNTS = {"devices": 79, "connectors": 4, "sessions": 300, "status_snapshots": 3,
                  "import_log": 6, "import_rejects": 8, "usage_periods": 0}
SCHEMA4_LOG = [  # file, outcome, added, updated, duplicate, rejected
    ("cp-locations.csv.gz", "imported", 77, 0, 0, 5),
    ("dundee-head.csv", "imported", 298, 0, 0, 2),
    ("open.csv", "imported", 2, 0, 0, 1),
    ("closed.csv", "imported", 0, 1, 1, 0),
    ("location_example.json", "imported", 6, 0, 0, 0),
    ("location_example_uc2_destination_charger.json", "imported", 3, 0, 0, 0)]
SCHEMA4_REJECTS = {1: 5, 2: 2, 3: 1}


def ts(text):
    return pd.Timestamp(text, tz="UTC")


def _expected(name, table):
    frame = pd.read_csv(STORES / name, dtype=str, keep_default_na=False)
    frame = frame.replace({"": None})
    return conform(frame, table)


def _sessions(keys, open_=(), kwh=5.0, start="2018-01-01"):
    n = len(keys)
    begin = ts(start) + pd.to_timedelta(np.arange(n), unit="h")
    frame = pd.DataFrame({"session_key": keys, "source_session_id": keys,
                          "device_id": [f"D{i % 3}" for i in range(n)], "connector_id": "1",
                          "start_utc": begin, "end_utc": begin + pd.Timedelta(minutes=40),
                          "kwh": kwh, "source": "t"})
    frame.loc[frame["session_key"].isin(open_), ["end_utc", "kwh"]] = [pd.NaT, np.nan]
    return ParseResult("sessions", "t", n, {"sessions": conform(frame, "sessions")})


def _status(times, device="L1"):
    frame = pd.DataFrame({"observed_utc": [ts(t) for t in times], "device_id": device,
                          "evse_uid": ["E1"] * len(times), "status": "AVAILABLE",
                          "raw_status": "AVAILABLE", "source": "ocpi"})
    return ParseResult("ocpi", "ocpi", len(times),
                       {"status_snapshots": conform(frame, "status_snapshots")})


def test_a_schema_4_store_migrates_once_and_keeps_everything(tmp_path):
    path = tmp_path / "old.gpkg"
    shutil.copy(STORES / "schema4_store.gpkg", path)
    # Parts left by a migration killed before its commit are overwritten.
    orphan = tmp_path / "old.history" / "sessions" / "part-00000002.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half a file")
    size_before = path.stat().st_size
    with HistoryStore.create_or_open(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 5
        assert store.check() == "ok"
        assert store.counts() == SCHEMA4_COUNTS
        sessions = store.sessions()
        expected = _expected("schema4_store_sessions.csv", "sessions")
        by_key = sessions.sort_values("session_key").reset_index(drop=True)
        pd.testing.assert_frame_equal(
            by_key, expected.sort_values("session_key").reset_index(drop=True))
        completed = sessions[sessions["session_key"] == "cps:9000001"]
        assert len(completed) == 1 and completed["kwh"].iloc[0] == 12.25
        assert completed["end_utc"].iloc[0] == ts("2017-12-01T14:30")
        pd.testing.assert_frame_equal(store.status_snapshots(),
                                      _expected("schema4_store_status.csv",
                                                "status_snapshots"))
        log = store.import_log()
        assert list(zip(log["file_name"], log["outcome"], log["rows_added"],
                        log["rows_updated"], log["rows_duplicate"],
                        log["rows_rejected"])) == SCHEMA4_LOG
        assert store.import_rejects().groupby("import_id").size().to_dict() == \
            SCHEMA4_REJECTS
        assert "end is before start" in set(store.import_rejects(3)["reason"])
        assert store.history_parts("sessions")["import_id"].tolist() == [2, 3, 4]
        assert store.history_parts("status_snapshots")["rows"].tolist() == [2, 1]
        manifest = store.history_parts("sessions")
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    contents = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
    conn.close()
    assert not {"sessions", "status_snapshots"} & (tables | contents)
    assert path.stat().st_size < size_before  # vacuumed after the move
    # Opened again: no second migration, the same parts.
    with HistoryStore.create_or_open(path) as store:
        pd.testing.assert_frame_equal(store.history_parts("sessions"), manifest)
        assert store.counts() == SCHEMA4_COUNTS
        # and the migrated store takes new imports with the old semantics
        report = store.import_parse_result(_sessions(["cps:9000001", "new:1"]), "n.csv", "n")
        assert (report.rows_added, report.rows_duplicate) == (1, 1)
        assert store.counts()["sessions"] == 301


def test_an_open_session_is_completed_by_a_later_part(tmp_path):
    with HistoryStore.create_or_open(tmp_path / "h.gpkg") as store:
        first = store.import_parse_result(_sessions(["a", "b", "c"], open_=["b", "c"]),
                                          "1.csv", "1")
        assert (first.rows_added, first.rows_updated) == (3, 0)
        second = store.import_parse_result(_sessions(["b", "c", "d"], open_=["c"], kwh=9.0),
                                           "2.csv", "2")
        # b completed, c still open (a duplicate), d new
        assert (second.rows_added, second.rows_updated, second.rows_duplicate) == (1, 1, 1)
        back = store.sessions()
        assert back["session_key"].tolist() == ["a", "c", "b", "d"]  # by import, then key
        row = back.set_index("session_key").loc["b"]
        # the incoming end and kWh, the stored row's start
        assert row["kwh"] == 9.0 and row["end_utc"] == ts("2018-01-01T00:40")
        assert row["start_utc"] == ts("2018-01-01T01:00")
        assert store.counts()["sessions"] == 4
        parts = store.history_parts("sessions")
        assert parts["rows"].tolist() == [3, 2] and parts["import_id"].tolist() == [1, 2]
        assert str(parts["min_time_utc"].dtype) == "datetime64[ns, UTC]"
        assert parts["max_end_utc"].tolist() == [ts("2018-01-01T00:40"),
                                                 ts("2018-01-01T02:40")]
        # Completed again by a third file: a duplicate now.
        third = store.import_parse_result(_sessions(["b"]), "3.csv", "3")
        assert (third.rows_added, third.rows_updated, third.rows_duplicate) == (0, 0, 1)
        # The relation the DuckDB engine reads: the same rows, on its own connection.
        con = duckdb_connection()
        rel = store.history_relation(con, "sessions")
        rows = con.execute(f"SELECT session_key, kwh, import_id FROM {rel} s"
                           " ORDER BY session_key").fetchall()
        assert rows == [("a", 5.0, 1), ("b", 9.0, 2), ("c", None, 1), ("d", 9.0, 2)]
        empty = store.history_relation(con, "status_snapshots")
        assert con.execute(f"SELECT count(*) FROM {empty} s").fetchone()[0] == 0
        con.close()
        window = store.sessions(ts("2018-01-01T01:00"), ts("2018-01-01T02:00"))
        assert window["session_key"].tolist() == ["b"]


def test_status_snapshots_keep_the_first_of_each_observation(tmp_path):
    with HistoryStore.create_or_open(tmp_path / "h.gpkg") as store:
        one = store.import_parse_result(_status(["2024-01-01T10:00", "2024-01-01T10:05"]),
                                        "s1.json", "s1")
        assert (one.rows_added, one.rows_duplicate) == (2, 0)
        two = store.import_parse_result(
            _status(["2024-01-01T10:05", "2024-01-01T10:10", "2024-01-01T10:10"]),
            "s2.json", "s2")
        assert (two.rows_added, two.rows_duplicate) == (1, 2)
        far = store.import_parse_result(_status(["2025-01-01"]), "s3.json", "s3")
        assert far.rows_added == 1
        back = store.status_snapshots()
        assert back["observed_utc"].tolist() == [ts("2024-01-01T10:00"),
                                                 ts("2024-01-01T10:05"),
                                                 ts("2024-01-01T10:10"), ts("2025-01-01")]
        assert store.counts()["status_snapshots"] == 4
        assert len(store.status_snapshots(ts("2024-01-01T10:05"), ts("2025-01-01"))) == 2


def test_orphan_parts_are_ignored_and_removed_by_the_next_import(tmp_path):
    path = tmp_path / "h.gpkg"
    with HistoryStore.create_or_open(path) as store:
        store.import_parse_result(_sessions(["a"]), "1.csv", "1")
        orphan = store.history_dir / "sessions" / "part-00000009.parquet"
        con = duckdb.connect()
        con.execute(f"COPY (SELECT 'zz' AS session_key) TO '{orphan}' (FORMAT parquet)")
        con.close()
        assert store.sessions()["session_key"].tolist() == ["a"]
        store.import_parse_result(_sessions(["b"]), "2.csv", "2")
        assert not orphan.exists()
        assert sorted(p.name for p in (store.history_dir / "sessions").iterdir()) == \
            ["part-00000001.parquet", "part-00000002.parquet"]


def test_a_store_opens_without_duckdb(tmp_path):
    path = tmp_path / "h.gpkg"
    with HistoryStore.create_or_open(path) as store:
        store.import_parse_result(_sessions(["a"]), "1.csv", "1")
    code = (
        "import sys; sys.modules['duckdb'] = None\n"
        "from ev_chargepoints.core.store.geopackage import HistoryStore\n"
        "from ev_chargepoints.core.errors import StoreError\n"
        f"store = HistoryStore.create_or_open({str(path)!r})\n"
        "print(store.counts()['sessions'], len(store.devices()))\n"
        "try:\n    store.sessions()\nexcept StoreError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.splitlines()
    assert out == ["1 0", MISSING_DUCKDB]


def test_a_store_copied_without_its_history_folder_says_so(tmp_path):
    path = tmp_path / "h.gpkg"
    with HistoryStore.create_or_open(path) as store:
        store.import_parse_result(_sessions(["a"]), "1.csv", "1")
        assert store.check() == "ok"
    lone = tmp_path / "lone" / "h.gpkg"
    lone.parent.mkdir()
    shutil.copyfile(path, lone)
    with HistoryStore.create_or_open(lone) as store:
        assert store.check().startswith("1 usage history file(s) missing")
        assert store.counts()["sessions"] == 1  # the manifest alone
        with pytest.raises(StoreError, match="copy the folder h.history together"):
            store.sessions()
