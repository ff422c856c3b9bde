"""The month cache keeps what it prepared (the reconciled device of each session key, the
devices' and connectors' facts) beside its files (``prepared-<gen>.npz``): a fresh
Workspace uses it again while the sessions' (source, device, connector) keys and the
devices stay, and prepares again after a device import, new keys, or a damaged file.
Every figure equals the numpy engine's on the same sessions, on the real Dundee data."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from ev_chargepoints.core.analysis import usage_sql_engine as engine
from ev_chargepoints.core.analysis.reconcile import history
from ev_chargepoints.core.analysis.utilisation import reported_utilisation
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.workspace import Workspace
from tests.core.test_usage_sql import assert_same

ROOT = Path(__file__).resolve().parents[2]
DUNDEE = ROOT / "resources" / "data" / "dundee"
NCR = ROOT / "resources" / "data" / "london" / "ncr_chargepoints_london_2022-05.csv.gz"


@pytest.fixture
def prepared(monkeypatch):
    """The Prepared objects made from scratch (not from the kept file)."""
    made = []
    original = engine.Prepared.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)
    monkeypatch.setattr(engine.Prepared, "__init__", counting)
    return made


def _checked(store: Path) -> pd.DataFrame:
    """A fresh Workspace's utilisation, checked against the numpy engine."""
    with Workspace(store) as ws:
        got = ws.utilisation("quarter")
        rec = ws.reconciliation()
        devs, conns = history(rec, ws.store.devices(current_only=False),
                              ws.store.connectors(current_only=False))
        sessions = rec.attach_sessions(ws.store.sessions(categorical=True))
        expected = reported_utilisation(sessions, devs, conns, ws.reconciled_status(),
                                        ws.devices(), "quarter", "device")
    assert_same(got, expected)
    assert len(got) and got["sessions"].sum() > 1000
    return got


def _kept(store: Path) -> list:
    return sorted((store.with_suffix(".history") / "cache" / "device").glob("prepared-*.npz"))


def test_the_prepared_keys_are_kept_until_devices_or_keys_change(tmp_path, prepared,
                                                                  monkeypatch):
    from ev_chargepoints.core.analysis.usage_period_sums import release

    read = []  # the kept Prepared looked up in its file (not the one held in memory)
    looked_up = engine.MonthCache._prepared
    monkeypatch.setattr(engine.MonthCache, "_prepared",
                        lambda self, *a: read.append(1) or looked_up(self, *a))
    store = tmp_path / "dundee.gpkg"
    with Workspace(store) as ws:
        ws.import_files([DUNDEE / "cp-locations.csv.gz", DUNDEE / "cp-data-dec-mar-2018.csv.gz"])
    _checked(store)
    assert len(prepared) == 1 and len(_kept(store)) == 1

    prepared.clear()  # nothing new: the kept one
    _checked(store)
    assert prepared == []

    # the same charge points a year later (same keys, new sessions): kept, months added
    (before,) = _kept(store)
    inode = before.stat().st_ino
    with Workspace(store) as ws:
        again = ws.store.sessions()
        again = conform(again.assign(
            session_key="again:" + again["session_key"].astype(str),
            start_utc=again["start_utc"] + pd.Timedelta(days=364),
            end_utc=again["end_utc"] + pd.Timedelta(days=364)), "sessions")
        report = ws.import_result(ParseResult("sessions", str(again["source"].iloc[0]),
                                              len(again), {"sessions": again}),
                                  "a year later.csv", "sha-a-year-later")
        assert report.rows_added == len(again)
    prepared.clear()
    read.clear()
    _checked(store)
    # the one this process holds, its spans from the new sessions; kept on disk for the next
    assert prepared == [] and read == [] and len(_kept(store)) == 1
    (after,) = _kept(store)  # the new generation's name for the same file, not a rewrite
    assert after != before and after.stat().st_ino == inode
    release()  # (a new QGIS session: nothing held in memory) the kept file is read
    _checked(store)
    assert prepared == [] and read == [1]

    # more devices (a registry extract): prepared again
    extract = tmp_path / "ncr.csv"
    with gzip.open(NCR, "rt", encoding="utf-8", newline="") as handle:
        extract.write_text("".join(next(handle) for _ in range(51)), encoding="utf-8")
    with Workspace(store) as ws:
        assert ws.import_files([extract])[0].outcome == "imported"
    prepared.clear()
    _checked(store)
    assert len(prepared) == 1

    # sessions with keys not seen before: prepared again
    with Workspace(store) as ws:
        ws.import_files([DUNDEE / "cp-data-mar-may-2018.csv.gz"])
    prepared.clear()
    _checked(store)
    assert len(prepared) == 1

    # a damaged kept file, read by a new session: prepared again, same figures, kept again
    (path,) = _kept(store)
    path.write_bytes(b"not a file of frames")
    release()
    prepared.clear()
    _checked(store)
    assert len(prepared) == 1
    prepared.clear()
    _checked(store)
    assert prepared == []


def test_a_store_moved_elsewhere_keeps_its_month_sums(tmp_path, prepared, monkeypatch):
    """The cache names the session parts relative to itself: a store copied or moved with
    its history folder (to a share, another disk) is not computed again from scratch."""
    import shutil

    here = tmp_path / "here"
    here.mkdir()
    with Workspace(here / "dundee.gpkg") as ws:
        ws.import_files([DUNDEE / "cp-locations.csv.gz", DUNDEE / "cp-data-dec-mar-2018.csv.gz"])
    expected = _checked(here / "dundee.gpkg")
    there = tmp_path / "there"
    shutil.move(here, there)
    computed = []
    real = engine.compute_months
    monkeypatch.setattr(engine, "compute_months",
                        lambda *args, **kwargs: computed.append(1) or real(*args, **kwargs))
    prepared.clear()
    got = _checked(there / "dundee.gpkg")
    assert computed == [] and prepared == []  # the month sums and the Prepared kept
    pd.testing.assert_frame_equal(got, expected)
