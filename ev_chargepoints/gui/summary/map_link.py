"""The area summary's link to the map: selection goes both ways.

Choosing rows selects (and zooms to) the areas and their devices on the map's
layers, found through their ``ev_chargepoints/role`` custom property; selecting
areas on the map selects the rows.
"""

from __future__ import annotations

import functools
from typing import Optional

import pandas as pd
from qgis.core import (
    Qgis,
    QgsExpression,
    QgsFeatureRequest,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QItemSelection, QItemSelectionModel

from ...qgis.loader import ROLE_PROPERTY, STORE_PROPERTY
from ..slots import disconnect_quietly
from . import summary_slot
from .worker import FILTER_KEYS, UNKNOWN

LEVEL_ROLE = {"borough": "boroughs", "ward": "wards"}


def area_expression(codes) -> str:
    values = ", ".join(QgsExpression.quotedValue(str(c)) for c in codes)
    return f"{QgsExpression.quotedColumnRef('area_code')} IN ({values})"


def device_expression(places, filters: dict, level: str) -> str:
    """Devices in ``places`` passing ``filters``; values are always quoted, never pasted.

    ``places``: borough names (level "borough") or (ward name, borough name) pairs.
    Filters compare like the summariser: trimmed, case-insensitive, null = "unknown".
    """
    ref, quote = QgsExpression.quotedColumnRef, QgsExpression.quotedValue
    if level == "borough":
        where = f"{ref('borough_name')} IN ({', '.join(quote(str(n)) for n in places)})"
    else:
        where = " OR ".join(f"({ref('ward_name')} = {quote(str(w))} AND "
                            f"{ref('borough_name')} = {quote(str(b))})" for w, b in places)
    clauses = [f"({where})"]
    for key in FILTER_KEYS:
        wanted = [str(v).strip().lower() for v in (filters.get(key) or ())]
        if wanted:
            clauses.append(f"lower(trim(coalesce({ref(key)}, {quote(UNKNOWN)}))) IN "
                           f"({', '.join(quote(v) for v in wanted)})")
    return " AND ".join(clauses)


class MapLinkMixin:
    """The part of :class:`.dock.AreaSummaryDock` that finds, watches and selects on the
    map's layers (the dock's table, level, filters and selection drive it)."""

    def _layer(self, role: str) -> Optional[QgsVectorLayer]:
        project = getattr(self, "_project", None) or QgsProject.instance()
        preferred = self._explicit_store
        found = None
        for layer in project.mapLayers().values():
            if layer.customProperty(ROLE_PROPERTY) != role:
                continue
            if preferred is None or str(layer.customProperty(STORE_PROPERTY)) == preferred:
                return layer
            found = found or layer
        return found if preferred is None else None

    def _watch_layers(self) -> None:
        for role in LEVEL_ROLE.values():
            layer = self._layer(role)
            if layer is None or layer.id() in self._watched:
                continue
            slot = functools.partial(self._on_map_selection, role)
            layer.selectionChanged.connect(slot)
            self._watched[layer.id()] = (layer, slot)

    def _unwatch(self, layer_id: str) -> None:
        layer, slot = self._watched.pop(layer_id, (None, None))
        if layer is not None and not sip.isdeleted(layer):
            disconnect_quietly((layer.selectionChanged, slot))

    @summary_slot
    def _on_layers_added(self, layers) -> None:
        if not any(layer.customProperty(ROLE_PROPERTY) for layer in layers):
            return
        self._watch_layers()
        store = self.store_path()
        if store and (store != self._store_path or self.prepared is None) \
                and self.task is None:
            self.refresh()

    @summary_slot
    def _on_layers_removed(self, layer_ids) -> None:
        for layer_id in layer_ids:
            self._unwatch(layer_id)

    @summary_slot
    def _on_map_selection(self, role: str, *_args) -> None:
        if self._sync_depth or role != LEVEL_ROLE[self.level]:
            return
        layer = self._layer(role)
        if layer is None:
            return
        request = QgsFeatureRequest().setNoAttributes()
        request.setSubsetOfAttributes(["area_code"], layer.fields())
        request.setFlags(Qgis.FeatureRequestFlag.NoGeometry)
        codes = sorted({str(f["area_code"]) for f in layer.getSelectedFeatures(request)})
        shown = set(self.model.frame().get("area_code", pd.Series(dtype=object)))
        self.selected = [c for c in codes if c in shown]
        with self._syncing():
            self._select_rows(self.selected)
            devices = self._layer("devices")
            if devices is not None:
                places = self._places(self.selected)
                if places:
                    devices.selectByExpression(device_expression(places, self.filters,
                                                                 self.level))
                else:
                    devices.removeSelection()
        self._update_header()
        self._update_chart()
        self.areasSelected.emit(self.level, list(self.selected))

    @summary_slot
    def _on_rows_selected(self) -> None:
        if self._sync_depth:
            return
        self.selected = self._codes_of_selected_rows()
        self._after_selection(zoom=True)

    def select_areas(self, codes, zoom: bool = True) -> None:
        """Select these areas of the current level in the table and on the map."""
        shown = set(self.model.frame().get("area_code", pd.Series(dtype=object)))
        self.selected = [str(c) for c in codes if str(c) in shown]
        with self._syncing():
            self._select_rows(self.selected)
        self._after_selection(zoom)

    def _after_selection(self, zoom: bool) -> None:
        self._update_header()
        self._select_on_map(self.selected, zoom=zoom)
        self._update_chart()
        self.areasSelected.emit(self.level, list(self.selected))

    def _select_rows(self, codes) -> None:
        wanted = set(codes)
        selection = QItemSelection()
        first = None
        last_column = max(0, self.model.columnCount() - 1)
        for row in range(self.model.rowCount()):
            if self.model.code_at(row) in wanted:
                left = self.proxy.mapFromSource(self.model.index(row, 0))
                right = self.proxy.mapFromSource(self.model.index(row, last_column))
                selection.select(left, right)
                if first is None or left.row() < first.row():
                    first = left
        model = self.table_view.selectionModel()
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
                     | QItemSelectionModel.SelectionFlag.Rows)
        if first is not None:
            self.table_view.scrollTo(first)

    def _codes_of_selected_rows(self) -> list:
        rows = {self.proxy.mapToSource(i).row()
                for i in self.table_view.selectionModel().selectedRows()}
        return [self.model.code_at(r) for r in sorted(rows)]

    def _places(self, codes) -> list:
        table = self.model.frame()
        rows = table[table["area_code"].isin(list(codes))]
        if self.level == "borough":
            return [str(n) for n in rows["area_name"]]
        borough_name = self._borough_name()
        return [(str(w), str(borough_name)) for w in rows["area_name"]]

    def _select_on_map(self, codes, zoom: bool) -> None:
        area_layer = self._layer(LEVEL_ROLE[self.level])
        devices = self._layer("devices")
        with self._syncing():
            if area_layer is not None:
                if codes:
                    area_layer.selectByExpression(area_expression(codes))
                else:
                    area_layer.removeSelection()
            if devices is not None:
                places = self._places(codes) if codes else []
                if places:
                    devices.selectByExpression(device_expression(places, self.filters,
                                                                 self.level))
                else:
                    devices.removeSelection()
        if zoom and codes:
            self._zoom_to_selection()

    def _clear_map_selection(self, role: str) -> None:
        layer = self._layer(role)
        if layer is not None:
            with self._syncing():
                layer.removeSelection()

    def _zoom_to(self, layer: QgsVectorLayer, extent: QgsRectangle) -> None:
        canvas = self.iface.mapCanvas() if self.iface is not None else None
        if canvas is None or extent.isNull():
            return
        out = canvas.mapSettings().layerExtentToOutputExtent(layer, extent)
        out.scale(1.1)
        canvas.setExtent(out)
        canvas.refresh()

    def _zoom_to_selection(self) -> None:
        layer = self._layer(LEVEL_ROLE[self.level])
        if layer is not None and layer.selectedFeatureCount():
            self._zoom_to(layer, layer.boundingBoxOfSelected())

    def _zoom_to_borough(self) -> None:
        layer = self._layer("wards")
        codes = list(self.model.frame().get("area_code", []))
        if layer is None or not codes:
            return
        extent = QgsRectangle()
        extent.setNull()
        request = QgsFeatureRequest().setFilterExpression(area_expression(codes)) \
            .setNoAttributes()
        for feature in layer.getFeatures(request):
            if feature.hasGeometry():
                extent.combineExtentWith(feature.geometry().boundingBox())
        if not extent.isNull():
            self._zoom_to(layer, extent)
