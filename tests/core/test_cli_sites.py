"""``python -m ev_chargepoints sites`` on the bundled snapshot.

Counts within each buffer are recomputed here with plain numpy distances from
every site to every device; the output files are read back with pyogrio (a
GDAL reader independent of the plugin's own GeoPackage code).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio.raw
import pytest

from ev_chargepoints.cli import main
from ev_chargepoints.core.crs import bng_to_wgs84, wgs84_to_bng
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sites") / "london.gpkg"
    with Workspace(path) as ws:
        ws.import_bundled_snapshot(usage_start="2022-04-01", usage_end="2022-07-01")
    return path


@pytest.fixture(scope="module")
def devices(store):
    with Workspace(store) as ws:
        frame = ws.devices()
    x, y = wgs84_to_bng(frame["longitude"].to_numpy(float), frame["latitude"].to_numpy(float))
    return frame.assign(x=x, y=y)


@pytest.fixture(scope="module")
def site_points():
    """30 sites in central and outer London, plus one in the Channel (no residents)."""
    rng = np.random.default_rng(11)
    x = np.r_[rng.uniform(526_000, 534_000, 20), rng.uniform(510_000, 550_000, 10), 600_000.0]
    y = np.r_[rng.uniform(177_000, 183_000, 20), rng.uniform(165_000, 195_000, 10), 100_000.0]
    return x, y


def _write_points_gpkg(path, x, y, crs, fields):
    """Write a point GeoPackage with pyogrio (independent of the plugin's writer)."""
    geometry = np.array([b"\x01\x01\x00\x00\x00" + np.array([a, b], "<f8").tobytes()
                         for a, b in zip(x, y)], dtype=object)
    names = list(fields)
    pyogrio.raw.write(str(path), geometry, [np.asarray(fields[n]) for n in names], names,
                      driver="GPKG", geometry_type="Point", crs=crs, layer="sites")


def _read_gpkg(path):
    meta, _fids, geometry, values = pyogrio.raw.read(str(path))
    frame = pd.DataFrame({name: column for name, column in zip(meta["fields"], values)})
    xy = np.array([np.frombuffer(bytes(g)[5:21], "<f8") for g in geometry])
    return meta, frame, xy


def _brute_force(devices, x, y, distance):
    d = np.hypot(devices["x"].to_numpy()[None, :] - x[:, None],
                 devices["y"].to_numpy()[None, :] - y[:, None])
    within = d <= distance
    connectors = devices["connector_count"].fillna(1).to_numpy(float)
    return within.sum(axis=1), (within * connectors[None, :]).sum(axis=1), d.min(axis=1)


def _run(capsys, *argv):
    code = main(["sites", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_gpkg_sites_in_4326_give_one_feature_per_site_with_counts_and_rings(
        store, devices, site_points, tmp_path, capsys):
    x, y = site_points
    lon, lat = bng_to_wgs84(x, y)
    sites = tmp_path / "sites.gpkg"
    names = [f"candidate {i}" for i in range(len(x))]
    _write_points_gpkg(sites, lon, lat, "EPSG:4326",
                       {"site_id": np.array([f"S{i:02d}" for i in range(len(x))], object),
                        "name": np.array(names, object)})
    out = tmp_path / "result.gpkg"
    code, printed, err = _run(capsys, "--store", store, "--sites", sites, "--distance", 400,
                              "--distance", 800, "--out", out)
    assert code == 0, err
    assert f"{len(x)} sites analysed" in printed

    meta, frame, xy = _read_gpkg(out)
    assert meta["crs"] == "EPSG:27700" and meta["geometry_type"] == "Point"
    assert len(frame) == len(x)
    for column in ("site_id", "name", "devices_within", "connectors_within",
                   "nearest_device_m", "residents_within", "new_coverage_residents",
                   "score", "rank", "devices_within_800m", "score_800m", "rank_800m"):
        assert column in frame.columns, column
    assert list(frame["site_id"]) == [f"S{i:02d}" for i in range(len(x))]
    assert list(frame["name"]) == names
    # the geometry is the site, back in British National Grid (to the transform's mm)
    np.testing.assert_allclose(xy[:, 0], x, atol=0.01)
    np.testing.assert_allclose(xy[:, 1], y, atol=0.01)

    for distance, suffix in ((400, ""), (800, "_800m")):
        count, connectors, nearest = _brute_force(devices, xy[:, 0], xy[:, 1], distance)
        assert frame[f"devices_within{suffix}"].tolist() == count.tolist()
        assert frame[f"connectors_within{suffix}"].tolist() == connectors.astype(int).tolist()
        ranks = frame[f"rank{suffix}"].to_numpy()
        assert sorted(ranks) == list(range(1, len(x) + 1))
        scores = frame[f"score{suffix}"].to_numpy()
        assert (np.diff(scores[np.argsort(ranks)]) <= 1e-9).all()
    count, _, nearest = _brute_force(devices, xy[:, 0], xy[:, 1], 400)
    np.testing.assert_allclose(frame["nearest_device_m"], nearest, rtol=1e-9)
    assert count[:20].sum() > 50  # central London sites do see devices
    # more reach at 800 m than at 400 m, never less
    assert (frame["residents_within_800m"] >= frame["residents_within"]).all()
    assert (frame["new_coverage_residents"] <= frame["residents_within"] + 1e-6).all()
    channel = frame.iloc[-1]
    assert channel["residents_within"] == 0 and "outside the population" in channel["note"]


def test_csv_with_lonlat_in_and_csv_out(store, devices, site_points, tmp_path, capsys):
    x, y = site_points
    lon, lat = bng_to_wgs84(x[:8], y[:8])
    sites = tmp_path / "sites.csv"
    pd.DataFrame({"ref": range(8), "lon": lon, "lat": lat}).to_csv(sites, index=False)
    out = tmp_path / "result.csv"
    code, printed, err = _run(capsys, "--store", store, "--sites", sites, "--out", out,
                              "--weights", "new_coverage=0.5,demand=0.25,gap=0.25")
    assert code == 0, err
    # the store's usage is SYNTHETIC: the first line and the message say so
    assert out.read_text(encoding="utf-8").splitlines()[0] == f'"{NOTE}"'
    assert "8 sites analysed" in printed and "SYNTHETIC usage" in printed
    frame = pd.read_csv(out, skiprows=1)
    assert len(frame) == 8 and list(frame["ref"]) == list(range(8))
    assert list(frame["site_id"]) == [f"site-{i}" for i in range(1, 9)]
    assert not any(c.endswith("_800m") for c in frame.columns)
    count, connectors, nearest = _brute_force(devices, frame["x"].to_numpy(),
                                              frame["y"].to_numpy(), 400)
    assert frame["devices_within"].tolist() == count.tolist()
    assert frame["connectors_within"].tolist() == connectors.astype(int).tolist()
    np.testing.assert_allclose(frame["nearest_device_m"], nearest, rtol=1e-9)
    assert set(frame["usage_period"]) == {"2022-Q2"}


def test_suggest_prints_and_writes_picks_in_non_increasing_gain(store, site_points, tmp_path,
                                                                 capsys):
    x, y = site_points
    sites = tmp_path / "sites.gpkg"
    _write_points_gpkg(sites, x, y, "EPSG:27700",
                       {"kind": np.array(["lamp column"] * len(x), object)})
    out = tmp_path / "result.gpkg"
    code, printed, err = _run(capsys, "--store", store, "--sites", sites, "--suggest", 5,
                              "--out", out)
    assert code == 0, err
    _, picks, xy = _read_gpkg(tmp_path / "result_suggested.gpkg")
    assert 1 <= len(picks) <= 5
    gains = picks["gain_residents"].to_numpy()
    assert (gains > 0).all() and (np.diff(gains) <= 1e-9).all()
    assert picks["step"].tolist() == list(range(1, len(picks) + 1))
    np.testing.assert_allclose(picks["cumulative_gain_residents"], np.cumsum(gains))
    for step, site in zip(picks["step"], picks["site_id"]):
        assert f"{step}. {site}: +" in printed
    # the first pick is the site with the largest new coverage on its own
    _, frame, _ = _read_gpkg(out)
    best = frame.loc[frame["new_coverage_residents"].idxmax()]
    assert picks["site_id"].iloc[0] == best["site_id"]
    assert gains[0] == pytest.approx(best["new_coverage_residents"])
    assert frame["kind"].eq("lamp column").all()


@pytest.mark.parametrize("case, needle", [
    ("no_sites_file", "does not exist"),
    ("no_coordinates", "x/y"),
    ("polygons", "not a point"),
    ("bad_weights", "Weights:"),
    ("negative_distance", "--distance"),
    ("bad_suffix", "--out"),
    ("no_store", "no store"),
    ("bad_suggest", "--suggest"),
    ("duplicate_ids", "unique"),
    ("bad_period", "no utilisation for period '1999-Q1'"),
])
def test_bad_inputs_exit_2_with_one_line(store, tmp_path, capsys, case, needle):
    good = tmp_path / "good.csv"
    pd.DataFrame({"x": [530_000.0], "y": [180_000.0]}).to_csv(good, index=False)
    args = {"--store": store, "--sites": good, "--out": tmp_path / "out.gpkg"}
    extra = []
    if case == "no_sites_file":
        args["--sites"] = tmp_path / "missing.gpkg"
    elif case == "no_coordinates":
        args["--sites"] = tmp_path / "plain.csv"
        pd.DataFrame({"name": ["a"], "easting": [1.0]}).to_csv(args["--sites"], index=False)
    elif case == "polygons":
        args["--sites"] = LONDON_SNAPSHOT / "london_boroughs.gpkg"
    elif case == "bad_weights":
        extra = ["--weights", "coverage=2"]
    elif case == "negative_distance":
        extra = ["--distance", "-5"]
    elif case == "bad_suffix":
        args["--out"] = tmp_path / "out.shp"
    elif case == "no_store":
        args["--store"] = tmp_path / "nowhere.gpkg"
    elif case == "bad_suggest":
        extra = ["--suggest", "two"]
    elif case == "bad_period":
        extra = ["--period", "1999-Q1"]
    elif case == "duplicate_ids":
        args["--sites"] = tmp_path / "dup.csv"
        pd.DataFrame({"site_id": ["a", "a"], "x": [530_000.0, 531_000.0],
                      "y": [180_000.0, 180_000.0]}).to_csv(args["--sites"], index=False)
    argv = [str(v) for pair in args.items() for v in pair] + extra
    code, _, err = _run(capsys, *argv)
    assert code == 2
    # progress lines may come first (stderr is not a terminal); the error is one line, last
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]] and needle in lines[-1] and "Traceback" not in err, err
    assert not (tmp_path / "out.gpkg").exists()


def test_module_entry_point_reports_a_bad_input_without_traceback(tmp_path):
    sites = tmp_path / "s.csv"
    sites.write_text("name\nfoo\n")
    done = subprocess.run([sys.executable, "-m", "ev_chargepoints", "sites", "--store",
                           str(tmp_path / "none.gpkg"), "--sites", str(sites), "--out",
                           str(tmp_path / "o.gpkg")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: ") and len(done.stderr.splitlines()) == 1
