"""The one WKB reader (core/analysis/wkb.py) behind area layers and candidate-site files:
hand-built WKB of every flavour, and real GeoPackages read back against GDAL (pyogrio)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from pyogrio import raw

from ev_chargepoints.core import errors
from ev_chargepoints.core.analysis import geometry, site_files, wkb
from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store import gpkg_file

# --- WKB builders (written here, independent of the reader) -------------------------


def _point(x, y, endian="<", type_code=1, dims=2, srid=None):
    order = b"\x01" if endian == "<" else b"\x00"
    code = type_code | (0x20000000 if srid is not None else 0)
    out = order + struct.pack(endian + "I", code)
    if srid is not None:
        out += struct.pack(endian + "I", srid)
    return out + struct.pack(endian + "d" * dims, x, y, *[5.0] * (dims - 2))


def _multipoint(points, endian="<"):
    order = b"\x01" if endian == "<" else b"\x00"
    return order + struct.pack(endian + "II", 4, len(points)) + b"".join(
        _point(x, y) for x, y in points)


def test_points_of_every_flavour_give_their_x_and_y():
    values = [
        _point(530000.5, 180000.25),
        _point(-0.1278, 51.5074, endian=">"),
        _point(1.0, 2.0, type_code=1001, dims=3),                       # ISO Z
        _point(3.0, 4.0, type_code=1 | 0x80000000 | 0x40000000, dims=4),  # EWKB ZM
        _point(5.0, 6.0, srid=27700, endian=">"),                       # EWKB SRID
        _multipoint([(7.0, 8.0)], endian=">"),
        _multipoint([]),
        None,
        b"",
    ]
    x, y = wkb.points(values)
    assert x[:6].tolist() == [530000.5, -0.1278, 1.0, 3.0, 5.0, 7.0]
    assert y[:6].tolist() == [180000.25, 51.5074, 2.0, 4.0, 6.0, 8.0]
    assert np.isnan(x[6:]).all() and np.isnan(y[6:]).all()


@pytest.mark.parametrize("value, message", [
    (_multipoint([(1.0, 2.0), (3.0, 4.0)]), "feature 2: a multipoint of 2 points"),
    (b"\x01" + struct.pack("<III", 3, 0, 0), "feature 2: WKB geometry type 3 is not a point"),
    (_point(1.0, 2.0)[:12], "feature 2: unpack_from requires a buffer"),
    (b"\x07" + _point(1.0, 2.0)[1:], "feature 2: bad byte order marker 7"),
])
def test_what_is_not_one_point_is_refused_with_its_feature_number(value, message):
    with pytest.raises(errors.ParseError, match=message):
        wkb.points([_point(0.0, 0.0), value])


def test_geometry_type_names_the_first_geometry():
    assert wkb.geometry_type([None, b"", _point(1.0, 2.0)]) == "Point"
    assert wkb.geometry_type([_multipoint([(1.0, 2.0)])]) == "MultiPoint"
    assert wkb.geometry_type([None]) is None
    assert wkb.geometry_type([b"\x09\x00"]) is None


def test_site_points_written_to_a_geopackage_read_back_as_gdal_reads_them(tmp_path):
    devices = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz") \
        .table("devices").iloc[:400]
    x, y = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    x[::50] = y[::50] = np.nan  # a site without coordinates is a NULL geometry
    frame = devices[["device_id"]].assign(x=x, y=y).reset_index(drop=True)
    path = site_files.write_sites(frame, tmp_path / "sites.gpkg")

    _attributes, blobs, crs = gpkg_file.read_layer(path)
    got_x, got_y = wkb.points(blobs)
    meta, _fids, geometry_wkb, _fields = raw.read(path)
    gdal = [struct.unpack_from("<dd", g, 5) if g is not None else (np.nan, np.nan)
            for g in geometry_wkb]
    assert crs == "EPSG:27700" and meta["geometry_type"] == "Point"
    np.testing.assert_array_equal(got_x, [g[0] for g in gdal])
    np.testing.assert_array_equal(got_y, [g[1] for g in gdal])
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_bundled_ward_polygons_match_gdal_vertex_for_vertex():
    path = LONDON_SNAPSHOT / "london_wards_2018.gpkg"
    _attributes, blobs, _crs = gpkg_file.read_layer(path)
    x, y, rings, parts, geoms = wkb.polygons(blobs)
    gdal = geometry.parse_wkb_polygons(raw.read(path)[2])
    assert wkb.geometry_type(blobs) == "MultiPolygon" and len(geoms) - 1 == 633
    np.testing.assert_array_equal(x, gdal.x)
    np.testing.assert_array_equal(y, gdal.y)
    np.testing.assert_array_equal(rings, gdal.ring_offsets)
    np.testing.assert_array_equal(parts, gdal.part_offsets)
    np.testing.assert_array_equal(geoms, gdal.geom_offsets)
    # closed rings, as the point-in-polygon test needs
    assert (x[rings[:-1]] == x[rings[1:] - 1]).all() and (y[rings[:-1]] == y[rings[1:] - 1]).all()
