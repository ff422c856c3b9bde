"""Progress and cancel, the core's side of QgsTask/QgsProcessingFeedback.

Long core operations take a ``Progress`` and call ``report`` and
``check_cancelled``; adapters forward them to a task or a Processing feedback.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

from .errors import EvChargepointsError

log = logging.getLogger(__name__)


class Cancelled(EvChargepointsError):
    """The user cancelled the operation; nothing was changed."""

    def __init__(self, message: str = "Cancelled by the user; nothing was changed."):
        super().__init__(message)


class Progress:
    """Fraction done (0-100) plus a message; cancellation polled by the worker."""

    def __init__(self, on_progress: Optional[Callable[[float, str], None]] = None,
                 is_cancelled: Optional[Callable[[], bool]] = None):
        self._on_progress = on_progress
        self._is_cancelled = is_cancelled

    def report(self, percent: float, message: str = "") -> None:
        """Log ``message`` (once, with the percentage: ``record.percent``) and pass it on."""
        percent = max(0.0, min(100.0, percent))
        if message:
            log.info(message, extra={"percent": percent})
        if self._on_progress:
            self._on_progress(percent, message)

    def cancelled(self) -> bool:
        return bool(self._is_cancelled and self._is_cancelled())

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise Cancelled()

    def scaled(self, start: float, end: float) -> Progress:
        """A child progress mapping its 0-100 onto [start, end] of this one."""
        return _Step(self, start, end)


class _Step(Progress):
    """A part of a larger job: its reports go to the job's progress, which logs each
    message once (a step of a step of a step used to log it at every level)."""

    def __init__(self, parent: Progress, start: float, end: float):
        super().__init__(None, parent._is_cancelled)
        self._parent, self._start, self._end = parent, start, end

    def report(self, percent: float, message: str = "") -> None:
        percent = max(0.0, min(100.0, percent))
        self._parent.report(self._start + (self._end - self._start) * percent / 100.0, message)


SILENT = Progress()
