"""Output writers (issue #23): GeoPackages through GDAL (pyogrio) and XLSX through pandas +
openpyxl, against the hand-written writers they replaced.

- GeoPackage: the map's devices layer (one feature per device and period, the map
  GeoPackage layout) and its wards layer (London's 633 wards, one multipolygon each per
  period), written by :func:`core.store.gpkg_file.write_geopackage` (GDAL's GeoPackage
  driver through pyogrio, R-tree spatial index built) against the SQL writer
  (:func:`core.store.gpkg_file.write_layer` into a fresh file with ``sqlite3``: no
  spatial index), which the store keeps and which stays as the fallback without pyogrio.
- XLSX: the summary of the wards (633 rows) and the devices table, written by
  :func:`core.outputs.tables.write_xlsx` (openpyxl, write-only) against the former
  zip + XML writer (``bench/legacy_xlsx.py``).

Sizes: the bundled London snapshot (8,940 devices × 4 quarters; 633 wards × 4 quarters)
and ``devices`` resampled devices (100,000 in a full run) for one quarter.

Run: ``.venv/bin/python bench/bench_writers.py [n_devices] [repeat]``.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LONDON_DEVICES = 8940
QUARTERS = ["2022-Q1", "2022-Q2", "2022-Q3", "2022-Q4"]


def device_rows(n: int, periods, seed: int = 0):
    """(map devices rows, x, y): ``n`` devices resampled from the NCR London snapshot,
    one row per device and period, with random usage columns."""
    from bench.bench_summary import resample
    from ev_chargepoints.core.crs import wgs84_to_bng
    from ev_chargepoints.core.outputs import mapdata

    devices, _connectors, _usage = resample(n, seed)
    base = devices[[c for c in mapdata.DEVICE_FIELDS if c in devices.columns]]
    x, y = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    frame = base.loc[base.index.repeat(len(periods))].reset_index(drop=True)
    frame["period"] = np.tile(np.asarray(periods, dtype=object), len(base))
    rng = np.random.default_rng(seed + 1)
    for column in mapdata.USAGE_FIELDS:
        frame[column] = np.round(rng.random(len(frame)) * 100, 2)
    return frame, np.repeat(x, len(periods)), np.repeat(y, len(periods))


def ward_rows(periods, seed: int = 0):
    """(map wards rows, WKB per row): the bundled London wards, one row per period."""
    from ev_chargepoints.core import paths
    from ev_chargepoints.core.outputs import mapdata
    from ev_chargepoints.core.store import gpkg_file as gpkg

    attributes, wkbs, _crs = gpkg.read_layer(paths.LONDON_SNAPSHOT / "london_wards_2018.gpkg")
    rng = np.random.default_rng(seed)
    n = len(attributes) * len(periods)
    rows = pd.DataFrame({c: rng.random(n) * 100 for c in mapdata.AREA_FIELDS})
    rows["area_code"] = np.tile(attributes["GSS_CODE"].to_numpy(object), len(periods))
    rows["area_name"] = np.tile(attributes["NAME"].to_numpy(object), len(periods))
    rows["parent_name"] = np.tile(attributes["DISTRICT"].to_numpy(object), len(periods))
    rows["period"] = np.repeat(np.asarray(periods, dtype=object), len(attributes))
    return rows, list(wkbs) * len(periods)


def sql_writer(path: Path, table: str, frame, wkbs, geometry_type: str) -> None:
    """The writer the output files used before issue #23 (the store's SQL writer)."""
    from ev_chargepoints.core.store import gpkg_file as gpkg

    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("BEGIN")
        gpkg.write_layer(conn, table, frame,
                         [gpkg.gp_blob(w, gpkg.BNG_SRS_ID) for w in wkbs], geometry_type)
        conn.execute("COMMIT")
    finally:
        conn.close()


def bench_writers(p: dict) -> dict:
    from bench import legacy_xlsx
    from bench.worker import row, timed
    from ev_chargepoints.core.outputs.tables import write_xlsx
    from ev_chargepoints.core.store import gpkg_file as gpkg

    n = int(p["devices"])
    repeat = max(3, int(p.get("repeat", 3)))
    rows, details = [], {}
    cases = []
    london, lx, ly = device_rows(LONDON_DEVICES, QUARTERS)
    cases.append((f"map devices GeoPackage ({len(london):,} rows: London × 4 quarters)",
                  "map_devices", london, gpkg.point_wkbs(lx, ly), "POINT"))
    wards, ward_wkbs = ward_rows(QUARTERS)
    cases.append((f"map wards GeoPackage ({len(wards):,} multipolygons: 633 wards × 4)",
                  "map_wards", wards, ward_wkbs, "MULTIPOLYGON"))
    large, x, y = device_rows(n, QUARTERS[-1:])
    cases.append((f"map devices GeoPackage ({n:,} devices, 1 quarter)", "map_devices",
                  large, gpkg.point_wkbs(x, y), "POINT"))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for label, table, frame, wkbs, kind in cases:
            target = folder / f"{table}.gpkg"
            args = (table, frame, wkbs, kind)
            plugin_s, _, _ = timed(lambda a=args, t=target: gpkg.write_geopackage(t, *a),
                                   repeat)
            peer_s, _, _ = timed(lambda a=args: sql_writer(folder / "sql.gpkg", *a), repeat)
            ratio = peer_s / plugin_s
            rows.append(row(label, plugin_s, peer_s, "former SQL writer (sqlite3, no index)",
                            notes=f"plugin: GDAL GeoPackage driver via pyogrio with R-tree; "
                                  f"{'faster' if ratio >= 1 else 'slower'} than the SQL "
                                  f"writer ({ratio:.2f}×); files "
                                  f"{target.stat().st_size / 1e6:.1f} MB vs "
                                  f"{(folder / 'sql.gpkg').stat().st_size / 1e6:.1f} MB"))
            details[label] = {"plugin_s": plugin_s, "peer_s": peer_s, "ratio": ratio}

        summary = wards[wards["period"] == QUARTERS[-1]].drop(columns="period")
        sheets = [(f"XLSX summary ({len(summary):,} wards × {summary.shape[1]} columns)",
                   summary),
                  (f"XLSX devices table ({n:,} devices × {large.shape[1]} columns)", large)]
        for label, frame in sheets:
            xlsx_repeat = repeat if len(frame) < 20_000 else 1
            plugin_s, _, _ = timed(lambda f=frame: write_xlsx(f, folder / "plugin.xlsx",
                                                              synthetic=True), xlsx_repeat)
            peer_s, _, _ = timed(lambda f=frame: legacy_xlsx.write_xlsx(
                f, folder / "legacy.xlsx", synthetic=True), xlsx_repeat)
            ratio = peer_s / plugin_s
            rows.append(row(label, plugin_s, peer_s, "former zip + XML writer",
                            notes=f"plugin: openpyxl write-only mode; "
                                  f"{'faster' if ratio >= 1 else 'slower'} than the "
                                  f"hand-written writer ({ratio:.2f}×)"))
            details[label] = {"plugin_s": plugin_s, "peer_s": peer_s, "ratio": ratio}
    return {"rows": rows, "details": details}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 100_000
    repeat = int(argv[1]) if len(argv) > 1 else 3
    result = bench_writers({"devices": n, "repeat": repeat})
    for r in result["rows"]:
        print(f"{r['benchmark']}: plugin {r['plugin_s']:.3f} s, peer {r['peer_s']:.3f} s "
              f"({r['ratio']:.2f}×) - {r['notes']}")


if __name__ == "__main__":
    main()
