"""The fingerprint printed on committee pages: stable for the same inputs, else not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ev_chargepoints.core.outputs.fingerprint import fingerprint, fingerprint_inputs
from ev_chargepoints.core.schema import ParseResult, conform
from ev_chargepoints.core.store.geopackage import HistoryStore

UTC = "UTC"


def sessions(n, kwh_last=40.0):
    start = pd.Timestamp("2022-04-01", tz=UTC) + pd.to_timedelta(np.arange(n), unit="h")
    kwh = np.linspace(1, 30, n)
    kwh[-1] = kwh_last
    return conform(pd.DataFrame({
        "session_key": [f"s:{i}" for i in range(n)],
        "source_session_id": [str(i) for i in range(n)],
        "device_id": [f"D{i % 3}" for i in range(n)], "connector_id": "1",
        "start_utc": start, "end_utc": start + pd.Timedelta(minutes=40),
        "kwh": kwh, "source": "test"}), "sessions")


def store_with(path, frame):
    import hashlib

    with HistoryStore.create_or_open(path) as store:
        key = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values
                             .tobytes()).hexdigest()
        store.import_parse_result(ParseResult("sessions", "test", len(frame),
                                              {"sessions": frame}), "usage.csv", key)
        return store.import_log(), store.counts()


def fp(log, counts, **overrides):
    args = {"boundary_version": "london_boroughs@88ab495db268482e", "period": "2022-Q2",
            "threshold": 3, "plugin_version": "0.1.0", **overrides}
    return fingerprint(fingerprint_inputs(log, counts, **args))


def test_same_inputs_same_fingerprint_in_any_store(tmp_path):
    log_a, counts_a = store_with(tmp_path / "a.gpkg", sessions(20))
    log_b, counts_b = store_with(tmp_path / "b.gpkg", sessions(20))
    # imported at other times into other files: same content, same fingerprint
    assert fp(log_a, counts_a) == fp(log_b, counts_b)
    assert len(fp(log_a, counts_a)) == 12
    assert all(c in "0123456789abcdef" for c in fp(log_a, counts_a))


def test_changing_one_session_changes_the_fingerprint(tmp_path):
    log_a, counts_a = store_with(tmp_path / "a.gpkg", sessions(20))
    log_b, counts_b = store_with(tmp_path / "b.gpkg", sessions(20, kwh_last=41.0))
    assert counts_a == counts_b   # same row counts: the import hash tells them apart
    assert fp(log_a, counts_a) != fp(log_b, counts_b)


def test_reimporting_the_same_file_keeps_the_fingerprint(tmp_path):
    path = tmp_path / "a.gpkg"
    log_once, counts_once = store_with(path, sessions(20))
    log_twice, counts_twice = store_with(path, sessions(20))  # logged as already imported
    assert len(log_twice) == len(log_once) + 1
    assert fp(log_once, counts_once) == fp(log_twice, counts_twice)


def test_every_other_input_changes_it(tmp_path):
    log, counts = store_with(tmp_path / "a.gpkg", sessions(20))
    base = fp(log, counts)
    assert fp(log, counts, period="2022-Q1") != base
    assert fp(log, counts, threshold=5) != base
    assert fp(log, counts, plugin_version="0.2.0") != base
    assert fp(log, counts, boundary_version="london_boroughs@0000") != base
    assert fp(log, {**counts, "devices": counts.get("devices", 0) + 1}) != base
