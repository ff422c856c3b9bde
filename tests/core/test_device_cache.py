"""The derived cache of the reconciliation and device history (:mod:`.device_cache`):
exact round trips, kept across a sessions import, recomputed after a device import or a
decision, and a damaged file ignored."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis import device_cache
from ev_chargepoints.core.analysis.reconcile import history, reconcile
from ev_chargepoints.core.analysis.source_records import unit_key
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
NCR = ROOT / "resources/data/london/ncr_chargepoints_london_2022-05.csv.gz"
DUNDEE = ROOT / "resources/data/dundee/cpdata.csv.gz"
SPEC = ROOT / "tests/data/ocpi/spec-examples/location_example.json"


def _head(source: Path, target: Path, rows: int, skip: int = 0) -> Path:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as handle:
        lines = [next(handle) for _ in range(rows + skip + 1)]
    target.write_text("".join(lines[:1] + lines[1 + skip:]), encoding="utf-8")
    return target


def test_frames_round_trip_exactly(tmp_path):
    times = pd.to_datetime(["2024-01-01T00:00:00.000Z", None, "2024-03-31T23:59:59.500Z"],
                           utc=True)  # (one format: pandas 2 refuses to guess per row)
    frame = pd.DataFrame({
        "text": ["a", None, "é\u2603"], "nan_text": ["x", np.nan, ""],
        "no_text": pd.Series([None, None, None], dtype=object),
        "n": np.array([1, -2, 3], dtype=np.int64), "kw": [1.5, np.nan, 0.0],
        "flag": [True, False, True], "utc": times, "naive": times.tz_localize(None),
        "cat": pd.Categorical(["b", "a", "b"]),
    })
    empty = frame.iloc[:0].reset_index(drop=True)
    bare = pd.DataFrame(columns=["a", "b"])  # an empty object index, as reconcile makes
    path = tmp_path / "frames.npz"
    path.write_bytes(device_cache.dump_frames({"f": frame, "e": empty, "b": bare},
                                                {"stamp": "s"}))
    frames, meta = device_cache.load_frames(path)
    assert meta == {"stamp": "s"}
    pd.testing.assert_frame_equal(frames["f"], frame, check_exact=True)
    pd.testing.assert_frame_equal(frames["e"], empty, check_exact=True)
    pd.testing.assert_frame_equal(frames["b"], bare, check_exact=True)
    assert frames["f"]["text"][1] is None and np.isnan(frames["f"]["nan_text"][1])


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"mixed": pd.Series(["a", 1], dtype=object)}),
    pd.DataFrame({"a": ["x", "y"]}, index=[3, 4]),
    pd.DataFrame({"sep": ["a\x1eb"]}),
])
def test_frames_it_cannot_hold_exactly_are_refused(frame):
    with pytest.raises(device_cache.Unsupported):
        device_cache.dump_frames({"f": frame}, {})


@pytest.fixture
def files(tmp_path):
    envelope = {"data": [json.loads(SPEC.read_text("utf-8"))], "status_code": 1000,
                "timestamp": "2015-06-30T21:59:59Z"}
    ocpi = tmp_path / "locations.json"
    ocpi.write_text(json.dumps(envelope), encoding="utf-8")
    return {"ncr": _head(NCR, tmp_path / "ncr.csv", 200),
            "ncr_more": _head(NCR, tmp_path / "ncr_more.csv", 150, skip=100),
            "sessions": _head(DUNDEE, tmp_path / "sessions.csv", 300),
            "ocpi": ocpi}


def _fresh(store_path: Path):
    """(reconciliation, history, computed?) as a fresh Workspace sees them."""
    calls = []
    with Workspace(store_path) as ws:
        store = ws.store

        def compute():
            calls.append("rec")
            return reconcile(store.devices(), store.connectors(), store.decisions())
        rec, hist = device_cache.cached_reconciliation(store, compute, lambda r: history(
            r, store.devices(current_only=False), store.connectors(current_only=False)))
        expected = reconcile(store.devices(), store.connectors(), store.decisions())
        expected_hist = history(expected, store.devices(current_only=False),
                                store.connectors(current_only=False))
    _assert_same(rec, hist, expected, expected_hist)
    return rec, bool(calls)


def _assert_same(rec, hist, expected, expected_hist) -> None:
    """Reconciliations and device histories equal, exactly."""
    for name in ("devices", "connectors", "links", "review", "device_map"):
        pd.testing.assert_frame_equal(getattr(rec, name), getattr(expected, name),
                                      check_exact=True)
    assert rec.counts == expected.counts
    for got, want in zip(hist, expected_hist):
        pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_the_cache_is_kept_by_a_sessions_import_and_redone_after_devices_or_a_decision(
        tmp_path, files):
    store = tmp_path / "store.gpkg"
    with Workspace(store) as ws:
        ws.import_files([files["ncr"], files["ocpi"]])
        first = ws.utilisation("quarter")
    cache_file = store.with_suffix(".history") / "cache" / device_cache.FILE_NAME
    assert cache_file.exists()
    assert _fresh(store)[1] is False  # read back, not computed
    with Workspace(store) as ws:  # a fresh Workspace gives the same figures
        pd.testing.assert_frame_equal(ws.utilisation("quarter"), first)
        ws.import_files([files["sessions"]])
    assert _fresh(store)[1] is False  # sessions do not touch it

    with Workspace(store) as ws:  # devices: a second registry file closes and adds rows
        ws.import_files([files["ncr_more"]])
    rec, computed = _fresh(store)
    assert computed and _fresh(store)[1] is False

    links = rec.links
    registry = links[~links["source"].str.startswith("ocpi")].iloc[0]
    feed = links[links["source"].str.startswith("ocpi")].iloc[0]
    with Workspace(store) as ws:
        ws.decide(unit_key(registry["source"], registry["source_device_id"]),
                  unit_key(feed["source"], feed["source_device_id"], feed["evse_uid"]),
                  "same")
    rec, computed = _fresh(store)
    assert computed and rec.counts["decision"] >= 1
    # the ids whose rows may attach elsewhere: found without the lookup dicts, the same
    quick = set(rec._touched())
    assert quick and "unit" not in rec._lookup
    rec._build_lookup()
    assert rec._lookup["touched"] == quick
    with Workspace(store) as ws:  # and the utilisation of a fresh Workspace follows
        assert ws.reconciliation().counts["decision"] >= 1


def test_computed_from_the_device_and_connector_history_read_once(tmp_path, files,
                                                                   monkeypatch):
    """Without a cache file, the devices and connectors are read once (their whole
    history, today's rows taken from it): the same reconciliation and history as today's
    rows read on their own, with closed rows in the store."""
    store = tmp_path / "store.gpkg"
    with Workspace(store) as ws:
        ws.import_files([files["ncr_more"], files["ocpi"]])
    with Workspace(store) as ws:  # a newer registry snapshot closes and adds rows
        ws.import_files([files["ncr"]])
    cache_file = store.with_suffix(".history") / "cache" / device_cache.FILE_NAME
    with Workspace(store) as ws:
        s = ws.store
        assert (s.devices(current_only=False)["valid_to_utc"].notna().any()
                and s.connectors(current_only=False)["valid_to_utc"].notna().any())
        expected = reconcile(s.devices(), s.connectors(), s.decisions())
        expected_hist = history(expected, s.devices(current_only=False),
                                s.connectors(current_only=False))
        cache_file.unlink(missing_ok=True)
        device_cache._LAST_READ.clear()
        reads = []
        for name in ("devices", "connectors"):
            real = getattr(s, name)
            monkeypatch.setattr(s, name, lambda *a, _real=real, _name=name, **k: (
                reads.append(_name), _real(*a, **k))[1])
        rec, hist = device_cache.reconciled(s)
    assert sorted(reads) == ["connectors", "devices"]
    _assert_same(rec, hist, expected, expected_hist)


def test_a_damaged_cache_file_is_ignored_and_replaced(tmp_path, files):
    store = tmp_path / "store.gpkg"
    with Workspace(store) as ws:
        ws.import_files([files["ncr"], files["sessions"]])
        expected = ws.utilisation("quarter")
    cache_file = store.with_suffix(".history") / "cache" / device_cache.FILE_NAME
    for damage in (b"not a zip file", cache_file.read_bytes()[:-200]):
        cache_file.write_bytes(damage)
        assert device_cache.load_frames(cache_file) is None
        assert _fresh(store)[1] is True  # recomputed, and written again
        assert device_cache.load_frames(cache_file) is not None
        cache_file.write_bytes(damage)
        with Workspace(store) as ws:
            pd.testing.assert_frame_equal(ws.utilisation("quarter"), expected)


def test_the_next_workspace_in_the_process_takes_the_frames_without_reading_the_file(
        tmp_path, files, monkeypatch):
    """The next action of a QGIS session opens a fresh Workspace: the frames last read or
    written are taken as they are while the stamp and the file stay the same."""
    store = tmp_path / "store.gpkg"
    with Workspace(store) as ws:
        ws.import_files([files["ncr"], files["ocpi"], files["sessions"]])
        expected = ws.utilisation("quarter")
    reads = []
    real_load = device_cache.load_frames
    monkeypatch.setattr(device_cache, "load_frames", lambda path: (
        Path(path).name == device_cache.FILE_NAME and reads.append(path)) or real_load(path))
    assert _fresh(store)[1] is False and not reads  # held since it was written
    with Workspace(store) as ws:
        pd.testing.assert_frame_equal(ws.utilisation("quarter"), expected)
    assert not reads
    cache_file = store.with_suffix(".history") / "cache" / device_cache.FILE_NAME
    cache_file.write_bytes(cache_file.read_bytes())  # the same bytes, a newer file
    assert _fresh(store)[1] is False and len(reads) == 1  # read again, then held
    assert _fresh(store)[1] is False and len(reads) == 1
    with Workspace(store) as ws:  # a device import: the stamp moves, computed again
        ws.import_files([files["ncr_more"]])
    assert _fresh(store)[1] is True


def test_a_long_running_workspace_keeps_only_the_current_states_tables(tmp_path, files):
    """A dock or `watch` holds one Workspace for hours, one import per poll: what it
    computed for an older state of the store is let go, not kept beside the new."""
    store = tmp_path / "store.gpkg"
    with Workspace(store) as ws:
        ws.import_files([files["ncr"], files["sessions"]])
        first = ws.utilisation("quarter")
        ws.reconciliation()
        stamp = ws.store_stamp()
        assert {k[-1] for k in ws._cache if isinstance(k[-1], int)} == {stamp}
        ws.import_files([files["ocpi"]])
        second = ws.utilisation("quarter")
        assert ws.store_stamp() > stamp
        assert {k[-1] for k in ws._cache if isinstance(k[-1], int)} == {ws.store_stamp()}
        assert not any(v is first for v in ws._cache.values())
        assert ws.utilisation("quarter") is second  # the current state's stay cached
