"""Fetching from the London Datastore as users meet it: the CLI against the loopback
replay server (DataPress-shaped API) serving real files.

- the registry extract of dataset 2lzpg is imported, not skipped;
- a fetch that imports nothing exits non-zero and says, per resource, why;
- boundary resources (GeoPackage, zipped Shapefile, GeoJSON) become area layers in
  the store that ``summary --areas`` takes by name, as it takes such files;
- a 401 names the environment variable the key was read from;
- the README's Datastore examples run as written (only the address is the server's).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import re
import shlex
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from replay_server import (
    BOROUGHS_RESOURCE,
    BOUNDARIES_ID,
    EV_SITE_ID,
    NCR_FILE,
    USAGE_ID,
    WARDS_2011_RESOURCE,
    WARDS_2018_RESOURCE,
    ReplayServer,
)

from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.store.geopackage import HistoryStore

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "dp-key-fetch-4c1d9e"


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def pyogrio_raw():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Valid PROJ data directory not found")
        from pyogrio import raw
    return raw


def ncr_rows():
    with gzip.open(LONDON_SNAPSHOT / NCR_FILE, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [r for r in reader if len(r) == len(header)]


def rapid_extract_expectation():
    """From the registry snapshot itself: the devices with a DC connector (what the
    replayed 2lzpg extract holds) and the power class of each by its connector 1 kW."""
    header, rows = ncr_rows()
    col = {n: i for i, n in enumerate(header)}
    devices = {}
    for r in rows:
        if any(r[col[f"connector{n}ChargeMethod"]] == "DC" for n in range(1, 9)):
            kw = float(r[col["connector1RatedOutputKW"]] or "nan")
            devices[r[col["chargeDeviceID"]]] = ("ultra" if kw >= 150 else "rapid" if kw >= 50
                                                 else "fast" if kw >= 8 else "slow"
                                                 if kw > 0 else None)
    return devices


def current_devices(store):
    with HistoryStore.create_or_open(store) as hs:
        return hs.devices(), hs.import_log()


# --- 2lzpg: the registry extract --------------------------------------------------------

def test_2lzpg_registry_extract_is_imported(tmp_path):
    """The resource has 8 of the registry's 158 columns (chargeDeviceID, name,
    latitude, longitude, postcode, deviceControllerName, connector1Type,
    connector1RatedOutputKW): an extract, which was skipped as an unknown CSV."""
    store = tmp_path / "s.gpkg"
    expected = rapid_extract_expectation()
    with ReplayServer() as server:
        result = cli("fetch", "--datastore", server.url, "--dataset", EV_SITE_ID,
                     "--store", store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unrecognised CSV header" not in result.stdout + result.stderr
    assert f"{len(expected):,} rows read" in result.stdout
    devices, _ = current_devices(store)
    assert set(devices["device_id"]) == set(expected)
    got = dict(zip(devices["device_id"], devices["power_class"]))
    assert got == expected
    assert set(devices["source"]) == {"ncr"}


def test_extract_never_closes_or_blanks_full_registry_devices(tmp_path):
    """The full registry first, then the extract: the extract's devices are the same
    registry devices, kept as the full export describes them; nothing is closed."""
    store = tmp_path / "s.gpkg"
    assert cli("import", LONDON_SNAPSHOT / NCR_FILE, "--store", store).returncode == 0
    before, _ = current_devices(store)
    with ReplayServer() as server:
        result = cli("fetch", "--datastore", server.url, "--dataset", EV_SITE_ID,
                     "--store", store)
    assert result.returncode == 0, result.stdout + result.stderr
    after, log = current_devices(store)
    _, rows = ncr_rows()
    assert len(after) == len(before) == len({r[0] for r in rows})
    cols = ["device_id", "owner", "address", "connector_count", "max_power_kw"]
    assert after[cols].sort_values("device_id").reset_index(drop=True).equals(
        before[cols].sort_values("device_id").reset_index(drop=True))
    assert f"{len(rapid_extract_expectation()):,} already in the store" in result.stdout
    assert log["outcome"].tolist() == ["imported", "imported"]


# --- a fetch that imports nothing -------------------------------------------------------

def rapid_sites_geopackage(path: Path) -> bytes:
    """What the live 2lzpg resource is: a GeoPackage of rapid sites (points, EPSG:27700,
    fields siteid, objectid, borough), made here from the real registry DC devices."""
    from ev_chargepoints.core.crs import wgs84_to_bng

    header, rows = ncr_rows()
    col = {n: i for i, n in enumerate(header)}
    dc = [r for r in rows
          if any(r[col[f"connector{n}ChargeMethod"]] == "DC" for n in range(1, 9))]
    x, y = wgs84_to_bng(np.array([float(r[col["longitude"]]) for r in dc]),
                        np.array([float(r[col["latitude"]]) for r in dc]))
    wkb = np.array([b"\x01\x01\x00\x00\x00" + np.array([a, b], "<f8").tobytes()
                    for a, b in zip(x, y)], dtype=object)
    fields = [np.arange(1, len(dc) + 1), np.array([r[col["chargeDeviceID"]] for r in dc],
                                                    dtype=object),
              np.array([r[col["town"]] for r in dc], dtype=object)]
    pyogrio_raw().write(str(path), wkb, fields, fields=["objectid", "siteid", "borough"],
                        geometry_type="Point", crs="EPSG:27700", driver="GPKG",
                        layer="Rapid_charging_points")
    return path.read_bytes()


def add_resource(server, dataset_id, rid, title, fmt, filename, data):
    url = server.fixtures.add_file(dataset_id, rid, filename, data)
    server.datasets[dataset_id]["resources"][rid] = {
        "title": title, "format": fmt, "url": url, "size": len(data),
        "hash": hashlib.md5(data).hexdigest()}


def test_fetch_that_imports_nothing_exits_non_zero_and_says_why(tmp_path):
    store = tmp_path / "s.gpkg"
    profiles = (LONDON_SNAPSHOT / "ward-profiles-excel-version.csv").read_bytes()
    sites = rapid_sites_geopackage(tmp_path / "Rapid_charging_points.gpkg")
    with ReplayServer() as server:
        server.datasets[EV_SITE_ID]["resources"] = {}
        add_resource(server, EV_SITE_ID, "res-sites-gpkg", "Rapid charging sites",
                     "geopackage", "Rapid_charging_points.gpkg", sites)
        add_resource(server, EV_SITE_ID, "res-ward-profiles", "Ward profiles", "csv",
                     "ward-profiles.csv", profiles)
        result = cli("fetch", "--datastore", server.url, "--dataset", EV_SITE_ID,
                     "--store", store)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    text = result.stdout + result.stderr
    lines = [line for line in text.splitlines() if line.startswith("skipped:")]
    assert len(lines) == 2
    sites_line = next(line for line in lines if "res-sites-gpkg" in line)
    assert "Rapid charging sites" in sites_line and "point" in sites_line.lower()
    profiles_line = next(line for line in lines if "res-ward-profiles" in line)
    assert "Ward profiles" in profiles_line and "unrecognised CSV header" in profiles_line
    assert "nothing was imported" in result.stderr.lower()
    if store.exists():
        devices, _ = current_devices(store)
        assert len(devices) == 0


# --- boundary resources -------------------------------------------------------------------

def zipped_shapefiles(tmp_path: Path) -> bytes:
    """Like the GLA's statistical-gis-boundaries zip: Shapefiles in an ESRI/ folder,
    made from the bundled boroughs and 2018 wards."""
    raw = pyogrio_raw()
    folder = tmp_path / "ESRI"
    folder.mkdir()
    for source, stem in (("london_boroughs.gpkg", "London_Borough_Excluding_MHW"),
                         ("london_wards_2018.gpkg", "London_Ward_CityMerged")):
        meta, _, geometry, fields = raw.read(str(LONDON_SNAPSHOT / source))
        raw.write(str(folder / f"{stem}.shp"), geometry, fields, fields=meta["fields"],
                  geometry_type="MultiPolygon", crs=meta["crs"], driver="ESRI Shapefile")
    path = tmp_path / "statistical-gis-boundaries-london.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in sorted(folder.iterdir()):
            archive.write(member, f"ESRI/{member.name}")
    return path.read_bytes()


def geojson_wards(tmp_path: Path) -> Path:
    """The bundled 2011 wards as GeoJSON in WGS84, reprojected by GDAL's ogr2ogr."""
    out = tmp_path / "london_wards_2011.geojson"
    subprocess.run(["ogr2ogr", "-f", "GeoJSON", "-t_srs", "EPSG:4326", str(out),
                    str(LONDON_SNAPSHOT / "london_wards_2011_citymerged.gpkg")], check=True,
                   capture_output=True)
    return out


def read_layer(path, layer=None):
    meta, _, geometry, fields = pyogrio_raw().read(str(path), layer=layer)
    return dict(zip(meta["fields"], fields)), geometry


def summary_rows(out):
    with open(out, newline="") as fh:
        return {r["area_code"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def registry_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("registry") / "registry.gpkg"
    assert cli("import", LONDON_SNAPSHOT / NCR_FILE, "--store", store).returncode == 0
    return store


@pytest.fixture(scope="module")
def reference_summaries(registry_store, tmp_path_factory):
    """Summaries of the registry over the bundled boundary files (the --areas path that
    tests/core/test_cli_data.py checks), to compare the stored layers with."""
    folder = tmp_path_factory.mktemp("reference")
    out = {}
    for name, level in (("london_boroughs.gpkg", "borough"),
                        ("london_wards_2018.gpkg", "ward"),
                        ("london_wards_2011_citymerged.gpkg", "ward")):
        target = folder / f"{name}.csv"
        result = cli("summary", "--store", registry_store, "--areas", LONDON_SNAPSHOT / name,
                     "--level", level, "--out", target)
        assert result.returncode == 0, result.stderr
        out[name] = summary_rows(target)
    return out


def copy_store(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def test_boundary_resources_become_area_layers_for_summaries(registry_store,
                                                             reference_summaries, tmp_path):
    store = copy_store(registry_store, tmp_path / "s.gpkg")
    shapefiles = zipped_shapefiles(tmp_path)
    geojson = geojson_wards(tmp_path)
    with ReplayServer() as server:
        add_resource(server, BOUNDARIES_ID, "res-esri-zip", "Statistical GIS boundaries (ESRI)",
                     "zip", "statistical-gis-boundaries-london.zip", shapefiles)
        add_resource(server, BOUNDARIES_ID, "res-wards-geojson", "Wards 2011 (GeoJSON)",
                     "geojson", "London_Ward.geojson", geojson.read_bytes())
        result = cli("fetch", "--datastore", server.url, "--dataset", BOUNDARIES_ID,
                     "--store", store)
        again = cli("fetch", "--datastore", server.url, "--dataset", BOUNDARIES_ID,
                    "--store", store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" not in result.stdout
    layers = dict(re.findall(r"area layer '([^']+)': ([\d,]+) areas", result.stdout))
    expected_counts = {
        "london_boroughs": 33, "london_wards_2018": 633, "london_wards_2011": 625,
        "london_borough_excluding_mhw": 33, "london_ward_citymerged": 633}
    for name, n in expected_counts.items():
        assert name in layers, result.stdout
        assert int(layers[name].replace(",", "")) == n == len(
            read_layer(LONDON_SNAPSHOT / {
                "london_boroughs": "london_boroughs.gpkg",
                "london_wards_2018": "london_wards_2018.gpkg",
                "london_wards_2011": "london_wards_2011_citymerged.gpkg",
                "london_borough_excluding_mhw": "london_boroughs.gpkg",
                "london_ward_citymerged": "london_wards_2018.gpkg"}[name])[1])
    geojson_name = next(n for n in layers if n not in expected_counts)
    assert int(layers[geojson_name].replace(",", "")) == 625
    assert again.returncode == 0 and "already imported" in again.stdout

    # Stored vertex for vertex (EPSG:27700 sources): the zipped Shapefile's boroughs.
    source_attrs, source_geom = read_layer(LONDON_SNAPSHOT / "london_boroughs.gpkg")
    stored_attrs, stored_geom = read_layer(store, "areas_london_borough_excluding_mhw")
    order = np.argsort(stored_attrs["GSS_CODE"])
    source_order = np.argsort(source_attrs["GSS_CODE"])
    assert list(stored_attrs["GSS_CODE"][order]) == list(source_attrs["GSS_CODE"][source_order])
    for a, b in zip(stored_geom[order], source_geom[source_order]):
        assert np.array_equal(_coords(a), _coords(b))

    # summary --areas NAME: the same figures as over the bundled files.
    for name, level, reference in (
            ("london_borough_excluding_mhw", "borough", "london_boroughs.gpkg"),
            ("london_wards_2018", "ward", "london_wards_2018.gpkg"),
            (geojson_name, "ward", "london_wards_2011_citymerged.gpkg")):
        out = tmp_path / f"{name}.csv"
        summary = cli("summary", "--store", store, "--areas", name, "--level", level,
                      "--out", out)
        assert summary.returncode == 0, summary.stderr
        got, want = summary_rows(out), reference_summaries[reference]
        assert set(got) == set(want)
        if name == geojson_name:  # reprojected there and back: a few devices on borders
            moved = sum(abs(int(got[c]["devices"]) - int(want[c]["devices"])) for c in want)
            assert moved <= 10
            assert sum(int(r["devices"]) for r in got.values()) == \
                sum(int(r["devices"]) for r in want.values())
        else:
            assert {c: got[c]["devices"] for c in got} == {c: want[c]["devices"] for c in want}


def _coords(wkb) -> np.ndarray:
    """Every vertex of a (multi)polygon WKB, in order (the structure words dropped)."""
    from ev_chargepoints.core.analysis.geometry import parse_wkb_polygons

    polygons = parse_wkb_polygons([bytes(wkb)])
    return np.column_stack([polygons.x, polygons.y])


def test_summary_areas_takes_zipped_shapefile_and_geojson_files(registry_store,
                                                               reference_summaries,
                                                               tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    (one / "boroughs.zip").write_bytes(zipped_shapefiles(one))
    with zipfile.ZipFile(one / "boroughs.zip") as archive:  # keep the boroughs only
        members = [m for m in archive.namelist() if "Borough" in m]
        with zipfile.ZipFile(tmp_path / "boroughs_only.zip", "w") as single:
            for member in members:
                single.writestr(member, archive.read(member))
    out = tmp_path / "zip.csv"
    result = cli("summary", "--store", registry_store, "--areas", tmp_path / "boroughs_only.zip",
                 "--level", "borough", "--out", out)
    assert result.returncode == 0, result.stderr
    want = reference_summaries["london_boroughs.gpkg"]
    assert {c: r["devices"] for c, r in summary_rows(out).items()} == \
        {c: r["devices"] for c, r in want.items()}

    geojson = geojson_wards(tmp_path)
    out = tmp_path / "geojson.csv"
    result = cli("summary", "--store", registry_store, "--areas", geojson, "--level", "ward",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    assert set(summary_rows(out)) == set(reference_summaries[
        "london_wards_2011_citymerged.gpkg"])

    # an archive of several layers: one line naming them, no traceback
    result = cli("summary", "--store", registry_store, "--areas", one / "boroughs.zip",
                 "--level", "borough", "--out", tmp_path / "x.csv")
    assert result.returncode == 2
    assert "London_Borough_Excluding_MHW" in result.stderr and "Traceback" not in result.stderr
    # ... which, imported, keeps each layer for summaries by name
    store = copy_store(registry_store, tmp_path / "s.gpkg")
    imported = cli("import", one / "boroughs.zip", "--store", store)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "area layer 'london_borough_excluding_mhw': 33 areas" in imported.stdout
    assert "area layer 'london_ward_citymerged': 633 areas" in imported.stdout
    out = tmp_path / "imported.csv"
    result = cli("summary", "--store", store, "--areas",
                 "london_borough_excluding_mhw", "--level", "borough", "--out", out)
    assert result.returncode == 0, result.stderr
    assert {c: r["devices"] for c, r in summary_rows(out).items()} == \
        {c: r["devices"] for c, r in want.items()}
    result = cli("summary", "--store", registry_store, "--areas", "no_such_layer",
                 "--level", "borough", "--out", tmp_path / "y.csv")
    assert result.returncode == 2 and "no_such_layer" in result.stderr
    assert "Traceback" not in result.stderr


def test_bundled_boundary_dataset_resources_are_area_layers(tmp_path):
    """The replayed boundaries dataset: three GeoPackages, two with the same file name."""
    store = tmp_path / "s.gpkg"
    with ReplayServer() as server:
        result = cli("fetch", "--datastore", server.url, "--dataset", BOUNDARIES_ID,
                     "--store", store)
    assert result.returncode == 0, result.stdout + result.stderr
    for rid in (BOROUGHS_RESOURCE, WARDS_2018_RESOURCE, WARDS_2011_RESOURCE):
        assert rid not in result.stdout  # nothing skipped
    from ev_chargepoints.core.store import gpkg_file as gpkg

    assert [t for t in gpkg.feature_layers(store) if t.startswith("areas_")] == [
        "areas_london_boroughs", "areas_london_wards_2011", "areas_london_wards_2018"]


# --- 401: the variable the key comes from -------------------------------------------------

def test_401_names_the_environment_variable(tmp_path):
    store = tmp_path / "s.gpkg"
    with ReplayServer(api_key=API_KEY) as server:
        without = cli("fetch", "--datastore", server.url, "--dataset", USAGE_ID,
                      "--store", store)
        server.fault(f"/api/dataset/{USAGE_ID}", "status", status=401)
        expired = cli("fetch", "--datastore", server.url, "--dataset", USAGE_ID,
                      "--api-key-env", "EVCP_TEST_DATASTORE_KEY", "--store", store,
                      env={"EVCP_TEST_DATASTORE_KEY": API_KEY})
    for result in (without, expired):
        assert result.returncode == 2
        assert "HTTP 401" in result.stderr and "plugin settings" not in result.stderr
        assert API_KEY not in result.stderr + result.stdout
    assert "--api-key-env" in without.stderr
    assert "EVCP_TEST_DATASTORE_KEY" in expired.stderr


def test_401_of_an_ocpi_feed_names_the_token_variable(tmp_path):
    with ReplayServer(token="the-right-token-77") as server:
        result = cli("fetch", "--ocpi", server.url + "/ocpi/2.2.1/locations",
                     "--token-env", "EVCP_TEST_OCPI_TOKEN", "--store", tmp_path / "s.gpkg",
                     env={"EVCP_TEST_OCPI_TOKEN": "a-wrong-token-11"})
    assert result.returncode == 2 and "HTTP 401" in result.stderr
    assert "EVCP_TEST_OCPI_TOKEN" in result.stderr and "plugin settings" not in result.stderr


# --- the README's Datastore examples ------------------------------------------------------

COMMAND = "ev-chargepoints "


def readme_datastore_examples():
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines()
            if line.strip().startswith(COMMAND) and "--datastore" in line]


def test_readme_datastore_examples_run_as_written(tmp_path):
    examples = readme_datastore_examples()
    assert examples
    with ReplayServer() as server:
        for i, line in enumerate(examples):
            words = shlex.split(line)[1:]  # the README runs the installed command
            at = words.index("--datastore")
            if at + 1 >= len(words) or words[at + 1].startswith("--"):
                words.insert(at + 1, server.url)  # the default address, served locally
            else:
                words[at + 1] = server.url
            if "--store" in words:
                words[words.index("--store") + 1] = str(tmp_path / f"example{i}.gpkg")
            result = cli(*words)
            assert result.returncode == 0, (line, result.stdout, result.stderr)
            assert "skipped" not in result.stdout, (line, result.stdout)
            assert re.search(r"[1-9][\d,]* (rows read|areas)", result.stdout), result.stdout


def test_shared_store_says_why_it_keeps_no_boundaries(pg_dsn, tmp_path):
    """A PostGIS store keeps no area layers: each boundary resource is skipped saying so
    (and that the file itself can be the areas of a summary); nothing imported: exit 2."""
    with ReplayServer() as server:
        result = cli("fetch", "--datastore", server.url, "--dataset", BOUNDARIES_ID,
                     "--store", pg_dsn)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("skipped:")]
    assert len(lines) == 3
    for rid, line in zip((BOROUGHS_RESOURCE, WARDS_2018_RESOURCE, WARDS_2011_RESOURCE), lines):
        assert rid in line and "GeoPackage stores only" in line
    assert "Traceback" not in result.stderr
    # import: the boundary file is refused saying so, the other file still goes in
    imported = cli("import", LONDON_SNAPSHOT / "london_boroughs.gpkg",
                   LONDON_SNAPSHOT / NCR_FILE, "--store", pg_dsn)
    assert imported.returncode == 2 and "Traceback" not in imported.stderr
    refused = next(line for line in imported.stdout.splitlines()
                   if line.startswith("london_boroughs.gpkg"))
    assert "not imported" in refused and "GeoPackage stores only" in refused
    _, rows = ncr_rows()
    assert f"{len(rows):,} rows read" in imported.stdout
