"""QGIS line features to the core's :class:`~..core.analysis.siting.network.StreetNetwork`.

One adapter for every front door that takes a street network as a QGIS line source: the
Processing algorithms (a feature source) and the candidate-sites dock (a
``QgsVectorLayerFeatureSource`` made on the main thread, read in a task). Lines are
transformed to EPSG:27700; the network itself is built by the core.
(``qgis/network.py`` is the HTTP transport, hence a module of its own.)
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsFeatureRequest,
    QgsGeometry,
)

from ..core.analysis.siting.network import (
    OSM_ATTRIBUTION,
    OSM_COPYRIGHT_URL,
    OSM_LICENCE,
    StreetNetwork,
    network_attribution,
)
from ..core.progress import SILENT, Progress

BNG = "EPSG:27700"


def street_network(source, crs: QgsCoordinateReferenceSystem,
                   transform_context: QgsCoordinateTransformContext, name: str = "",
                   progress: Progress = SILENT, count: Optional[int] = None,
                   attribution: str = "") -> StreetNetwork:
    """A :class:`StreetNetwork` (EPSG:27700) from the line features of ``source``
    (anything with ``getFeatures(request)``, e.g. a ``QgsVectorLayerFeatureSource`` or a
    Processing feature source) in ``crs``. ``progress`` reports the features read
    (``count``: how many there are) and raises ``Cancelled`` on a cancel. The caller
    checks ``n_edges``: a source with no lines gives an empty network."""
    transform = QgsCoordinateTransform(crs, QgsCoordinateReferenceSystem(BNG),
                                       transform_context)
    request = QgsFeatureRequest()
    request.setNoAttributes()
    xs: list = []
    ys: list = []
    offsets = [0]
    progress.report(0, "Reading the street network")
    for i, feature in enumerate(source.getFeatures(request)):
        if i % 500 == 0:
            progress.check_cancelled()
            if count and count > 0:
                progress.report(min(90.0, 90.0 * i / count))
        geometry = QgsGeometry(feature.geometry())
        if geometry.isNull() or geometry.isEmpty():
            continue
        geometry.transform(transform)
        parts = geometry.asMultiPolyline() if geometry.isMultipart() \
            else [geometry.asPolyline()]
        for part in parts:
            xs += [p.x() for p in part]
            ys += [p.y() for p in part]
            offsets.append(len(xs))
    progress.check_cancelled()
    progress.report(90, "Building the street network")
    network = StreetNetwork(np.array(xs, dtype=float), np.array(ys, dtype=float),
                            np.array(offsets), name=name, attribution=attribution)
    progress.report(100, "Street network ready")
    return network


__all__ = ["street_network", "network_attribution", "OSM_ATTRIBUTION", "OSM_LICENCE",
           "OSM_COPYRIGHT_URL"]
