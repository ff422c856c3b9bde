"""Committee papers: A4 print layouts, a London page and an atlas of borough pages.

The four ``.qpt`` templates in ``resources/layouts/`` (London or borough page,
portrait or landscape) are built by :func:`build_layout` and written by
:func:`write_templates` (``make layouts``); :func:`export_committee_maps`
loads the shipped templates, so what is checked in is what is printed.
Templates hold the page design (item ids, frames, fonts, positions); the
export fills in layers, texts and tables. Every usage figure on a page has
passed :mod:`..core.disclosure` first; the page prints the disclosure note,
the data vintage, sources, attribution, date and a fingerprint of the inputs.

Runs on the main thread (layouts are not thread safe): the Processing
algorithm declares ``FlagNoThreading`` and the CLI starts its own headless
``QgsApplication``.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from qgis.core import (
    Qgis,
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsFillSymbol,
    QgsLayerTreeLayer,
    QgsLayout,
    QgsLayoutExporter,
    QgsLayoutFrame,
    QgsLayoutItem,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemManualTable,
    QgsLayoutItemMap,
    QgsLayoutItemMapOverview,
    QgsLayoutItemPicture,
    QgsLayoutItemScaleBar,
    QgsLayoutMultiFrame,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsLayoutTableColumn,
    QgsLegendStyle,
    QgsMarkerSymbol,
    QgsPrintLayout,
    QgsProject,
    QgsReadWriteContext,
    QgsRectangle,
    QgsRendererCategory,
    QgsRuleBasedRenderer,
    QgsTableCell,
    QgsTextFormat,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtXml import QDomDocument

from ..core.errors import EvChargepointsError
from ..core.outputs import committee, disclosure, mapdata, styling
from ..core.outputs.tables import write_csv
from ..core.paths import resource
from ..core.progress import SILENT, Progress
from ..core.store.address import parse_target
from ..core.workspace import Workspace
from . import layers as map_layers
from . import loader
from . import styling as qgis_styling

log = logging.getLogger(__name__)

FONT = "DejaVu Sans"
KINDS = ("london", "borough")
ORIENTATIONS = ("portrait", "landscape")
PAGE_MM = {"portrait": (210.0, 297.0), "landscape": (297.0, 210.0)}
LAYOUTS_DIR = ("layouts",)
BOROUGH_MARGIN = 0.06
LONDON_SYMBOL_SCALE = 0.6
INK = "#1a1a1a"
SUPPRESS_GREY = "#595959"
USAGE_NOT_SHOWN_LABEL = "Usage not shown (suppressed)"
BNG = QgsCoordinateReferenceSystem("EPSG:27700")
LONDON_EXTENT = (503000.0, 155000.0, 562000.0, 201500.0)  # EPSG:27700, Greater London

# Item rectangles (x, y, width, height in mm) per page kind and orientation.
_P_COMMON = {"title": (12, 9, 186, 10), "subtitle": (12, 19, 186, 6),
             "synthetic_banner": (12, 26, 186, 6), "attribution": (12, 279, 186, 7),
             "footer": (12, 287, 186, 5)}
_L_COMMON = {"title": (12, 8, 273, 10), "subtitle": (12, 18, 273, 6),
             "synthetic_banner": (12, 25, 273, 6), "attribution": (12, 194, 273, 7),
             "footer": (12, 202, 273, 4.5)}
GEOMETRY = {
    ("borough", "portrait"): {
        **_P_COMMON, "main_map": (12, 33, 186, 134), "north_arrow": (187, 36, 8, 12),
        "scale_bar": (15, 156, 70, 8), "inset_map": (12, 171, 58, 44),
        "inset_caption": (12, 215.5, 58, 4), "legend": (12, 221, 58, 56),
        "summary_table": (76, 171, 122, 62), "notes": (76, 236, 122, 41)},
    ("borough", "landscape"): {
        **_L_COMMON, "main_map": (12, 32, 170, 130), "north_arrow": (171, 35, 8, 12),
        "scale_bar": (15, 151, 70, 8), "inset_map": (187, 32, 37, 31),
        "inset_caption": (187, 63.5, 37, 8), "legend": (226, 32, 59, 60),
        "summary_table": (187, 96, 98, 62), "notes": (12, 165, 170, 27)},
    ("london", "portrait"): {
        **_P_COMMON, "main_map": (12, 33, 186, 112), "north_arrow": (187, 36, 8, 12),
        "scale_bar": (15, 134, 70, 8), "legend": (12, 149, 58, 62),
        "summary_table": (74, 149, 124, 128), "notes": (12, 212, 58, 65)},
    ("london", "landscape"): {
        **_L_COMMON, "main_map": (12, 32, 150, 122), "north_arrow": (151, 35, 8, 12),
        "scale_bar": (15, 143, 70, 8), "legend": (12, 157, 150, 35),
        "summary_table": (167, 32, 118, 116), "notes": (167, 150, 118, 42)},
}
# Relative column widths: the table fills its frame's width (margins and grid included),
# each column at least as wide as its widest text (see _fit_columns).
TABLE_COLUMNS_MM = {
    ("borough", "portrait"): [58, 32, 32], ("borough", "landscape"): [44, 27, 27],
    ("london", "portrait"): [38, 13, 13, 13, 17, 14, 16],
    ("london", "landscape"): [36, 13, 12, 12, 16, 14, 15],
}
TEXT_SIZES = {"title": 18, "subtitle": 10.5, "synthetic_banner": 8.0, "notes": 6.3,
              "attribution": 5.8, "footer": 5.8, "inset_caption": 6.5}
TABLE_TEXT_SIZES = {"borough": 7.3, "london": 6.0}
MIN_TEXT_SIZE = 5.0   # points: a text shrinks to fit its box, never below this
MEASURE_DPI = 1200
FIT_ROOM = 0.98       # texts fit in 98 % of their box: rendering at 300 dpi rounds sizes
GRID_MM = 0.15


@dataclass
class ExportInfo:
    """What the last export did (for front ends, logs and benchmarks)."""

    prepare_s: float = 0.0
    render_s: float = 0.0
    pages: int = 0
    fingerprint: str = ""
    period: str = ""
    suppressed: tuple = ()
    synthetic_usage: bool = False
    live_status_devices: Optional[int] = None   # devices on the live status layer, if shown


LAST_EXPORT = ExportInfo()


def template_name(kind: str, orientation: str) -> str:
    _check(kind, orientation)
    return f"committee_{kind}_a4_{orientation}.qpt"


def template_path(kind: str, orientation: str) -> Path:
    return resource(*LAYOUTS_DIR, template_name(kind, orientation))


def _check(kind: str, orientation: str) -> None:
    if kind not in KINDS:
        raise EvChargepointsError(f"Unknown page kind '{kind}'; use {' or '.join(KINDS)}.")
    if orientation not in ORIENTATIONS:
        raise EvChargepointsError(f"Unknown orientation '{orientation}'; use "
                                  f"{' or '.join(ORIENTATIONS)}.")


# --- building the templates ------------------------------------------------------------

def _text_format(size: float, bold: bool = False, colour: str = INK) -> QgsTextFormat:
    fmt = QgsTextFormat()
    font = QFont(FONT)
    font.setBold(bold)
    fmt.setFont(font)
    fmt.setSize(size)
    fmt.setSizeUnit(Qgis.RenderUnit.Points)
    fmt.setColor(QColor(colour))
    return fmt


def _place(item: QgsLayoutItem, rect) -> None:
    x, y, w, h = rect
    item.attemptMove(QgsLayoutPoint(x, y, Qgis.LayoutUnit.Millimeters))
    item.attemptResize(QgsLayoutSize(w, h, Qgis.LayoutUnit.Millimeters))


def _label(layout: QgsLayout, item_id: str, rect, text: str, size: float,
           bold: bool = False, wrap_top: bool = True) -> QgsLayoutItemLabel:
    label = QgsLayoutItemLabel(layout)
    label.setId(item_id)
    label.setText(text)
    label.setTextFormat(_text_format(size, bold=bold))
    label.setMarginX(0.0)
    label.setMarginY(0.0)
    label.setVAlign(Qt.AlignmentFlag.AlignTop if wrap_top else Qt.AlignmentFlag.AlignVCenter)
    label.setHAlign(Qt.AlignmentFlag.AlignLeft)
    layout.addLayoutItem(label)
    _place(label, rect)
    return label


def _text_metrics(layout: QgsLayout):
    """A render context for measuring text as the layout draws it, and its units per mm.

    At a fine resolution: at screen resolution font sizes snap to whole pixels, and
    sizes a quarter point apart measure the same.
    """
    from qgis.core import QgsLayoutUtils

    context = QgsLayoutUtils.createRenderContextForLayout(layout, None, MEASURE_DPI)
    return context, context.convertToPainterUnits(1, Qgis.RenderUnit.Millimeters)


def fit_label(label: QgsLayoutItemLabel, size: float, minimum: float = MIN_TEXT_SIZE) -> float:
    """Give ``label`` the largest font size from ``size`` down to ``minimum`` at which its
    text, wrapped at the box's width, fits inside the box; returns the size.

    A long text (a borough name in the title, the notes) shrinks, and wraps where the box
    has room for more lines, instead of running into the items around it.
    """
    from qgis.core import QgsTextRenderer

    context, per_mm = _text_metrics(label.layout())
    width = (label.rect().width() - 2 * label.marginX()) * per_mm * FIT_ROOM
    height = (label.rect().height() - 2 * label.marginY()) * per_mm * FIT_ROOM
    text = label.currentText()
    lines, words = text.split("\n"), text.split()
    fmt = label.textFormat()
    while True:
        fmt.setSize(size)
        widest = max((QgsTextRenderer.textWidth(context, fmt, [w]) for w in words), default=0)
        tall = QgsTextRenderer.textHeight(context, fmt, lines, Qgis.TextLayoutMode.Rect, None,
                                          Qgis.TextRendererFlag.WrapLines, width)
        fits = widest <= width and tall <= height
        if fits or size <= minimum:
            break
        size = max(minimum, size - 0.25)
    label.setTextFormat(fmt)
    if not fits:
        log.warning("The text of the layout item '%s' does not fit its box even at %s pt.",
                    label.id(), minimum)
    return size


def _fit_columns(widths_needed: list[float], weights: list[float], available: float):
    """Column widths (mm) summing to ``available``: each at least its widest text, the
    rest shared in proportion to ``weights``. None when the texts cannot all fit."""
    spare = available - sum(widths_needed)
    if spare < 0:
        return None
    total = float(sum(weights))
    return [need + spare * weight / total for need, weight in zip(widths_needed, weights)]


def _table_inner_width(table, width_mm: float, columns: int) -> float:
    """What ``columns`` columns of a table ``width_mm`` wide leave for their texts."""
    grid = table.gridStrokeWidth() if table.showGrid() and table.verticalGrid() else 0.0
    return width_mm - columns * 2 * table.cellMargin() - (columns + 1) * grid


def build_layout(kind: str, orientation: str = "portrait",
                 project: Optional[QgsProject] = None) -> QgsPrintLayout:
    """The committee page design for ``kind`` ("london" or "borough"), empty of data."""
    _check(kind, orientation)
    project = project or QgsProject.instance()
    geometry = GEOMETRY[(kind, orientation)]
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()
    layout.setName(f"EV committee {kind} A4 {orientation}")
    page = layout.pageCollection().page(0)
    page.setPageSize("A4", page.Orientation.Portrait if orientation == "portrait"
                     else page.Orientation.Landscape)

    _label(layout, "title", geometry["title"], "Electric vehicle charge points",
           TEXT_SIZES["title"], bold=True)
    _label(layout, "subtitle", geometry["subtitle"], "Period", TEXT_SIZES["subtitle"])
    banner = _label(layout, "synthetic_banner", geometry["synthetic_banner"],
                    committee.SYNTHETIC_BANNER, TEXT_SIZES["synthetic_banner"], bold=True,
                    wrap_top=False)
    banner.setMarginX(2.0)
    banner.setBackgroundEnabled(True)
    banner.setBackgroundColor(QColor("#e6e6e6"))
    banner.setFrameEnabled(True)
    banner.setFrameStrokeColor(QColor(INK))
    banner.setFrameStrokeWidth(_mm(0.4))

    main_map = QgsLayoutItemMap(layout)
    main_map.setId("main_map")
    main_map.setCrs(BNG)
    main_map.setFrameEnabled(True)
    main_map.setFrameStrokeWidth(_mm(0.3))
    main_map.setBackgroundColor(QColor("#ffffff"))
    layout.addLayoutItem(main_map)
    _place(main_map, geometry["main_map"])
    fit_extent(main_map, LONDON_EXTENT)

    arrow = QgsLayoutItemPicture(layout)
    arrow.setId("north_arrow")
    arrow.setPicturePath("arrows/NorthArrow_02.svg")
    arrow.setSvgFillColor(QColor(INK))
    arrow.setSvgStrokeColor(QColor(INK))
    arrow.setBackgroundEnabled(True)   # keeps map labels from running into the arrow
    arrow.setBackgroundColor(QColor("#ffffff"))
    layout.addLayoutItem(arrow)
    _place(arrow, geometry["north_arrow"])

    scale = QgsLayoutItemScaleBar(layout)
    scale.setId("scale_bar")
    scale.setStyle("Single Box")
    scale.setLinkedMap(main_map)
    scale.setUnits(Qgis.DistanceUnit.Kilometers)
    scale.setUnitLabel("km")
    scale.setNumberOfSegmentsLeft(0)
    scale.setNumberOfSegments(2)
    scale.setSegmentSizeMode(Qgis.ScaleBarSegmentSizeMode.FitWidth)
    scale.setMinimumBarWidth(25.0)
    scale.setMaximumBarWidth(50.0)
    scale.setHeight(2.0)
    scale.setTextFormat(_text_format(7))
    scale.setBackgroundEnabled(True)
    scale.setBackgroundColor(QColor("#ffffff"))
    layout.addLayoutItem(scale)
    _place(scale, geometry["scale_bar"])

    if "inset_map" in geometry:
        inset = QgsLayoutItemMap(layout)
        inset.setId("inset_map")
        inset.setCrs(BNG)
        inset.setFrameEnabled(True)
        inset.setFrameStrokeWidth(_mm(0.25))
        inset.setBackgroundColor(QColor("#ffffff"))
        layout.addLayoutItem(inset)
        _place(inset, geometry["inset_map"])
        fit_extent(inset, LONDON_EXTENT)
        overview = QgsLayoutItemMapOverview("main map extent", inset)
        overview.setLinkedMap(main_map)
        overview.setFrameSymbol(QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": INK, "outline_width": "0.5"}))
        inset.overviews().addOverview(overview)
        _label(layout, "inset_caption", geometry["inset_caption"],
               "The borough (dark) within London", TEXT_SIZES["inset_caption"])

    legend = QgsLayoutItemLegend(layout)
    legend.setId("legend")
    legend.setTitle("")
    legend.setAutoUpdateModel(False)
    legend.setResizeToContents(False)
    legend.setColumnCount(2 if (kind, orientation) == ("london", "landscape") else 1)
    _style_legend(legend)
    layout.addLayoutItem(legend)
    _place(legend, geometry["legend"])

    table = QgsLayoutItemManualTable.create(layout)
    layout.addMultiFrame(table)
    table.setContentTextFormat(_text_format(TABLE_TEXT_SIZES[kind]))
    table.setHeaderTextFormat(_text_format(TABLE_TEXT_SIZES[kind], bold=True))
    table.setCellMargin(1.1 if kind == "borough" else 0.55)
    table.setGridStrokeWidth(GRID_MM)
    table.setGridColor(QColor("#7f7f7f"))
    table.setIncludeTableHeader(True)
    table.setHeaderHAlignment(table.HeaderHAlignment.FollowColumn)
    table.setResizeMode(QgsLayoutMultiFrame.ResizeMode.UseExistingFrames)
    weights = TABLE_COLUMNS_MM[(kind, orientation)]
    table.setColumnWidths(_fit_columns([0.0] * len(weights), weights, _table_inner_width(
        table, geometry["summary_table"][2], len(weights))))
    frame = QgsLayoutFrame(layout, table)
    frame.setId("summary_table")
    _place(frame, geometry["summary_table"])
    table.addFrame(frame)

    _label(layout, "notes", geometry["notes"], "Notes", TEXT_SIZES["notes"])
    _label(layout, "attribution", geometry["attribution"], committee.ATTRIBUTION,
           TEXT_SIZES["attribution"])
    _label(layout, "footer", geometry["footer"], "Printed · Fingerprint",
           TEXT_SIZES["footer"])
    return layout


def _style_legend(legend: QgsLayoutItemLegend) -> None:
    legend.setSymbolWidth(4.5)
    legend.setSymbolHeight(3.2)
    for style, size, bold in ((QgsLegendStyle.Style.Title, 9, True),
                              (QgsLegendStyle.Style.Group, 7.5, True),
                              (QgsLegendStyle.Style.Subgroup, 7.5, True),
                              (QgsLegendStyle.Style.SymbolLabel, 7, False)):
        legend.rstyle(style).setTextFormat(_text_format(size, bold=bold))
    legend.rstyle(QgsLegendStyle.Style.Symbol).setMargin(QgsLegendStyle.Side.Top, 1.0)
    legend.rstyle(QgsLegendStyle.Style.Group).setMargin(QgsLegendStyle.Side.Top, 1.5)
    legend.rstyle(QgsLegendStyle.Style.Subgroup).setMargin(QgsLegendStyle.Side.Top, 1.5)
    legend.setBackgroundEnabled(True)
    legend.setBackgroundColor(QColor("#ffffff"))


def fit_extent(map_item: QgsLayoutItemMap, bounds) -> None:
    """Show ``bounds`` (a rectangle or xmin, ymin, xmax, ymax) whole, at the item's aspect.

    Set directly rather than with ``zoomToExtent``, which keeps the ratio of the
    current extent, and a template map saved before it had one has NaN there.
    """
    rect = bounds if isinstance(bounds, QgsRectangle) else QgsRectangle(*bounds)
    size = map_item.rect()
    ratio = size.width() / size.height() if size.height() > 0 else 1.0
    cx, cy = rect.center().x(), rect.center().y()
    width, height = rect.width(), rect.height()
    if width / height > ratio:
        height = width / ratio
    else:
        width = height * ratio
    map_item.setExtent(QgsRectangle(cx - width / 2, cy - height / 2, cx + width / 2,
                                    cy + height / 2))


def _mm(value: float):
    from qgis.core import QgsLayoutMeasurement

    return QgsLayoutMeasurement(value, Qgis.LayoutUnit.Millimeters)


def write_templates(folder=None, project: Optional[QgsProject] = None) -> list[Path]:
    """Build every committee layout in code and save it as a ``.qpt`` template."""
    folder = Path(folder) if folder else resource(*LAYOUTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    own = project is None
    project = project or QgsProject()
    written = []
    try:
        for kind in KINDS:
            for orientation in ORIENTATIONS:
                layout = build_layout(kind, orientation, project)
                path = folder / template_name(kind, orientation)
                if not layout.saveAsTemplate(str(path), QgsReadWriteContext()):
                    raise EvChargepointsError(f"Could not write the layout template {path}.")
                written.append(path)
    finally:
        if own:
            project.clear()
    return written


def load_template(kind: str, orientation: str, project: QgsProject,
                  path=None) -> QgsPrintLayout:
    """A layout from the shipped template (or ``path``)."""
    path = Path(path) if path else template_path(kind, orientation)
    if not path.exists():
        raise EvChargepointsError(f"The layout template {path} is missing; run "
                                  "'make layouts' to write it.")
    document = QDomDocument()
    ok = document.setContent(path.read_text(encoding="utf-8"))
    ok = ok[0] if isinstance(ok, tuple) else ok
    if not ok:
        raise EvChargepointsError(f"The layout template {path} is not valid XML.")
    layout = QgsPrintLayout(project)
    _items, loaded = layout.loadFromTemplate(document, QgsReadWriteContext())
    if not loaded:
        raise EvChargepointsError(f"QGIS could not read the layout template {path}.")
    layout.setName(f"EV committee {kind} A4 {orientation}")
    return layout


def template_items(layout: QgsLayout) -> dict[str, QgsLayoutItem]:
    return {item.id(): item for item in layout.items()
            if isinstance(item, QgsLayoutItem) and item.id()}


# --- filling a page ------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _legend_layer(project: QgsProject, name: str, categories) -> QgsVectorLayer:
    """A feature-less layer that only exists to draw legend entries."""
    layer = QgsVectorLayer("Point?crs=EPSG:27700&field=key:string", name, "memory")
    layer.setRenderer(QgsCategorizedSymbolRenderer("key", categories))
    project.addMapLayer(layer, False)
    return layer


def _legend_layers(project: QgsProject, scale: float = 1.0) -> tuple:
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


def _status_legend_layer(project: QgsProject, status) -> QgsVectorLayer:
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


def _size_devices_by_power(layer: QgsVectorLayer, scale: float) -> None:
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


def _suppressed(data: committee.CommitteeData) -> tuple:
    """Names of the boroughs whose usage figures the pages suppress."""
    boroughs = data.boroughs
    hidden = boroughs[disclosure.STATUS_COLUMN].astype(str).str.startswith(
        disclosure.SUPPRESSED)
    return tuple(boroughs.loc[hidden, "area_name"])


def _usage_not_shown(layer: QgsVectorLayer, legend: QgsVectorLayer, scale: float,
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


def _borough_renderer(focus: bool) -> QgsRuleBasedRenderer:
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


def _set_table(page: _Page, header: list[str], rows: list[list[str]]) -> None:
    """The page's summary table, whole and inside its frame: each column as wide as its
    widest text (long borough names included), the rest of the frame's width shared as
    the template's proportions; the text shrinks when the rows are taller than the frame
    or the texts wider than it."""
    from qgis.core import QgsLayoutTable

    table = page.items["summary_table"].multiFrame()
    _x, _y, width, height = GEOMETRY[(page.kind, page.orientation)]["summary_table"]
    weights = TABLE_COLUMNS_MM[(page.kind, page.orientation)]
    inner = _table_inner_width(table, width, len(header))
    size = TABLE_TEXT_SIZES[page.kind]
    while True:
        needed = _set_table_text(table, header, rows, size)
        widths = _fit_columns(needed, weights, inner)
        fits = widths is not None
        if not fits:  # wrapped rather than cut
            widths = [need * inner / sum(needed) for need in needed]
        table.setWrapBehavior(QgsLayoutTable.WrapBehavior.TruncateText if fits
                              else QgsLayoutTable.WrapBehavior.WrapText)
        table.setColumnWidths(widths)
        table.refresh()
        fits = fits and table.totalHeight() <= height
        if fits or size <= MIN_TEXT_SIZE:
            break
        size = max(MIN_TEXT_SIZE, size - 0.25)
    if not fits:
        log.warning("The committee page table does not fit its frame even at %s pt.", size)


def _set_table_text(table, header: list[str], rows: list[list[str]],
                    size: float) -> list[float]:
    """Fill ``table`` at font ``size``; returns each column's widest text in mm."""
    from qgis.core import QgsTextRenderer

    context, per_mm = _text_metrics(table.layout())
    content = table.contentTextFormat()
    content.setSize(size)
    table.setContentTextFormat(content)
    header_format = table.headerTextFormat()
    header_format.setSize(size)
    table.setHeaderTextFormat(header_format)
    needed = [0.0] * len(header)

    def measure(column: int, text: str, fmt: QgsTextFormat) -> None:
        text_mm = QgsTextRenderer.textWidth(context, fmt, text.split("\n")) / per_mm / FIT_ROOM
        needed[column] = max(needed[column], text_mm)

    headers = []
    for c, text in enumerate(header):
        column = QgsLayoutTableColumn(text)
        column.setHAlignment(Qt.AlignmentFlag.AlignLeft if c == 0
                             else Qt.AlignmentFlag.AlignRight)
        headers.append(column)
        measure(c, text, header_format)
    table.setHeaders(headers)
    contents = []
    last = len(rows) - 1
    for r, row in enumerate(rows):
        cells = []
        for c, text in enumerate(row):
            cell = QgsTableCell(text)
            cell.setHorizontalAlignment(Qt.AlignmentFlag.AlignLeft if c == 0
                                        else Qt.AlignmentFlag.AlignRight)
            fmt = QgsTextFormat(content)
            if text == "suppressed":
                font = fmt.font()
                font.setItalic(True)
                fmt.setFont(font)
                fmt.setColor(QColor(SUPPRESS_GREY))
                cell.setTextFormat(fmt)
            if r % 2 == 1:
                cell.setBackgroundColor(QColor("#f2f2f2"))
            if r == last and header[0] == "Borough":
                fmt = QgsTextFormat(content)
                font = fmt.font()
                font.setBold(True)
                fmt.setFont(font)
                cell.setTextFormat(fmt)
            measure(c, text, fmt)
            cells.append(cell)
        contents.append(cells)
    table.setTableContents(contents)
    return needed


@dataclass
class _Page:
    layout: QgsPrintLayout
    items: dict
    kind: str
    orientation: str


def _fill_common(page: _Page, data: committee.CommitteeData, loaded, legend_layers) -> None:
    items = page.items
    period_text = f"Quarter {data.period}" if re.match(r"^\d{4}-Q\d$", data.period) \
        else data.period
    compare = f" · compared with {data.previous_period}" if data.previous_period else ""
    if data.period == mapdata.NO_USAGE_PERIOD:
        _set_label(items["subtitle"], "Public charge points (the store holds no usage data)")
    else:
        _set_label(items["subtitle"],
                   f"Public charge points and their use, {period_text}{compare}")
    banner = items["synthetic_banner"]
    banner.setVisibility(bool(data.synthetic_usage))
    if not data.synthetic_usage:
        banner.setText("")
    main_map = items["main_map"]
    layers = [layer for layer in (loaded.boroughs, loaded.status, loaded.devices, loaded.wards)
              if layer is not None]
    main_map.setCrs(BNG)
    fit_extent(main_map, _london_extent(loaded.boroughs))
    main_map.setLayers(layers)
    main_map.setKeepLayerSet(True)
    items["scale_bar"].setLinkedMap(main_map)
    legend: QgsLayoutItemLegend = items["legend"]
    legend.setLinkedMap(main_map)
    root = legend.model().rootGroup()
    root.removeAllChildren()
    title = f"Occupancy, {data.period}" + (" (SYNTHETIC)" if data.synthetic_usage else "")
    node = root.addLayer(legend_layers[0])
    node.setCustomProperty("legend/title-label", title)
    size_node = root.addLayer(legend_layers[1])
    size_node.setCustomProperty("legend/title-label", "Symbol size: power")
    for tree_node in (node, size_node):
        if isinstance(tree_node, QgsLayerTreeLayer):
            legend.model().refreshLayerLegend(tree_node)
    legend.adjustBoxSize()
    legend.attemptResize(legend.sizeWithUnits())  # keep the template's box
    if loaded.status is not None:
        _add_status_legend(page.layout, main_map, legend_layers[2],
                           "\n".join(committee.live_status_caption(loaded.info.status)))
    notes = committee.definition_lines(data) + committee.provenance_lines(data)
    _set_label(items["notes"], "\n".join(notes))
    _set_label(items["attribution"], committee.ATTRIBUTION)
    _set_label(items["footer"], committee.footer_line(data))


def _set_label(label: QgsLayoutItemLabel, text: str) -> None:
    """A page text, at its design size or smaller: it stays inside its box."""
    label.setText(text)
    fit_label(label, TEXT_SIZES[label.id()])


def _add_status_legend(layout, main_map: QgsLayoutItemMap, layer: QgsVectorLayer,
                       title: str) -> QgsLayoutItemLegend:
    """The live status legend in the map's lower right corner (the page legend's box has
    no room for it, and live status is optional: the templates stay as they are)."""
    legend = QgsLayoutItemLegend(layout)
    legend.setId("status_legend")
    legend.setTitle("")
    legend.setAutoUpdateModel(False)
    _style_legend(legend)
    legend.setResizeToContents(True)
    legend.setBoxSpace(1.5)
    legend.setFrameEnabled(True)
    legend.setFrameStrokeColor(QColor(INK))
    legend.setFrameStrokeWidth(_mm(0.25))
    root = legend.model().rootGroup()
    root.removeAllChildren()
    node = root.addLayer(layer)
    node.setCustomProperty("legend/title-label", title)
    legend.model().refreshLayerLegend(node)
    layout.addLayoutItem(legend)
    legend.adjustBoxSize()
    legend.setReferencePoint(QgsLayoutItem.ReferencePoint.LowerRight)
    corner = main_map.positionWithUnits()
    size = main_map.sizeWithUnits()
    legend.attemptMove(QgsLayoutPoint(corner.x() + size.width() - 1.5,
                                      corner.y() + size.height() - 1.5,
                                      Qgis.LayoutUnit.Millimeters))
    return legend


def _pdf_settings(dpi: int) -> QgsLayoutExporter.PdfExportSettings:
    settings = QgsLayoutExporter.PdfExportSettings()
    settings.dpi = dpi
    settings.rasterizeWholeImage = False
    settings.forceVectorOutput = True
    settings.exportMetadata = True
    settings.textRenderFormat = Qgis.TextRenderFormat.AlwaysText
    return settings


def _png_settings(dpi: int) -> QgsLayoutExporter.ImageExportSettings:
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = dpi
    settings.exportMetadata = False  # GDAL cannot update a PNG in place: it only logs errors
    settings.textRenderFormat = Qgis.TextRenderFormat.AlwaysText
    return settings


def _check_result(result, path: Path, what: str) -> None:
    if isinstance(result, tuple):
        result, error = result
    else:
        error = ""
    if result != QgsLayoutExporter.ExportResult.Success:
        detail = f": {error}" if error else ""
        raise EvChargepointsError(f"Could not export the {what} to {path} "
                                  f"(QGIS export result {int(result)}{detail}).")


# --- the export ------------------------------------------------------------------------------

BoroughChoice = Union[None, str, Sequence[str]]


def export_committee_maps(store_path, out_dir, boroughs: BoroughChoice = None,
                          combined: bool = False, png_dpi: Optional[int] = None,
                          period: Optional[str] = None, threshold: int = 3,
                          orientation: str = "portrait", pdf_dpi: int = 300,
                          progress: Progress = SILENT, live_status: bool = False,
                          status_max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                          status_now=None) -> list[Path]:
    """Export committee pages from the store at ``store_path`` into ``out_dir``.

    ``boroughs``: None for the London page; a name (or code), or a list of them, for
    those boroughs' pages; ``"all"`` for the atlas of all 33. Borough pages go one
    PDF each, or into one PDF with ``combined``. ``png_dpi`` also writes a PNG per
    page. Beside the PDFs, each page's table is written as CSV (masked exactly as
    printed) with the masked borough summary. ``live_status``: the maps also show the
    "Live status" layer (the store's latest watched status, stale after
    ``status_max_age_minutes`` before ``status_now``, default the time of printing),
    with its legend and a note. Returns every file written, PDFs first.
    """
    import time

    _check("borough", orientation)
    target = parse_target(store_path)
    if not target.is_database and not target.path.exists():
        raise EvChargepointsError(f"There is no store at {target.path}; import or fetch "
                                  "first.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="evcp-committee-"))
    project = QgsProject()
    project.setCrs(BNG)
    try:
        with Workspace(target) as ws:
            if not ws.store.counts().get("devices"):
                raise EvChargepointsError(f"The store {target.describe()} holds no charge "
                                          "points.")
            frames = mapdata.build_map(ws, "quarter", progress.scaled(0, 40))
            info = frames.info(None)
            if period is not None and period not in info.periods:
                raise EvChargepointsError(f"No usage period '{period}' in the store; "
                                          f"available: {', '.join(info.periods)}.")
            period = period or info.latest_period
            progress.report(50, "Summarising boroughs and applying disclosure control")
            data = committee.committee_data(
                ws, None if period == mapdata.NO_USAGE_PERIOD else period, threshold,
                vintage=info.vintage)
            # the map must not show what the tables suppress
            frames.devices = disclosure.hide_points(frames.devices, "borough_name",
                                                    _suppressed(data))
            info = mapdata.write_geopackages(frames, work / "map", progress.scaled(45, 50))
            if live_status:
                info.status = mapdata.write_status(ws, work / "status", status_now,
                                                   status_max_age_minutes)
                if info.status is None:
                    raise EvChargepointsError(
                        f"The store {target.describe()} holds no live status to show: watch "
                        "an OCPI feed first (Watch live status, or the 'watch' command), or "
                        "leave the live status out.")
        chosen = _chosen_boroughs(data, boroughs)
        LAST_EXPORT.fingerprint = data.fingerprint
        LAST_EXPORT.period = data.period
        LAST_EXPORT.synthetic_usage = data.synthetic_usage
        LAST_EXPORT.live_status_devices = info.status.features if info.status else None
        LAST_EXPORT.suppressed = _suppressed(data)
        loaded = loader.build_layers(info, period=period, project=project)
        inset_layer = _print_styles(loaded, work, info, project)
        symbol_scale = LONDON_SYMBOL_SCALE if chosen is None else 1.0
        _size_devices_by_power(loaded.devices, symbol_scale)
        legend_layers = _legend_layers(project, symbol_scale)
        _usage_not_shown(loaded.devices, legend_layers[0], symbol_scale,
                         in_legend=bool(LAST_EXPORT.suppressed))
        if loaded.status is not None:
            loaded.status.setRenderer(qgis_styling.status_layer_renderer(
                info.status.max_age_minutes, scale=symbol_scale))
            legend_layers += (_status_legend_layer(project, info.status),)
        LAST_EXPORT.prepare_s = time.perf_counter() - started
        render_start = time.perf_counter()
        written: list[Path] = []
        tables: list[Path] = []
        stem = f"committee_{_slug(data.period)}_{data.fingerprint}"
        summary = out_dir / f"{stem}_boroughs_summary.csv"
        full = data.boroughs.copy()
        full = full.drop(columns=[c for c in full.columns if c == "mwh"])
        london = data.london.drop(columns=[c for c in data.london.columns if c == "mwh"])
        tables.append(write_csv(_pd_concat([full, london]), summary,
                                synthetic=data.synthetic_usage))
        if chosen is None:
            written += _export_london(project, loaded, legend_layers, data, orientation, out_dir,
                                      stem, pdf_dpi, png_dpi, tables)
        else:
            written += _export_boroughs(project, loaded, inset_layer, legend_layers, data, chosen,
                                        orientation,
                                        out_dir, stem, combined, pdf_dpi, png_dpi, tables,
                                        progress)
        LAST_EXPORT.render_s = time.perf_counter() - render_start
        progress.report(100, f"Exported {len(written)} file(s) to {out_dir}")
        return written + tables
    finally:
        project.clear()
        shutil.rmtree(work, ignore_errors=True)


def _pd_concat(frames):
    import pandas as pd
    return pd.concat(frames, ignore_index=True)


def _chosen_boroughs(data: committee.CommitteeData, boroughs: BoroughChoice):
    if boroughs is None:
        return None
    if isinstance(boroughs, str):
        if boroughs.strip().lower() == "all":
            return sorted(data.boroughs["area_name"].astype(str))
        boroughs = [boroughs]
    try:
        return data.resolve(list(boroughs))
    except KeyError as exc:
        known = ", ".join(sorted(data.boroughs["area_name"].astype(str)))
        raise EvChargepointsError(f"There is no London borough called {exc.args[0]!r}; "
                                  f"choose from: {known}.") from None


def _print_styles(loaded, work: Path, info, project: QgsProject) -> QgsVectorLayer:
    """Quieter styles for paper: wards as faint lines, no layer transparency."""
    loaded.wards.setRenderer(qgis_styling.outline_renderer("#c8c8c8", 0.12))
    loaded.wards.setOpacity(1.0)
    loaded.wards.setLabelsEnabled(False)
    loaded.boroughs.setRenderer(_borough_renderer(focus=False))
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


def _london_extent(layer) -> QgsRectangle:
    extent = QgsRectangle(layer.extent())
    extent.scale(1.03)
    return extent


def _export_london(project, loaded, legend_layers, data, orientation, out_dir, stem, pdf_dpi,
                   png_dpi, tables) -> list[Path]:
    layout = load_template("london", orientation, project)
    page = _Page(layout, template_items(layout), "london", orientation)
    _fill_common(page, data, loaded, legend_layers)
    _set_label(page.items["title"], "Electric vehicle charge points in London")
    main_map = page.items["main_map"]
    fit_extent(main_map, _london_extent(loaded.boroughs))
    header, rows = committee.overview_table(data)
    _set_table(page, header, rows)
    tables.append(write_csv(committee.page_table_frame(header, rows),
                            out_dir / f"{stem}_london.csv", synthetic=data.synthetic_usage))
    layout.refresh()
    path = out_dir / f"{stem}_london_{orientation}.pdf"
    exporter = QgsLayoutExporter(layout)
    _check_result(exporter.exportToPdf(str(path), _pdf_settings(pdf_dpi)), path, "London page")
    written = [path]
    if png_dpi:
        png = path.with_suffix(".png")
        _check_result(exporter.exportToImage(str(png), _png_settings(png_dpi)), png,
                      "London page image")
        written.append(png)
    LAST_EXPORT.pages = 1
    return written


def _export_boroughs(project, loaded, inset_layer, legend_layers, data, chosen, orientation,
                     out_dir, stem,
                     combined, pdf_dpi, png_dpi, tables, progress) -> list[Path]:
    from qgis.core import QgsExpression

    layout = load_template("borough", orientation, project)
    page = _Page(layout, template_items(layout), "borough", orientation)
    _fill_common(page, data, loaded, legend_layers)
    items = page.items
    main_map: QgsLayoutItemMap = items["main_map"]
    main_map.setAtlasDriven(True)
    main_map.setAtlasScalingMode(QgsLayoutItemMap.AtlasScalingMode.Auto)
    main_map.setAtlasMargin(BOROUGH_MARGIN)
    loaded.boroughs.setRenderer(_borough_renderer(focus=True))
    inset: QgsLayoutItemMap = items["inset_map"]
    inset.setCrs(BNG)
    inset.setLayers([inset_layer])
    inset.setKeepLayerSet(True)
    fit_extent(inset, _london_extent(inset_layer))
    inset.overviews().overview(0).setLinkedMap(main_map)

    atlas = layout.atlas()
    atlas.setCoverageLayer(loaded.boroughs)
    atlas.setEnabled(True)
    atlas.setHideCoverage(False)
    atlas.setPageNameExpression("\"area_name\"")
    atlas.setSortFeatures(True)
    atlas.setSortExpression("\"area_name\"")
    names = ", ".join(QgsExpression.quotedValue(n) for n in chosen)
    atlas.setFilterFeatures(True)
    atlas.setFilterExpression(f"\"area_name\" IN ({names})")

    state = {"error": None, "tables": []}

    def on_feature(feature) -> None:
        # A Qt slot: an exception escaping it would abort the process.
        try:
            if not feature.isValid() or feature.fields().indexOf("area_name") < 0:
                return  # the atlas resets to no feature before and after rendering
            name = str(feature["area_name"])
            _set_label(items["title"], f"{name}: electric vehicle charge points")
            header, rows = committee.borough_table(data, name)
            _set_table(page, header, rows)
            state["tables"].append((name, header, rows))
            layout.refresh()
        except Exception as exc:  # noqa: BLE001 - re-raised after the export
            log.exception("A committee page could not be filled")
            state["error"] = exc

    atlas.featureChanged.connect(on_feature)
    written: list[Path] = []
    try:
        if not atlas.updateFeatures():
            raise EvChargepointsError("No borough matched the selection.")
        count = atlas.count()
        if combined:
            path = out_dir / f"{stem}_boroughs_{orientation}.pdf"
            result = QgsLayoutExporter.exportToPdf(atlas, str(path), _pdf_settings(pdf_dpi))
            _check_result(result, path, "borough pages")
            written.append(path)
            if png_dpi:
                written += _atlas_pngs(layout, atlas, out_dir, stem, orientation, png_dpi)
        else:
            atlas.beginRender()
            try:
                for i in range(count):
                    progress.check_cancelled()
                    atlas.seekTo(i)
                    name = str(atlas.layout().reportContext().feature()["area_name"])
                    if state["error"] is not None:
                        raise state["error"]
                    path = out_dir / f"{stem}_{_slug(name)}_{orientation}.pdf"
                    exporter = QgsLayoutExporter(layout)
                    _check_result(exporter.exportToPdf(str(path), _pdf_settings(pdf_dpi)),
                                  path, f"page for {name}")
                    written.append(path)
                    if png_dpi:
                        png = path.with_suffix(".png")
                        _check_result(exporter.exportToImage(str(png), _png_settings(png_dpi)),
                                      png, f"image for {name}")
                        written.append(png)
                    progress.report(55 + 45 * (i + 1) / count, f"Exported {name}")
            finally:
                atlas.endRender()
        if state["error"] is not None:
            raise state["error"]
        LAST_EXPORT.pages = count
    finally:
        atlas.featureChanged.disconnect(on_feature)
    seen = set()
    for name, header, rows in state["tables"]:
        if name in seen:
            continue
        seen.add(name)
        tables.append(write_csv(committee.page_table_frame(header, rows),
                                out_dir / f"{stem}_{_slug(name)}.csv",
                                synthetic=data.synthetic_usage))
    return written


def _atlas_pngs(layout, atlas, out_dir, stem, orientation, dpi) -> list[Path]:
    written = []
    atlas.beginRender()
    try:
        for i in range(atlas.count()):
            atlas.seekTo(i)
            name = str(layout.reportContext().feature()["area_name"])
            png = out_dir / f"{stem}_{_slug(name)}_{orientation}.png"
            _check_result(QgsLayoutExporter(layout).exportToImage(str(png), _png_settings(dpi)),
                          png, f"image for {name}")
            written.append(png)
    finally:
        atlas.endRender()
    return written
