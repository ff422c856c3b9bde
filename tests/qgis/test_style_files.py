"""resources/styles/*.qml: what the plugin's renderer code writes (one source of truth),
each applies to a layer of its geometry with the plugin's classes and colours, the
layers the plugin adds look the same, and a map GeoPackage the plugin writes opens in
plain QGIS (``QgsVectorLayer``) with the plugin's style; ogrinfo reads it without a word."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from qgis.core import (
    Qgis,
    QgsGraduatedSymbolRenderer,
    QgsPointDisplacementRenderer,
    QgsProject,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt

from ev_chargepoints.core.outputs import layer_styles, mapdata, styling
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.gui import site_tool, sites_results
from ev_chargepoints.qgis import loader
from ev_chargepoints.qgis import styling as qgis_styling

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "tests" / "data" / "stores" / "schema4_store.gpkg"


def _generator():
    spec = importlib.util.spec_from_file_location("make_styles", ROOT / "tools" / "make_styles.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


make_styles = _generator()
SPECS = {spec.file: spec for spec in make_styles.STYLES}
STYLE_FOLDER = ROOT / "resources" / "styles"


def from_file(name: str) -> QgsVectorLayer:
    """A memory layer of the file's geometry with the file's style."""
    layer = QgsVectorLayer(f"{SPECS[name].geometry}?crs=EPSG:27700", name, "memory")
    message, ok = layer.loadNamedStyle(str(STYLE_FOLDER / name))
    assert ok, message
    return layer


def symbol_summary(symbol):
    keys = ("color", "outline_color", "size", "name", "outline_width", "style",
            "outline_style")
    layers = [(sl.layerType(), {k: v for k, v in sl.properties().items() if k in keys})
              for sl in symbol.symbolLayers()]
    size = symbol.dataDefinedSize().expressionString() \
        if symbol.type() == Qgis.SymbolType.Marker else ""
    return layers, size, round(symbol.opacity(), 3)


def summary(layer: QgsVectorLayer, with_labels: bool = True) -> dict:
    """What a layer's style draws: renderer, classes, symbols, opacity, labels."""
    renderer = layer.renderer()
    out = {"type": renderer.type(), "opacity": round(layer.opacity(), 3),
           "labels": layer.labeling().settings().fieldName
           if layer.labelsEnabled() and layer.labeling() else None}
    if isinstance(renderer, QgsPointDisplacementRenderer):
        out["ring"] = (renderer.placement(), renderer.tolerance(),
                       renderer.circleColor().name(), symbol_summary(renderer.centerSymbol()))
        renderer = renderer.embeddedRenderer()
    if isinstance(renderer, QgsRuleBasedRenderer):
        out["classes"] = [(r.ruleKey(), r.filterExpression(), r.label() if with_labels else "",
                           symbol_summary(r.symbol()))
                          for r in renderer.rootRule().children()]
    elif isinstance(renderer, QgsGraduatedSymbolRenderer):
        out["attribute"] = renderer.classAttribute()
        out["classes"] = [(r.lowerValue(), r.upperValue(), r.label(), symbol_summary(r.symbol()))
                          for r in renderer.ranges()]
    elif isinstance(renderer, QgsSingleSymbolRenderer):
        out["classes"] = [symbol_summary(renderer.symbol())]
    return out


def rule_colours(renderer) -> list[str]:
    return [r.symbol().color().name() for r in renderer.rootRule().children()]


# --- the files are the code's ------------------------------------------------------------


def test_there_is_a_file_for_every_layer_the_plugin_adds():
    assert sorted(p.name for p in STYLE_FOLDER.glob("*.qml")) == sorted(SPECS)
    for table in ("map_devices", "map_wards", "map_boroughs", mapdata.STATUS_TABLE):
        assert layer_styles.style_file(table).is_file(), table


def test_committed_files_are_what_the_generator_writes_now(qgis_app):
    """One source of truth. On the QGIS release the files were written with the text is
    identical; on another release (Debian 13's QGIS 3.44) the XML differs in details, so
    the styles are compared by what they draw, which also holds on this release."""
    built = make_styles.build()
    assert sorted(built) == sorted(SPECS)
    assert make_styles.build() == built, "the generator's output changes from run to run"
    release = ".".join(Qgis.version().split(".")[:2])
    for name, text in built.items():
        committed = (STYLE_FOLDER / name).read_text(encoding="utf-8")
        written_with = re.search(r'\bversion="(\d+\.\d+)', committed).group(1)
        if written_with == release:
            assert committed == text, f"{name} is stale: run make styles"
        assert summary(from_file(name)) == summary(make_styles.styled_layer(SPECS[name])), name


def test_the_generator_check_mode_finds_a_stale_file(qgis_app, tmp_path, capsys):
    assert make_styles.main(["--out", str(tmp_path)]) == 0
    assert make_styles.main(["--out", str(tmp_path), "--check"]) == 0
    text = (tmp_path / "map_wards.qml").read_text(encoding="utf-8")
    changed = text.replace("<layerOpacity>0.85</layerOpacity>", "<layerOpacity>0.5</layerOpacity>")
    assert changed != text
    (tmp_path / "map_wards.qml").write_text(changed, encoding="utf-8")
    capsys.readouterr()
    assert make_styles.main(["--out", str(tmp_path), "--check"]) == 1
    assert "map_wards.qml differs" in capsys.readouterr().out


def test_uuids_are_numbered_and_attributes_sorted():
    text = ('<rule key="{0f3a4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b}" b="2" a="1"/>'
            '<layer id="{0F3A4B5C-1D2E-4F60-8A9B-0C1D2E3F4A5B}" z="&lt;symbol y=&quot;2&quot; '
            'x=&quot;1&quot;&gt;&lt;/symbol&gt;"/>')
    assert make_styles.canonical(text) == (
        '<rule a="1" b="2" key="{00000000-0000-4000-8000-000000000001}"/>'
        '<layer id="{00000000-0000-4000-8000-000000000001}" '
        'z="&lt;symbol x=&quot;1&quot; y=&quot;2&quot;&gt;&lt;/symbol&gt;"/>')


# --- each file gives the plugin's classes and colours ----------------------------------


def test_devices_file_colours_by_occupancy_band_and_sizes_by_power_class(qgis_app):
    layer = from_file("map_devices.qml")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsRuleBasedRenderer)
    bands = styling.occupancy_bands()
    assert [r.label() for r in renderer.rootRule().children()] == \
        [b.label for b in bands] + [styling.NO_DATA_LABEL]
    assert rule_colours(renderer) == list(styling.OCCUPANCY_COLOURS) + ["#ffffff"]
    sizes = [r.symbol().dataDefinedSize().expressionString()
             for r in renderer.rootRule().children()[:-1]]
    assert sizes == [qgis_styling.power_size_expression()] * len(bands)
    assert "'ultra' THEN 4.0" in sizes[0]


def test_status_file_rings_devices_of_a_site_and_has_a_class_per_status(qgis_app):
    layer = from_file("map_status.qml")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPointDisplacementRenderer)
    assert renderer.placement() == QgsPointDisplacementRenderer.Placement.Ring
    rules = renderer.embeddedRenderer().rootRule().children()
    styles = styling.live_status_styles()
    assert [r.ruleKey() for r in rules] == [s.key for s in styles]
    assert [r.label() for r in rules] == [s.label for s in styles]
    for rule, style in zip(rules, styles):
        marker = rule.symbol().symbolLayer(0)
        drawn = marker.strokeColor() if style.hollow else marker.color()
        assert drawn.name() == style.colour, style.key
        assert marker.size() == pytest.approx(style.size_mm)


def test_wards_file_holds_the_default_classes(qgis_app):
    layer = from_file("map_wards.qml")
    renderer = layer.renderer()
    assert isinstance(renderer, QgsRuleBasedRenderer)
    bands = styling.bands_between(styling.DEFAULT_WARD_BREAKS, "per 10,000 residents")
    assert [r.label() for r in renderer.rootRule().children()] == \
        [b.label for b in bands] + ["No data"]
    assert rule_colours(renderer) == list(styling.AREA_COLOURS) + ["#ffffff"]
    assert '"devices_per_10k" >= 16.0' in renderer.rootRule().children()[4].filterExpression()
    assert layer.opacity() == pytest.approx(0.85)


def test_boroughs_file_draws_outlines_with_names(qgis_app):
    layer = from_file("map_boroughs.qml")
    [rule] = layer.renderer().rootRule().children()
    fill = rule.symbol().symbolLayer(0)
    assert fill.brushStyle() == Qt.BrushStyle.NoBrush
    assert fill.strokeColor().name() == "#4d4d4d"
    assert layer.labelsEnabled()
    settings = layer.labeling().settings()
    assert settings.fieldName == "area_name" and settings.format().size() == 7.5


def test_candidate_sites_and_catchments_files(qgis_app):
    sites = from_file("candidate_sites.qml")
    assert isinstance(sites.renderer(), QgsSingleSymbolRenderer)
    marker = sites.renderer().symbol().symbolLayer(0)
    assert marker.shape() == Qgis.MarkerShape.Star
    assert marker.color().name() == qgis_styling.CANDIDATE_SITE_COLOUR
    catchments = from_file("candidate_site_catchments.qml")
    renderer = catchments.renderer()
    assert isinstance(renderer, QgsGraduatedSymbolRenderer)
    assert renderer.classAttribute() == "score"
    assert [(r.lowerValue(), r.upperValue(), r.symbol().color().name())
            for r in renderer.ranges()] == [(lo, hi, c) for lo, hi, c in sites_results.SCORE_BANDS]
    assert catchments.opacity() == pytest.approx(0.6)


# --- the plugin's layers and its map GeoPackages -----------------------------------------


@pytest.fixture(scope="module")
def small_map(tmp_path_factory, qgis_app):
    """A map and live status written by the plugin's task code from a small real store
    (79 Dundee devices, 300 sessions, 3 status snapshots)."""
    store = tmp_path_factory.mktemp("styles") / "small.gpkg"
    shutil.copy(STORE, store)
    info = loader.prepare_map(str(store), "quarter", Progress(), import_bundled_if_empty=False,
                              status_now="2030-01-01T00:00:00Z")
    assert info.status is not None and info.status.features == 2
    return store, info


def map_files(info) -> dict[str, Path]:
    files = {table: mapdata.layer_file(info.path, table)
             for table in ("map_devices", "map_wards", "map_boroughs")}
    files[mapdata.STATUS_TABLE] = info.status.path
    return files


def test_map_geopackages_open_in_plain_qgis_with_the_plugin_style(small_map):
    _store, info = small_map
    for table, path in map_files(info).items():
        layer = QgsVectorLayer(str(path), table, "ogr")
        assert layer.isValid() and layer.featureCount() > 0, table
        assert not isinstance(layer.renderer(), QgsSingleSymbolRenderer), table
        assert summary(layer) == summary(from_file(f"{table}.qml")), table
        assert layer_styles.default_style(path, table) == \
            layer_styles.style_file(table).read_text(encoding="utf-8")


def ogrinfo(path: Path) -> str:
    tool = shutil.which("ogrinfo")
    assert tool, "ogrinfo (Debian gdal-bin) is missing: make setup installs it"
    done = subprocess.run([tool, "-al", "-so", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_ogrinfo_reads_the_map_geopackages_without_a_warning(small_map):
    _store, info = small_map
    for table, path in map_files(info).items():
        text = ogrinfo(path)
        assert "Warning" not in text and "ERROR" not in text, text
        assert f"Layer name: {table}" in text and "Layer name: layer_styles" in text


def test_the_plugin_layers_look_as_the_files_say(small_map, qgis_new_project):
    """The layers the plugin builds (its own code paths) draw what the files draw."""
    store, info = small_map
    loaded = loader.build_layers(info, project=QgsProject.instance(), store_path=str(store))
    assert summary(loaded.devices) == summary(from_file("map_devices.qml"))
    assert summary(loaded.status) == summary(from_file("map_status.qml"))
    assert summary(loaded.boroughs) == summary(from_file("map_boroughs.qml"))
    # the ward classes follow the data shown; colours, symbols and opacity are the file's
    wards, default = summary(loaded.wards, False), summary(from_file("map_wards.qml"), False)
    assert (wards["type"], wards["opacity"]) == (default["type"], default["opacity"])
    file_symbols = [c[3] for c in default["classes"]]
    assert wards["classes"] and all(c[3] in file_symbols for c in wards["classes"])
    sites = site_tool.scratch_layer(QgsProject.instance())
    assert summary(sites) == summary(from_file("candidate_sites.qml"))
    catchments = sites_results.catchment_layer(None)
    assert summary(catchments) == summary(from_file("candidate_site_catchments.qml"))


HIDDEN_PYOGRIO = textwrap.dedent('''
    import sys
    sys.modules["pyogrio"] = None   # import raises ImportError
    sys.path.insert(0, sys.argv[1])
    from ev_chargepoints.core.outputs import layer_styles
    from ev_chargepoints.core.store import gpkg_file
    import pandas as pd
    frame = pd.DataFrame({"device_id": ["a"], "live_status": ["available"]})
    gpkg_file.write_geopackage(sys.argv[2], "map_status", frame,
                               gpkg_file.point_wkbs([530000.0], [180000.0]))
    assert layer_styles.write_plugin_style(sys.argv[2], "map_status")
''')


def test_without_pyogrio_the_style_is_written_as_qgis_writes_it(qgis_app, tmp_path):
    path = tmp_path / "status.gpkg"
    done = subprocess.run([sys.executable, "-c", HIDDEN_PYOGRIO, str(ROOT), str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    layer = QgsVectorLayer(str(path), "status", "ogr")
    assert layer.isValid()
    assert summary(layer) == summary(from_file("map_status.qml"))
    text = ogrinfo(path)
    assert "Warning" not in text and "ERROR" not in text, text
