"""Watch operators' live OCPI status from QGIS, in a background task.

Each configured feed is polled at its own interval with ``Workspace.poll_ocpi_status``
(the same code as ``python -m ev_chargepoints watch``) until the task is cancelled.
Tokens are read from the authentication database at the start of the task.
After each round of polls (stored or failed: status ages either way) the task writes
a new live status GeoPackage and hands it to the main thread through
:attr:`WatchTask.statusWritten`, where the "Live status" layer switches to it
(:func:`.loader.show_live_status`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Callable, Optional, Sequence

from qgis.PyQt.QtCore import pyqtSignal

from ..core.config import OcpiFeed
from ..core.errors import EvChargepointsError, StoreError
from ..core.outputs import styling
from ..core.store.history_parts import MISSING_DUCKDB
from ..core.workspace import Workspace
from .tasks import CoreTask, start

log = logging.getLogger(__name__)


class WatchTask(CoreTask):
    """The watching task; ``statusWritten`` carries each new ``StatusLayerInfo`` to the
    main thread (a queued connection: the task runs in a worker thread)."""

    statusWritten = pyqtSignal(object)


def watch_feeds(store, feeds: Sequence[OcpiFeed], tokens: dict, progress, feedback,
                max_polls: Optional[int] = None, clock=time.monotonic,
                sleep=time.sleep, on_status: Optional[Callable[[object], None]] = None,
                status_max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES
                ) -> int:
    """Worker loop; returns the number of successful polls when cancelled or done.

    ``store``: a GeoPackage path or a ``StoreTarget`` resolved on the main thread.
    ``on_status``: called in this thread with each live status file written."""
    from .network import QgsTransport

    due = {feed.name: 0.0 for feed in feeds}
    since: dict = {}
    polls = 0
    with Workspace(store, QgsTransport(feedback=feedback)) as ws:
        if ws.history_unreadable():  # every poll could only fail to store its status
            raise StoreError(MISSING_DUCKDB)
        while not progress.cancelled():
            now = clock()
            polled = False
            for feed in feeds:
                if progress.cancelled() or now < due[feed.name]:
                    continue
                polled = True
                try:
                    _outcome, since[feed.name] = ws.poll_ocpi_status(
                        feed.url, token=tokens.get(feed.name), token_base64=feed.token_base64,
                        feed_name=feed.name, since=since.get(feed.name))
                    polls += 1
                    log.info("Live status from %s stored (%d polls so far)", feed.name, polls)
                except EvChargepointsError as exc:
                    log.warning("Live status from %s failed, will retry: %s", feed.name,
                                exc.message)
                due[feed.name] = now + feed.poll_seconds
                if max_polls and polls >= max_polls:
                    break
            if polled and on_status is not None and not progress.cancelled():
                _write_status(store, on_status, status_max_age_minutes)
            if max_polls and polls >= max_polls:
                return polls
            sleep(0.2)
    return polls


def _write_status(store, on_status, max_age_minutes: float) -> None:
    from .loader import write_live_status

    try:
        # a workspace of its own: the watching one would keep every poll's reconciliation
        with Workspace(store) as ws:
            info = write_live_status(ws, max_age_minutes)
    except (EvChargepointsError, OSError, sqlite3.Error) as exc:
        log.warning("The live status layer could not be written, will retry after the next "
                    "poll: %s", getattr(exc, "message", exc))
        return
    if info is not None:
        on_status(info)


def start_watching(store, feeds: Sequence[OcpiFeed],
                   on_stopped: Callable[[object], None],
                   on_error: Callable[[str], None],
                   on_status: Optional[Callable[[object], None]] = None,
                   status_max_age_minutes: float = styling.DEFAULT_STATUS_MAX_AGE_MINUTES,
                   max_polls: Optional[int] = None) -> WatchTask:
    """``on_status``: called on the main thread with each new live status file
    (a ``core.mapdata.StatusLayerInfo``), e.g. to refresh the "Live status" layer.
    ``max_polls``: stop after that many stored polls (default: until cancelled)."""
    from .auth import secret

    tokens = {feed.name: secret(feed.authcfg) for feed in feeds if feed.authcfg}
    task = None

    def work(progress, feedback):
        emit = task.statusWritten.emit if on_status is not None else None
        return watch_feeds(store, feeds, tokens, progress, feedback, max_polls=max_polls,
                           on_status=emit, status_max_age_minutes=status_max_age_minutes)

    task = WatchTask("Watching live charge-point status", work, on_stopped, on_error)
    if on_status is not None:
        task.statusWritten.connect(on_status)
    return start(task)
