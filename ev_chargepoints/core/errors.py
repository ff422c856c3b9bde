"""Typed errors with messages a GIS officer can act on.

Every failure the plugin can foresee is one of these. Each carries a one-line,
plain-words ``message``; front doors (CLI, Processing, docks) show that line and
never a traceback.
"""

from __future__ import annotations


class EvChargepointsError(Exception):
    """Base of every error this plugin raises on purpose."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # keep str() equal to the readable message
        return self.message


# --- network -----------------------------------------------------------------

class TransportError(EvChargepointsError):
    """A request could not be completed."""

    def __init__(self, message: str, url: str = ""):
        super().__init__(message)
        self.url = url


class RequestTimeout(TransportError):
    """The server did not answer within the time allowed."""


class ConnectionFailed(TransportError):
    """No connection could be made, or it broke off mid-way."""


class ResponseTooLarge(TransportError):
    """The response was larger than the limit set for it."""


class RequestCancelled(TransportError):
    """The user cancelled the request."""


class HttpError(TransportError):
    """The server answered with an HTTP error status (4xx or 5xx)."""

    def __init__(self, status: int, url: str, reason: str = "",
                 headers: dict | None = None, body_excerpt: str = ""):
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})
        self.body_excerpt = body_excerpt
        super().__init__(http_error_message(status, url, reason), url)

    def with_credentials_hint(self, hint: str) -> HttpError:
        """The same error saying where *this* front door takes the key or token from
        (the plugin settings by default; the CLI names its environment variable)."""
        self.message = http_error_message(self.status, self.url, self.reason, hint)
        self.args = (self.message,)
        return self


CREDENTIALS_HINT = "check the API key or token in the plugin settings"


def http_error_message(status: int, url: str, reason: str = "",
                       credentials_hint: str = CREDENTIALS_HINT) -> str:
    hint = {
        400: "the server did not accept the request",
        401: f"the server needs valid credentials ({credentials_hint})",
        403: "access is forbidden with the credentials given (the dataset may be "
             "restricted to named users)",
        404: "nothing was found at that address (check the URL or dataset id)",
        408: "the server timed out waiting for the request",
        429: "the server is limiting requests (too many requests); try again later",
        500: "the server had an internal error",
        502: "a gateway between us and the server failed",
        503: "the server is unavailable for now",
        504: "a gateway between us and the server timed out",
    }.get(status, "the server refused the request")
    tail = f" ({reason})" if reason else ""
    return f"HTTP {status} from {redact_url(url)}: {hint}{tail}."


def redact_url(url: str) -> str:
    """Drop query strings from URLs shown to users: they can carry keys."""
    return url.split("?", 1)[0]


# --- payloads and files ------------------------------------------------------

class PayloadError(EvChargepointsError):
    """A response or file arrived but its content cannot be used."""


class ParseError(PayloadError):
    """A file or payload is not in the expected format."""

    def __init__(self, message: str, source: str = ""):
        full = f"{source}: {message}" if source else message
        super().__init__(full)
        self.source = source


# What every file reader says (after the file name) when bytes do not decode as text.
NOT_UTF8_TEXT = "the file is corrupted or not UTF-8 text"


class UnknownFormat(ParseError):
    """The format of a file could not be recognised."""


class NotText(ParseError):
    """The file is not text at all (a GeoPackage, a workbook, a PDF...): the wrong file,
    refused as a whole rather than read as a faulty CSV."""


class OcpiStatusError(PayloadError):
    """An OCPI server answered with an envelope status_code other than 1000."""

    def __init__(self, message: str, status_code: int, status_message: str = "",
                 url: str = ""):
        super().__init__(message)
        self.status_code = status_code
        self.status_message = status_message
        self.url = url


# --- store -------------------------------------------------------------------

class StoreError(EvChargepointsError):
    """The history store could not be opened, read or written."""


class MixedUsageError(StoreError):
    """Real and SYNTHETIC usage would end up in one store (see ``usage_kind``)."""


class StoreNotFound(StoreError):
    """A GeoPackage store that does not exist, opened by something that does not create
    one (only imports and fetches do: see ``store.address.open_store``)."""

    def __init__(self, path):
        super().__init__(f"There is no store at {path}; import or fetch first.")
        self.path = path


class MissingDependency(EvChargepointsError):
    """An optional Python package this feature needs is not installed."""
