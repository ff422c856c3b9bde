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


def wait_idle(dock, timeout: float = 300) -> None:
    """Let the task manager and the event loop run until ``dock`` (``is_busy()``) and the
    task manager have no task running; the test fails after ``timeout`` seconds."""
    import pytest
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    QCoreApplication.processEvents()
    while dock.is_busy() or QgsApplication.taskManager().countActiveTasks():
        if time.monotonic() > deadline:
            pytest.fail(f"the dock was still busy after {timeout} s")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)
    QCoreApplication.processEvents()
