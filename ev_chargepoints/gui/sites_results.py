"""What the candidate-sites dock shows of the analyser's figures.

The results table (one row per site, numbers sorting as numbers), the
catchment layer: a memory layer in EPSG:27700 with one circle per site and
distance, coloured by score, and with a street network the walking catchment layer:
one polygon per site (the core's :meth:`~..core.analysis.siting.walking.WalkingCatchment.polygons`),
coloured by the same score style, its network's credit line in its metadata.
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
    QgsLayerMetadata,
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
TABLE_COLUMNS = ("site_id", "rank", "score", "devices_within", "devices_within_walk",
                 "connectors_within", "nearest_device_m", "residents_within",
                 "residents_within_walk", "new_coverage_residents",
                 "unique_new_coverage_residents", "occupancy_pct_within", "demand_gap_within",
                 "ward_name", "borough_name", "note")
RING_COLUMNS = ("devices_within", "new_coverage_residents", "score")
BUFFER_FIELDS = ("site_id", "distance_m", "devices_within", "connectors_within",
                 "nearest_device_m", "residents_within", "new_coverage_residents",
                 "unique_new_coverage_residents", "occupancy_pct_within", "score", "rank")
WALK_ROLE = "candidate_site_walking_catchments"
# the columns of site_files.catchment_table, then the site's score and rank
WALK_FIELDS = ("site_id", "walk_m", "devices_within_walk", "residents_within_walk",
               "reachable_network_m", "catchment_area_m2", "network", "score", "rank")
CATCHMENT_OPACITY = 0.6  # tools/make_styles.py writes the same into the .qml
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
    layer.setOpacity(CATCHMENT_OPACITY)
    QgsProject.instance().addMapLayer(layer)
    return layer


def _in_project(layer: Optional[QgsVectorLayer]) -> bool:
    if layer is None:
        return False
    try:
        return QgsProject.instance().mapLayer(layer.id()) is not None
    except RuntimeError:
        return False  # deleted with its project


def walking_layer(layer: Optional[QgsVectorLayer]) -> QgsVectorLayer:
    """``layer`` while it is in the project, else a new "Walking catchments" layer (one
    MultiPolygon per site, EPSG:27700, styled as resources/styles/
    candidate_site_catchments.qml) added to it."""
    if _in_project(layer):
        return layer
    fields = QgsFields()
    for name in WALK_FIELDS:
        kind = QMetaType.Type.QString if name in ("site_id", "network") else \
            QMetaType.Type.LongLong if name in ("rank", "devices_within_walk") \
            else QMetaType.Type.Double
        fields.append(QgsField(name, kind))
    layer = QgsVectorLayer("MultiPolygon?crs=EPSG:27700",
                           _translate("CandidateSitesDock", "Walking catchments"), "memory")
    layer.dataProvider().addAttributes(fields.toList())
    layer.updateFields()
    layer.setCustomProperty(ROLE_PROPERTY, WALK_ROLE)
    layer.setRenderer(score_renderer())
    layer.setOpacity(CATCHMENT_OPACITY)
    QgsProject.instance().addMapLayer(layer)
    return layer


def describe_walking(layer: QgsVectorLayer, network_name: str, walk_m: float,
                     attribution: str, licence: str = "", url: str = "") -> None:
    """The walking layer's metadata: what it is, on which network, and the network's
    credit line (rights and attribution, shown by QGIS and in print layouts)."""
    metadata = QgsLayerMetadata()
    metadata.setTitle(layer.name())
    abstract = _translate(
        "CandidateSitesDock",
        "Walking catchments of the candidate sites: what lies within {walk} m on foot "
        "along the streets of {network}, straight legs to and from the network "
        "included. Coloured by the site's score (straight-line criteria).").format(
        walk=f"{walk_m:g}", network=network_name)
    if attribution:
        abstract += f"\n\n{attribution}"
    metadata.setAbstract(abstract)
    if attribution:
        metadata.setRights([attribution])
    if licence:
        metadata.setLicenses([licence])
    layer.setMetadata(metadata)
    server = layer.serverProperties()  # QgsMapLayer.setAttribution* moved here in QGIS 3.38
    server.setAttribution(attribution)
    server.setAttributionUrl(url)


def fill_walking(layer: QgsVectorLayer, wide: pd.DataFrame, shapes: dict) -> None:
    """Replace the features of the walking ``layer``: one polygon per site of the
    results table ``wide`` whose walking catchment is in ``shapes`` (site_id -> the
    record of :func:`site_files.catchment_table` with its ``wkb``)."""
    provider = layer.dataProvider()
    provider.truncate()
    fields = layer.fields()
    features = []
    for row in wide.itertuples(index=False):
        record = row._asdict()
        shape = shapes.get(str(record["site_id"]))
        if shape is None or shape.get("wkb") is None:
            continue
        values = {**shape, **{k: record.get(k) for k in ("score", "rank",
                                                          "devices_within_walk",
                                                          "residents_within_walk")}}
        feature = QgsFeature(fields)
        feature.setAttributes([_plain(values.get(name)) for name in WALK_FIELDS])
        geometry = QgsGeometry()
        geometry.fromWkb(shape["wkb"])
        feature.setGeometry(geometry)
        features.append(feature)
    provider.addFeatures(features)
    layer.updateExtents()
    layer.triggerRepaint()


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
