"""Render map layers to an image file (demo, README pictures, checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsRectangle
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def render_png(layers: Sequence, path, extent: Optional[QgsRectangle] = None,
               size=(1600, 1200), dpi: int = 96) -> Path:
    """Render ``layers`` (top first) to ``path``; returns the path."""
    settings = QgsMapSettings()
    settings.setLayers(list(layers))
    settings.setDestinationCrs(layers[0].crs())
    settings.setOutputSize(QSize(*size))
    settings.setOutputDpi(dpi)
    settings.setBackgroundColor(QColor("white"))
    if extent is None:
        extent = QgsRectangle()
        for layer in layers:
            extent.combineExtentWith(layer.extent())
        extent.scale(1.03)
    settings.setExtent(extent)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    job.renderedImage().save(str(path))
    return path
