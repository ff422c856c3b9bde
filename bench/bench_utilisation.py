"""Per-device per-quarter utilisation of N sessions: our engine against duckdb.

duckdb runs the plain group-by (count, kWh, plugged hours by start quarter in
UK local time) on the same pandas DataFrame; our engine does more (splits
plugged time at quarter ends and local midnights, in-use days, available
hours, quality flags). Run: ``.venv/bin/python bench/bench_utilisation.py
[n_sessions] [n_devices]``.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ev_chargepoints.core.analysis.utilisation import utilisation  # noqa: E402

DUCKDB_SQL = """
SELECT device_id,
       date_trunc('quarter', timezone('Europe/London', start_utc)) AS quarter,
       count(*) AS sessions, sum(kwh) AS kwh,
       sum(epoch(end_utc - start_utc)) / 3600 AS plugged_hours
FROM sessions WHERE end_utc IS NOT NULL GROUP BY 1, 2
"""


def make_sessions(n_sessions: int, n_devices: int, seed: int = 0) -> pd.DataFrame:
    """Canonical-shaped sessions: object ids, tz-aware UTC times, ~1 % open."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"GB-CP-{i:06d}" for i in range(n_devices)], dtype=object)
    t0 = pd.Timestamp("2021-01-01", tz="UTC").value
    start = t0 + rng.integers(0, 2 * 365 * 86400, n_sessions) * 1_000_000_000
    length = (rng.exponential(3 * 3600, n_sessions) + 60).astype(np.int64) * 1_000_000_000
    end = (start + length).view("datetime64[ns]")
    end[rng.random(n_sessions) < 0.01] = np.datetime64("NaT")
    return pd.DataFrame({
        "session_key": pd.RangeIndex(n_sessions).astype(str) if n_sessions <= 1_000_000
        else None,
        "device_id": ids[rng.integers(0, n_devices, n_sessions)],
        "connector_id": np.array(["1", "2"], dtype=object)[rng.integers(0, 2, n_sessions)],
        "start_utc": pd.to_datetime(start, utc=True),
        "end_utc": pd.Series(end).dt.tz_localize("UTC"),
        "charging_end_utc": pd.Series(pd.NaT, index=range(n_sessions), dtype="datetime64[ns, UTC]"),
        "kwh": rng.random(n_sessions) * 40,
    })


def _timed(func, repeat=2):
    best = float("inf")
    result = None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t)
    return best, result


def _peak_mb(func) -> float:
    gc.collect()
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def run(n_sessions: int = 10_000_000, n_devices: int = 100_000, seed: int = 0,
        repeat: int = 2, memory: bool = True) -> dict:
    import duckdb

    frame = make_sessions(n_sessions, n_devices, seed)
    categorical = frame.copy()
    categorical["device_id"] = categorical["device_id"].astype("category")
    categorical["connector_id"] = categorical["connector_id"].astype("category")
    con = duckdb.connect()
    out = {"n_sessions": n_sessions, "n_devices": n_devices}

    def duck(data):
        con.register("sessions", data)
        result = con.execute(DUCKDB_SQL).fetchnumpy()
        con.unregister("sessions")
        return result

    out["duckdb_object_s"], ref = _timed(lambda: duck(frame), repeat)
    out["engine_object_s"], ours = _timed(lambda: utilisation(frame), repeat)
    out["duckdb_categorical_s"], _ = _timed(lambda: duck(categorical), repeat)
    out["engine_categorical_s"], _ = _timed(lambda: utilisation(categorical), repeat)
    out["engine_categorical_no_flags_s"], _ = _timed(
        lambda: utilisation(categorical, quality=False), repeat)
    out["ratio_object"] = out["engine_object_s"] / out["duckdb_object_s"]
    out["ratio_categorical"] = out["engine_categorical_s"] / out["duckdb_categorical_s"]
    # Same answers where both compute the same thing.
    assert int(ours["sessions"].sum()) == int(ref["sessions"].sum())
    assert np.isclose(ours["kwh"].sum(), ref["kwh"].sum())
    assert np.isclose(ours["plugged_hours"].sum(), ref["plugged_hours"].sum())
    if memory:
        out["engine_peak_extra_mb"] = _peak_mb(lambda: utilisation(categorical))
        out["engine_object_peak_extra_mb"] = _peak_mb(lambda: utilisation(frame))
    out["input_frame_mb"] = frame.memory_usage(deep=False).sum() / 1e6
    out["process_max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    for key, value in run(n, d).items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
