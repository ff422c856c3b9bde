"""One benchmark in its own process: ``python -m bench.worker NAME PARAMS_JSON OUT_JSON``.

Each benchmark returns ``{"rows": [...], "details": {...}}``; a row is one line
of the Markdown table (plugin median seconds, peer median seconds, target and
whether it was met). Nothing here is hard-coded: every figure is measured in
this process, on data made in this process, and the peer runs on the same data.
Peak memory is this process's maximum resident set size (plugin, peer and
data together; with QGIS loaded for the QGIS peers).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



# --- helpers -------------------------------------------------------------------

def timed(func, repeat: int):
    """(median seconds, all seconds, last result) over ``repeat`` calls."""
    times, result = [], None
    for _ in range(max(1, repeat)):
        gc.collect()
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _status_kb(key: str):
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_mb() -> float:
    kb = _status_kb("VmRSS")
    return kb / 1024.0 if kb is not None else peak_rss_mb()


def reset_peak_rss() -> bool:
    """Reset the kernel's resident high-water mark (Linux >= 4.0); False if refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    hwm, rss = _status_kb("VmHWM"), _status_kb("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss * 1.05 + 1024


def hwm_rss_mb() -> float:
    kb = _status_kb("VmHWM")
    return kb / 1024.0 if kb is not None else peak_rss_mb()


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def row(benchmark: str, plugin_s, peer_s=None, peer: str = "", target: str = "",
        met=None, notes: str = "", **extra) -> dict:
    ratio = peer_s / plugin_s if plugin_s and peer_s else None
    out = {"benchmark": benchmark, "plugin_s": plugin_s, "peer_s": peer_s, "peer": peer,
           "ratio": ratio, "target": target, "met": met, "notes": notes}
    out.update(extra)
    return out


_QGS = None


def qgis_app(gui: bool = False):
    """A QgsApplication with Processing initialised (once per process), offscreen: the
    plugin's own start-up (:func:`ev_chargepoints.qgis.headless.init_processing`)."""
    global _QGS
    if _QGS is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from ev_chargepoints.qgis.headless import init_processing

        _QGS = init_processing(gui)
    return _QGS


def _processing():
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    context = QgsProcessingContext()
    feedback = QgsProcessingFeedback()
    return processing, context, feedback


def memory_points(name: str, x, y, fields: dict):
    """A memory point layer in EPSG:27700 with ``fields`` (name -> numpy array)."""
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsPointXY, QgsVectorLayer
    from qgis.PyQt.QtCore import QMetaType

    layer = QgsVectorLayer("Point?crs=EPSG:27700", name, "memory")
    kinds = {}
    qfields = []
    for key, values in fields.items():
        kind = np.asarray(values).dtype.kind
        kinds[key] = kind
        qtype = QMetaType.Type.Int if kind in "iu" else QMetaType.Type.Double if kind == "f" \
            else QMetaType.Type.QString
        qfields.append(QgsField(key, qtype))
    provider = layer.dataProvider()
    provider.addAttributes(qfields)
    layer.updateFields()
    columns = [np.asarray(v).tolist() for v in fields.values()]
    features = []
    for i, (px, py) in enumerate(zip(np.asarray(x, float).tolist(),
                                     np.asarray(y, float).tolist())):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(px, py)))
        feature.setAttributes([c[i] for c in columns])
        features.append(feature)
    provider.addFeatures(features)
    layer.updateExtents()
    return layer


def memory_copy(path: Path, name: str):
    """The polygons of a GeoPackage copied into a memory layer (the peer's fastest source)."""
    from qgis.core import QgsFeatureRequest, QgsVectorLayer

    source = QgsVectorLayer(str(path), name, "ogr")
    if not source.isValid():
        raise RuntimeError(f"cannot open {path}")
    return source.materialize(QgsFeatureRequest())


def spatial_index(layer) -> None:
    processing, context, feedback = _processing()
    processing.run("native:createspatialindex", {"INPUT": layer}, context=context,
                   feedback=feedback)


# --- 1. parsing --------------------------------------------------------------------

def _ncr_snapshot() -> Path:
    from ev_chargepoints.core.paths import LONDON_SNAPSHOT

    return LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz"


def write_synthetic_ncr(n: int, path: Path, seed: int = 0) -> int:
    """An NCR CSV of ``n`` SYNTHETIC devices (``synthetic_devices``): each row is its
    template's real registry row with the new id and jittered coordinates."""
    from ev_chargepoints.core.sources.parsers import parse_file
    from ev_chargepoints.core.sources.synthetic import synthetic_devices

    source = _ncr_snapshot()
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    parsed = parse_file(source)
    real, real_conn = parsed.table("devices"), parsed.table("connectors")
    first_row = pd.Series(np.arange(len(raw)), index=raw["chargeDeviceID"].to_numpy())
    first_row = first_row[~first_row.index.duplicated()]
    # carry each template's raw row number through synthetic_devices in "name"
    tagged = real.assign(name=first_row.reindex(real["device_id"].to_numpy())
                         .to_numpy().astype(str))
    devices, _ = synthetic_devices(n, tagged, real_conn, seed)
    rows = raw.iloc[devices["name"].astype(int).to_numpy()].reset_index(drop=True)
    rows["chargeDeviceID"] = devices["device_id"].to_numpy()
    rows["latitude"] = np.char.mod("%.6f", devices["latitude"].to_numpy(float))
    rows["longitude"] = np.char.mod("%.6f", devices["longitude"].to_numpy(float))
    rows.to_csv(path, index=False)
    return len(rows)


def _parse_pair(label: str, files: list, plugin, repeat: int) -> dict:
    def peer():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sum(len(pd.read_csv(f, low_memory=False)) for f in files)

    plugin_s, plugin_all, result = timed(plugin, repeat)
    peer_s, peer_all, peer_rows = timed(peer, repeat)
    rows = result
    return {"rows": [row(
        f"{label} ({rows:,} rows)", plugin_s, peer_s, "pandas.read_csv (plain read)",
        "report rows/s", None,
        f"plugin {rows / plugin_s:,.0f} rows/s, pandas {peer_rows / peer_s:,.0f} rows/s; "
        "the plugin also validates, normalises and splits connectors",
        plugin_rows_per_s=rows / plugin_s, peer_rows_per_s=peer_rows / peer_s)],
        "details": {"rows": rows, "peer_rows": peer_rows, "plugin_all_s": plugin_all,
                    "peer_all_s": peer_all, "file_mb": sum(Path(f).stat().st_size
                                                           for f in files) / 1e6}}


def bench_parse_ncr(p: dict) -> dict:
    from ev_chargepoints.core.sources.parsers import parse_file

    path = _ncr_snapshot()

    def plugin():
        return parse_file(path).rows_read

    return _parse_pair("parse NCR bundled snapshot", [path], plugin, p["repeat"])


def bench_parse_ncr_synthetic(p: dict) -> dict:
    from ev_chargepoints.core.sources.parsers import parse_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ncr_synthetic.csv"
        n = write_synthetic_ncr(p["ncr_rows"], path)

        def plugin():
            return parse_file(path).rows_read

        out = _parse_pair("parse NCR synthetic", [path], plugin, p["repeat"])
        out["details"]["written_rows"] = n
        out["details"]["devices_parsed"] = len(parse_file(path).table("devices"))
        return out


def bench_parse_dundee(p: dict) -> dict:
    from ev_chargepoints.core import paths
    from ev_chargepoints.core.sources.parsers import parse_file
    from ev_chargepoints.core.sources.synthetic import DUNDEE_FILES

    files = [paths.resource("data", "dundee", name) for name in DUNDEE_FILES]

    def plugin():  # parse every file; rows read (before de-duplication across files)
        return sum(parse_file(f).rows_read for f in files)

    return _parse_pair("parse Dundee sessions (4 files)", files, plugin, p["repeat"])


# --- 2. store import -------------------------------------------------------------------

def bench_store(p: dict) -> dict:
    """Import into a fresh store (bench_store's data and calls), timed; then one read
    of the columns utilisation needs. Re-import and full reads: ``bench/bench_store.py``."""
    from bench.bench_store import make_sessions
    from ev_chargepoints.core.schema import ParseResult
    from ev_chargepoints.core.store.geopackage import HistoryStore

    n = p["store_sessions"]
    frame = make_sessions(n, seed=0)
    result = ParseResult("sessions", "bench", n, {"sessions": frame})
    runs = []
    for i in range(max(1, p.get("store_repeat", 1))):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "history.gpkg"
            with HistoryStore.create_or_open(path) as store:
                gc.collect()
                start = time.perf_counter()
                report = store.import_parse_result(result, f"bench{i}.csv", f"sha-{i}")
                import_s = time.perf_counter() - start
                start = time.perf_counter()
                back = store.sessions(categorical=True, columns=[
                    "device_id", "connector_id", "start_utc", "end_utc", "kwh"])
                read_s = time.perf_counter() - start
                assert report.rows_added == n and len(back) == n
                back = None
            runs.append({"import_s": import_s, "read_for_utilisation_s": read_s,
                         "rows_added": report.rows_added,
                         "file_mb": path.stat().st_size / 1e6 if path.exists() else None})
    import_s = statistics.median(r["import_s"] for r in runs)
    read_s = statistics.median(r["read_for_utilisation_s"] for r in runs)
    rate = n / import_s
    file_mb = runs[-1]["file_mb"]
    size = f"; file {file_mb:.0f} MB" if file_mb else ""
    return {"rows": [row(
        f"store import: {n:,} sessions into a fresh GeoPackage", import_s, None, "—",
        "report rows/s", None,
        f"{rate:,.0f} rows/s; reading them back for utilisation {read_s:.1f} s "
        f"({n / read_s:,.0f} rows/s){size}", rows_per_s=rate)],
        "details": {"runs": runs}}


# --- 2b. shared store (PostGIS) ------------------------------------------------------------

def bench_pgstore(p: dict) -> dict:
    """Imports in time order and per device per quarter utilisation from the month sums
    against DuckDB over a Parquet file of the same sessions, at each size of
    ``pg_sizes`` (``bench/bench_pgstore.py``)."""
    from bench import bench_pgstore

    found = bench_pgstore.run(p["pg_sizes"])
    rows = []
    for r in found:
        n = r["n_sessions"]
        per_million = [i["s_per_million"] for i in r["imports"]]
        rows.append(row(
            f"shared store import: {n:,} sessions into PostGIS in {r['chunks']} files",
            r["import_s"], None, "—", "report rows/s", None,
            f"{r['import_rows_per_s']:,.0f} rows/s; s per million sessions, first "
            f"{per_million[0]:.1f} and last {per_million[-1]:.1f} file (month sums "
            f"{', '.join(sorted({i['sums'] for i in r['imports']}))}); sessions table "
            f"{r['sessions_table_mb']:,.0f} MB, month sums {r['month_sums_mb']:,.0f} MB "
            f"(durable server settings); load {r['imports'][-1]['load']}",
            rows_per_s=r["import_rows_per_s"]))
        rows.append(row(
            f"utilisation per device per quarter in SQL ({n:,} sessions, "
            f"{r['n_devices']:,} devices)", r["sql_utilisation_s"], r["peer_s"],
            "DuckDB over a Parquet file of the same sessions (same quarter split)",
            "≤ 5 s at 10,000,000 sessions" if n >= 10_000_000 else "report",
            r["sql_utilisation_s"] <= 5 if n >= 10_000_000 else None,
            f"first run {fmt(r['sql_utilisation_first_s'])}; {r['rows']:,} rows; figures "
            f"{'equal' if r['same_figures_as_peer'] else 'DIFFER from'} the peer's; load "
            f"{r['utilisation_loads']}"))
    return {"rows": rows, "details": {"sizes": found}}


# --- 3. usage aggregation ------------------------------------------------------------

def bench_utilisation(p: dict) -> dict:
    from bench import bench_utilisation as bu
    from ev_chargepoints.core.analysis.utilisation import utilisation

    n, d, repeat = p["sessions"], p["devices"], p["repeat"]
    frame = bu.make_sessions(n, d, seed=0)
    categorical = frame.copy()
    categorical["device_id"] = categorical["device_id"].astype("category")
    categorical["connector_id"] = categorical["connector_id"].astype("category")
    del frame   # only the categorical frame (what the store returns) is resident
    gc.collect()
    base_mb = current_rss_mb()
    reset = reset_peak_rss()
    cat_s, cat_all, ours = timed(lambda: utilisation(categorical), repeat)
    # high-water mark of the plugin run alone (input frame included); if the kernel
    # cannot reset it, the process peak so far (which includes making the data)
    plugin_peak_mb = hwm_rss_mb() if reset else peak_rss_mb()

    secondary = p.get("repeat_secondary", repeat)
    noflags_s, noflags_all, _ = timed(lambda: utilisation(categorical, quality=False),
                                      secondary)
    frame = categorical.copy()
    frame["device_id"] = frame["device_id"].astype(object)
    frame["connector_id"] = frame["connector_id"].astype(object)
    obj_s, obj_all, _ = timed(lambda: utilisation(frame), secondary)

    import duckdb

    con = duckdb.connect()

    def duck(data):
        con.register("sessions", data)
        result = con.execute(bu.DUCKDB_SQL).fetchnumpy()
        con.unregister("sessions")
        return result

    duck_obj_s, duck_obj_all, ref = timed(lambda: duck(frame), secondary)
    duck_cat_s, duck_cat_all, _ = timed(lambda: duck(categorical), repeat)
    # the peer's best case may be data already in Arrow (conversion not timed)
    duck_arrow_s, duck_arrow_all, arrow_note = None, [], ""
    try:
        import pyarrow as pa

        arrow = pa.Table.from_pandas(categorical, preserve_index=False)
        duck_arrow_s, duck_arrow_all, _ = timed(lambda: duck(arrow), repeat)
        arrow = None  # free it before anything else is measured
    except ImportError as exc:
        arrow_note = f"; Arrow input not measured (pyarrow: {exc})"
    same = (int(ours["sessions"].sum()) == int(ref["sessions"].sum())
            and bool(np.isclose(ours["kwh"].sum(), ref["kwh"].sum())))
    peers = {"pandas object": duck_obj_s, "pandas categorical": duck_cat_s}
    if duck_arrow_s is not None:
        peers["Arrow dictionary"] = duck_arrow_s
    best = min(peers, key=peers.get)
    peer_s = peers[best]
    ratio = peer_s / cat_s
    met = ratio >= 1 / 1.5 and plugin_peak_mb < 3000
    label = f"usage aggregation: {n:,} sessions, {d:,} devices, per device per quarter"
    return {"rows": [
        row(label, cat_s, peer_s,
            f"duckdb group-by (best input: {best})",
            "within 1.5× of duckdb; peak < 3 GB", met,
            f"time {'met' if ratio >= 1 / 1.5 else 'MISSED'}: plugin {cat_s / peer_s:.2f}× "
            f"duckdb's time; memory {'met' if plugin_peak_mb < 3000 else 'MISSED'}: "
            "plugin peak RSS "
            f"{plugin_peak_mb:,.0f} MB incl. {base_mb:,.0f} MB before it ran; "
            "plugin also splits plugged time at quarter ends/midnights, "
            f"in-use days, quality flags (without the flags: {fmt(noflags_s)})" + arrow_note,
            peak_override_mb=plugin_peak_mb),
        row(f"usage aggregation, object-dtype ids ({n:,} sessions)", obj_s, duck_obj_s,
            "duckdb group-by on the same object frame", "within 1.5× of duckdb",
            duck_obj_s / obj_s >= 1 / 1.5, f"plugin {obj_s / duck_obj_s:.2f}× duckdb's time"),
    ], "details": {
        "engine_categorical_all_s": cat_all, "engine_object_all_s": obj_all,
        "engine_categorical_no_flags_all_s": noflags_all,
        "duckdb_object_all_s": duck_obj_all, "duckdb_categorical_all_s": duck_cat_all,
        "duckdb_arrow_all_s": duck_arrow_all, "duckdb_medians_s": peers,
        "rss_before_plugin_mb": base_mb, "plugin_peak_rss_mb": plugin_peak_mb,
        "plugin_peak_is_isolated": reset,
        "same_totals_as_duckdb": same, "output_rows": len(ours),
        "scaling": {"plugin_s": cat_s, "peer_s": peer_s}}}


# --- 4. area summary -------------------------------------------------------------------

def bench_summary(p: dict) -> dict:
    from bench.bench_summary import resample
    from ev_chargepoints.core.analysis import areas, summary
    from ev_chargepoints.core.crs import wgs84_to_bng
    from ev_chargepoints.core.paths import LONDON_SNAPSHOT

    n, repeat = p["devices"], p["repeat"]
    wards, boroughs = areas.load_wards(2018), areas.load_boroughs()
    devices, connectors, usage = resample(n, 0)

    def first():
        assignment = areas.assign_devices(devices, wards, boroughs)
        table = summary.summarise(assignment, devices, connectors, level="ward")
        return assignment, table

    plugin_s, plugin_all, (assignment, table) = timed(first, repeat)
    assign_s, _, _ = timed(lambda: areas.assign_devices(devices, wards, boroughs), repeat)
    summary.summarise(assignment, devices, connectors, usage, level="ward")  # prepare
    filters = {"power_class": ["rapid", "ultra"], "location_type": "On-street"}
    refilter_s, refilter_all, _ = timed(lambda: summary.summarise(
        assignment, devices, connectors, usage, level="ward", filters=filters),
        max(5, repeat))

    qgis_app()
    processing, context, feedback = _processing()
    x, y = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    points = memory_points("devices", x, y, {
        "device_id": devices["device_id"].to_numpy(object),
        "connectors": devices["connector_count"].to_numpy("int64")})
    ward_layer = memory_copy(LONDON_SNAPSHOT / "london_wards_2018.gpkg", "wards")
    borough_layer = memory_copy(LONDON_SNAPSHOT / "london_boroughs.gpkg", "boroughs")
    for layer in (points, ward_layer, borough_layer):
        spatial_index(layer)

    steps = {"countpointsinpolygon wards": [], "joinbylocationsummary wards": [],
             "countpointsinpolygon boroughs": []}

    def step(name, algorithm, parameters):
        start = time.perf_counter()
        out = processing.run(algorithm, parameters, context=context,
                             feedback=feedback)["OUTPUT"]
        steps[name].append(time.perf_counter() - start)
        return out

    def peer():
        count = step("countpointsinpolygon wards", "native:countpointsinpolygon", {
            "POLYGONS": ward_layer, "POINTS": points, "FIELD": "NUMPOINTS",
            "OUTPUT": "memory:"})
        joined = step("joinbylocationsummary wards", "qgis:joinbylocationsummary", {
            "INPUT": ward_layer, "JOIN": points, "PREDICATE": [0], "JOIN_FIELDS": ["connectors"],
            "SUMMARIES": [5], "DISCARD_NONMATCHING": False, "OUTPUT": "memory:"})
        by_borough = step("countpointsinpolygon boroughs", "native:countpointsinpolygon", {
            "POLYGONS": borough_layer, "POINTS": points, "FIELD": "NUMPOINTS",
            "OUTPUT": "memory:"})
        return count, joined, by_borough

    peer_s, peer_all, (count, joined, by_borough) = timed(peer, repeat)
    step_medians = {k: statistics.median(v) for k, v in steps.items()}
    peer_ward_devices = sum(f["NUMPOINTS"] for f in count.getFeatures())
    peer_borough_devices = sum(f["NUMPOINTS"] for f in by_borough.getFeatures())
    ratio = peer_s / plugin_s
    return {"rows": [
        row(f"area summary: assignment + first summary ({n:,} devices, "
            f"{len(wards)} wards + {len(boroughs)} boroughs)", plugin_s, peer_s,
            "countpointsinpolygon (wards, boroughs) + joinbylocationsummary, indexed",
            "≥ 10× faster", ratio >= 10,
            f"devices in wards: plugin {int(table['devices'].sum()):,}, "
            f"QGIS {int(peer_ward_devices):,}; QGIS steps: "
            + ", ".join(f"{k} {fmt(v)}" for k, v in step_medians.items())
            + f"; plugin assignment alone {fmt(assign_s)}"),
        row("area re-summary after a filter change", refilter_s, None, "—", "< 50 ms",
            refilter_s < 0.05, "power class + location type filter, ward level, usage"),
    ], "details": {
        "plugin_all_s": plugin_all, "peer_all_s": peer_all, "refilter_all_s": refilter_all,
        "peer_steps_s": steps, "plugin_assignment_s": assign_s,
        "plugin_ward_devices": int(table["devices"].sum()),
        "qgis_ward_devices": int(peer_ward_devices),
        "qgis_borough_devices": int(peer_borough_devices),
        "report": assignment.report.as_dict(),
        "scaling": {"plugin_s": plugin_s, "peer_s": peer_s}}}


# --- 5. candidate sites ----------------------------------------------------------------

def bench_sites(p: dict) -> dict:
    from bench.bench_sites import DISTANCE_M, make_data
    from ev_chargepoints.core.analysis import areas
    from ev_chargepoints.core.analysis.siting.analyser import (
        IncrementalSiteAnalyser,
        analyse_sites,
    )
    from ev_chargepoints.core.analysis.siting.catchment import RadiusCatchment
    from ev_chargepoints.core.analysis.siting.population import PopulationGrid

    n, n_sites, repeat = p["devices"], p["sites"], p["repeat"]
    grid = PopulationGrid.from_areas(areas.load_wards(2018))
    devices, usage, sites = make_data(n_sites, n, 0)
    dx, dy = devices["x"].to_numpy(), devices["y"].to_numpy()
    sx, sy = sites["x"].to_numpy(), sites["y"].to_numpy()
    catchment = RadiusCatchment(DISTANCE_M)

    def count():
        index = catchment.index(dx, dy)
        site, _point, _d = catchment.device_pairs(index, sx, sy)
        return np.bincount(site, minlength=n_sites)

    count_s, count_all, counts = timed(count, max(3, repeat))
    full_s, full_all, _ = timed(lambda: analyse_sites(
        sites, devices, utilisation=usage, population=grid, distances=(DISTANCE_M,)), repeat)
    analyser = IncrementalSiteAnalyser(devices, utilisation=usage, population=grid,
                                              distances=(DISTANCE_M,))
    analyser.add_sites(sites)
    add_times = []
    for i in range(20):
        start = time.perf_counter()
        analyser.add_site(dx[i] + 120.0, dy[i] - 80.0, site_id=f"extra-{i}")
        add_times.append(time.perf_counter() - start)
    add_s = statistics.median(add_times)

    qgis_app()
    processing, context, feedback = _processing()
    points = memory_points("devices", dx, dy, {
        "device_id": devices["device_id"].to_numpy(object)})
    site_layer = memory_points("sites", sx, sy, {"site_id": sites["site_id"].to_numpy(object)})
    spatial_index(points)
    spatial_index(site_layer)

    def peer():
        buffers = processing.run("native:buffer", {
            "INPUT": site_layer, "DISTANCE": DISTANCE_M, "SEGMENTS": 5, "END_CAP_STYLE": 0,
            "JOIN_STYLE": 0, "MITER_LIMIT": 2, "DISSOLVE": False, "OUTPUT": "memory:"},
            context=context, feedback=feedback)["OUTPUT"]
        return processing.run("native:countpointsinpolygon", {
            "POLYGONS": buffers, "POINTS": points, "FIELD": "NUMPOINTS", "OUTPUT": "memory:"},
            context=context, feedback=feedback)["OUTPUT"]

    peer_s, peer_all, counted = timed(peer, max(3, repeat))
    peer_counts = np.array([f["NUMPOINTS"] for f in counted.getFeatures()], dtype=float)
    ratio = peer_s / count_s
    return {"rows": [
        row(f"candidate sites: count within {DISTANCE_M:g} m ({n_sites:,} sites × "
            f"{n:,} devices)", count_s, peer_s,
            "native:buffer + countpointsinpolygon, indexed", "≥ 2× faster", ratio >= 2,
            f"mean devices within: plugin {counts.mean():.1f} (exact circle), "
            f"QGIS {peer_counts.mean():.1f} (5-segment buffer polygon)"),
        row(f"candidate sites: full analysis ({n_sites:,} sites)", full_s, None, "—", "< 1 s",
            full_s < 1.0, "counts by class/operator, usage, population reached"),
        row("candidate sites: one incremental site", add_s, None, "—", "< 20 ms",
            add_s < 0.02, f"median of 20 adds (max {max(add_times) * 1000:.1f} ms)"),
    ], "details": {
        "count_all_s": count_all, "peer_all_s": peer_all, "full_all_s": full_all,
        "add_all_s": add_times, "plugin_mean_within": float(counts.mean()),
        "qgis_mean_within": float(peer_counts.mean()),
        "scaling": {"plugin_s": count_s, "peer_s": peer_s}}}


# --- 6. layer load + render --------------------------------------------------------------

def write_device_map(folder: Path, n: int, period: str = "2022-Q2") -> Path:
    """The map's devices GeoPackage (core.mapdata's table layout) for ``n`` devices."""
    from bench.bench_summary import resample
    from ev_chargepoints.core.crs import wgs84_to_bng
    from ev_chargepoints.core.outputs import mapdata
    from ev_chargepoints.core.store import gpkg_file as gpkg
    from ev_chargepoints.qgis.layers import DEVICE_LAYER

    devices, _connectors, usage = resample(n, 0)
    frame = devices[[c for c in mapdata.DEVICE_FIELDS if c in devices.columns]].copy()
    frame["period"] = period
    rng = np.random.default_rng(1)
    frame["occupancy_pct"] = np.round(rng.beta(1.2, 8, n) * 100, 1)
    for column in mapdata.USAGE_FIELDS:
        if column not in frame.columns:
            frame[column] = rng.random(n) * 10
    x, y = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    target = mapdata.layer_file(folder, DEVICE_LAYER)
    # as the plugin writes it (issue #23): GDAL's GeoPackage driver, R-tree index
    return gpkg.write_geopackage(target, DEVICE_LAYER, frame, gpkg.point_wkbs(x, y), "POINT")


def bench_render(p: dict) -> dict:
    app = qgis_app(gui=True)
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    from ev_chargepoints.qgis import layers as map_layers

    n, repeat = p["devices"], p["repeat"]
    provenance = map_layers.Provenance(title="bench", sources=["synthetic"], licences=["OGL"],
                                       attribution="bench", vintage="bench")
    with tempfile.TemporaryDirectory() as folder:
        write_device_map(Path(folder), n)

        def open_style():
            return map_layers.devices_layer(folder, "2022-Q2", provenance)

        def render(layer):
            settings = QgsMapSettings()
            settings.setLayers([layer])
            settings.setDestinationCrs(layer.crs())
            settings.setExtent(layer.extent())
            settings.setOutputSize(QSize(1600, 1200))
            settings.setBackgroundColor(QColor("white"))
            job = QgsMapRendererParallelJob(settings)
            job.start()
            job.waitForFinished()
            app.processEvents()
            return job.renderedImage()

        open_times, render_times, total_times, drawn = [], [], [], 0
        for _ in range(max(1, repeat)):
            gc.collect()
            start = time.perf_counter()
            layer = open_style()
            opened = time.perf_counter()
            image = render(layer)
            done = time.perf_counter()
            open_times.append(opened - start)
            render_times.append(done - opened)
            total_times.append(done - start)
            drawn = layer.featureCount()
            del layer
        total_s = statistics.median(total_times)
        painted = not image.isNull() and image.width() == 1600
    return {"rows": [row(
        f"layer load + style + render 1600×1200 ({n:,} devices)", total_s, None, "—",
        "a few seconds (≤ 5 s)", total_s <= 5.0 and painted,
        f"open+style {statistics.median(open_times):.2f} s, render "
        f"{statistics.median(render_times):.2f} s (QgsMapRendererParallelJob); "
        f"{drawn:,} features")],
        "details": {"open_all_s": open_times, "render_all_s": render_times,
                    "total_all_s": total_times, "features": drawn, "image_ok": painted}}


# --- 7. atlas ------------------------------------------------------------------------------

def bench_atlas(p: dict) -> dict:
    module = ROOT / "ev_chargepoints" / "qgis" / "layout_export" / "export.py"
    first = p.get("atlas_boroughs")   # None: all 33 (the atlas); a number: the first few
    label = "atlas export of " + ("33 boroughs" if not first else f"{first} boroughs (quick)") \
        + " (one PDF, bundled London snapshot)"
    if not module.exists():
        return {"rows": [row(label, None, None, "—", "report", None,
                             "not yet available (ev_chargepoints/qgis/layout_export/export.py "
                             "does not exist)", status="not yet available")],
                "details": {}}
    qgis_app(gui=True)
    try:
        from ev_chargepoints.core.workspace import Workspace
        from ev_chargepoints.qgis.layout_export.export import export_committee_maps
    except Exception as exc:  # noqa: BLE001 - still being written by another engineer
        return {"rows": [row(label, None, None, "—", "report", None,
                             f"not yet available (layout_export does not import: "
                             f"{type(exc).__name__}: {exc})", status="not yet available")],
                "details": {}}
    chosen = "all"
    if first:
        from ev_chargepoints.core.analysis import areas

        chosen = sorted(areas.load_boroughs().table["area_name"].astype(str))[:first]
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store.gpkg"
        start = time.perf_counter()
        with Workspace(store) as ws:
            ws.import_bundled_snapshot()
        setup_s = time.perf_counter() - start
        times, files, timing = [], [], []
        for i in range(max(1, p.get("atlas_repeat", 1))):
            out = Path(folder) / f"out{i}"
            gc.collect()
            start = time.perf_counter()
            result = export_committee_maps(store, out, boroughs=chosen, combined=True)
            times.append(time.perf_counter() - start)
            files = result.files
            timing.append({"prepare_s": result.prepare_s, "render_s": result.render_s,
                           "pages": result.pages})
        pdfs = [f for f in files if str(f).endswith(".pdf")]
        pdf_mb = sum(Path(f).stat().st_size for f in pdfs) / 1e6
        pages = _pdf_pages(pdfs)
    median = statistics.median(times)
    split = ""
    if timing:
        split = (f"; map data + summaries {timing[-1]['prepare_s']:.1f} s, layout render "
                 f"{timing[-1]['render_s']:.1f} s")
    per_page = f", {median / pages:.2f} s a page" if pages else ""
    return {"rows": [row(
        label, median, None, "—", "report", None,
        f"{pages if pages is not None else '?'} pages in {len(pdfs)} PDF ({pdf_mb:.1f} MB, "
        f"300 dpi){per_page}{split}")],
        "details": {"all_s": times, "timing": timing, "store_setup_s": setup_s,
                    "files": [str(f) for f in files]}}


def _pdf_pages(pdfs):
    """Pages in the PDFs (poppler's pdfinfo), or None if it cannot tell."""
    import re
    import subprocess

    total = 0
    for pdf in pdfs:
        try:
            info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                                  timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        found = re.search(r"^Pages:\s+(\d+)", info, re.M)
        if not found:
            return None
        total += int(found.group(1))
    return total


# --- environment -----------------------------------------------------------------------------

def bench_env(p: dict) -> dict:
    info = {}
    try:
        from qgis.core import Qgis

        info["qgis"] = Qgis.QGIS_VERSION
    except Exception as exc:  # noqa: BLE001
        info["qgis"] = f"unavailable ({exc})"
    try:
        from osgeo import gdal

        info["gdal"] = gdal.__version__
    except Exception as exc:  # noqa: BLE001
        info["gdal"] = f"unavailable ({exc})"
    for name in ("pandas", "numpy", "duckdb", "pyarrow"):
        try:
            info[name] = __import__(name).__version__
        except Exception as exc:  # noqa: BLE001
            info[name] = f"unavailable ({exc})"
    return {"rows": [], "details": info}


# the issue #22 (history) and #23 (libraries, writers) benchmarks, each in its own module
from bench import (  # noqa: E402
    bench_demand,
    bench_history,
    bench_libraries,
    bench_walking,
    bench_writers,
)

BENCHMARKS = {
    "parse_ncr": bench_parse_ncr,
    "parse_ncr_synthetic": bench_parse_ncr_synthetic,
    "parse_dundee": bench_parse_dundee,
    "store": bench_store,
    "utilisation": bench_utilisation,
    "summary": bench_summary,
    "sites": bench_sites,
    "render": bench_render,
    "atlas": bench_atlas,
    "pgstore": bench_pgstore,
    "history": bench_history.bench_history,
    "csv_import": bench_history.bench_csv_import,
    "desktop_load": bench_history.bench_desktop_load,
    "libraries": bench_libraries.bench_libraries,
    "writers": bench_writers.bench_writers,
    "demand": bench_demand.bench_demand,
    "walking": bench_walking.bench_walking,
    "env": bench_env,
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name, params, out = argv[0], json.loads(argv[1]), Path(argv[2])
    start = time.perf_counter()
    try:
        result = BENCHMARKS[name](params)
        result["ok"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the table, not hidden
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "rows": [], "details": {}}
    result["peak_rss_mb"] = peak_rss_mb()
    result["wall_s"] = time.perf_counter() - start
    out.write_text(json.dumps(result, default=_json_default, indent=1))
    sys.stdout.flush()
    # QgsApplication.exitQgis() at interpreter exit can crash after Processing;
    # the result is written, so leave without running finalisers.
    os._exit(0)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


if __name__ == "__main__":
    main()
