"""The default style inside a GeoPackage (``layer_styles``), written without QGIS, and the
ward choropleth's default classes. QGIS reading these files: tests/qgis/test_style_files.py."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.outputs import layer_styles, styling
from ev_chargepoints.core.store import gpkg_file
from ev_chargepoints.core.workspace import Workspace

QML = '<!DOCTYPE qgis><qgis version="3.40"><renderer-v2 type="singleSymbol"/></qgis>'


@pytest.fixture()
def points(tmp_path):
    path = tmp_path / "points.gpkg"
    frame = pd.DataFrame({"device_id": ["a", "b"], "occupancy_pct": [3.0, np.nan]})
    gpkg_file.write_geopackage(path, "map_devices", frame,
                               gpkg_file.point_wkbs([530000.0, 531000.0], [180000.0, 181000.0]))
    return path


def rows(path):
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            'SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, '
            '"styleName", "useAsDefault", description, update_time FROM layer_styles '
            "ORDER BY id").fetchall()


def test_the_table_is_created_as_qgis_reads_it(points):
    layer_styles.write_default_style(points, "map_devices", QML, "plugin")
    [row] = rows(points)
    assert row[:6] == ("", "", "map_devices", "geom", "plugin", 1)
    assert row[7].endswith("Z") and row[7][:4].isdigit()
    assert layer_styles.default_style(points, "map_devices") == QML
    with closing(sqlite3.connect(points)) as conn:
        contents = dict(conn.execute("SELECT table_name, data_type FROM gpkg_contents"))
        counts = dict(conn.execute("SELECT table_name, feature_count FROM gpkg_ogr_contents"))
        columns = [r[1] for r in conn.execute("PRAGMA table_info(layer_styles)")]
    assert contents == {"map_devices": "features", "layer_styles": "attributes"}
    assert counts == {"map_devices": 2, "layer_styles": 1}
    assert columns == ["id", "f_table_catalog", "f_table_schema", "f_table_name",
                       "f_geometry_column", "styleName", "styleQML", "styleSLD",
                       "useAsDefault", "description", "owner", "ui", "update_time"]


def test_writing_again_replaces_the_style_and_only_the_newest_is_default(points):
    layer_styles.write_default_style(points, "map_devices", QML, "plugin")
    layer_styles.write_default_style(points, "map_devices", QML + "<!-- other -->", "other")
    newer = QML.replace("3.40", "3.44")
    layer_styles.write_default_style(points, "map_devices", newer, "plugin")
    assert [(r[4], r[5]) for r in rows(points)] == [("other", 0), ("plugin", 1)]
    assert layer_styles.default_style(points, "map_devices") == newer
    with closing(sqlite3.connect(points)) as conn:
        assert conn.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE "
                            "table_name = 'layer_styles'").fetchone() == (2,)


def test_the_plugin_style_file_of_a_map_table_is_written(points):
    assert layer_styles.write_plugin_style(points, "map_devices")
    text = layer_styles.default_style(points, "map_devices")
    assert text == layer_styles.style_file("map_devices").read_text(encoding="utf-8")
    assert 'type="RuleRenderer"' in text


def test_a_table_without_a_style_file_is_left_without_style(points, caplog):
    assert not layer_styles.write_plugin_style(points, "no_such_table")
    assert "no_such_table" in caplog.text
    assert layer_styles.default_style(points, "map_devices") is None


def test_an_unknown_layer_or_file_is_refused(points, tmp_path):
    with pytest.raises(ValueError, match="no feature table"):
        layer_styles.write_default_style(points, "elsewhere", QML)
    with pytest.raises(FileNotFoundError):
        layer_styles.write_default_style(tmp_path / "missing.gpkg", "map_devices", QML)


def test_default_ward_classes_are_those_of_the_bundled_london_snapshot(tmp_path):
    """map_wards.qml holds DEFAULT_WARD_BREAKS: what the plugin computes for the bundled
    London devices per 10,000 residents (the demo's map)."""
    with Workspace(tmp_path / "london.gpkg") as ws:
        ws.import_bundled_snapshot(synthetic_usage=False)
        table, _assignment = ws.summary("ward", with_usage=False)
    values = [float(v) for v in table["devices_per_10k"] if pd.notna(v)]
    assert styling.nice_breaks(values) == list(styling.DEFAULT_WARD_BREAKS)
    assert [b.label for b in styling.area_bands(values, "per 10,000 residents")] == \
        [b.label for b in styling.bands_between(styling.DEFAULT_WARD_BREAKS,
                                                "per 10,000 residents")]
