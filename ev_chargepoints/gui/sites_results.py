"""What the candidate-sites dock shows of the analyser's figures.

The results table (one row per site, numbers sorting as numbers) and the
catchment layer: a memory layer in EPSG:27700 with one circle per site and
distance, coloured by score.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pandas as pd
from qgis.core import (
    Qgis,
    QgsFeature,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsGraduatedSymbolRenderer,
    QgsPointXY,
    QgsProject,
    QgsRendererRange,
    QgsSymbol,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QCoreApplication, QMetaType, Qt
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QTableWidget, QTableWidgetItem

from ..core.analysis import site_files
from ..qgis.loader import ROLE_PROPERTY

BUFFER_ROLE = "candidate_site_catchments"
BUFFER_SEGMENTS = 36
TABLE_COLUMNS = ("site_id", "rank", "score", "devices_within", "connectors_within",
                 "nearest_device_m", "residents_within", "new_coverage_residents",
                 "unique_new_coverage_residents", "occupancy_pct_within", "ward_name",
                 "borough_name", "note")
RING_COLUMNS = ("devices_within", "new_coverage_residents", "score")
BUFFER_FIELDS = ("site_id", "distance_m", "devices_within", "connectors_within",
                 "nearest_device_m", "residents_within", "new_coverage_residents",
                 "unique_new_coverage_residents", "occupancy_pct_within", "score", "rank")
SCORE_BANDS = ((0, 25, "#f1eef6"), (25, 50, "#bdc9e1"), (50, 75, "#74a9cf"),
               (75, 100.0001, "#0570b0"))

# The texts are the dock's (translation context "CandidateSitesDock"); pylupdate reads
# _translate("Context", "text") as pyuic writes it.
_translate = QCoreApplication.translate


class NumberItem(QTableWidgetItem):
    """A table cell showing formatted text and sorting by its number."""

    def __init__(self, value):
        number = None if value is None or (isinstance(value, float) and math.isnan(value)) \
            else float(value)
        if number is None:
            text = ""
        elif float(number).is_integer():
            text = f"{number:,.0f}"
        else:
            text = f"{number:,.1f}"
        super().__init__(text)
        self.number = -math.inf if number is None else number
        self.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))

    def __lt__(self, other):
        if isinstance(other, NumberItem):
            return self.number < other.number
        return super().__lt__(other)


def fill_table(table: QTableWidget, frame: pd.DataFrame, distances, shown: list) -> list:
    """Show ``frame`` (one row per site) in ``table``; the user's sort order stays while
    the columns are those ``shown`` before. Returns the columns now shown."""
    columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    for d in distances[1:]:
        columns += [c + site_files.ring_suffix(d) for c in RING_COLUMNS]
    header = table.horizontalHeader()
    sort_column, order = header.sortIndicatorSection(), header.sortIndicatorOrder()
    new_columns = columns != shown
    table.setUpdatesEnabled(False)
    table.setSortingEnabled(False)
    try:
        if new_columns:
            definitions = site_files.wide_definitions(distances)
            table.setRowCount(0)
            table.setColumnCount(len(columns))
            for j, column in enumerate(columns):
                item = QTableWidgetItem(column)
                item.setToolTip(definitions.get(column, ""))
                table.setHorizontalHeaderItem(j, item)
            sort_column, order = columns.index("rank"), Qt.SortOrder.AscendingOrder
        table.setRowCount(len(frame))
        for j, column in enumerate(columns):
            numeric = frame[column].dtype.kind in "iuf"
            for i, value in enumerate(frame[column].to_numpy()):
                item = NumberItem(value) if numeric else QTableWidgetItem(
                    "" if value is None or value != value else str(value))
                table.setItem(i, j, item)
    finally:
        table.setSortingEnabled(True)
        table.sortByColumn(sort_column if 0 <= sort_column < len(columns)
                           else columns.index("rank"), order)
        table.setUpdatesEnabled(True)
    if new_columns or len(frame) <= 20:
        table.resizeColumnsToContents()
    return columns


def table_frame(table: QTableWidget) -> pd.DataFrame:
    """What ``table`` shows, as text, in its current row order."""
    headers = [table.horizontalHeaderItem(j).text() for j in range(table.columnCount())]
    rows = [[table.item(i, j).text() for j in range(table.columnCount())]
            for i in range(table.rowCount())]
    return pd.DataFrame(rows, columns=headers)


def catchment_layer(layer: Optional[QgsVectorLayer]) -> QgsVectorLayer:
    """``layer`` while it is in the project, else a new catchment layer added to it."""
    if layer is not None:
        try:
            if QgsProject.instance().mapLayer(layer.id()) is not None:
                return layer
        except RuntimeError:
            pass  # deleted with its project
    fields = QgsFields()
    for name in BUFFER_FIELDS:
        kind = QMetaType.Type.QString if name == "site_id" else \
            QMetaType.Type.LongLong if name in ("rank", "devices_within", "connectors_within") \
            else QMetaType.Type.Double
        fields.append(QgsField(name, kind))
    layer = QgsVectorLayer("Polygon?crs=EPSG:27700",
                           _translate("CandidateSitesDock", "Candidate site catchments"),
                           "memory")
    layer.dataProvider().addAttributes(fields.toList())
    layer.updateFields()
    layer.setCustomProperty(ROLE_PROPERTY, BUFFER_ROLE)
    layer.setRenderer(score_renderer())
    layer.setOpacity(0.6)
    QgsProject.instance().addMapLayer(layer)
    return layer


def score_renderer() -> QgsGraduatedSymbolRenderer:
    ranges = []
    for low, high, colour in SCORE_BANDS:
        symbol = QgsSymbol.defaultSymbol(Qgis.GeometryType.Polygon)
        symbol.setColor(QColor(colour))
        label = _translate("CandidateSitesDock", "score {low:g}–{high:g}").format(
            low=low, high=min(high, 100))
        ranges.append(QgsRendererRange(low, high, symbol, label))
    return QgsGraduatedSymbolRenderer("score", ranges)


def fill_catchments(layer: QgsVectorLayer, long: pd.DataFrame) -> None:
    """Replace the features of the catchment ``layer``: one circle per site and distance
    of the analyser's long table."""
    provider = layer.dataProvider()
    provider.truncate()
    fields = layer.fields()
    features = []
    for row in long.itertuples(index=False):
        record = row._asdict()
        x, y = record["x"], record["y"]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        feature = QgsFeature(fields)
        feature.setAttributes([_plain(record.get(name)) for name in BUFFER_FIELDS])
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(x), float(y)))
                            .buffer(float(record["distance_m"]), BUFFER_SEGMENTS))
        features.append(feature)
    provider.addFeatures(features)
    layer.updateExtents()
    layer.triggerRepaint()


def _plain(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
