"""The CLI front doors of uptime and reliability over observed time: `validate --store`
and `utilisation --from-status`, on a history really polled from the loopback feed
(tests/support/watched_history.py: polls at 0, 20, 40, 60, 240 and 270 minutes, so
with the 1-hour cap each observation holds 20, 20, 20, 60, 30 and 60 minutes)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from replay_server import ReplayServer
from watched_history import LOCATIONS, evse_uids, poll_history

from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
POD = LOCATIONS["pod"][0]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    store = tmp_path_factory.mktemp("cli-watched") / "live.gpkg"
    with ReplayServer() as server, Workspace(store) as ws:
        poll_history(ws, server)
        uids = evse_uids(server)
    return store, uids


def test_validate_store_reports_reliability_with_observed_hours(watched, tmp_path):
    store, _uids = watched
    result = cli("validate", "--store", store, "--out", tmp_path, "--min-observed-hours", 3)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    ops = {op["operator"]: op for op in report["operators"]}
    assert {k: v["verdict"] for k, v in ops.items()} == {
        "BP Pulse": "fail", "POD Point": "fail", "ubitricity": "pass"}
    assert (report["max_gap_hours"], report["min_observed_hours"]) == (1.0, 3.0)
    # POD Point, 3 EVSEs by hand (minutes): working 130 + 210 + 130 = 470,
    # not working 80 + 20 = 100, excluded 60 (UNKNOWN), 6 observations each
    rapid = ops["POD Point"]["rapid_reliability"]
    assert rapid["working_h"] == pytest.approx(470 / 60)
    assert rapid["down_h"] == pytest.approx(100 / 60)
    assert rapid["observed_h"] == pytest.approx(630 / 60)
    assert (rapid["observations"], rapid["evses"], rapid["result"]) == (18, 3, "fail")
    assert rapid["reliability"] == pytest.approx(470 / 570)
    device = {d["id"]: d for d in ops["POD Point"]["device_reliability"]}[POD]
    assert device["observed_h"] == pytest.approx(630 / 60)
    # BP Pulse: working 120, not working 90 + 60 (the EVSE seen once holds one hour)
    bp = ops["BP Pulse"]["rapid_reliability"]
    assert (bp["observed_h"], bp["observations"]) == (pytest.approx(270 / 60), 7)
    assert "FAIL  POD Point \u2014 rapid network 82.46% over 9.5 counted hours (10.5 " \
           "observed hours, 18 observations of 3 EVSE(s)): fail" in result.stdout
    html = (tmp_path / "report.html").read_text()
    assert "82.46 % (10.5 h observed)" in html


def test_validate_store_says_when_observed_time_is_too_short(watched, tmp_path):
    store, _uids = watched
    result = cli("validate", "--store", store, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    for op in report["operators"]:
        check = next(c for c in op["checks"] if c["code"] == "reliability")
        assert check["result"] == "not_checked"
        if op["rapid_reliability"]:
            assert op["rapid_reliability"]["result"] == "not enough observed time"
            assert "Not enough observed time" in check["message"]
    assert all(op["verdict"] != "fail" for op in report["operators"])


def test_utilisation_from_status_per_evse(watched, tmp_path):
    store, uids = watched
    out = tmp_path / "status.csv"
    result = cli("utilisation", "--store", store, "--from-status", "--by", "evse",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {(r["device_id"], r["evse_uid"]): r for r in csv.DictReader(fh)}
    assert len(rows) == 7
    # POD Point EVSE 1: AV 20 W, CH 20 W, OOO 20 D, OOO 60 D (3 h gap capped), AV 30 W,
    # AV 60 W (last poll, capped): 130 working, 80 not working
    row = rows[uids[("pod", 0)]]
    assert float(row["status_observed_hours"]) == pytest.approx(210 / 60)
    assert int(row["status_observations"]) == 6
    assert float(row["uptime_pct"]) == pytest.approx(100 * 130 / 210)
    single = rows[uids[("bp_new", 0)]]  # seen once: the cap, not until now
    assert float(single["status_observed_hours"]) == pytest.approx(1.0)
    assert int(single["status_observations"]) == 1

    wider = tmp_path / "wide.csv"
    result = cli("utilisation", "--store", store, "--from-status", "--by", "evse",
                 "--max-gap-hours", 4, "--out", wider)
    assert result.returncode == 0, result.stderr
    with open(wider, newline="", encoding="utf-8") as fh:
        rows = {(r["device_id"], r["evse_uid"]): r for r in csv.DictReader(fh)}
    # a 4-hour cap: OOO holds the whole 180-minute gap, the last poll 240 minutes
    row = rows[uids[("pod", 0)]]
    assert float(row["status_observed_hours"]) == pytest.approx((20 * 3 + 180 + 30 + 240) / 60)
    assert float(row["uptime_pct"]) == pytest.approx(100 * 310 / 510)


def test_validate_feed_url_counts_one_fetch_for_the_cap_only(tmp_path):
    with ReplayServer() as server:
        result = cli("validate", server.url + "/ocpi/2.2.1/locations", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    bp = next(op for op in report["operators"] if op["operator"] == "BP Pulse")
    rapid = bp["rapid_reliability"]
    assert (rapid["observations"], rapid["observed_h"]) == (4, pytest.approx(4.0))
    assert rapid["result"] == "not enough observed time"
    assert next(c for c in bp["checks"] if c["code"] == "reliability")["result"] == \
        "not_checked"


def test_bad_options_are_one_line_errors(watched, tmp_path):
    store, _uids = watched
    with HistoryStore.create_or_open(store) as hs:
        before = hs.counts()
    for args, text in (
            (("validate", "--out", tmp_path), "Give files or OCPI URLs"),
            (("validate", "--store", store, "--out", tmp_path, "--max-gap-hours", 0),
             "more than 0 hours"),
            (("validate", "--store", store, "--out", tmp_path, "--min-observed-hours", -2),
             "0 hours or more"),
            (("utilisation", "--store", store, "--max-gap-hours", 2, "--out",
              tmp_path / "u.csv"), "--max-gap-hours goes with --from-status"),
            (("validate", "--store", tmp_path / "none.gpkg", "--out", tmp_path),
             "There is no store")):
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert text in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    with HistoryStore.create_or_open(store) as hs:
        assert hs.counts() == before
