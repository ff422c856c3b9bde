"""WGS84 <-> British National Grid through PROJ, checked against the Ordnance Survey's
worked example and against GDAL's own transformation."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from ev_chargepoints.core import crs

ROOT = Path(__file__).resolve().parents[2]


def test_national_grid_projection_matches_the_os_worked_example():
    # OS "A guide to coordinate systems in Great Britain", annex C: OSGB36
    # 52°39'27.2531"N 1°43'4.5177"E -> E 651409.903 m, N 313177.270 m
    lat = 52 + 39 / 60 + 27.2531 / 3600
    lon = 1 + 43 / 60 + 4.5177 / 3600
    easting, northing = crs._transform("EPSG:4277", crs.BNG, lon, lat)
    assert abs(float(easting) - 651409.903) < 0.01
    assert abs(float(northing) - 313177.270) < 0.01


def test_wgs84_round_trip_is_millimetric_across_london():
    lon = np.linspace(-0.51, 0.33, 50)
    lat = np.linspace(51.28, 51.70, 50)
    e, n = crs.wgs84_to_bng(lon, lat)
    assert (e > 500000).all() and (e < 565000).all()
    assert (n > 150000).all() and (n < 205000).all()
    back_lon, back_lat = crs.bng_to_wgs84(e, n)
    assert np.abs(back_lon - lon).max() < 1e-7 and np.abs(back_lat - lat).max() < 1e-7


def test_trafalgar_square_lands_where_the_national_grid_puts_it():
    # Nelson's Column, published at about TQ 30010 80440 (E 530010, N 180440)
    e, n = crs.wgs84_to_bng(-0.127972, 51.507722)
    assert abs(float(e) - 530010) < 30 and abs(float(n) - 180440) < 30


def test_missing_and_impossible_coordinates_give_nan_not_infinity():
    e, n = crs.wgs84_to_bng([np.nan, -0.1, 200.0], [51.5, 51.5, 95.0])
    assert np.isnan(e[[0, 2]]).all() and np.isnan(n[[0, 2]]).all()
    assert np.isfinite([e[1], n[1]]).all()
    assert crs.wgs84_to_bng([], [])[0].shape == (0,)


def test_pyproj_and_gdal_osr_agree_to_a_millimetre():
    # the fallback for a QGIS without pyproj runs the same PROJ operation
    rng = np.random.default_rng(3)
    lon, lat = -0.5 + rng.random(500) * 0.8, 51.3 + rng.random(500) * 0.4
    by_pyproj = crs.wgs84_to_bng(lon, lat)
    transform, name, grids = crs._osr_transformer(crs.WGS84, crs.BNG)
    by_osr = transform(lon, lat)
    assert np.hypot(by_pyproj[0] - by_osr[0], by_pyproj[1] - by_osr[1]).max() < 0.001
    assert "osr" in name and grids == ()


def test_the_transformation_in_use_is_named():
    text = crs.transformation()
    assert "OSGB36 to WGS 84" in text
    assert ("OSTN15" in text) or ("grid uk_os" in text)


def test_importing_the_transformation_prints_no_library_warning():
    # pyproj in a venv over the system's Python warns that it cannot find PROJ's data
    # unless told where the system keeps it
    code = ("import warnings; warnings.simplefilter('default');"
            "from ev_chargepoints.core import crs; crs.wgs84_to_bng(-0.1, 51.5);"
            "crs.transformation()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
