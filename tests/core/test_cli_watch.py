"""`watch` polls a live OCPI feed; occupancy then comes from the status history."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from replay_server import ReplayServer

from ev_chargepoints.core.store.geopackage import HistoryStore

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_watch_records_every_evse_at_every_poll_then_status_occupancy(tmp_path):
    store = tmp_path / "live.gpkg"
    token = "watch-token-5e1"
    with ReplayServer(token=token) as server:
        url = server.url + "/ocpi/2.2.1/locations"
        result = cli("watch", "--ocpi", url, "--every", "1", "--count", "3", "--store", store,
                     "--token-env", "EVCP_WATCH_TOKEN", env={"EVCP_WATCH_TOKEN": token})
        targets = [t for t in server.targets if "/locations" in t]
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 3
    assert token not in result.stdout + result.stderr
    # the first poll is complete, the next ones ask only for changes since the last poll
    assert "date_from" not in targets[0]
    assert any("date_from" in t for t in targets[1:])
    with HistoryStore.create_or_open(store) as hs:
        status = hs.status_snapshots()
    per_poll = status.groupby("observed_utc").size()
    assert len(per_poll) == 3
    assert per_poll.nunique() == 1, "an unchanged EVSE is carried forward at each poll"
    assert per_poll.iloc[0] == status[["device_id", "evse_uid"]].drop_duplicates().shape[0]

    out = tmp_path / "status.csv"
    occ = cli("utilisation", "--store", store, "--from-status", "--by", "evse", "--out", out)
    assert occ.returncode == 0, occ.stderr
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for column in ("evse_uid", "period", "charging_pct", "available_pct", "down_pct",
                   "uptime_pct", "observed_coverage_pct"):
        assert column in rows[0], column
    for row in rows:
        shares = sum(float(row[c] or 0) for c in ("charging_pct", "available_pct", "down_pct"))
        assert shares <= 100.0 + 1e-6
        assert 0 < float(row["observed_coverage_pct"]) <= 100


def test_watch_keeps_going_through_a_failed_poll(tmp_path):
    store = tmp_path / "live.gpkg"
    with ReplayServer() as server:
        server.fault("/ocpi/2.2.1/locations", "status", status=500, times=8)
        result = cli("watch", "--ocpi", server.url + "/ocpi/2.2.1/locations", "--every", "1",
                     "--count", "2", "--store", store)
    assert result.returncode == 0
    assert "poll failed, will try again" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_occupancy_without_status_says_what_to_do(tmp_path):
    store = tmp_path / "empty.gpkg"
    HistoryStore.create_or_open(store).close()
    result = cli("utilisation", "--store", store, "--from-status", "--out", tmp_path / "x.csv")
    assert result.returncode == 2
    assert "run 'watch'" in result.stderr


def test_a_poll_while_the_clock_stands_still_is_kept_as_its_own_poll(tmp_path):
    # The wall clock may step back (NTP) or two polls fall in one second: a poll stamped
    # like the one before would be taken for it and dropped as a repeat import.
    import pandas as pd

    from ev_chargepoints.core.workspace import Workspace

    store = tmp_path / "live.gpkg"
    with ReplayServer() as server, Workspace(store) as ws:
        url = server.url + "/ocpi/2.2.1/locations"
        first, since = ws.poll_ocpi_status(url, token=None)
        ahead = since + pd.Timedelta(minutes=5)  # the last poll's time, ahead of the clock
        second, observed = ws.poll_ocpi_status(url, token=None, since=ahead)
        assert observed == ahead + pd.Timedelta(seconds=1)
        status = ws.store.status_snapshots()
    per_poll = status.groupby("observed_utc").size()
    assert len(per_poll) == 2
    assert per_poll.iloc[1] == per_poll.iloc[0] > 0
