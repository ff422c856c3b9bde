"""Committee page templates: the page design of the four A4 layouts.

The four ``.qpt`` templates in ``resources/layouts/`` (London or borough page,
portrait or landscape) are built by :func:`build_layout` and written by
:func:`write_templates` (``make layouts``); the export (:mod:`.export`) loads the
shipped ones with :func:`load_template`, so what is checked in is what is printed.
Templates hold the page design (item ids, frames, fonts, positions); here too are the
measures a page's texts and table are fitted into their boxes with.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsFillSymbol,
    QgsLayout,
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
    QgsLegendStyle,
    QgsPrintLayout,
    QgsProject,
    QgsReadWriteContext,
    QgsRectangle,
    QgsTextFormat,
)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtXml import QDomDocument

from ...core.errors import EvChargepointsError
from ...core.outputs import committee
from ...core.paths import resource

log = logging.getLogger(__name__)

FONT = "DejaVu Sans"
KINDS = ("london", "borough")
ORIENTATIONS = ("portrait", "landscape")
PAGE_MM = {"portrait": (210.0, 297.0), "landscape": (297.0, 210.0)}
LAYOUTS_DIR = ("layouts",)
INK = "#1a1a1a"
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
# each column at least as wide as its widest text (see fit_columns).
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


def template_name(kind: str, orientation: str) -> str:
    check_page(kind, orientation)
    return f"committee_{kind}_a4_{orientation}.qpt"


def template_path(kind: str, orientation: str) -> Path:
    return resource(*LAYOUTS_DIR, template_name(kind, orientation))


def check_page(kind: str, orientation: str) -> None:
    """A page kind and orientation there is a template for, else a one-line error."""
    if kind not in KINDS:
        raise EvChargepointsError(f"Unknown page kind '{kind}'; use {' or '.join(KINDS)}.")
    if orientation not in ORIENTATIONS:
        raise EvChargepointsError(f"Unknown orientation '{orientation}'; use "
                                  f"{' or '.join(ORIENTATIONS)}.")


# --- building the templates ------------------------------------------------------------

def text_format(size: float, bold: bool = False, colour: str = INK) -> QgsTextFormat:
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
    label.setTextFormat(text_format(size, bold=bold))
    label.setMarginX(0.0)
    label.setMarginY(0.0)
    label.setVAlign(Qt.AlignmentFlag.AlignTop if wrap_top else Qt.AlignmentFlag.AlignVCenter)
    label.setHAlign(Qt.AlignmentFlag.AlignLeft)
    layout.addLayoutItem(label)
    _place(label, rect)
    return label


def text_metrics(layout: QgsLayout):
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

    context, per_mm = text_metrics(label.layout())
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


def fit_columns(widths_needed: list[float], weights: list[float], available: float):
    """Column widths (mm) summing to ``available``: each at least its widest text, the
    rest shared in proportion to ``weights``. None when the texts cannot all fit."""
    spare = available - sum(widths_needed)
    if spare < 0:
        return None
    total = float(sum(weights))
    return [need + spare * weight / total for need, weight in zip(widths_needed, weights)]


def table_inner_width(table, width_mm: float, columns: int) -> float:
    """What ``columns`` columns of a table ``width_mm`` wide leave for their texts."""
    grid = table.gridStrokeWidth() if table.showGrid() and table.verticalGrid() else 0.0
    return width_mm - columns * 2 * table.cellMargin() - (columns + 1) * grid


def build_layout(kind: str, orientation: str = "portrait",
                 project: Optional[QgsProject] = None) -> QgsPrintLayout:
    """The committee page design for ``kind`` ("london" or "borough"), empty of data."""
    check_page(kind, orientation)
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
    banner.setFrameStrokeWidth(mm(0.4))

    main_map = _map_item(layout, "main_map", geometry["main_map"], 0.3)

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
    scale.setTextFormat(text_format(7))
    scale.setBackgroundEnabled(True)
    scale.setBackgroundColor(QColor("#ffffff"))
    layout.addLayoutItem(scale)
    _place(scale, geometry["scale_bar"])

    if "inset_map" in geometry:
        inset = _map_item(layout, "inset_map", geometry["inset_map"], 0.25)
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
    style_legend(legend)
    layout.addLayoutItem(legend)
    _place(legend, geometry["legend"])

    table = QgsLayoutItemManualTable.create(layout)
    layout.addMultiFrame(table)
    table.setContentTextFormat(text_format(TABLE_TEXT_SIZES[kind]))
    table.setHeaderTextFormat(text_format(TABLE_TEXT_SIZES[kind], bold=True))
    table.setCellMargin(1.1 if kind == "borough" else 0.55)
    table.setGridStrokeWidth(GRID_MM)
    table.setGridColor(QColor("#7f7f7f"))
    table.setIncludeTableHeader(True)
    table.setHeaderHAlignment(table.HeaderHAlignment.FollowColumn)
    table.setResizeMode(QgsLayoutMultiFrame.ResizeMode.UseExistingFrames)
    weights = TABLE_COLUMNS_MM[(kind, orientation)]
    table.setColumnWidths(fit_columns([0.0] * len(weights), weights, table_inner_width(
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


def _map_item(layout: QgsLayout, item_id: str, rect, frame_mm: float) -> QgsLayoutItemMap:
    """A framed map item on white, in EPSG:27700, showing all London."""
    item = QgsLayoutItemMap(layout)
    item.setId(item_id)
    item.setCrs(BNG)
    item.setFrameEnabled(True)
    item.setFrameStrokeWidth(mm(frame_mm))
    item.setBackgroundColor(QColor("#ffffff"))
    layout.addLayoutItem(item)
    _place(item, rect)
    fit_extent(item, LONDON_EXTENT)
    return item


def style_legend(legend: QgsLayoutItemLegend) -> None:
    legend.setSymbolWidth(4.5)
    legend.setSymbolHeight(3.2)
    for style, size, bold in ((QgsLegendStyle.Style.Title, 9, True),
                              (QgsLegendStyle.Style.Group, 7.5, True),
                              (QgsLegendStyle.Style.Subgroup, 7.5, True),
                              (QgsLegendStyle.Style.SymbolLabel, 7, False)):
        legend.rstyle(style).setTextFormat(text_format(size, bold=bold))
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


def mm(value: float):
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
