"""``sites --network N.gpkg [--walk 400]``: walking catchments on the command line, on
the bundled OpenStreetMap network (tests/data/networks; © OpenStreetMap contributors,
ODbL). Output read back with pyogrio and checked with ogrinfo (GDAL)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio.raw
import pytest

from ev_chargepoints.cli import main
from ev_chargepoints.core.crs import bng_to_wgs84
from tests.core.test_cli_sites import store  # noqa: F401 - the module's snapshot store

OSM = Path(__file__).resolve().parents[1] / "data" / "networks" / \
    "central_london_highways_osm.gpkg"


def _run(capsys, *argv):
    code = main(["sites", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def sites_csv(tmp_path):
    rng = np.random.default_rng(5)
    x, y = rng.uniform(529_800, 531_500, 12), rng.uniform(180_000, 181_900, 12)
    lon, lat = bng_to_wgs84(x, y)
    path = tmp_path / "sites.csv"
    pd.DataFrame({"site_id": [f"c{i}" for i in range(12)], "longitude": lon,
                  "latitude": lat}).to_csv(path, index=False)
    return path


def test_walk_columns_and_catchment_layer(store, sites_csv, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "out.gpkg"
    code, printed, err = _run(capsys, "--store", store, "--sites", sites_csv,
                              "--network", OSM, "--walk", "5min", "--out", out)
    assert code == 0, err
    assert "walking catchments (400 m on central_london_highways_osm.gpkg" in printed
    assert "devices_within_walk" in printed
    meta, _, _, fields = pyogrio.raw.read(str(out), layer="candidate_sites")
    columns = dict(zip(meta["fields"], fields))
    assert (columns["walk_m"] == 400.0).all()
    walked = ~np.isnan(columns["devices_within_walk"])  # else no street within 400 m
    assert walked.sum() >= 10
    assert (columns["devices_within_walk"][walked] <= columns["devices_within"][walked]).all()
    assert (columns["residents_within_walk"][walked]
            <= columns["residents_within"][walked] + 1e-9).all()
    assert columns["devices_within_walk"][walked].sum() > 0
    for note in columns["note"][~walked]:  # the unmeasured site says why, once on stderr
        assert "no street of the network within 400 m" in note
    assert (f"{(~walked).sum()} of {len(walked)} sites have no street of the network within "
            "400 m" in err) == (~walked).any()
    meta, _, geometry, fields = pyogrio.raw.read(str(out), layer="walking_catchments")
    assert meta["geometry_type"] == "MultiPolygon" and meta["crs"] == "EPSG:27700"
    catchments = dict(zip(meta["fields"], fields))
    assert list(catchments["site_id"]) == list(columns["site_id"])
    assert np.array_equal(catchments["devices_within_walk"], columns["devices_within_walk"],
                          equal_nan=True)
    reached = catchments["reachable_network_m"] > 0
    assert reached.sum() >= 8 and all(g is not None for g in geometry[reached])
    check = subprocess.run(["ogrinfo", "-so", "-al", str(out)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    assert "Layer name: walking_catchments" in check.stdout


def test_csv_output_puts_catchments_beside_it(store, sites_csv, tmp_path,  # noqa: F811
                                              capsys):
    out = tmp_path / "out.csv"
    code, _, err = _run(capsys, "--store", store, "--sites", sites_csv, "--network", OSM,
                        "--walk", "250", "--out", out)
    assert code == 0, err
    table = pd.read_csv(out, skiprows=1)  # the SYNTHETIC usage line
    assert (table["walk_m"] == 250).all()
    meta, _, _, _ = pyogrio.raw.read(str(tmp_path / "out_catchments.gpkg"))
    assert meta["geometry_type"] == "MultiPolygon"


@pytest.mark.parametrize("argv, needle", [
    (["--walk", "five"], "--walk"),
    (["--walk=-3min"], "--walk"),
    (["--network", "missing.gpkg"], "does not exist"),
])
def test_bad_walking_inputs_exit_2(store, sites_csv, tmp_path, capsys,  # noqa: F811
                                   argv, needle):
    if argv[0].startswith("--walk"):
        argv = ["--network", str(OSM)] + argv
    code, _, err = _run(capsys, "--store", store, "--sites", sites_csv,
                        "--out", tmp_path / "o.gpkg", *argv)
    assert code == 2 and needle in err.strip().splitlines()[-1], err
