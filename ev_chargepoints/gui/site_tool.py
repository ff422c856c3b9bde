"""Map tool: click to add a candidate site, press on a site and drag to move it.

A click (press and release within a few pixels) always adds a site, even next
to another one; only a drag that starts on a site moves it.

The tool writes to a point layer: the scratch memory layer "Candidate sites"
(EPSG:27700, see :func:`scratch_layer`) or any point layer the user chose.
An editable layer in an edit session is changed through its edit buffer (undo
works, the user saves); otherwise the change goes straight to the provider.
After each change the tool emits ``siteAdded(fid)`` or ``siteMoved(fid)``; the
candidate-sites dock listens and updates its figures.
"""

from __future__ import annotations

from typing import Optional

from qgis.core import (
    Qgis,
    QgsFeature,
    QgsFeatureRequest,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.gui import QgsMapToolEmitPoint, QgsVertexMarker
from qgis.PyQt.QtCore import QCoreApplication, pyqtSignal
from qgis.PyQt.QtGui import QColor

from ..qgis.styling import candidate_site_renderer
from .slots import guarded_slot

SCRATCH_ROLE = "candidate_sites"
ROLE_PROPERTY = "ev_chargepoints/role"
DRAG_PIXELS = 3


def scratch_layer(project: Optional[QgsProject] = None) -> QgsVectorLayer:
    """The project's "Candidate sites" memory layer (EPSG:27700), created if missing."""
    project = project or QgsProject.instance()
    for layer in project.mapLayers().values():
        if layer.customProperty(ROLE_PROPERTY) == SCRATCH_ROLE and layer.isValid():
            return layer
    layer = QgsVectorLayer("Point?crs=EPSG:27700&field=site_id:string&field=note:string",
                           QCoreApplication.translate("SiteMapTool", "Candidate sites"),
                           "memory")
    layer.setCustomProperty(ROLE_PROPERTY, SCRATCH_ROLE)
    layer.setRenderer(candidate_site_renderer())   # resources/styles/candidate_sites.qml
    project.addMapLayer(layer)
    return layer


class SiteToolError(Exception):
    """Something the user can fix (no layer chosen, a read-only layer ...)."""


# the tool's Qt virtual methods never raise: what went wrong goes out as ``failed``
guarded = guarded_slot("Candidate sites: {slot} failed", expected=(SiteToolError,))


class SiteMapTool(QgsMapToolEmitPoint):
    """Click: add a site. Press on a site, drag, release: move it."""

    siteAdded = pyqtSignal(int)
    siteMoved = pyqtSignal(int)
    failed = pyqtSignal(str)

    def __init__(self, canvas, layer: Optional[QgsVectorLayer] = None):
        super().__init__(canvas)
        self._layer = layer
        self._moving: Optional[int] = None
        self._press_pixel = None
        self._marker: Optional[QgsVertexMarker] = None

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("SiteMapTool", text)

    def slot_failed(self, text: str) -> None:
        """How a failure in the tool is shown: the dock listens to ``failed``."""
        self.failed.emit(text)

    def layer(self) -> Optional[QgsVectorLayer]:
        return self._layer

    def setLayer(self, layer: Optional[QgsVectorLayer]) -> None:
        self._layer = layer
        self._moving = None

    # --- Qt/QGIS events ------------------------------------------------------------

    @guarded
    def canvasPressEvent(self, event) -> None:
        self._press_pixel = event.pixelPoint()
        self._moving = self.site_near(event.mapPoint())
        if self._moving is not None:
            self._show_marker(event.mapPoint())

    @guarded
    def canvasMoveEvent(self, event) -> None:
        if self._moving is not None and self._marker is not None:
            self._marker.setCenter(event.mapPoint())

    @guarded
    def canvasReleaseEvent(self, event) -> None:
        moving, self._moving = self._moving, None
        self._hide_marker()
        press = self._press_pixel or event.pixelPoint()
        self._press_pixel = None
        dragged = (abs(event.pixelPoint().x() - press.x())
                   + abs(event.pixelPoint().y() - press.y())) > DRAG_PIXELS
        if moving is not None and dragged:
            self.move_site(moving, event.mapPoint())
        else:
            self.add_site(event.mapPoint())

    def deactivate(self) -> None:
        self._hide_marker()
        self._moving = None
        super().deactivate()

    # --- editing (map coordinates in, layer coordinates stored) -------------------------

    def _target(self) -> QgsVectorLayer:
        layer = self._layer
        if layer is None or not layer.isValid():
            raise SiteToolError(self.tr("No candidate-sites layer is chosen."))
        if layer.geometryType() != Qgis.GeometryType.Point:
            raise SiteToolError(self.tr("The candidate-sites layer must be a point layer."))
        return layer

    def _geometry(self, layer, map_point: QgsPointXY) -> QgsGeometry:
        point = self.toLayerCoordinates(layer, map_point)
        geometry = QgsGeometry.fromPointXY(point)
        if QgsWkbTypes.isMultiType(layer.wkbType()):
            geometry.convertToMultiType()
        return geometry

    def add_site(self, map_point: QgsPointXY) -> Optional[int]:
        """Add a site at a map-canvas point; returns its feature id."""
        layer = self._target()
        feature = QgsFeature(layer.fields())
        feature.setGeometry(self._geometry(layer, map_point))
        index = layer.fields().indexOf("site_id")
        if index >= 0 and layer.customProperty(ROLE_PROPERTY) == SCRATCH_ROLE:
            feature.setAttribute(index, self._next_site_id(layer, index))
        if layer.isEditable():
            if not layer.addFeature(feature):
                raise SiteToolError(self.tr("The layer refused the new site."))
            fid = feature.id()
        else:
            provider = layer.dataProvider()
            if not provider.capabilities() & Qgis.VectorProviderCapability.AddFeatures:
                raise SiteToolError(self.tr("The layer cannot take new features; start editing it "
                                      "or choose another layer."))
            ok, added = provider.addFeatures([feature])
            if not ok or not added:
                raise SiteToolError(self.tr("The layer refused the new site."))
            fid = added[0].id()
            layer.updateExtents()
        layer.triggerRepaint()
        self.siteAdded.emit(int(fid))
        return int(fid)

    def move_site(self, fid: int, map_point: QgsPointXY) -> None:
        """Move site ``fid`` to a map-canvas point."""
        layer = self._target()
        geometry = self._geometry(layer, map_point)
        if layer.isEditable():
            if not layer.changeGeometry(fid, geometry):
                raise SiteToolError(self.tr("The layer refused to move the site."))
        else:
            provider = layer.dataProvider()
            if not provider.capabilities() & Qgis.VectorProviderCapability.ChangeGeometries:
                raise SiteToolError(self.tr("The layer cannot move features; start editing it or "
                                      "choose another layer."))
            if not provider.changeGeometryValues({fid: geometry}):
                raise SiteToolError(self.tr("The layer refused to move the site."))
            layer.updateExtents()
        layer.triggerRepaint()
        self.siteMoved.emit(int(fid))

    def site_near(self, map_point: QgsPointXY) -> Optional[int]:
        """Feature id of the site nearest a map point within the search radius."""
        layer = self._layer
        if layer is None or not layer.isValid():
            return None
        radius = self.searchRadiusMU(self.canvas())
        box = QgsRectangle(map_point.x() - radius, map_point.y() - radius,
                           map_point.x() + radius, map_point.y() + radius)
        request = QgsFeatureRequest(self.toLayerCoordinates(layer, box))
        request.setFlags(Qgis.FeatureRequestFlag.ExactIntersect)
        request.setNoAttributes()
        target = QgsGeometry.fromPointXY(self.toLayerCoordinates(layer, map_point))
        best, best_d = None, None
        for feature in layer.getFeatures(request):
            d = feature.geometry().distance(target)
            if best_d is None or d < best_d:
                best, best_d = feature.id(), d
        return best

    @staticmethod
    def _next_site_id(layer, index) -> str:
        taken = {str(v) for v in layer.uniqueValues(index)}
        number = layer.featureCount() + 1
        while f"site-{number}" in taken:
            number += 1
        return f"site-{number}"

    # --- feedback -----------------------------------------------------------------

    def _show_marker(self, point) -> None:
        self._hide_marker()
        self._marker = QgsVertexMarker(self.canvas())
        self._marker.setIconType(QgsVertexMarker.IconType.ICON_CIRCLE)
        self._marker.setColor(QColor(220, 30, 30))
        self._marker.setIconSize(14)
        self._marker.setPenWidth(2)
        self._marker.setCenter(point)

    def _hide_marker(self) -> None:
        if self._marker is not None:
            self.canvas().scene().removeItem(self._marker)
            self._marker = None


__all__ = ["SiteMapTool", "SiteToolError", "scratch_layer", "SCRATCH_ROLE"]
