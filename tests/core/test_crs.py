"""WGS84 <-> British National Grid, checked against the Ordnance Survey's worked example."""

import numpy as np

from ev_chargepoints.core import crs


def test_transverse_mercator_matches_the_os_worked_example():
    # OS "A guide to coordinate systems in Great Britain", annex C: OSGB36
    # 52°39'27.2531"N 1°43'4.5177"E -> E 651409.903 m, N 313177.270 m
    lat = np.radians(52 + 39 / 60 + 27.2531 / 3600)
    lon = np.radians(1 + 43 / 60 + 4.5177 / 3600)
    easting, northing = crs._tm_forward(lat, lon)
    assert abs(easting - 651409.903) < 0.01
    assert abs(northing - 313177.270) < 0.01


def test_inverse_transverse_mercator_round_trips_the_worked_example():
    lat, lon = crs._tm_inverse(np.array(651409.903), np.array(313177.270))
    assert abs(np.degrees(lat) - (52 + 39 / 60 + 27.2531 / 3600)) < 1e-8
    assert abs(np.degrees(lon) - (1 + 43 / 60 + 4.5177 / 3600)) < 1e-8


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
