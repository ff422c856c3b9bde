"""Transport in, bytes out: the interface every network client sits on.

``Transport.get`` returns a :class:`Response` for 2xx/3xx answers and raises a
typed :mod:`errors` exception for everything else. Two implementations exist:
:class:`RequestsTransport` here (CLI, headless use, core tests) and
``QgsTransport`` on the QGIS side, which honours the user's proxy, SSL and
``authcfg`` settings. Retries live in :mod:`http`, never in a transport.
"""

from __future__ import annotations

import json
import time
import zlib
from abc import ABC, abstractmethod
from typing import Callable, Mapping, Optional

from ..errors import (
    ConnectionFailed,
    HttpError,
    PayloadError,
    RequestCancelled,
    RequestTimeout,
    ResponseTooLarge,
    redact_url,
)
from ..paths import plugin_version

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # after decompression: guards against gzip bombs
CHUNK = 64 * 1024

CancelCheck = Callable[[], bool]


def user_agent() -> str:
    return (f"ev_chargepoints/{plugin_version()} "
            "(QGIS plugin for London EV charge points)")


class Response:
    """A complete HTTP answer: status, headers (case-insensitive) and body."""

    def __init__(self, url: str, status: int, headers: Mapping[str, str], body: bytes):
        self.url = url
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def text(self) -> str:
        try:
            return self.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PayloadError(
                f"The answer from {redact_url(self.url)} is not valid UTF-8 text "
                f"(bad byte at position {exc.start})."
            ) from None

    def json(self):
        text = self.text()
        if not text.strip():
            raise PayloadError(f"The answer from {redact_url(self.url)} is empty.")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            looks_html = text.lstrip()[:1] == "<"
            what = ("an HTML page, not JSON" if looks_html else
                    f"not valid JSON (broken or cut short at line {exc.lineno}, "
                    f"column {exc.colno})")
            raise PayloadError(f"The answer from {redact_url(self.url)} is {what}.") from None

    def __repr__(self) -> str:
        return f"<Response {self.status} {redact_url(self.url)} {len(self.body)} bytes>"


class Transport(ABC):
    """Fetches URLs. Implementations must raise the typed errors documented here."""

    @abstractmethod
    def get(self, url: str, *, headers: Optional[Mapping[str, str]] = None,
            timeout: float = DEFAULT_TIMEOUT_S, max_bytes: int = DEFAULT_MAX_BYTES,
            is_cancelled: Optional[CancelCheck] = None) -> Response:
        """GET ``url``.

        ``timeout`` bounds the connection and every wait for data, and the whole
        request may take at most ten times that. Raises ``HttpError`` (status >=
        400), ``RequestTimeout``, ``ConnectionFailed``, ``ResponseTooLarge``
        (decompressed body over ``max_bytes``) or ``RequestCancelled``.
        """


def total_deadline(timeout: float) -> float:
    return time.monotonic() + 10 * timeout


class RequestsTransport(Transport):
    """Transport on ``requests``: for the CLI and headless runs.

    Inside QGIS use ``QgsTransport`` instead: requests ignores the QGIS proxy.
    """

    def __init__(self, session=None):
        import requests  # imported here so the plugin loads without it

        self._requests = requests
        self._session = session or requests.Session()

    def get(self, url, *, headers=None, timeout=DEFAULT_TIMEOUT_S,
            max_bytes=DEFAULT_MAX_BYTES, is_cancelled=None) -> Response:
        req = self._requests
        send_headers = {"User-Agent": user_agent(), "Accept-Encoding": "gzip, deflate"}
        send_headers.update(headers or {})
        deadline = total_deadline(timeout)
        shown = redact_url(url)
        if is_cancelled and is_cancelled():
            raise RequestCancelled(f"Request to {shown} was cancelled.", url)
        try:
            resp = self._session.get(url, headers=send_headers, timeout=(timeout, timeout),
                                     stream=True, allow_redirects=True)
        except req.exceptions.Timeout:
            raise RequestTimeout(f"{shown} did not answer within {timeout:g} s.", url) from None
        except req.exceptions.InvalidURL:
            raise ConnectionFailed(f"'{shown}' is not a valid address.", url) from None
        except req.exceptions.RequestException as exc:
            raise ConnectionFailed(f"Could not connect to {shown}: {_short(exc)}.", url) from None
        try:
            declared = resp.headers.get("Content-Length")
            if (declared and declared.isdigit() and int(declared) > max_bytes
                    and not resp.headers.get("Content-Encoding")):
                raise ResponseTooLarge(
                    f"{shown} announced {int(declared):,} bytes, over the limit of "
                    f"{max_bytes:,}.", url)
            chunks, size = [], 0
            for chunk in _body_chunks(resp, shown, url):
                size += len(chunk)
                if size > max_bytes:
                    raise ResponseTooLarge(
                        f"The answer from {shown} is larger than the limit of "
                        f"{max_bytes:,} bytes (after decompression).", url)
                if is_cancelled and is_cancelled():
                    raise RequestCancelled(f"Request to {shown} was cancelled.", url)
                if time.monotonic() > deadline:
                    raise RequestTimeout(
                        f"{shown} was too slow: the download took over {10 * timeout:g} s.",
                        url)
                chunks.append(chunk)
            body = b"".join(chunks)
            _check_complete(resp, declared, size, shown, url)
        except (req.exceptions.Timeout, _read_timeout_types()):
            raise RequestTimeout(f"{shown} stopped sending data for over {timeout:g} s.",
                                 url) from None
        except (req.exceptions.RequestException, _urllib3_errors()) as exc:
            # requests wraps a read timeout during iter_content in a ConnectionError
            if exc.args and isinstance(exc.args[0], _read_timeout_types()):
                raise RequestTimeout(f"{shown} stopped sending data for over {timeout:g} s.",
                                     url) from None
            raise ConnectionFailed(
                f"The connection to {shown} broke off during the download: {_short(exc)}.",
                url) from None
        finally:
            resp.close()
        if resp.status_code >= 400:
            raise HttpError(resp.status_code, resp.url or url, resp.reason or "",
                            dict(resp.headers), body[:300].decode("utf-8", "replace"))
        return Response(resp.url or url, resp.status_code, dict(resp.headers), body)


def _body_chunks(resp, shown: str, url: str):
    """The body in pieces of at most CHUNK bytes. A gzip or deflate body is read as it
    came and decompressed here: urllib3 2 decompresses highly compressed data read in
    small pieces so slowly (50 MB of a gzip bomb in 64 KiB reads: 14 s, against 0.25 s
    with urllib3 1) that a big compressed feed, or a bomb, ran into the time limit before
    the size limit."""
    encoding = (resp.headers.get("Content-Encoding") or "").strip().lower()
    if encoding not in ("gzip", "x-gzip", "deflate"):
        yield from resp.iter_content(CHUNK)
        return
    inflater = _Inflater(encoding != "deflate")
    try:
        while True:
            data = resp.raw.read(CHUNK, decode_content=False)
            if not data:
                break
            yield from inflater.feed(data)
        yield from inflater.flush()
    except zlib.error as exc:
        raise ConnectionFailed(f"The answer from {shown} could not be decompressed "
                               f"({encoding}): {exc}.", url) from None


class _Inflater:
    """gzip (several members too) or deflate (zlib, or raw deflate as some servers send
    it), decompressed in pieces of at most CHUNK bytes."""

    def __init__(self, gzip: bool):
        self._gzip = gzip
        self._zlib = zlib.decompressobj(47 if gzip else 15)  # 47: gzip or zlib header
        self._started = False

    def feed(self, data: bytes):
        while data:
            try:
                piece = self._zlib.decompress(data, CHUNK)
            except zlib.error:
                if self._gzip or self._started:
                    raise
                self._zlib = zlib.decompressobj(-15)  # raw deflate
                self._started = True
                continue
            self._started = True
            data = self._zlib.unconsumed_tail
            if piece:
                yield piece
            if self._zlib.eof:
                rest = self._zlib.unused_data
                if not (rest and self._gzip):
                    return  # (bytes after the end are ignored, as urllib3 does)
                self._zlib = zlib.decompressobj(47)  # the next gzip member
                data = rest

    def flush(self):
        rest = self._zlib.flush()
        if rest:
            yield rest


def _urllib3_errors():
    """urllib3's own errors (a broken connection while reading the raw body)."""
    try:
        from urllib3.exceptions import HTTPError
        return HTTPError
    except ImportError:  # pragma: no cover
        return OSError


def _check_complete(resp, declared, size: int, shown: str, url: str) -> None:
    """urllib3 1.x accepts a body shorter than its Content-Length: refuse it here."""
    if not (declared and declared.isdigit()) or resp.request.method == "HEAD":
        return
    wire = getattr(resp.raw, "tell", None)
    got = wire() if callable(wire) else None
    if not isinstance(got, int):
        if resp.headers.get("Content-Encoding"):
            return
        got = size
    if got < int(declared):
        raise ConnectionFailed(
            f"The connection to {shown} broke off during the download: only {got:,} of "
            f"{int(declared):,} bytes arrived.", url)


def _read_timeout_types():
    try:
        from urllib3.exceptions import ReadTimeoutError
        return ReadTimeoutError
    except ImportError:  # pragma: no cover
        return TimeoutError


def _short(exc: BaseException) -> str:
    cause = _os_error_in(exc)
    if cause is not None:  # e.g. "Connection reset by peer", not a tuple of reprs
        return cause.strerror
    text = str(exc).split("(Caused by", 1)[0].strip() or type(exc).__name__
    return text[:200]


def _os_error_in(exc: BaseException, depth: int = 0):
    """The operating-system error (with a readable ``strerror``) inside a requests or
    urllib3 exception, looking through its args, cause and context."""
    if depth > 5 or exc is None:
        return None
    if isinstance(exc, OSError) and isinstance(exc.strerror, str) and exc.strerror:
        return exc
    inner = [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
    for candidate in inner + [exc.__cause__, exc.__context__]:
        if isinstance(candidate, BaseException):
            found = _os_error_in(candidate, depth + 1)
            if found is not None:
                return found
    return None
