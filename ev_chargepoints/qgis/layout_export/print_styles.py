"""How committee pages draw the map's layers: quieter styles for paper, device
symbols sized by power class, "usage not shown" for suppressed boroughs, the borough
outlines and inset, and the feature-less layers that only draw legend entries."""

from __future__ import annotations

import shutil
from pathlib import Path

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsMarkerSymbol,
    QgsProject,
    QgsRendererCategory,
    QgsRuleBasedRenderer,
    QgsVectorLayer,
)

from ...core.outputs import disclosure, mapdata, styling
from .. import layers as map_layers
from .. import styling as qgis_styling
from .templates import INK

SUPPRESS_GREY = "#595959"
USAGE_NOT_SHOWN_LABEL = "Usage not shown (suppressed)"


def print_styles(loaded, work: Path, info, project: QgsProject) -> QgsVectorLayer:
    """Quieter styles for paper: wards as faint lines, no layer transparency."""
    loaded.wards.setRenderer(qgis_styling.outline_renderer("#c8c8c8", 0.12))
    loaded.wards.setOpacity(1.0)
    loaded.wards.setLabelsEnabled(False)
    loaded.boroughs.setRenderer(borough_renderer(focus=False))
    # The inset needs its own copy of the boroughs: one GeoPackage per open layer.
    source = mapdata.layer_file(info.path, map_layers.BOROUGH_LAYER)
    inset_folder = work / "inset"
    inset_folder.mkdir(exist_ok=True)
    shutil.copyfile(source, mapdata.layer_file(inset_folder, map_layers.BOROUGH_LAYER))
    inset = map_layers.open_layer(str(inset_folder), map_layers.BOROUGH_LAYER, "London")
    inset.setSubsetString(loaded.boroughs.subsetString())
    inset.setRenderer(_inset_renderer())
    project.addMapLayer(inset, False)
    return inset


def _legend_layer(project: QgsProject, name: str, categories) -> QgsVectorLayer:
    """A feature-less layer that only exists to draw legend entries."""
    layer = QgsVectorLayer("Point?crs=EPSG:27700&field=key:string", name, "memory")
    layer.setRenderer(QgsCategorizedSymbolRenderer("key", categories))
    project.addMapLayer(layer, False)
    return layer


def legend_layers(project: QgsProject, scale: float = 1.0) -> tuple:
    """Occupancy bands at one readable size, and the power classes' symbol sizes."""
    bands = []
    for band in styling.occupancy_bands():
        symbol = QgsMarkerSymbol.createSimple({"color": band.colour, "outline_color": INK,
                                               "outline_width": "0.15", "size": "2.8"})
        bands.append(QgsRendererCategory(band.key, symbol, band.label))
    no_data = QgsMarkerSymbol.createSimple({"color": "#ffffff", "outline_width": "0.5",
                                            "outline_color": styling.NO_DATA_COLOUR,
                                            "size": "2.2"})
    bands.append(QgsRendererCategory("none", no_data, styling.NO_DATA_LABEL))
    sizes = []
    for key, size in styling.POWER_CLASS_SIZE_MM.items():
        symbol = QgsMarkerSymbol.createSimple({"color": "#ffffff", "outline_color": INK,
                                               "outline_width": "0.25",
                                               "size": str(size * scale)})
        sizes.append(QgsRendererCategory(key, symbol, styling.POWER_CLASS_LABEL[key]))
    return (_legend_layer(project, "Occupancy", bands),
            _legend_layer(project, "Symbol size: power class", sizes))


def status_legend_layer(project: QgsProject, status) -> QgsVectorLayer:
    """The live status classes the page shows (``status``: a StatusLayerInfo)."""
    categories = [QgsRendererCategory(style.key, qgis_styling.status_marker(style), style.label)
                  for style in styling.live_status_styles(status.max_age_minutes)
                  if status.classes.get(style.key)]
    return _legend_layer(project, "Live status", categories)


def power_size_expression(scale: float = 1.0, power_field: str = "power_class") -> str:
    """Symbol size (mm) by power class, as a searched CASE.

    QGIS 3.22 does not parse the simple form ``CASE "field" WHEN 'x' THEN ...``
    (the size silently falls back to the symbol's default), so spell it out.
    """
    from qgis.core import QgsExpression

    ref = QgsExpression.quotedColumnRef(power_field)
    cases = " ".join(f"WHEN {ref} = {QgsExpression.quotedValue(key)} THEN {size * scale:g}"
                     for key, size in styling.POWER_CLASS_SIZE_MM.items())
    return f"CASE {cases} ELSE {styling.UNKNOWN_POWER_SIZE_MM * scale:g} END"


def size_devices_by_power(layer: QgsVectorLayer, scale: float) -> None:
    """Device symbols sized by power class (times ``scale``: smaller on the London page)."""
    from qgis.core import QgsProperty

    renderer = layer.renderer().clone()
    size = QgsProperty.fromExpression(power_size_expression(scale))
    for rule in renderer.rootRule().children():
        symbol = rule.symbol()
        if symbol.dataDefinedSize() and symbol.dataDefinedSize().isActive():
            symbol.setDataDefinedSize(size)
        else:  # the fixed-size "no usage data" ring
            symbol.setSize(symbol.size() * scale)
    layer.setRenderer(renderer)


def usage_not_shown(layer: QgsVectorLayer, legend: QgsVectorLayer, scale: float,
                     in_legend: bool) -> None:
    """Devices of a suppressed borough (:func:`..core.disclosure.hide_points`) drawn as
    "usage not shown": a hollow square sized by power class (public), never a band
    colour, and not as "no usage data" either; with ``in_legend``, a legend entry."""
    from qgis.core import QgsExpression, QgsProperty

    hidden = (f"{QgsExpression.quotedColumnRef(disclosure.STATUS_COLUMN)} = "
              f"{QgsExpression.quotedValue(disclosure.USAGE_NOT_SHOWN)}")
    renderer = layer.renderer().clone()
    root = renderer.rootRule()
    for rule in root.children():
        rule.setFilterExpression(f"NOT coalesce({hidden}, false)"
                                 + (f" AND ({rule.filterExpression()})"
                                    if rule.filterExpression() else ""))
    symbol = _not_shown_symbol(2.0)
    symbol.setDataDefinedSize(QgsProperty.fromExpression(power_size_expression(scale)))
    root.insertChild(0, QgsRuleBasedRenderer.Rule(symbol, 0, 0, hidden, USAGE_NOT_SHOWN_LABEL))
    layer.setRenderer(renderer)
    if in_legend:
        categories = legend.renderer().categories()
        categories.append(QgsRendererCategory("not_shown", _not_shown_symbol(2.6),
                                              USAGE_NOT_SHOWN_LABEL))
        legend.setRenderer(QgsCategorizedSymbolRenderer("key", categories))


def _not_shown_symbol(size: float) -> QgsMarkerSymbol:
    return QgsMarkerSymbol.createSimple({"color": "#ffffff", "outline_color": SUPPRESS_GREY,
                                         "outline_width": "0.45", "size": str(size),
                                         "name": "square"})


def borough_renderer(focus: bool) -> QgsRuleBasedRenderer:
    """Borough outlines; on atlas pages the page's borough is bold, the rest faded."""
    root = QgsRuleBasedRenderer.Rule(None)
    if focus:
        here = "\"area_code\" = attribute(@atlas_feature, 'area_code')"
        root.appendChild(QgsRuleBasedRenderer.Rule(QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": INK, "outline_width": "0.8"}), 0, 0, here,
            "This borough"))
        root.appendChild(QgsRuleBasedRenderer.Rule(QgsFillSymbol.createSimple(
            {"color": "255,255,255,150", "outline_color": "#737373", "outline_width": "0.3"}),
            0, 0, f"NOT ({here}) OR @atlas_feature IS NULL", "Other boroughs"))
    else:
        root.appendChild(QgsRuleBasedRenderer.Rule(QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": "#4d4d4d", "outline_width": "0.35"}), 0, 0, "",
            "Boroughs"))
    return QgsRuleBasedRenderer(root)


def _inset_renderer() -> QgsRuleBasedRenderer:
    root = QgsRuleBasedRenderer.Rule(None)
    here = "\"area_code\" = attribute(@atlas_feature, 'area_code')"
    root.appendChild(QgsRuleBasedRenderer.Rule(QgsFillSymbol.createSimple(
        {"color": "#404040", "outline_color": INK, "outline_width": "0.2"}), 0, 0, here,
        "This borough"))
    root.appendChild(QgsRuleBasedRenderer.Rule(QgsFillSymbol.createSimple(
        {"color": "#ececec", "outline_color": "#8c8c8c", "outline_width": "0.12"}), 0, 0,
        "ELSE", "London"))
    return QgsRuleBasedRenderer(root)
