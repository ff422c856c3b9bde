"""Shared store (PostGIS): import rate (the import keeps utilisation's month sums,
:mod:`.usage_months`) and per device per quarter utilisation from those sums against
the pandas engine on the same data, at growing sizes.

Each size gets a fresh database in a temporary PostgreSQL + PostGIS cluster
started with its crash-safety settings on (fsync, full page writes), so the
import rate is an honest one. Run alone: ``.venv/bin/python bench/bench_pgstore.py
2000000 10000000`` (sizes in sessions), or through ``python -m bench --only shared``.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from bench.bench_store import make_sessions  # noqa: E402

BATCH = 10_000_000  # sessions per imported file (bounds the benchmark's own memory)


def measure(cluster, n_sessions: int, n_devices: int = 20_000, seed: int = 0) -> dict:
    """One size: import (in files of at most BATCH sessions, as returns arrive), SQL
    utilisation, the pandas engine (read back + compute), and where both disagree."""

    from ev_chargepoints.core.analysis.usage_coverage import (
        keep_covered,
        session_counts,
        usage_coverage,
    )
    from ev_chargepoints.core.analysis.utilisation import utilisation
    from ev_chargepoints.core.schema import ParseResult
    from ev_chargepoints.core.store.postgis import usage as pg_usage
    from ev_chargepoints.core.store.postgis.backend import PostgisStore

    database = cluster.create_database()
    out = {"n_sessions": n_sessions, "n_devices": n_devices}
    try:
        with PostgisStore.create_or_open(cluster.dsn(database)) as store:
            out["import_s"] = 0.0
            for first in range(0, n_sessions, BATCH):
                size = min(BATCH, n_sessions - first)
                frame = make_sessions(size, n_devices=n_devices, seed=seed + first,
                                      first_key=first)
                result = ParseResult("sessions", "bench", size, {"sessions": frame})
                gc.collect()
                start = time.perf_counter()
                report = store.import_parse_result(result, f"bench-{first}.csv",
                                                   f"sha-bench-{first}")
                out["import_s"] += time.perf_counter() - start
                assert report.rows_added == size, report.message
                del result, frame
                gc.collect()
            out["import_rows_per_s"] = n_sessions / out["import_s"]
            with store.conn.cursor() as cur:
                cur.execute("VACUUM ANALYZE ev_chargepoints.sessions")
                cur.execute("SELECT pg_total_relation_size('ev_chargepoints.sessions')")
                out["sessions_table_mb"] = cur.fetchone()[0] / 1e6

            start = time.perf_counter()
            by_sql = pg_usage.utilisation(store, "quarter", "device")
            out["sql_utilisation_s"] = time.perf_counter() - start

            start = time.perf_counter()
            sessions = store.sessions(categorical=True, columns=[
                "device_id", "connector_id", "start_utc", "end_utc", "charging_end_utc",
                "kwh", "source"])
            out["read_sessions_s"] = time.perf_counter() - start
            start = time.perf_counter()
            # the store reports what Workspace.utilisation shows: the rows the usage
            # coverage rule keeps (without it, the quarter that only the last sessions'
            # plugged time spills into shows here and not there)
            by_pandas = keep_covered(
                utilisation(sessions, None, None, None, period="quarter", by="device"),
                usage_coverage(session_counts(sessions, "quarter")))
            out["pandas_utilisation_s"] = time.perf_counter() - start
            out["pandas_read_and_compute_s"] = out["read_sessions_s"] + \
                out["pandas_utilisation_s"]
            del sessions
            out["rows"] = len(by_sql)
            out["differences"] = differences(by_sql, by_pandas)
    finally:
        cluster.drop_database(database)
    return out


def differences(by_sql, by_pandas) -> dict:
    """Where the SQL and the pandas engine disagree, per period: ``differ`` {period:
    {column: [sql, pandas]}} over the periods both report (totals of sessions, kWh and
    plugged hours, relative 1e-9), and the periods only one of them reports with their
    plugged hours (e.g. time running past the data's last period). Reported by the
    benchmark, not hidden."""
    import numpy as np

    columns = ["sessions", "kwh", "plugged_hours"]
    a = by_sql.groupby(by_sql["period"].astype(str))[columns].sum()
    b = by_pandas.groupby(by_pandas["period"].astype(str))[columns].sum()
    out = {"differ": {}, "only_sql": {p: float(a.at[p, "plugged_hours"])
                                      for p in a.index.difference(b.index)},
           "only_pandas": {p: float(b.at[p, "plugged_hours"])
                           for p in b.index.difference(a.index)}}
    for period in a.index.intersection(b.index):
        for column in columns:
            x, y = float(a.at[period, column]), float(b.at[period, column])
            if not np.isclose(x, y, rtol=1e-9):
                out["differ"].setdefault(period, {})[column] = [x, y]
    return out


def run(sizes, n_devices: int = 20_000) -> list[dict]:
    from pg_cluster import TemporaryCluster

    with TemporaryCluster(durable=True) as cluster:
        return [measure(cluster, n, n_devices) for n in sizes]


if __name__ == "__main__":
    chosen = [int(a) for a in sys.argv[1:]] or [1_000_000]
    for found in run(chosen):
        print(found)
