"""Shared store (PostGIS): imports as returns arrive (the sessions in time order, in
``chunks`` files; each import keeps utilisation's month sums of the (device, month) it
touches, :mod:`.usage_months`) and per device per quarter utilisation from those sums,
against DuckDB over a Parquet file of the same sessions (``bench_history``'s peer).

Each size gets a fresh database in a temporary PostgreSQL + PostGIS cluster started
with its crash-safety settings on (fsync, full page writes), so the import rate is an
honest one. The devices are a synthetic NCR registry (``n_devices``), imported first;
the sessions span two years (``bench_history.session_frame``). Reported: each import's
seconds per million sessions (they stay flat when an import reads only its own months),
utilisation seconds, the peer's, and the load average beside each figure (the machine
may be shared). Run alone: ``.venv/bin/python bench/bench_pgstore.py 10000000``
(sizes in sessions; ``--parquet FILE --ncr CSV``: those sessions and devices instead of
generated ones), or through ``python -m bench --only shared``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from bench import bench_history as bh  # noqa: E402

CHUNKS = 10  # imported files per size (each a slice of the sessions in time order)
REPEAT = 2   # utilisation runs (the first and the median reported)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def generated_parquet(folder: Path, n_sessions: int, device_ids: np.ndarray) -> Path:
    """``n_sessions`` sessions over bench_history's two years on ``device_ids``, written
    to one Parquet file (in parts of bench_history.BATCH: bounds memory)."""
    import duckdb

    con = duckdb.connect()
    parts = []
    for i, first in enumerate(range(0, n_sessions, bh.BATCH)):
        frame = bh.session_frame(min(bh.BATCH, n_sessions - first), device_ids, first,
                                 bh.FIRST_DAY, bh.MONTHS, seed=i)
        part = folder / f"part-{i:03d}.parquet"
        con.register("batch", frame)
        con.execute(f"COPY (SELECT * FROM batch) TO '{part}' (FORMAT parquet)")
        con.unregister("batch")
        parts.append(part)
        del frame
        gc.collect()
    parquet = folder / "sessions.parquet"
    listed = ", ".join(f"'{p}'" for p in parts)
    con.execute(f"COPY (SELECT * FROM read_parquet([{listed}])) TO '{parquet}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    con.close()
    for part in parts:
        part.unlink()
    return parquet


def measure(cluster, folder: Path, n_sessions: int, n_devices: int = 100_000,
            chunks: int = CHUNKS, parquet: Path | None = None, ncr: Path | None = None
            ) -> dict:
    """One size: devices, then the sessions in ``chunks`` imports in time order, then
    utilisation (``REPEAT`` runs) and the peer over the same sessions."""
    import duckdb

    from ev_chargepoints.core.schema import ParseResult, conform
    from ev_chargepoints.core.sources.parsers import parse_file
    from ev_chargepoints.core.store.postgis import usage as pg_usage
    from ev_chargepoints.core.store.postgis.backend import PostgisStore

    database = cluster.create_database()
    out = {"n_sessions": n_sessions, "chunks": chunks}
    try:
        with PostgisStore.create_or_open(cluster.dsn(database)) as store:
            if ncr is None:
                from bench.worker import write_synthetic_ncr

                ncr = folder / "ncr_synthetic.csv"
                write_synthetic_ncr(n_devices, ncr)
            start = time.perf_counter()
            report = store.import_parse_result(parse_file(ncr), ncr.name, "sha-bench-ncr")
            out["devices_import_s"] = time.perf_counter() - start
            assert report.outcome == "imported", report.message
            device_ids = np.asarray(store.devices()["device_id"].astype(str).unique(),
                                    dtype=object)
            out["n_devices"] = len(device_ids)
            if parquet is None:
                parquet = generated_parquet(folder, n_sessions, device_ids)
            con = duckdb.connect()
            con.execute("SET preserve_insertion_order = true")
            # the sessions in time order, cut into chunks of equal size
            con.execute(f"""
                CREATE TEMP TABLE ordered AS
                SELECT * EXCLUDE (rn), rn * {chunks} // {n_sessions} AS chunk FROM (
                    SELECT *, row_number() OVER (ORDER BY start_utc, session_key) - 1 AS rn
                    FROM read_parquet('{parquet}') LIMIT {n_sessions})""")
            out["import_s"], out["imports"] = 0.0, []
            for i in range(chunks):
                frame = conform(con.execute(
                    f"SELECT * EXCLUDE (chunk) FROM ordered WHERE chunk = {i}"
                    " ORDER BY start_utc, session_key").df(), "sessions")
                result = ParseResult("sessions", "bench", len(frame), {"sessions": frame})
                gc.collect()
                load = _load()
                start = time.perf_counter()
                report = store.import_parse_result(result, f"bench-{i}.csv", f"sha-bench-{i}")
                seconds = time.perf_counter() - start
                assert report.rows_added == len(frame), report.message
                out["import_s"] += seconds
                out["imports"].append({"sessions": len(frame), "s": round(seconds, 2),
                                       "s_per_million": round(seconds / len(frame) * 1e6, 2),
                                       "sums": store.last_month_sums, "load": load})
                del result, frame
                gc.collect()
            con.close()
            out["import_rows_per_s"] = n_sessions / out["import_s"]
            with store.conn.cursor() as cur:
                cur.execute("SELECT pg_total_relation_size('ev_chargepoints.sessions'),"
                            " pg_total_relation_size('ev_chargepoints.usage_month_sums')")
                sessions_bytes, sums_bytes = cur.fetchone()
                out["sessions_table_mb"] = sessions_bytes / 1e6
                out["month_sums_mb"] = sums_bytes / 1e6
            times, loads = [], []
            for _ in range(REPEAT):
                gc.collect()
                loads.append(_load())
                start = time.perf_counter()
                by_sql = pg_usage.utilisation(store, "quarter", "device")
                times.append(time.perf_counter() - start)
            out["sql_utilisation_first_s"] = times[0]
            out["sql_utilisation_s"] = statistics.median(times)
            out["utilisation_loads"] = loads
            out["rows"] = len(by_sql)
            plugin = {"quarters": bh._by_quarter(by_sql), "totals": bh._totals(by_sql)}
            del by_sql
        out["peer_load"] = _load()
        peer = bh.measure_peer(str(parquet), REPEAT)
        out["peer_s"] = statistics.median(peer["times"])
        out["ratio_to_peer"] = out["sql_utilisation_s"] / out["peer_s"]
        out["same_figures_as_peer"] = bh.same_figures(plugin, peer)
    finally:
        cluster.drop_database(database)
    return out


def run(sizes, n_devices: int = 100_000, chunks: int = CHUNKS, parquet=None,
        ncr=None) -> list[dict]:
    from pg_cluster import TemporaryCluster

    with TemporaryCluster(durable=True) as cluster, \
            tempfile.TemporaryDirectory(prefix="evcp-bench-pg-") as folder:
        return [measure(cluster, Path(folder), n, n_devices, chunks,
                        None if parquet is None else Path(parquet),
                        None if ncr is None else Path(ncr)) for n in sizes]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=CHUNKS)
    parser.add_argument("--parquet", help="the sessions (at least the largest size)")
    parser.add_argument("--ncr", help="the devices (an NCR CSV) for --parquet's sessions")
    args = parser.parse_args()
    for found in run(args.sizes, args.devices, args.chunks, args.parquet, args.ncr):
        print(found, flush=True)
