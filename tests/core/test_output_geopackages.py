"""Every GeoPackage the plugin writes passes GDAL's own reading: ``ogrinfo -so`` lists its
layers without a warning or error, with the right feature count and extent; the output
files (map layers, live status, candidate sites: written by GDAL through pyogrio) have
their R-tree spatial index; pyogrio reads them back. The store (written with SQL, see
:mod:`ev_chargepoints.core.store.geopackage`) passes ``ogrinfo`` too."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from ev_chargepoints.core.analysis.site_files import read_sites, write_sites
from ev_chargepoints.core.outputs import mapdata
from ev_chargepoints.core.store import gpkg_file
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def ogrinfo(*args) -> str:
    done = subprocess.run(["ogrinfo", "-so", *map(str, args)], capture_output=True,
                          text=True, timeout=120)
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert "Warning" not in text and "ERROR" not in text, text
    return text


def check_gpkg(path: Path, table: str, features: int, rtree: bool = True,
               extent=None) -> str:
    """``ogrinfo -so`` on the file and on ``table``: no warnings, the feature count
    and (given) extent; the R-tree index registered and filled; pyogrio reads it."""
    assert re.search(rf"^1: {table} \(", ogrinfo(path), re.M)
    text = ogrinfo(path, table)
    assert f"Feature Count: {features}\n" in text, text
    if extent is not None:
        found = re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)",
                          text)
        assert found, text
        assert [float(v) for v in found.groups()] == pytest.approx(list(extent), abs=0.01)
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        registered = "gpkg_extensions" in names and conn.execute(
            "SELECT count(*) FROM gpkg_extensions WHERE table_name = ? AND "
            "extension_name = 'gpkg_rtree_index'", (table,)).fetchone()[0] == 1
        assert registered == rtree and (f"rtree_{table}_geom" in names) == rtree
        if rtree:
            placed = conn.execute(f'SELECT count(*) FROM "{table}" WHERE geom IS NOT NULL'
                                  ).fetchone()[0]
            assert conn.execute(f'SELECT count(*) FROM "rtree_{table}_geom"').fetchone()[0] \
                == placed
    info = pyogrio.read_info(path, layer=table)
    assert info["features"] == features and info["crs"] == "EPSG:27700"
    return text


def extent_of(x, y):
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok].min(), y[ok].min(), x[ok].max(), y[ok].max()


@pytest.fixture(scope="module")
def london(tmp_path_factory):
    """A store holding the bundled London snapshot (real NCR devices, no usage) and its
    map GeoPackages."""
    folder = tmp_path_factory.mktemp("london")
    with Workspace(folder / "history.gpkg") as ws:
        ws.import_bundled_snapshot(synthetic_usage=False)
    with Workspace(folder / "history.gpkg") as ws:
        info = ws.write_map("quarter")
        devices = ws.devices()
    return folder / "history.gpkg", info, devices


def test_map_geopackages_pass_ogrinfo_with_counts_extent_and_rtree(london):
    _store, info, _devices = london
    assert info.counts == {"map_devices": 8940, "map_boroughs": 33, "map_wards": 633}
    for table, count in info.counts.items():
        path = mapdata.layer_file(info.path, table)
        check_gpkg(path, table, count)
    # read back: the devices layer's points are where the frames put them
    meta, _fids, geometry, fields = pyogrio.raw.read(
        mapdata.layer_file(info.path, "map_devices"), layer="map_devices")
    assert meta["geometry_type"] == "Point" and meta["crs"] == "EPSG:27700"
    names = list(meta["fields"])
    assert {"device_id", "period", "occupancy_pct", "borough_name"} <= set(names)
    assert len(set(fields[names.index("device_id")])) == 8940
    text = ogrinfo(mapdata.layer_file(info.path, "map_wards"), "map_wards")
    assert "Geometry: Multi Polygon" in text and "DESCRIPTION=London wards" in text


def test_the_store_itself_passes_ogrinfo(london):
    store, _info, _devices = london
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT count(*) FROM devices").fetchone()[0]
    assert rows >= 8940
    text = ogrinfo(store)
    for layer in ("devices", "connectors", "import_log", "store_meta"):
        assert re.search(rf"^\d+: {layer} \(", text, re.M), text
    # the store is written with SQL and carries no R-tree (its devices change by import)
    check_gpkg(store, "devices", rows, rtree=False)


def test_status_layer_passes_ogrinfo_and_reads_back(london, tmp_path):
    _store, _info, devices = london
    picked = devices.head(5)
    now = pd.Timestamp("2024-03-04 12:00", tz="UTC")
    snapshots = pd.DataFrame({
        "observed_utc": [now - pd.Timedelta(minutes=m) for m in (5, 10, 20, 90, 4)],
        "device_id": list(picked["device_id"]),
        "evse_uid": ["1", "1", "2", "1", "1"],
        "status": ["AVAILABLE", "CHARGING", "OUTOFORDER", "AVAILABLE", "UNKNOWN"],
        "source": "ocpi:test"})
    status = mapdata.write_status(snapshots, devices, tmp_path, now=now, max_age_minutes=30)
    rows, x, y, _left = mapdata.status_rows(snapshots, devices, now, 30)
    check_gpkg(status.path, mapdata.STATUS_TABLE, 5, extent=extent_of(x, y))
    meta, _fids, geometry, fields = pyogrio.raw.read(status.path, layer=mapdata.STATUS_TABLE)
    names = list(meta["fields"])
    observed = pd.to_datetime(pd.Series(fields[names.index("observed_utc")]), utc=True)
    assert sorted(observed) == sorted(rows["observed_utc"])
    assert sorted(fields[names.index("live_status")]) == sorted(rows["live_status"])
    # the stdlib reader the plugin also uses reads the same file
    attributes, wkbs, crs = gpkg_file.read_layer(status.path)
    assert crs == "EPSG:27700" and len(attributes) == 5 and all(w for w in wkbs)
    assert not list(tmp_path.glob("*.tmp"))


def test_site_outputs_pass_ogrinfo_and_read_back(tmp_path):
    x = np.array([530000.0, 531250.5, np.nan, 529000.25])
    y = np.array([180000.0, 181500.0, 0.0, 179000.75])
    sites = pd.DataFrame({"site_id": ["S1", "S2", "S3", "S4"], "x": x, "y": y,
                          "devices_within": np.array([3, 0, 0, 12], dtype="int64"),
                          "score": [0.5, np.nan, 0.0, 1.0], "in_area": [True, False, True, True],
                          "ward_name": ["Camden Town", None, "=x", "Soho"]})
    path = write_sites(sites, tmp_path / "sites.gpkg", synthetic=True)
    text = check_gpkg(path, "candidate_sites", 4, extent=extent_of(x, y))
    assert "DESCRIPTION=Candidate sites" in text and "SYNTHETIC" in text
    back = read_sites(path)
    assert list(back["site_id"]) == ["S1", "S2", "S3", "S4"]
    assert back["x"].tolist()[:2] == [530000.0, 531250.5] and np.isnan(back["x"][2])
    meta, _fids, geometry, fields = pyogrio.raw.read(path)
    names = list(meta["fields"])
    assert list(fields[names.index("devices_within")]) == [3, 0, 0, 12]
    assert list(fields[names.index("ward_name")]) == ["Camden Town", None, "=x", "Soho"]
    assert geometry[2] is None and len(geometry[0]) == 21
    assert not (tmp_path / "sites.gpkg.tmp").exists()


def test_without_pyogrio_the_sql_writer_still_passes_ogrinfo(tmp_path):
    """A QGIS whose Python lacks pyogrio: the same file through the SQL writer (no
    R-tree), still read by GDAL without warnings."""
    script = (
        "import sys; sys.modules['pyogrio'] = None\n"
        "import numpy as np, pandas as pd\n"
        "from ev_chargepoints.core.store import gpkg_file as g\n"
        "frame = pd.DataFrame({'name': ['a', None], 'kw': [7.0, np.nan]})\n"
        f"g.write_geopackage({str(tmp_path / 'plain.gpkg')!r}, 'sites', frame,\n"
        "                   g.point_wkbs([530000.0, 531000.0], [180000.0, 181000.0]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    check_gpkg(tmp_path / "plain.gpkg", "sites", 2, rtree=False,
               extent=(530000, 180000, 531000, 181000))
