"""Apply the core's class breaks to QGIS layers as renderers and labels.

The numbers (bands, colours, sizes) live in ``core.styling``; this module only
turns them into QGIS symbols. Field names used in expressions are quoted with
``QgsExpression.quotedColumnRef`` and values with ``quotedValue``, never
pasted from data.
"""

from __future__ import annotations

from typing import Optional, Sequence

from qgis.core import (
    Qgis,
    QgsExpression,
    QgsFillSymbol,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsPointDisplacementRenderer,
    QgsProperty,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtGui import QColor, QFont

from ..core.outputs import styling

OUTLINE = "#232323"
_SHAPES = {
    "circle": Qgis.MarkerShape.Circle,
    "square": Qgis.MarkerShape.Square,
    "cross_fill": Qgis.MarkerShape.CrossFill,
    "triangle": Qgis.MarkerShape.Triangle,
    "diamond": Qgis.MarkerShape.Diamond,
    "hexagon": Qgis.MarkerShape.Hexagon,
    "star": Qgis.MarkerShape.Star,
}
# Candidate sites: a star in Okabe-Ito reddish purple, unlike every device marker.
CANDIDATE_SITE_COLOUR = "#cc79a7"
CANDIDATE_SITE_SIZE_MM = 4.2


def _marker(colour: str, size_mm: float, shape: str = "circle",
            outline: str = OUTLINE, outline_width: float = 0.15) -> QgsMarkerSymbol:
    symbol = QgsMarkerSymbol.createSimple({
        "color": colour, "size": str(size_mm), "outline_color": outline,
        "outline_width": str(outline_width), "size_unit": "MM"})
    symbol.symbolLayer(0).setShape(_SHAPES[shape])
    return symbol


def _range_expression(field: str, band: styling.Band) -> str:
    ref = QgsExpression.quotedColumnRef(field)
    parts = []
    if band.lower is not None:
        parts.append(f"{ref} >= {band.lower!r}")
    if band.upper is not None:
        parts.append(f"{ref} < {band.upper!r}")
    return " AND ".join(parts) or f"{ref} IS NOT NULL"


def power_size_expression(power_field: str = "power_class") -> str:
    ref = QgsExpression.quotedColumnRef(power_field)
    # QGIS has only the searched form of CASE (CASE WHEN condition THEN ...)
    cases = " ".join(f"WHEN {ref} = {QgsExpression.quotedValue(k)} THEN {v}"
                     for k, v in styling.POWER_CLASS_SIZE_MM.items())
    return f"CASE {cases} ELSE {styling.UNKNOWN_POWER_SIZE_MM} END"


def device_renderer(bands: Sequence[styling.Band], occupancy_field: str = "occupancy_pct",
                    power_field: str = "power_class") -> QgsRuleBasedRenderer:
    """Colour by occupancy band, size by power class; 'no usage data' grey and hollow."""
    root = QgsRuleBasedRenderer.Rule(None)
    size = QgsProperty.fromExpression(power_size_expression(power_field))
    for band in bands:
        symbol = _marker(band.colour, styling.POWER_CLASS_SIZE_MM["fast"])
        symbol.setDataDefinedSize(size)
        root.appendChild(_rule(symbol, _range_expression(occupancy_field, band), band.label,
                               band.key))
    no_data = _marker("#ffffff", 1.8, outline=styling.NO_DATA_COLOUR, outline_width=0.5)
    root.appendChild(_rule(no_data, f"{QgsExpression.quotedColumnRef(occupancy_field)} IS NULL",
                           styling.NO_DATA_LABEL, "no_data"))
    return QgsRuleBasedRenderer(root)


def _rule(symbol, expression: str, label: str, key: str) -> QgsRuleBasedRenderer.Rule:
    """A rule with a fixed key (the legend item's id), so a saved style is the same
    each time it is written."""
    rule = QgsRuleBasedRenderer.Rule(symbol, 0, 0, expression, label)
    rule.setRuleKey(key)
    return rule


def status_marker(style: styling.StatusStyle, scale: float = 1.0) -> QgsMarkerSymbol:
    """The marker of one live status class (``scale``: smaller on the London page)."""
    if style.hollow:
        return _marker("#ffffff", style.size_mm * scale, style.shape, outline=style.colour,
                       outline_width=0.5)
    # a dark outline keeps light fills readable on the light and the dark ward shading
    return _marker(style.colour, style.size_mm * scale, style.shape, outline="#1a1a1a",
                   outline_width=0.3)


def status_renderer(status_field: str = "live_status",
                    max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                    scale: float = 1.0) -> QgsRuleBasedRenderer:
    """One rule per live status class (see ``core.styling.LIVE_STATUS_STYLES``)."""
    root = QgsRuleBasedRenderer.Rule(None)
    ref = QgsExpression.quotedColumnRef(status_field)
    for style in styling.live_status_styles(max_age_minutes):
        root.appendChild(_rule(status_marker(style, scale),
                               f"{ref} = {QgsExpression.quotedValue(style.key)}",
                               style.label, style.key))
    return QgsRuleBasedRenderer(root)


def status_layer_renderer(max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                          scale: float = 1.0) -> QgsPointDisplacementRenderer:
    """:func:`status_renderer` with the devices of one site (the same place) set in a
    small ring around it, so each device's status shows, not only the top one's."""
    renderer = QgsPointDisplacementRenderer()
    renderer.setEmbeddedRenderer(status_renderer(max_age_minutes=max_age_minutes,
                                                 scale=scale))
    renderer.setTolerance(0.3 * scale)
    renderer.setToleranceUnit(Qgis.RenderUnit.Millimeters)
    renderer.setPlacement(QgsPointDisplacementRenderer.Placement.Ring)
    renderer.setCircleWidth(0.2)
    renderer.setCircleColor(QColor("#595959"))
    renderer.setCircleRadiusAddition(0.0)
    renderer.setCenterSymbol(_marker("#595959", 0.8 * scale, outline="#595959",
                                     outline_width=0.0))
    return renderer


def area_renderer(field: str, bands: Sequence[styling.Band]) -> QgsRuleBasedRenderer:
    root = QgsRuleBasedRenderer.Rule(None)
    for band in bands:
        symbol = QgsFillSymbol.createSimple({
            "color": band.colour, "outline_color": "#4d4d4d", "outline_width": "0.2"})
        root.appendChild(_rule(symbol, _range_expression(field, band), band.label, band.key))
    empty = QgsFillSymbol.createSimple({"color": "#ffffff", "outline_color": "#4d4d4d",
                                        "outline_width": "0.2"})
    root.appendChild(_rule(empty, f"{QgsExpression.quotedColumnRef(field)} IS NULL",
                           "No data", "no_data"))
    return QgsRuleBasedRenderer(root)


def gap_renderer(values: Sequence[float], field: str = "gap") -> QgsRuleBasedRenderer:
    """Wards by demand gap (:func:`.styling.gap_bands` of ``values``); blank = no data."""
    return area_renderer(field, styling.gap_bands(values))


def outline_renderer(colour: str = "#4d4d4d", width: float = 0.3) -> QgsRuleBasedRenderer:
    symbol = QgsFillSymbol.createSimple({"style": "no", "outline_color": colour,
                                         "outline_width": str(width)})
    root = QgsRuleBasedRenderer.Rule(None)
    root.appendChild(_rule(symbol, "", "", "outline"))
    return QgsRuleBasedRenderer(root)


def candidate_site_renderer() -> QgsSingleSymbolRenderer:
    """The candidate sites a user places: one star marker, unlike any device symbol."""
    return QgsSingleSymbolRenderer(_marker(CANDIDATE_SITE_COLOUR, CANDIDATE_SITE_SIZE_MM,
                                           "star", outline="#1a1a1a", outline_width=0.3))


def label_areas(layer: QgsVectorLayer, field: str, size_pt: float = 7.0,
                min_scale: Optional[float] = None) -> None:
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    settings.isExpression = False
    text = QgsTextFormat()
    text.setFont(QFont("Sans Serif"))
    text.setSize(size_pt)
    text.setSizeUnit(Qgis.RenderUnit.Points)
    text.setColor(QColor("#1a1a1a"))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    buffer.setColor(QColor("#ffffff"))
    text.setBuffer(buffer)
    settings.setFormat(text)
    if min_scale:
        settings.scaleVisibility = True
        settings.minimumScale = min_scale
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)
