"""A QgsApplication for headless front doors (CLI, demo, benchmarks).

Inside QGIS (or under pytest-qgis) the running application is reused.
"""

from __future__ import annotations

import os
import sys

_APP = None


def ensure_qgis(gui: bool = True):
    """Start QGIS once per process (offscreen when there is no display)."""
    global _APP
    from qgis.core import QgsApplication

    existing = QgsApplication.instance()
    if existing is not None:
        return existing
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _APP = QgsApplication([], gui)
    _APP.initQgis()
    return _APP


def init_processing():
    """Processing with QGIS's own algorithms (native:, qgis:) available."""
    ensure_qgis()
    from qgis.analysis import QgsNativeAlgorithms
    from qgis.core import QgsApplication

    plugins = "/usr/share/qgis/python/plugins"
    if plugins not in sys.path and os.path.isdir(plugins):
        sys.path.append(plugins)
    from processing.core.Processing import Processing

    Processing.initialize()
    if QgsApplication.processingRegistry().providerById("native") is None:
        QgsApplication.processingRegistry().addProvider(QgsNativeAlgorithms())
