"""Watch operators' live OCPI status from QGIS, in a background task.

Each configured feed is polled at its own interval with ``Workspace.poll_ocpi_status``
(the same code as ``python -m ev_chargepoints watch``) until the task is cancelled.
Tokens are read from the authentication database at the start of the task.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional, Sequence

from ..core.config import OcpiFeed
from ..core.errors import EvChargepointsError
from ..core.workspace import Workspace
from .tasks import CoreTask, start

log = logging.getLogger(__name__)


def watch_feeds(store, feeds: Sequence[OcpiFeed], tokens: dict, progress, feedback,
                max_polls: Optional[int] = None, clock=time.monotonic,
                sleep=time.sleep) -> int:
    """Worker loop; returns the number of successful polls when cancelled or done.

    ``store``: a GeoPackage path or a ``StoreTarget`` resolved on the main thread."""
    from .network import QgsTransport

    due = {feed.name: 0.0 for feed in feeds}
    since: dict = {}
    polls = 0
    with Workspace(store, QgsTransport(feedback=feedback)) as ws:
        while not progress.cancelled():
            now = clock()
            for feed in feeds:
                if progress.cancelled() or now < due[feed.name]:
                    continue
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
                    return polls
            sleep(0.2)
    return polls


def start_watching(store, feeds: Sequence[OcpiFeed],
                   on_stopped: Callable[[object], None],
                   on_error: Callable[[str], None]) -> CoreTask:
    from .auth import secret

    tokens = {feed.name: secret(feed.authcfg) for feed in feeds if feed.authcfg}
    task = CoreTask("Watching live charge-point status",
                    lambda progress, feedback: watch_feeds(store, feeds, tokens, progress,
                                                           feedback),
                    on_stopped, on_error)
    return start(task)
