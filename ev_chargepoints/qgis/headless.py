"""The one start-up of QGIS for headless front doors (CLI, demo, benchmarks, test
scripts): :func:`ensure_qgis` for the rest of the process, :func:`headless_qgis` for
one command. Inside QGIS (or under pytest-qgis) the running application is reused.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from ..core.errors import EvChargepointsError

_APP = None


def _start(gui: bool):
    """A new QgsApplication, initialised: offscreen when there is no display, at
    ``QGIS_PREFIX_PATH`` when that is set."""
    from qgis.core import QgsApplication

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if "QGIS_PREFIX_PATH" in os.environ:
        QgsApplication.setPrefixPath(os.environ["QGIS_PREFIX_PATH"], True)
    app = QgsApplication([], gui)
    app.initQgis()
    return app


def ensure_qgis(gui: bool = True):
    """Start QGIS once per process (it runs until the process ends)."""
    global _APP
    from qgis.core import QgsApplication

    existing = QgsApplication.instance()
    if existing is not None:
        return existing
    _APP = _start(gui)
    return _APP


@contextmanager
def headless_qgis(needed_for: str = "Exporting committee maps", gui: bool = False):
    """QGIS for the duration of a command: the running application, else one started
    here and exited after. Without QGIS's Python bindings, a one-line error saying
    what ``needed_for`` them."""
    try:
        from qgis.core import QgsApplication
    except ImportError as exc:
        raise EvChargepointsError(
            f"{needed_for} needs QGIS's Python bindings (python3-qgis); "
            f"they could not be imported: {exc}.") from None
    if QgsApplication.instance() is not None:
        yield QgsApplication.instance()
        return
    app = _start(gui)
    try:
        yield app
    finally:
        app.exitQgis()


def init_processing(gui: bool = True):
    """Processing with QGIS's own algorithms (native:, qgis:) available; returns QGIS."""
    app = ensure_qgis(gui)
    from qgis.analysis import QgsNativeAlgorithms
    from qgis.core import QgsApplication

    plugins = "/usr/share/qgis/python/plugins"
    if plugins not in sys.path and os.path.isdir(plugins):
        sys.path.append(plugins)
    from processing.core.Processing import Processing

    Processing.initialize()
    if QgsApplication.processingRegistry().providerById("native") is None:
        QgsApplication.processingRegistry().addProvider(QgsNativeAlgorithms())
    return app
