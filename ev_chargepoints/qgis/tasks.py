"""Run core work in a ``QgsTask``: never on the main thread, always cancellable.

The worker gets a core ``Progress`` wired to the task's progress bar and cancel
button, and a ``QgsFeedback`` that ``QgsTransport`` passes to the request in
flight, so cancel stops a download. Results and errors come back on the main
thread through ``on_done``/``on_error``; layers are created there, never in
``run``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from qgis.core import QgsApplication, QgsFeedback, QgsTask
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QTimer

from ..core.errors import EvChargepointsError
from ..core.progress import Cancelled, Progress

log = logging.getLogger(__name__)

Work = Callable[[Progress, QgsFeedback], Any]

_RUNNING: set = set()  # Python references to running tasks, so none is garbage-collected
LOST_CHECK_MS = 250  # how often a task cancelled while queued is checked on (see _watch_queued)


class CoreTask(QgsTask):
    def __init__(self, description: str, work: Work,
                 on_done: Optional[Callable[[Any], None]] = None,
                 on_error: Optional[Callable[[str], None]] = None):
        super().__init__(description, QgsTask.Flag.CanCancel)
        self._work = work
        self._on_done = on_done
        self._on_error = on_error
        self.feedback = QgsFeedback()
        self.result = None
        self.error_message: Optional[str] = None
        self.was_cancelled = False
        self._cancel_asked = False  # cancelled before it started (see cancel)
        self._watching = False  # a cancelled queued task is watched (see _watch_queued)

    def cancelled(self) -> bool:
        """Whether the user (or the plugin) cancelled the task, started or not."""
        return self._cancel_asked or self.isCanceled()

    def run(self) -> bool:
        if self._cancel_asked:  # cancelled while queued: do nothing
            self.was_cancelled = True
            self.error_message = "Cancelled by the user; nothing was changed."
            return False
        progress = Progress(lambda percent, _msg: self.setProgress(percent), self.cancelled)
        try:
            self.result = self._work(progress, self.feedback)
            return not self.cancelled()
        except Cancelled as exc:
            self.was_cancelled = True
            self.error_message = exc.message
        except EvChargepointsError as exc:
            if self.cancelled():
                self.was_cancelled = True
            self.error_message = exc.message
        except Exception as exc:  # noqa: BLE001 - reported on the main thread, never raised here
            log.exception("Unexpected error in task '%s'", self.description())
            self.error_message = (f"Unexpected error: {type(exc).__name__}: {exc}. "
                                  "Details are in the EV Chargepoints message log.")
        return False

    def cancel(self) -> None:
        if sip.isdeleted(self):  # ended and deleted by the task manager: nothing to stop
            return
        # A task still queued is not cancelled through QGIS: QgsTaskManager deletes a
        # task cancelled while queued, and when the thread pool is taking it at that
        # moment QgsTask::start() runs on the deleted task (a crash, seen with two docks
        # loading on two cores). It runs, finds the flag, and ends at once instead.
        self._cancel_asked = True
        if self.status() in (QgsTask.TaskStatus.Queued, QgsTask.TaskStatus.OnHold):
            self._watch_queued()
        else:
            # the task's flag before the feedback's: work that stops on the feedback and
            # returns must find the task cancelled (else run() may report it completed)
            super().cancel()
        self.feedback.cancel()

    def _watch_queued(self) -> None:
        """End this cancelled task through QGIS if the thread pool never starts it.

        Now and then QGIS 3.40 loses a queued task: it stays queued while the task
        manager's pool has idle threads (about 1 in 100 runs of sixty early cancels
        under load), so it would never end. Once the pool has had a free thread on two
        checks in a row and the task is still queued, nothing will start it, and the
        cancel that would race the pool is safe."""
        if self._watching:
            return
        self._watching = True
        idle_checks = 0

        def check():
            nonlocal idle_checks
            if sip.isdeleted(self) or self.status() != QgsTask.TaskStatus.Queued:
                return
            pool = QgsApplication.taskManager().threadPool()
            idle_checks = idle_checks + 1 if pool.activeThreadCount() < pool.maxThreadCount() \
                else 0
            if idle_checks >= 2:
                log.info("Task '%s' was never started by the QGIS thread pool; ended.",
                         self.description())
                QgsTask.cancel(self)
                return
            QTimer.singleShot(LOST_CHECK_MS, check)

        QTimer.singleShot(LOST_CHECK_MS, check)

    def finished(self, ok: bool) -> None:
        _RUNNING.discard(self)
        if self.cancelled():  # the request may have ended before the cancel flag was set
            self.was_cancelled = True
        if ok:
            if self._on_done:
                self._on_done(self.result)
            return
        if self.cancelled() and not self.error_message:
            self.was_cancelled = True
            self.error_message = "Cancelled by the user; nothing was changed."
        if self._on_error:
            self._on_error(self.error_message or "The task failed.")


def start(task: CoreTask) -> CoreTask:
    """Hand ``task`` to the QGIS task manager and keep a reference until it ends."""
    _RUNNING.add(task)
    QgsApplication.taskManager().addTask(task)
    return task
