"""The CLI front door end to end: import, fetch, utilisation and summary.

Runs `python -m ev_chargepoints` in a subprocess, as users do, against real
files and the loopback replay server.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from replay_server import NCR_ID, ReplayServer

from ev_chargepoints.core.paths import RESOURCES

ROOT = Path(__file__).resolve().parents[2]
DUNDEE = RESOURCES / "data" / "dundee"
DUNDEE_FILES = ["cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz",
                "charge-sessions-june-sept.csv.gz"]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def dundee_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("dundee") / "store.gpkg"
    result = cli("import", *[DUNDEE / f for f in DUNDEE_FILES], "--store", store)
    assert result.returncode == 0, result.stderr
    return store, result


def test_import_prints_what_was_read_added_and_rejected(dundee_store):
    _, result = dundee_store
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    first = next(line for line in lines if line.startswith("cpdata.csv.gz"))
    assert "15,502 rows read" in first and "15,497 added" in first and "5 rejected" in first


def test_reimport_adds_nothing(dundee_store):
    store, _ = dundee_store
    again = cli("import", DUNDEE / DUNDEE_FILES[0], "--store", store)
    assert again.returncode == 0
    assert "already imported, nothing added" in again.stdout


def test_unreadable_file_gives_one_line_reason_and_exit_2(dundee_store, tmp_path):
    store, _ = dundee_store
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x00\x01garbage\xff\xfe not a table\n" * 3)
    result = cli("import", broken, "--store", store)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "broken.csv: not imported" in result.stdout
    assert "store keeps everything imported before" in result.stderr


def test_missing_file_is_reported_not_crashed(dundee_store, tmp_path):
    store, _ = dundee_store
    result = cli("import", tmp_path / "nope.csv", "--store", store)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_utilisation_csv_has_the_documented_columns(dundee_store, tmp_path):
    store, _ = dundee_store
    out = tmp_path / "u.csv"
    result = cli("utilisation", "--store", store, "--period", "quarter", "--out", out)
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for column in ("device_id", "period_start", "sessions", "kwh", "plugged_hours",
                   "occupancy_pct", "sessions_per_day", "kwh_per_day", "capacity_factor_pct"):
        assert column in rows[0], column
    assert {r["period"] for r in rows} >= {"2017-Q4", "2018-Q1", "2018-Q2"}
    # trends: change against the previous quarter, recomputed in the test
    by_key = {(r["device_id"], r["period"]): r for r in rows}
    checked = 0
    for (device, period), row in by_key.items():
        year, quarter = int(period[:4]), int(period[-1])
        previous = f"{year - (quarter == 1)}-Q{4 if quarter == 1 else quarter - 1}"
        if (device, previous) in by_key:
            expected = float(row["sessions"]) - float(by_key[(device, previous)]["sessions"])
            assert float(row["sessions_change"]) == expected
            checked += 1
    assert checked > 50 and "sessions_yoy_change" in rows[0]
    assert all(0 <= float(r["occupancy_pct"] or 0) <= 100 for r in rows)
    # every imported session that has ended is counted in exactly one period
    total = sum(int(float(r["sessions"])) for r in rows)
    assert 66_000 < total <= 67_078


def test_utilisation_without_a_store_says_so(tmp_path):
    result = cli("utilisation", "--store", tmp_path / "none.gpkg", "--out", tmp_path / "u.csv")
    assert result.returncode == 2
    assert "There is no store" in result.stderr and "Traceback" not in result.stderr


def test_fetch_from_the_datastore_then_summarise_by_borough(tmp_path):
    store = tmp_path / "s.gpkg"
    with ReplayServer() as server:
        result = cli("fetch", "--datastore", server.url, "--dataset", NCR_ID, "--store", store)
    assert result.returncode == 0, result.stderr
    assert "8,940 rows read" in result.stdout
    out = tmp_path / "boroughs.csv"
    summary = cli("summary", "--store", store, "--level", "borough", "--out", out)
    assert summary.returncode == 0, summary.stderr
    assert "402 outside London" in summary.stderr
    with open(out, newline="") as fh:
        rows = {r["area_name"]: r for r in csv.DictReader(fh)}
    assert len(rows) == 33
    for column in ("area_code", "area_name", "devices", "connectors", "rapid_devices",
                   "devices_per_10k", "sessions", "kwh", "occupancy_pct"):
        assert column in rows["Westminster"], column
    assert int(rows["Westminster"]["devices"]) == 1214
    assert sum(int(r["devices"]) for r in rows.values()) == 8538


def test_fetch_ocpi_reads_the_token_from_the_environment_only(tmp_path):
    store = tmp_path / "s.gpkg"
    token = "ocpi-token-for-tests-9d2f"
    with ReplayServer(token=token) as server:
        url = server.url + "/ocpi/2.2.1/locations"
        denied = cli("fetch", "--ocpi", url, "--store", store)
        ok = cli("fetch", "--ocpi", url, "--token-env", "EVCP_TEST_TOKEN", "--store", store,
                 env={"EVCP_TEST_TOKEN": token})
    assert denied.returncode == 2 and "HTTP 401" in denied.stderr
    assert "Traceback" not in denied.stderr
    assert ok.returncode == 0, ok.stderr
    assert "added" in ok.stdout
    for output in (denied.stdout, denied.stderr, ok.stdout, ok.stderr):
        assert token not in output


def test_summary_reads_custom_areas_with_detected_fields(tmp_path):
    store = tmp_path / "s.gpkg"
    ncr = RESOURCES / "data" / "london" / "ncr_chargepoints_london_2022-05.csv.gz"
    assert cli("import", ncr, "--store", store).returncode == 0
    out = tmp_path / "wards.csv"
    result = cli("summary", "--store", store, "--areas",
                 RESOURCES / "data" / "london" / "london_wards_2011_citymerged.gpkg",
                 "--level", "ward", "--out", out)
    assert result.returncode == 0, result.stderr
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 625
    assert sum(int(r["devices"]) for r in rows) == 8538
