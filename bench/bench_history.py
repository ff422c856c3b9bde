"""Usage history at scale (issue #22): the plugin's store against DuckDB, same data, same run.

- ``history``: a store of N sessions on D devices (D SYNTHETIC registry devices, the
  sessions imported as returns arrive, in batches), then per device and quarter
  utilisation from the store on disk to the result frame (``Workspace(store)
  .utilisation("quarter")``, the derived cache removed first) against DuckDB over one
  Parquet file of the same sessions doing the same quarter split (:data:`PEER_SQL`);
  then one more month imported and the utilisation refreshed.
- ``csv_import``: a session CSV in the ChargePlace Scotland layout (the Dundee files'
  header) imported into a fresh store (validation included) against DuckDB's
  ``read_csv`` of the same file into a table; bytes per session on disk.

Every measurement runs in a child process of its own (``python -m bench.bench_history
measure ...``), so each peak RSS is that side's alone. Run alone:
``.venv/bin/python bench/bench_history.py [n_sessions] [n_devices] [csv_sessions]``.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST_DAY = "2021-01-01"
MONTHS = 24          # the sessions span two years: eight quarters
BATCH = 2_500_000    # sessions per imported file (as returns arrive; bounds memory)

# The peer: sessions, kWh and plugged hours per device and quarter (Europe/London),
# sessions and kWh in the quarter the session starts, plugged time split at quarter
# boundaries (a session running into later quarters adds a piece to each).
PEER_SQL = """
WITH s AS (
    SELECT device_id, start_utc, end_utc, kwh,
           date_trunc('quarter', timezone('Europe/London', start_utc)) AS sq,
           date_trunc('quarter', timezone('Europe/London', end_utc)) AS eq
    FROM read_parquet('{path}')
    WHERE end_utc IS NOT NULL
), pieces AS (
    SELECT device_id, sq AS quarter, 1 AS n, kwh,
           epoch_us(least(end_utc, timezone('Europe/London', sq + INTERVAL 3 MONTH)))
           - epoch_us(start_utc) AS plugged_us
    FROM s
    UNION ALL
    SELECT device_id, q, 0, 0.0,
           epoch_us(least(end_utc, timezone('Europe/London', q + INTERVAL 3 MONTH)))
           - epoch_us(timezone('Europe/London', q))
    FROM (SELECT device_id, end_utc,
                 unnest(generate_series(sq + INTERVAL 3 MONTH, eq, INTERVAL 3 MONTH)) AS q
          FROM s WHERE eq > sq)
)
SELECT device_id, quarter, sum(n) AS sessions, sum(kwh) AS kwh,
       sum(plugged_us) / 3600e6 AS plugged_hours
FROM pieces GROUP BY device_id, quarter
"""

# The ChargePlace Scotland layout (the header of the bundled Dundee files)
CPS_HEADER = ["Charging event", "CP ID", "Connector", "Start Date", "Start Time",
              "End Date", "End Time", "Total kWh", "Cost", "Site", "Group", "Model"]


# --- data ---------------------------------------------------------------------------------

def session_frame(n: int, device_ids: np.ndarray, first_key: int, start: str, months: int,
                  seed: int) -> pd.DataFrame:
    """``n`` closed canonical sessions on ``device_ids`` from ``start`` over ``months``;
    keys first_key, first_key+1, ... (stable across runs)."""
    from ev_chargepoints.core.schema import conform

    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz="UTC")
    span_s = int(((t0 + pd.DateOffset(months=months)) - t0).total_seconds())
    begin = t0.value + np.sort(rng.integers(0, span_s, n)) * 1_000_000_000
    end = begin + (rng.exponential(3 * 3600, n) + 60).astype(np.int64) * 1_000_000_000
    keys = np.arange(first_key, first_key + n)
    return conform(pd.DataFrame({
        "session_key": np.char.add("bench:", keys.astype(str)).astype(object),
        "source_session_id": keys.astype(str).astype(object),
        "device_id": device_ids[rng.integers(0, len(device_ids), n)],
        "connector_id": np.array(["1", "2"], dtype=object)[rng.integers(0, 2, n)],
        "start_utc": pd.to_datetime(begin, utc=True), "end_utc": pd.to_datetime(end, utc=True),
        "kwh": np.round(rng.random(n) * 40, 3), "source": "bench"}), "sessions")


def import_sessions(store: Path, frame: pd.DataFrame, name: str) -> float:
    """Import one batch as a return file would arrive; seconds taken."""
    from ev_chargepoints.core.schema import ParseResult
    from ev_chargepoints.core.workspace import Workspace

    result = ParseResult("sessions", "bench", len(frame), {"sessions": frame})
    with Workspace(store) as ws:
        start = time.perf_counter()
        report = ws.import_result(result, name, f"sha-{name}")
        seconds = time.perf_counter() - start
    assert report.rows_added == len(frame), report.message
    return seconds


def build_history(folder: Path, n_sessions: int, n_devices: int) -> dict:
    """The store (devices + sessions in batches) and the peer's Parquet file of the same
    sessions. Returns paths, device ids and the import seconds (not a target)."""
    import duckdb

    from bench.worker import write_synthetic_ncr
    from ev_chargepoints.core.workspace import Workspace

    store = folder / "history.gpkg"
    ncr = folder / "ncr_synthetic.csv"
    write_synthetic_ncr(n_devices, ncr)
    with Workspace(store) as ws:
        reports = ws.import_files([ncr])
        assert reports[0].outcome == "imported", reports[0].message
        device_ids = ws.store.devices()["device_id"].astype(str).unique()
    ids = np.asarray(device_ids, dtype=object)
    batches, import_s = [], 0.0
    con = duckdb.connect()
    for i, first in enumerate(range(0, n_sessions, BATCH)):
        size = min(BATCH, n_sessions - first)
        frame = session_frame(size, ids, first, FIRST_DAY, MONTHS, seed=i)
        import_s += import_sessions(store, frame, f"bench-{i:03d}.csv")
        part = folder / f"peer-{i:03d}.parquet"
        con.register("batch", frame)
        con.execute(f"COPY (SELECT * FROM batch) TO '{part}' (FORMAT parquet, "
                    "COMPRESSION zstd)")
        con.unregister("batch")
        batches.append(part)
        del frame
        gc.collect()
    parquet = folder / "sessions.parquet"
    listed = ", ".join(f"'{p}'" for p in batches)
    con.execute(f"COPY (SELECT * FROM read_parquet([{listed}])) TO '{parquet}' "
                "(FORMAT parquet, COMPRESSION zstd)")
    con.close()
    for part in batches:
        part.unlink()
    return {"store": store, "parquet": parquet, "device_ids": ids, "import_s": import_s}


def write_cps_csv(path: Path, n: int, n_devices: int = 2_000, seed: int = 0) -> int:
    """``n`` sessions in the ChargePlace Scotland layout: dd/mm/yyyy dates, HH:MM UK local
    times, numeric CP IDs, the Dundee files' trailing columns."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2021-01-01")
    begin = t0 + pd.to_timedelta(np.sort(rng.integers(0, 365 * 1440, n)), unit="min")
    end = begin + pd.to_timedelta((rng.exponential(180, n) + 1).astype(np.int64), unit="min")
    frame = pd.DataFrame({
        "Charging event": np.arange(7_000_000, 7_000_000 + n),
        "CP ID": 50_000 + rng.integers(0, n_devices, n),
        "Connector": rng.integers(1, 3, n),
        "Start Date": begin.strftime("%d/%m/%Y"), "Start Time": begin.strftime("%H:%M"),
        "End Date": end.strftime("%d/%m/%Y"), "End Time": end.strftime("%H:%M"),
        "Total kWh": np.round(rng.random(n) * 40, 2), "Cost": "",
        "Site": "Bench Car Park, Dundee",
        "Group": "APT Controls; CYC; ChargePlace Scotland; Dundee City Council",
        "Model": "APT 7kW Dual Outlet"}, columns=CPS_HEADER)
    frame.to_csv(path, index=False)
    return n


def disk_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def history_dir(store: Path) -> Path:
    """``X.gpkg`` keeps its usage history in ``X.history/`` (with ``cache/``, derived)."""
    return store.with_suffix(".history")


# --- measurements (each in a child process) -------------------------------------------------

def _totals(frame) -> dict:
    return {c: float(np.nansum(np.asarray(frame[c], dtype="float64")))
            for c in ("sessions", "kwh", "plugged_hours")}


def _by_quarter(frame) -> dict:
    """Totals per quarter label ("2021-Q1"): the plugin's ``period``, the peer's local
    quarter start."""
    if "period" in frame:
        labels = frame["period"].astype(str)
    else:
        start = pd.to_datetime(frame["quarter"])
        labels = start.dt.year.astype(str) + "-Q" + ((start.dt.month - 1) // 3 + 1).astype(str)
    grouped = frame.assign(label=labels.to_numpy()).groupby("label")[
        ["sessions", "kwh", "plugged_hours"]].sum()
    return {label: {c: float(v) for c, v in values.items()}
            for label, values in grouped.iterrows()}


def same_figures(plugin: dict, peer: dict) -> bool:
    """Sessions, kWh and plugged hours agree (1e-6) in every quarter the plugin reports
    (plugged time running past the data's last quarter makes no period of the plugin's)."""
    a, b = plugin["quarters"], peer["quarters"]
    return bool(a) and all(np.isclose(a[q][c], b.get(q, {}).get(c, 0.0), rtol=1e-6)
                           for q in a for c in a[q])


def measure_plugin(store: str, repeat: int, cold: bool = True) -> dict:
    """``Workspace(store).utilisation("quarter")`` from a closed store, ``repeat`` times;
    ``cold``: the derived cache is removed before each run."""
    from ev_chargepoints.core.workspace import Workspace

    times, frame = [], None
    for _ in range(max(1, repeat)):
        if cold:
            shutil.rmtree(history_dir(Path(store)) / "cache", ignore_errors=True)
        frame = None
        gc.collect()
        start = time.perf_counter()
        with Workspace(store) as ws:
            frame = ws.utilisation("quarter")
        times.append(time.perf_counter() - start)
    return {"times": times, "rows": len(frame), "totals": _totals(frame),
            "quarters": _by_quarter(frame)}


def measure_peer(parquet: str, repeat: int) -> dict:
    import duckdb

    times, frame = [], None
    for _ in range(max(1, repeat)):
        frame = None
        gc.collect()
        start = time.perf_counter()
        con = duckdb.connect()
        frame = con.execute(PEER_SQL.format(path=parquet)).df()
        con.close()
        times.append(time.perf_counter() - start)
    return {"times": times, "rows": len(frame), "totals": _totals(frame),
            "quarters": _by_quarter(frame)}


def measure_refresh(store: str, month_sessions: int, first_key: int, devices_file: str) -> dict:
    """The cache current, then one more month imported, then the utilisation refreshed
    (a fresh Workspace on the store on disk, as the next QGIS action would open it)."""
    from ev_chargepoints.core.workspace import Workspace

    with Workspace(store) as ws:
        before = _totals(ws.utilisation("quarter"))
    ids = np.asarray(json.loads(Path(devices_file).read_text()), dtype=object)
    month_start = (pd.Timestamp(FIRST_DAY) + pd.DateOffset(months=MONTHS)).strftime("%Y-%m-%d")
    frame = session_frame(month_sessions, ids, first_key, month_start, 1, seed=10_000)
    import_s = import_sessions(Path(store), frame, "bench-one-more-month.csv")
    del frame
    gc.collect()
    start = time.perf_counter()
    with Workspace(store) as ws:
        after = ws.utilisation("quarter")
    refresh_s = time.perf_counter() - start
    totals = _totals(after)
    return {"times": [refresh_s], "import_month_s": import_s, "rows": len(after),
            "totals": totals, "added_sessions": totals["sessions"] - before["sessions"]}


def measure_csv_plugin(csv: str, folder: str, repeat: int) -> dict:
    from ev_chargepoints.core.workspace import Workspace

    times, info = [], {}
    for i in range(max(1, repeat)):
        store = Path(folder) / f"csv-{i}.gpkg"
        gc.collect()
        start = time.perf_counter()
        with Workspace(store) as ws:
            reports = ws.import_files([csv])
        times.append(time.perf_counter() - start)
        report = reports[0]
        assert report.outcome == "imported", report.message
        with Workspace(store) as ws:
            counted = int(ws.store.counts().get("sessions", 0))
        info = {"rows_added": report.rows_added, "sessions": counted,
                "gpkg_bytes": disk_bytes(store),
                "history_bytes": disk_bytes(history_dir(store)),
                "sessions_part_bytes": disk_bytes(history_dir(store) / "sessions")}
        if i < repeat - 1:
            store.unlink()
            shutil.rmtree(history_dir(store), ignore_errors=True)
    return {"times": times, **info}


def measure_csv_peer(csv: str, repeat: int) -> dict:
    import duckdb

    times, rows = [], 0
    for _ in range(max(1, repeat)):
        gc.collect()
        start = time.perf_counter()
        con = duckdb.connect()
        con.execute(f"CREATE TABLE sessions AS SELECT * FROM read_csv('{csv}')")
        rows = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
        con.close()
        times.append(time.perf_counter() - start)
    return {"times": times, "rows": rows}


MEASURES = {"plugin": measure_plugin, "peer": measure_peer, "refresh": measure_refresh,
            "csv_plugin": measure_csv_plugin, "csv_peer": measure_csv_peer}


def child(kind: str, *args, timeout: float = 3000) -> dict:
    """Run one measurement in a fresh process: its result plus that process's peak RSS."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "bench.bench_history", "measure", kind,
                           json.dumps(list(args))], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} measurement failed (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout)[-3000:]}")
    out = json.loads(lines[-1][len("RESULT "):])
    out["median_s"] = statistics.median(out["times"])
    return out


# --- the benchmarks -------------------------------------------------------------------------

def run_history(folder: Path, n_sessions: int, n_devices: int, repeat: int) -> dict:
    built = build_history(folder, n_sessions, n_devices)
    plugin = child("plugin", str(built["store"]), repeat)
    peer = child("peer", str(built["parquet"]), repeat)
    devices_file = folder / "device_ids.json"
    devices_file.write_text(json.dumps([str(d) for d in built["device_ids"]]))
    month = max(1, n_sessions // MONTHS)
    refresh = child("refresh", str(built["store"]), month, n_sessions, str(devices_file))
    same = same_figures(plugin, peer)
    return {"n_sessions": n_sessions, "n_devices": n_devices, "plugin": plugin, "peer": peer,
            "refresh": refresh, "month_sessions": month, "same_totals": same,
            "build_import_s": built["import_s"],
            "store_bytes": disk_bytes(built["store"]) + disk_bytes(
                history_dir(built["store"])),
            "parquet_bytes": disk_bytes(built["parquet"])}


def run_csv_import(folder: Path, n_sessions: int, repeat: int) -> dict:
    csv = folder / "cps_sessions.csv"
    write_cps_csv(csv, n_sessions)
    plugin = child("csv_plugin", str(csv), str(folder), repeat)
    peer = child("csv_peer", str(csv), repeat)
    return {"n_sessions": n_sessions, "csv_bytes": csv.stat().st_size, "plugin": plugin,
            "peer": peer}


# --- worker entry points (rows of the table) ------------------------------------------------

def bench_history(p: dict) -> dict:
    """Targets: store → utilisation within 1.5× of DuckDB over Parquet, peak < 2 GB;
    refreshed < 2 s after one more month."""
    import tempfile

    from bench.worker import fmt, row

    n, d = p["sessions"], p["devices"]
    with tempfile.TemporaryDirectory() as tmp:
        r = run_history(Path(tmp), n, d, p["repeat"])
    plugin, peer, refresh = r["plugin"], r["peer"], r["refresh"]
    plugin_s, peer_s, peak = plugin["median_s"], peer["median_s"], plugin["peak_rss_mb"]
    time_met, memory_met = plugin_s <= 1.5 * peer_s, peak < 2048
    refresh_s = refresh["median_s"]
    added_ok = int(round(refresh["added_sessions"])) == r["month_sessions"]
    return {"rows": [
        row(f"usage history → utilisation per device & quarter ({n:,} sessions, {d:,} "
            "devices; store on disk → result frame)", plugin_s, peer_s,
            "DuckDB SQL over one Parquet file of the same sessions (same quarter split)",
            "within 1.5× of DuckDB; peak RSS < 2 GB",
            time_met and memory_met and r["same_totals"],
            f"time {'met' if time_met else 'MISSED'}: plugin {plugin_s / peer_s:.2f}× "
            f"DuckDB's time; memory {'met' if memory_met else 'MISSED'}: plugin process "
            f"peak {peak:,.0f} MB (DuckDB's {peer['peak_rss_mb']:,.0f} MB); derived cache "
            "removed before each run; totals "
            f"{'equal' if r['same_totals'] else 'DIFFER (not the same computation)'}; "
            f"store {r['store_bytes'] / n:.1f} B/session, Parquet {r['parquet_bytes'] / n:.1f}"
            f" B/session; building the store took {r['build_import_s']:.0f} s of imports",
            peak_override_mb=peak),
        row(f"utilisation refreshed after one more month imported ({r['month_sessions']:,} "
            f"sessions into the {n:,}-session store)", refresh_s, None, "—", "< 2 s",
            refresh_s < 2 and added_ok,
            f"a fresh Workspace on the store on disk after the import "
            f"({fmt(refresh['import_month_s'])}); new sessions counted: "
            f"{'all' if added_ok else 'NOT all'}",
            peak_override_mb=refresh["peak_rss_mb"]),
    ], "details": r}


def bench_csv_import(p: dict) -> dict:
    """Target: session CSV import within 3× of DuckDB read_csv; ≤ 30 bytes per session."""
    import tempfile

    from bench.worker import row

    n = p["csv_sessions"]
    with tempfile.TemporaryDirectory() as tmp:
        r = run_csv_import(Path(tmp), n, p.get("repeat_secondary", 1))
    plugin, peer = r["plugin"], r["peer"]
    plugin_s, peer_s = plugin["median_s"], peer["median_s"]
    sessions = max(1, plugin["sessions"])
    per_session = (plugin["gpkg_bytes"] + plugin["history_bytes"]) / sessions
    time_met, size_met = plugin_s <= 3 * peer_s, per_session <= 30
    complete = plugin["sessions"] == n == peer["rows"]
    return {"rows": [row(
        f"session CSV import, ChargePlace Scotland layout ({n:,} sessions, "
        f"{r['csv_bytes'] / 1e6:,.0f} MB)", plugin_s, peer_s,
        "DuckDB read_csv of the same file into an in-memory table",
        "within 3× of DuckDB (validation included); ≤ 30 bytes/session on disk",
        time_met and size_met and complete,
        f"time {'met' if time_met else 'MISSED'}: plugin {plugin_s / peer_s:.2f}× DuckDB's "
        f"time; size {'met' if size_met else 'MISSED'}: {per_session:.1f} B/session "
        f"(GeoPackage {plugin['gpkg_bytes'] / 1e6:.1f} MB + history "
        f"{plugin['history_bytes'] / 1e6:.1f} MB; session parts alone "
        f"{plugin['sessions_part_bytes'] / sessions:.1f} B/session); sessions stored "
        f"{plugin['sessions']:,} of {n:,}",
        peak_override_mb=plugin["peak_rss_mb"])], "details": r}


DESKTOP_TARGETS_S = {"first": 10.0, "second": 3.0}


def bench_desktop_load(p: dict) -> dict:
    """The desktop run's seconds for "Load London charge points" (tools/desktop_run.py
    writes them in its JSON); "not measured" when there is no such run."""
    import datetime as dt

    from bench.worker import row

    path = Path(p.get("desktop_json") or "")
    result = {}
    if path.is_file():
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            result = {}
    when = (dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC") if result else None)
    rows = []
    for which, label in (("first", "first, fresh profile"), ("second", "second")):
        seconds = result.get(f"load_{which}_s")
        target = DESKTOP_TARGETS_S[which]
        name = f"\"Load London charge points\" in real QGIS ({label})"
        if seconds is None:
            rows.append(row(name, None, None, "—", f"≤ {target:g} s", None,
                            "not measured: run `python3 tools/desktop_run.py` "
                            "(real QGIS under Xvfb) before the bench", status="not measured"))
        else:
            rows.append(row(name, float(seconds), None, "—", f"≤ {target:g} s",
                            seconds <= target,
                            f"from the desktop run of {when} ({path.name}; QGIS exit "
                            f"{result.get('exit_code')}, run ok: {result.get('ok')}); "
                            "its memory is QGIS's, not measured here",
                            status="desktop run"))  # no peak RSS of this process
    return {"rows": rows, "details": {"json": str(path), "found": bool(result),
                                      "written": when}}


def _own_peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure_main(kind: str, args_json: str) -> int:
    result = MEASURES[kind](*json.loads(args_json))
    # VmHWM: this process image's own high-water mark (ru_maxrss would carry the parent's
    # peak across fork + exec on Linux)
    result["peak_rss_mb"] = _own_peak_mb()
    print("RESULT " + json.dumps(result, default=float), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        sys.exit(_measure_main(sys.argv[2], sys.argv[3]))
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    d = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    c = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run_history(Path(tmp), n, d, 1), indent=1, default=str))
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run_csv_import(Path(tmp), c, 1), indent=1, default=str))
