"""The stdlib GeoPackage reader returns what GDAL (through pyogrio) returns."""

import sqlite3

import pytest
from pyogrio import raw

from ev_chargepoints.core import gpkg
from ev_chargepoints.core.errors import ParseError
from ev_chargepoints.core.paths import LONDON_SNAPSHOT


@pytest.mark.parametrize("name", ["london_boroughs.gpkg", "london_wards_2018.gpkg"])
def test_reader_matches_gdal(name):
    path = LONDON_SNAPSHOT / name
    attributes, wkbs, crs = gpkg.read_layer(path)
    meta, _fids, geometry, fields = raw.read(path)
    assert crs == "EPSG:27700"
    assert len(wkbs) == len(geometry)
    assert [bytes(w) for w in wkbs] == [bytes(g) for g in geometry]
    assert list(attributes.columns) == list(meta["fields"])
    assert list(attributes["GSS_CODE"]) == list(fields[list(meta["fields"]).index("GSS_CODE")])


def test_reader_says_what_is_wrong(tmp_path):
    not_gpkg = tmp_path / "x.gpkg"
    sqlite3.connect(not_gpkg).execute("CREATE TABLE t(a)").connection.close()
    with pytest.raises(ParseError, match="not a GeoPackage"):
        gpkg.read_layer(not_gpkg)
    with pytest.raises(ParseError, match="no layer 'nope'"):
        gpkg.read_layer(LONDON_SNAPSHOT / "london_boroughs.gpkg", layer="nope")
    with pytest.raises(ParseError, match="does not exist"):
        gpkg.read_layer(tmp_path / "missing.gpkg")
