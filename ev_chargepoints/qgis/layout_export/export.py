"""Committee papers: a London page and an atlas of borough pages, as PDF (and PNG).

:func:`export_committee_maps` fills the shipped templates (:mod:`.templates`) with
layers styled for paper (:mod:`.print_styles`), texts and tables, writes the pages and
returns what it wrote (:class:`CommitteeExport`). Every usage figure on a page has
passed :mod:`...core.outputs.disclosure` first; the page prints the disclosure note,
the data vintage, sources, attribution, date and a fingerprint of the inputs.

Runs on the main thread (layouts are not thread safe): the Processing
algorithm declares ``FlagNoThreading`` and the CLI starts its own headless
``QgsApplication`` (:mod:`..headless`).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

from qgis.core import (
    Qgis,
    QgsLayerTreeLayer,
    QgsLayoutExporter,
    QgsLayoutItem,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutPoint,
    QgsLayoutTableColumn,
    QgsPrintLayout,
    QgsProject,
    QgsRectangle,
    QgsTableCell,
    QgsTextFormat,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

from ...core.analysis.demand import as_scenario
from ...core.errors import EvChargepointsError
from ...core.outputs import committee, disclosure, mapdata, styling
from ...core.outputs.tables import write_csv
from ...core.progress import SILENT, Progress
from ...core.store.address import open_store, parse_target
from ...core.workspace import Workspace
from .. import loader
from .. import styling as qgis_styling
from . import print_styles
from .print_styles import SUPPRESS_GREY
from .templates import (
    BNG,
    FIT_ROOM,
    GEOMETRY,
    INK,
    MIN_TEXT_SIZE,
    TABLE_COLUMNS_MM,
    TABLE_TEXT_SIZES,
    TEXT_SIZES,
    check_page,
    fit_columns,
    fit_extent,
    fit_label,
    load_template,
    mm,
    style_legend,
    table_inner_width,
    template_items,
    text_metrics,
)

log = logging.getLogger(__name__)

BOROUGH_MARGIN = 0.06
LONDON_SYMBOL_SCALE = 0.6


@dataclass
class CommitteeExport:
    """What an export wrote and did (for front ends, logs and benchmarks)."""

    files: list = field(default_factory=list)   # every file written, PDFs first
    prepare_s: float = 0.0
    render_s: float = 0.0
    pages: int = 0
    fingerprint: str = ""
    period: str = ""
    suppressed: tuple = ()
    synthetic_usage: bool = False
    live_status_devices: Optional[int] = None   # devices on the live status layer, if shown


# --- the export ------------------------------------------------------------------------------

BoroughChoice = Union[None, str, Sequence[str]]


def export_committee_maps(store_path, out_dir, boroughs: BoroughChoice = None,
                          combined: bool = False, png_dpi: Optional[int] = None,
                          period: Optional[str] = None, threshold: int = 3,
                          orientation: str = "portrait", pdf_dpi: int = 300,
                          progress: Progress = SILENT, live_status: bool = False,
                          status_max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                          status_now=None, scenario=None) -> CommitteeExport:
    """Export committee pages from the store at ``store_path`` into ``out_dir``.

    ``boroughs``: None for the London page; a name (or code), or a list of them, for
    those boroughs' pages; ``"all"`` for the atlas of all 33. Borough pages go one
    PDF each, or into one PDF with ``combined``. ``png_dpi`` also writes a PNG per
    page. Beside the PDFs, each page's table is written as CSV (masked exactly as
    printed) with the masked borough summary. ``live_status``: the maps also show the
    "Live status" layer (the store's latest watched status, stale after
    ``status_max_age_minutes`` before ``status_now``, default the time of printing),
    with its legend and a note. Each borough page's notes add the borough's demand for
    public connectors under ``scenario`` (a :class:`~...core.analysis.demand.Scenario` or
    a preset's name; default the GLA 2030 preset). Returns every file written
    (``files``, PDFs first), with what the pages show and how long the export took.
    """
    import time

    check_page("borough", orientation)
    try:
        scenario = as_scenario(scenario)
    except ValueError as exc:
        raise EvChargepointsError(str(exc)) from None
    target = parse_target(store_path)
    open_store(target).close()  # a missing store stops the export before anything is written
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
            frames = ws.map_frames("quarter", progress.scaled(0, 40))
            info = frames.info(None)
            if period is not None and period not in info.periods:
                raise EvChargepointsError(f"No usage period '{period}' in the store; "
                                          f"available: {', '.join(info.periods)}.")
            period = period or info.latest_period
            progress.report(50, "Summarising boroughs and applying disclosure control")
            data = ws.committee_data(None if period == mapdata.NO_USAGE_PERIOD else period,
                                     threshold, vintage=info.vintage)
            if boroughs is not None:
                data.demand = committee.demand_lines(ws.demand(scenario))
            # the map must not show what the tables suppress
            frames.devices = disclosure.hide_points(frames.devices, "borough_name",
                                                    _suppressed(data))
            info = mapdata.write_geopackages(frames, work / "map", progress.scaled(45, 50))
            if live_status:
                info.status = ws.status_layer(work / "status", status_now,
                                              status_max_age_minutes)
                if info.status is None:
                    raise EvChargepointsError(
                        f"The store {target.describe()} holds no live status to show: watch "
                        "an OCPI feed first (Watch live status, or the 'watch' command), or "
                        "leave the live status out.")
        chosen = _chosen_boroughs(data, boroughs)
        result = CommitteeExport(
            fingerprint=data.fingerprint, period=data.period,
            synthetic_usage=data.synthetic_usage, suppressed=_suppressed(data),
            live_status_devices=info.status.features if info.status else None)
        loaded = loader.build_layers(info, period=period, project=project)
        inset_layer = print_styles.print_styles(loaded, work, info, project)
        symbol_scale = LONDON_SYMBOL_SCALE if chosen is None else 1.0
        print_styles.size_devices_by_power(loaded.devices, symbol_scale)
        legend_layers = print_styles.legend_layers(project, symbol_scale)
        print_styles.usage_not_shown(loaded.devices, legend_layers[0], symbol_scale,
                                     in_legend=bool(result.suppressed))
        if loaded.status is not None:
            loaded.status.setRenderer(qgis_styling.status_layer_renderer(
                info.status.max_age_minutes, scale=symbol_scale))
            legend_layers += (print_styles.status_legend_layer(project, info.status),)
        result.prepare_s = time.perf_counter() - started
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
            written, result.pages = _export_london(project, loaded, legend_layers, data,
                                                   orientation, out_dir, stem, pdf_dpi, png_dpi,
                                                   tables)
        else:
            written, result.pages = _export_boroughs(project, loaded, inset_layer, legend_layers,
                                                     data, chosen, orientation, out_dir, stem,
                                                     combined, pdf_dpi, png_dpi, tables, progress)
        result.render_s = time.perf_counter() - render_start
        progress.report(100, f"Exported {len(written)} file(s) to {out_dir}")
        result.files = written + tables
        return result
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


def _london_extent(layer) -> QgsRectangle:
    extent = QgsRectangle(layer.extent())
    extent.scale(1.03)
    return extent


def _export_london(project, loaded, legend_layers, data, orientation, out_dir, stem, pdf_dpi,
                   png_dpi, tables) -> tuple[list[Path], int]:
    """The London page; returns the files written and the pages (one)."""
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
    return written, 1


def _export_boroughs(project, loaded, inset_layer, legend_layers, data, chosen, orientation,
                     out_dir, stem,
                     combined, pdf_dpi, png_dpi, tables, progress) -> tuple[list[Path], int]:
    """The ``chosen`` boroughs' pages; returns the files written and the pages."""
    from qgis.core import QgsExpression

    layout = load_template("borough", orientation, project)
    page = _Page(layout, template_items(layout), "borough", orientation)
    _fill_common(page, data, loaded, legend_layers)
    items = page.items
    main_map: QgsLayoutItemMap = items["main_map"]
    main_map.setAtlasDriven(True)
    main_map.setAtlasScalingMode(QgsLayoutItemMap.AtlasScalingMode.Auto)
    main_map.setAtlasMargin(BOROUGH_MARGIN)
    loaded.boroughs.setRenderer(print_styles.borough_renderer(focus=True))
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
            _set_label(items["notes"], "\n".join(committee.notes_lines(data, name)))
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
    return written, count


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


# --- filling a page ------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _suppressed(data: committee.CommitteeData) -> tuple:
    """Names of the boroughs whose usage figures the pages suppress."""
    boroughs = data.boroughs
    hidden = boroughs[disclosure.STATUS_COLUMN].astype(str).str.startswith(
        disclosure.SUPPRESSED)
    return tuple(boroughs.loc[hidden, "area_name"])


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
    _set_label(items["notes"], "\n".join(committee.notes_lines(data)))
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
    style_legend(legend)
    legend.setResizeToContents(True)
    legend.setBoxSpace(1.5)
    legend.setFrameEnabled(True)
    legend.setFrameStrokeColor(QColor(INK))
    legend.setFrameStrokeWidth(mm(0.25))
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


def _set_table(page: _Page, header: list[str], rows: list[list[str]]) -> None:
    """The page's summary table, whole and inside its frame: each column as wide as its
    widest text (long borough names included), the rest of the frame's width shared as
    the template's proportions; the text shrinks when the rows are taller than the frame
    or the texts wider than it."""
    from qgis.core import QgsLayoutTable

    table = page.items["summary_table"].multiFrame()
    _x, _y, width, height = GEOMETRY[(page.kind, page.orientation)]["summary_table"]
    weights = TABLE_COLUMNS_MM[(page.kind, page.orientation)]
    inner = table_inner_width(table, width, len(header))
    size = TABLE_TEXT_SIZES[page.kind]
    while True:
        needed = _set_table_text(table, header, rows, size)
        widths = fit_columns(needed, weights, inner)
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

    context, per_mm = text_metrics(table.layout())
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
