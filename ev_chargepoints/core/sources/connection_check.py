"""The "Test connection" checks: one quick look at a Datastore or an OCPI feed.

Each check makes a few requests through any :class:`Transport` (``QgsTransport``
inside QGIS, so the user's proxy and SSL settings apply; ``RequestsTransport``
headless) and returns a :class:`CheckResult` whose ``message`` says in plain
words what worked or what did not. A check never raises for a network or
server problem, and no secret (API key or token, raw or Base64) ever appears in
its message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Iterable, List, Optional
from urllib.parse import urlsplit

from ..config import ConfigError, check_url
from ..errors import (
    ConnectionFailed,
    EvChargepointsError,
    HttpError,
    OcpiStatusError,
    PayloadError,
    RequestCancelled,
    RequestTimeout,
    ResponseTooLarge,
)
from .http import HttpClient, RetryPolicy
from .london_datastore import DatastoreClient
from .ocpi_feed import OcpiClient
from .transport import CancelCheck, Transport

CHECK_TIMEOUT_S = 10.0
CHECK_MAX_PAGES = 20  # a test reads at most this many OCPI pages

# kinds of outcome, for callers that want more than ok/not ok
OK = "ok"
CONFIG = "config"
CREDENTIALS = "credentials"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
TIMEOUT = "timeout"
CONNECTION = "connection"
PAYLOAD = "payload"
OCPI_STATUS = "ocpi_status"
HTTP = "http"
CANCELLED = "cancelled"
ERROR = "error"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    kind: str = OK
    status: Optional[int] = None  # HTTP status of the failing answer, if any

    def __str__(self) -> str:
        return self.message


def _secrets(*values: Optional[str]) -> List[str]:
    out = set()
    for value in values:
        if value:
            out.add(value)
            out.add(base64.b64encode(value.encode("utf-8")).decode("ascii"))
    return sorted(out, key=len, reverse=True)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _failure(exc: EvChargepointsError, secrets: Iterable[str], hint: str = "") -> CheckResult:
    status = None
    if isinstance(exc, HttpError):
        status = exc.status
        kind = {401: CREDENTIALS, 403: FORBIDDEN, 404: NOT_FOUND}.get(exc.status, HTTP)
    elif isinstance(exc, RequestTimeout):
        kind = TIMEOUT
    elif isinstance(exc, RequestCancelled):
        kind = CANCELLED
    elif isinstance(exc, ConnectionFailed):
        kind = CONNECTION
    elif isinstance(exc, OcpiStatusError):
        kind = OCPI_STATUS
    elif isinstance(exc, (PayloadError, ResponseTooLarge)):
        kind = PAYLOAD
    elif isinstance(exc, ConfigError):
        kind = CONFIG
    else:
        kind = ERROR
    message = exc.message
    if kind == PAYLOAD and "HTML page" in message:
        message += (" This is usually a proxy login page, a maintenance page or a wrong "
                    "address.")
    if hint:
        message = f"{message} {hint}"
    return CheckResult(False, _scrub(message, secrets), kind, status)


def _http(transport: Transport, timeout: float) -> HttpClient:
    # One try only: a test connection should report what happened, fast.
    return HttpClient(transport, timeout=timeout, policy=RetryPolicy(attempts=1))


def check_datastore(transport: Transport, url: str, api_key: Optional[str] = None, *,
                    datasets: Iterable[str] = (), timeout: float = CHECK_TIMEOUT_S,
                    is_cancelled: Optional[CancelCheck] = None) -> CheckResult:
    """Read the catalogue at ``url`` and, if given, each dataset id in ``datasets``.

    ``api_key`` is sent (to the Datastore's own host only) so that restricted
    datasets can be checked too.
    """
    secrets = _secrets(api_key)
    try:
        check_url(url, "The Datastore address")
    except ConfigError as exc:
        return _failure(exc, secrets)
    client = DatastoreClient(_http(transport, timeout), url.strip(), api_key=api_key)
    try:
        count = len(client.catalogue(is_cancelled))
    except EvChargepointsError as exc:
        hint = ""
        if isinstance(exc, HttpError) and exc.status == 404:
            hint = ("Is this the address of a DataPress site such as "
                    "https://data.london.gov.uk?")
        return _failure(exc, secrets, hint)
    message = f"Datastore reachable: {count:,} datasets in the catalogue."
    notes = []
    wanted = list(dict.fromkeys(d.strip() for d in datasets if d and d.strip()))
    for dataset_id in wanted:
        try:
            dataset = client.get_dataset(dataset_id, is_cancelled)
        except EvChargepointsError as exc:
            failed = _failure(exc, secrets)
            return CheckResult(False, f"{message} But dataset '{dataset_id}': "
                               f"{failed.message}", failed.kind, failed.status)
        access = " (restricted; the API key was accepted)" if dataset.restricted else ""
        notes.append(f"'{dataset_id}' ({dataset.title or 'untitled'}){access}")
    if notes:
        message += " Datasets readable: " + "; ".join(notes) + "."
    return CheckResult(True, _scrub(message, secrets))


def _is_versions_url(url: str) -> bool:
    path = urlsplit(url).path.rstrip("/")
    return path.rsplit("/", 1)[-1].lower() == "versions"


def check_ocpi(transport: Transport, url: str, token: Optional[str] = None,
               base64_token: bool = True, *, timeout: float = CHECK_TIMEOUT_S,
               max_pages: int = CHECK_MAX_PAGES,
               is_cancelled: Optional[CancelCheck] = None) -> CheckResult:
    """Page through an OCPI 2.2.1 Locations endpoint (or discover it from ``…/versions``).

    Reads at most ``max_pages`` pages and reports how many locations and pages
    arrived, or why not.
    """
    secrets = _secrets(token)
    try:
        check_url(url, "The OCPI feed address")
    except ConfigError as exc:
        return _failure(exc, secrets)
    url = url.strip()
    where = {"versions_url": url} if _is_versions_url(url) else {"endpoints": {"locations": url}}
    client = OcpiClient(_http(transport, timeout), token=token,
                        token_encoding="base64" if base64_token else "raw",
                        max_pages=max_pages, **where)
    try:
        fetched = client.fetch_locations(is_cancelled=is_cancelled)
    except EvChargepointsError as exc:
        hint = ""
        if isinstance(exc, HttpError) and exc.status == 401:
            if "expired" in exc.message.lower():
                hint = ("Ask the operator for a new token and put it in the feed's "
                        "authentication configuration.")
            elif token:
                other = "off" if base64_token else "on"
                hint = (f"If the token is right, try with Base64 encoding switched {other} "
                        "(servers older than OCPI 2.2 expect the raw token).")
            else:
                hint = "Choose the authentication configuration that holds the feed's token."
        return _failure(exc, secrets, hint)
    report = fetched.report
    pages = f"{report.pages} page" + ("" if report.pages == 1 else "s")
    if report.pages >= max_pages and not report.complete:
        message = (f"OCPI feed answered: {report.received:,} locations on the first {pages} "
                   "(the test reads no more")
        if report.declared_total is not None:
            message += f"; the server announces {report.declared_total:,}"
        message += ")."
    else:
        message = f"OCPI feed answered: {report.received:,} locations on {pages}."
        if report.warnings:
            message += " Note: " + " ".join(report.warnings)
    return CheckResult(True, _scrub(message, secrets))
