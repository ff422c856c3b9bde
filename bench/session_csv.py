"""Session CSV import speed: a large ChargePlace Scotland (Dundee layout) CSV.

Rows are resampled (with replacement) from the real Dundee session files
(``resources/data/dundee``, 12-column layout: Charging event, CP ID, Connector, Start
Date, Start Time, End Date, End Time, Total kWh, Cost, Site, Group, Model), each
given a fresh ``Charging event`` id so sessions stay unique; everything else (the
real devices, UK-local times, kWh, the real rejects such as negative kWh or missing
CP IDs) is copied as it is.

    python -m bench.session_csv [ROWS] [--keep PATH]

prints the seconds and peak memory of: the plugin's parser (DuckDB path), the
previous all-pandas parser, the whole import into a fresh store (the sessions kept in
DuckDB from the CSV to the store's Parquet part), and DuckDB's ``read_csv`` of the same
file into a table.
"""

from __future__ import annotations

import argparse
import csv
import gc
import gzip
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DUNDEE_12 = ("cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz")
HEADER = ("Charging event,CP ID,Connector,Start Date,Start Time,End Date,End Time,"
          "Total kWh,Cost,Site,Group,Model")


def real_rows() -> list[str]:
    """The real Dundee data rows (12-column files) without their event id, CSV-quoted."""
    from ev_chargepoints.core import paths

    rows = []
    for name in DUNDEE_12:
        text = gzip.decompress(paths.resource("data", "dundee", name).read_bytes())
        reader = csv.reader(io.StringIO(text.decode("utf-8")))
        next(reader)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for record in reader:
            out.seek(0)
            out.truncate()
            writer.writerow(record[1:])
            rows.append(out.getvalue().rstrip("\n"))
    return rows


def write_csv(path: Path, n_rows: int, seed: int = 0) -> Path:
    """Write ``n_rows`` resampled Dundee sessions (CRLF, like the real files)."""
    rows = real_rows()
    pick = np.random.default_rng(seed).integers(0, len(rows), n_rows)
    first_id = 10_000_000
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        step = 500_000
        for lo in range(0, n_rows, step):
            chunk = pick[lo:lo + step]
            out.write("".join(f"{first_id + lo + i},{rows[j]}\r\n"
                              for i, j in enumerate(chunk.tolist())))
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(kind: str, path: Path) -> dict:
    """Seconds and peak RSS of one way of reading ``path`` (run in a fresh process)."""
    gc.collect()
    start = time.perf_counter()
    if kind == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    elif kind == "store":
        from ev_chargepoints.core.workspace import Workspace

        with tempfile.TemporaryDirectory() as folder, \
                Workspace(Path(folder) / "store.gpkg") as ws:
            report = ws.import_files([path])[0]
            assert report.outcome == "imported", report.message
            rows = report.rows_read
    else:
        from ev_chargepoints.core.sources.parsers import parse_file

        result = parse_file(path, engine=kind) if kind != "default" else parse_file(path)
        rows = result.rows_read
    return {"kind": kind, "seconds": time.perf_counter() - start, "rows": rows,
            "peak_mb": _peak_mb()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="?", default=4_000_000)
    parser.add_argument("--keep", help="write (or reuse) the CSV at this path")
    parser.add_argument("--only", help="measure one kind in this process: duckdb, "
                                       "python (old parser), default or store")
    args = parser.parse_args(argv)
    folder = tempfile.TemporaryDirectory()
    path = Path(args.keep) if args.keep else Path(folder.name) / "sessions.csv"
    if not path.exists():
        start = time.perf_counter()
        write_csv(path, args.rows)
        print(f"wrote {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    if args.only:
        r = measure(args.only, path)
        print(f"{r['kind']:8s} {r['seconds']:7.2f} s  {r['rows']:,} rows  "
              f"peak {r['peak_mb']:,.0f} MB")
        return
    import subprocess

    for kind in ("duckdb", "store", "default", "python"):  # each in its own process
        subprocess.run([sys.executable, "-m", "bench.session_csv", str(args.rows),
                        "--keep", str(path), "--only", kind], check=True,
                       cwd=ROOT, env={**os.environ})


if __name__ == "__main__":
    main()
