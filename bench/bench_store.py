"""History store: import rate and bulk read time for N sessions.

Run: ``.venv/bin/python bench/bench_store.py [n_sessions]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ev_chargepoints.core.schema import ParseResult, conform  # noqa: E402
from ev_chargepoints.core.store.geopackage import HistoryStore  # noqa: E402


def make_sessions(n: int, n_devices: int = 20_000, seed: int = 0,
                  first_key: int = 0) -> pd.DataFrame:
    """``n`` sessions in 2021 on ``n_devices`` devices; keys first_key, first_key+1, ..."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"GB-CP-{i:06d}" for i in range(n_devices)], dtype=object)
    t0 = pd.Timestamp("2021-01-01", tz="UTC").value
    start = t0 + np.sort(rng.integers(0, 365 * 86400, n)) * 1_000_000_000
    end = start + (rng.exponential(3 * 3600, n) + 60).astype(np.int64) * 1_000_000_000
    keys = np.arange(first_key, first_key + n)
    return conform(pd.DataFrame({
        "session_key": np.char.add("op:", keys.astype(str)).astype(object),
        "source_session_id": keys.astype(str).astype(object),
        "device_id": ids[rng.integers(0, n_devices, n)],
        "connector_id": np.array(["1", "2"], dtype=object)[rng.integers(0, 2, n)],
        "start_utc": pd.to_datetime(start, utc=True), "end_utc": pd.to_datetime(end, utc=True),
        "kwh": np.round(rng.random(n) * 40, 3), "source": "bench"}), "sessions")


def run(n_sessions: int = 3_500_000, seed: int = 0) -> dict:
    frame = make_sessions(n_sessions, seed=seed)
    out = {"n_sessions": n_sessions}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.gpkg"
        with HistoryStore.create_or_open(path) as store:
            result = ParseResult("sessions", "bench", n_sessions, {"sessions": frame})
            t = time.perf_counter()
            report = store.import_parse_result(result, "bench.csv", "sha-1")
            out["import_s"] = time.perf_counter() - t
            out["import_rows_per_s"] = report.rows_added / out["import_s"]
            t = time.perf_counter()
            again = store.import_parse_result(result, "bench-copy.csv", "sha-2")
            out["reimport_s"] = time.perf_counter() - t
            assert again.rows_added == 0
            t = time.perf_counter()
            back = store.sessions()
            out["read_all_columns_s"] = time.perf_counter() - t
            t = time.perf_counter()
            store.sessions(categorical=True, columns=["device_id", "connector_id",
                                                      "start_utc", "end_utc", "kwh"])
            out["read_for_utilisation_s"] = time.perf_counter() - t
            assert len(back) == n_sessions
        out["file_mb"] = path.stat().st_size / 1e6
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3_500_000
    for key, value in run(n).items():
        print(f"{key:26s} {value:.3f}" if isinstance(value, float) else f"{key:26s} {value}")
