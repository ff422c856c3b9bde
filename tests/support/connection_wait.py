"""Wait (bounded) for a SettingsDialog connection test to report back."""

from qgis.PyQt.QtCore import QEventLoop, QTimer

WAIT_MS = 30_000  # bound on any wait for a connection test


def run_check(dlg, start, wait_ms: int = WAIT_MS):
    """Start a connection test and wait for its result: (target, ok, message)."""
    loop = QEventLoop()
    results = []

    def got(*args):
        results.append(args)
        loop.quit()

    dlg.connectionChecked.connect(got)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(wait_ms)
    try:
        start()
        if not results:
            loop.exec()
    finally:
        timer.stop()
        dlg.connectionChecked.disconnect(got)
    assert results, "the connection test did not report back"
    return results[0]
