"""Let QGIS's task manager and the Qt event loop run until a condition holds (bounded)."""

import time

from qgis.PyQt.QtCore import QCoreApplication


def wait_for(condition, what: str, seconds: float = 600) -> None:
    """Process events until ``condition()`` is true; AssertionError naming ``what`` after
    ``seconds`` (generous: a loaded CI machine runs background tasks slowly)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        QCoreApplication.processEvents()
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {seconds:g} s")
