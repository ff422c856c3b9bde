"""The stdlib GeoPackage reader returns what GDAL (through pyogrio) returns."""

import sqlite3
import struct

import pandas as pd
import pytest
from pyogrio import raw

from ev_chargepoints.core.errors import ParseError, StoreError
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.store import gpkg_file as gpkg
from ev_chargepoints.core.store.geopackage import HistoryStore


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


# --- damaged files: only ParseError leaves, with one readable line ----------------------

def _small_gpkg(path):
    """A two-point layer 'sites' written by the plugin's own GeoPackage writer."""
    frame = pd.DataFrame({"site_id": ["S1", "S2"], "name": ["MARKER_A", "MARKER_B"]})
    blobs = [gpkg.gp_blob(struct.pack("<BI2d", 1, 1, 530000.0 + i, 180000.0), 27700)
             for i in range(2)]
    conn = sqlite3.connect(path)
    with conn:
        gpkg.write_layer(conn, "sites", frame, blobs)
    conn.close()
    return path.read_bytes()


def _overwrite(data: bytes, marker: bytes, offset: int, value: bytes = b"\x80") -> bytes:
    assert data.count(marker) == 1, marker
    at = data.index(marker) + offset
    return data[:at] + value + data[at + len(value):]


def test_a_schema_entry_that_is_not_utf8_is_a_parse_error(tmp_path):
    """Regression (hypothesis, test_reliability_hostile): a 0x80 byte in the stored SQL of
    gpkg_contents made SQLite's error message undecodable, and gpkg._connect raised
    UnicodeDecodeError ("'utf-8' codec can't decode byte 0x80") instead of ParseError."""
    data = _small_gpkg(tmp_path / "good.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(_overwrite(data, b"CREATE TABLE gpkg_contents", 2))  # "CR\x80ATE"
    for read in (gpkg.read_layer, gpkg.feature_layers):
        with pytest.raises(ParseError) as caught:
            read(bad)
        assert caught.value.message == (
            "bad.gpkg: not a GeoPackage: the file is corrupted or not UTF-8 text")


def test_a_text_value_that_is_not_utf8_is_a_parse_error(tmp_path):
    data = _small_gpkg(tmp_path / "good.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(_overwrite(data, b"MARKER_B", 6))
    assert gpkg.feature_layers(bad) == ["sites"]
    with pytest.raises(ParseError) as caught:
        gpkg.read_layer(bad)
    assert caught.value.message == (
        "bad.gpkg: the GeoPackage cannot be read: the file is corrupted or not UTF-8 text")
    # what sqlite3 itself does with such text: it fails on fetch
    with sqlite3.connect(bad) as conn, pytest.raises(sqlite3.OperationalError,
                                                     match="decode to UTF-8"):
        conn.execute("SELECT name FROM sites").fetchall()


def test_feature_layers_turns_sqlite_errors_into_parse_errors(tmp_path):
    """Regression: a damaged gpkg_contents column name ("\\x80able_name") let
    sqlite3.OperationalError ("no such column") out of feature_layers."""
    data = _small_gpkg(tmp_path / "good.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(_overwrite(data, b"(table_name TEXT NOT NULL PRIMARY KEY, data_type", 1))
    for read in (gpkg.read_layer, gpkg.feature_layers):
        with pytest.raises(ParseError, match=r"^bad\.gpkg: the GeoPackage cannot be read "
                                             r"\(no such column: table_name\)$"):
            read(bad)


def test_the_history_store_refuses_the_same_damaged_file_with_a_store_error(tmp_path):
    data = _small_gpkg(tmp_path / "good.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(_overwrite(data, b"CREATE TABLE gpkg_contents", 2))
    with pytest.raises(StoreError, match="bad.gpkg: the file is corrupted or not UTF-8 text"):
        HistoryStore.create_or_open(bad)


def test_names_with_uri_characters_are_read(tmp_path):
    """Regression: the file was opened as the URI "file:<path>?mode=ro", so '#' (and '?',
    '%') in a folder or file name cut the path short: "not a GeoPackage"."""
    data = _small_gpkg(tmp_path / "good.gpkg")
    folder = tmp_path / "sites #2 100%"
    folder.mkdir()
    odd = folder / "a #b %20.gpkg"
    odd.write_bytes(data)
    assert gpkg.feature_layers(odd) == ["sites"]
    attributes, wkbs, crs = gpkg.read_layer(odd)
    assert list(attributes["name"]) == ["MARKER_A", "MARKER_B"] and crs == "EPSG:27700"
