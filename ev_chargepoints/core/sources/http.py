"""Polite HTTP on top of any Transport: retries, backoff and Retry-After.

This is the only place that retries. Clients (Datastore, OCPI) call
:meth:`HttpClient.get` and get either a Response or a typed error.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from ..errors import ConnectionFailed, HttpError, RequestTimeout, TransportError
from .transport import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, CancelCheck, Response, Transport

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    attempts: int = 4              # total tries, first one included
    backoff_s: float = 0.5         # doubled after each failure
    max_wait_s: float = 30.0       # a longer Retry-After ends the retries
    retry_timeouts: bool = True


@dataclass
class HttpClient:
    transport: Transport
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT_S
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep

    def get(self, url: str, *, headers: Optional[Mapping[str, str]] = None,
            max_bytes: int = DEFAULT_MAX_BYTES,
            is_cancelled: Optional[CancelCheck] = None) -> Response:
        merged = dict(self.headers)
        merged.update(headers or {})
        wait = self.policy.backoff_s
        for attempt in range(1, self.policy.attempts + 1):
            try:
                return self.transport.get(url, headers=merged, timeout=self.timeout,
                                          max_bytes=max_bytes, is_cancelled=is_cancelled)
            except HttpError as exc:
                if exc.status not in RETRY_STATUSES or attempt == self.policy.attempts:
                    raise
                delay = retry_after_seconds(exc.headers, default=wait)
                if delay > self.policy.max_wait_s:
                    raise HttpError(exc.status, exc.url,
                                    f"the server asks us to wait {delay:.0f} s") from None
            except (ConnectionFailed, RequestTimeout) as exc:
                retry = isinstance(exc, ConnectionFailed) or self.policy.retry_timeouts
                if not retry or attempt == self.policy.attempts:
                    raise
                delay = wait
            log.info("Retrying %s in %.1f s (attempt %d of %d)",
                     url.split("?", 1)[0], delay, attempt + 1, self.policy.attempts)
            self._sleep_unless_cancelled(delay, is_cancelled)
            wait *= 2
        raise TransportError(f"Gave up on {url}", url)  # pragma: no cover - loop returns

    def _sleep_unless_cancelled(self, seconds: float, is_cancelled: Optional[CancelCheck]):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0 or (is_cancelled and is_cancelled()):
                return
            self.sleep(min(left, 0.1))


def retry_after_seconds(headers: Mapping[str, str], default: float) -> float:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date)."""
    value = None
    for key, val in headers.items():
        if key.lower() == "retry-after":
            value = val.strip()
            break
    if not value:
        return default
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when is None:
        return default
    return max(0.0, when.timestamp() - time.time())
