"""OCPI 2.2.1 client: discovery, paged Locations/CDRs pulls, envelope checks.

Returns the raw list of objects plus a :class:`FetchReport`; parsing into the
canonical tables is the parsers' job. Paging follows ``Link: <…>; rel="next"``
and never hangs: a next URL already visited, a page repeating the ids of an
earlier one, an empty page that still points onwards, or more pages than
``X-Total-Count`` allows each stop the pull with a warning. The token is sent
only to the server it belongs to and never appears in logs, repr or errors.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Mapping, Optional, Union
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ..errors import (
    EvChargepointsError,
    HttpError,
    OcpiStatusError,
    PayloadError,
    RequestCancelled,
    redact_url,
)
from .http import HttpClient
from .transport import CancelCheck, Response

log = logging.getLogger(__name__)

OCPI_VERSION = "2.2.1"
DEFAULT_MAX_PAGES = 5000
MAX_PAGE_BYTES = 64 * 1024 * 1024

STATUS_MEANINGS = {
    1000: "success",
    2000: "client error",
    2001: "invalid or missing parameters",
    2002: "not enough information",
    2003: "unknown location",
    2004: "unknown token",
    3000: "server error",
    3001: "the server cannot use the client's API",
    3002: "unsupported version",
    3003: "no matching endpoints",
    4000: "hub error",
    4001: "unknown receiver",
    4002: "timeout on forwarded request",
    4003: "connection problem",
}

_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


@dataclass
class FetchReport:
    module: str
    url: str  # endpoint, query stripped
    pages: int = 0
    declared_total: Optional[int] = None
    server_limit: Optional[int] = None
    received: int = 0
    duplicates: int = 0
    complete: bool = True
    date_from: Optional[str] = None
    warnings: List[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        log.warning("OCPI %s: %s", self.module, text)


@dataclass
class FetchResult:
    items: List[dict]
    report: FetchReport


def format_date(value: Union[str, datetime, None]) -> Optional[str]:
    """RFC 3339 UTC text for ``date_from``/``date_to`` (naive datetimes are UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value).strip()
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not an RFC 3339 date-time "
                         "(e.g. 2022-05-01T00:00:00Z)") from None
    return text


def next_link(header: Optional[str]) -> Optional[str]:
    """The URL of the ``rel="next"`` entry in a Link header, if any."""
    if not header:
        return None
    for match in _LINK_RE.finditer(header):
        params = match.group(2) or ""
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            if key.strip().lower() == "rel" and "next" in val.strip().strip('"').lower().split():
                return match.group(1).strip()
    return None


def _normalise_url(url: str) -> str:
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"),
                       query, ""))


def _origin(url: str):
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _int_header(resp: Response, name: str) -> Optional[int]:
    value = (resp.header(name) or "").strip()
    return int(value) if value.isdigit() else None


def _item_key(item) -> Optional[tuple]:
    if not isinstance(item, Mapping):
        return None
    return (item.get("country_code"), item.get("party_id"), item.get("id"))


class OcpiClient:
    """Pulls one OCPI 2.2.1 party's Locations and CDRs.

    Give either ``versions_url`` (discovery) or the module URLs directly in
    ``endpoints`` (``{"locations": url}``: UK open feeds often have no
    ``/versions``). ``token_encoding`` is ``"base64"`` (OCPI 2.2.1) or ``"raw"``
    (older servers); ``None`` token means an anonymous feed.
    """

    def __init__(self, http: HttpClient, *, token: Optional[str] = None,
                 token_encoding: str = "base64", versions_url: Optional[str] = None,
                 endpoints: Optional[Mapping[str, str]] = None,
                 page_limit: Optional[int] = None, max_pages: int = DEFAULT_MAX_PAGES,
                 max_page_bytes: int = MAX_PAGE_BYTES, version: str = OCPI_VERSION):
        if token_encoding not in ("base64", "raw"):
            raise ValueError("token_encoding must be 'base64' or 'raw'")
        if not versions_url and not endpoints:
            raise ValueError("give the OCPI versions URL or the module endpoints")
        self.http = http
        self._token = token or None
        self.token_encoding = token_encoding
        self.versions_url = versions_url
        self.endpoints: Dict[str, str] = dict(endpoints or {})
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.max_page_bytes = max_page_bytes
        self.version = version
        self._auth_origin = None

    def __repr__(self) -> str:
        where = self.versions_url or ", ".join(sorted(self.endpoints))
        return (f"<OcpiClient {redact_url(where)} token={'set' if self._token else 'none'} "
                f"({self.token_encoding})>")

    # token handling
    def _auth_header(self) -> Dict[str, str]:
        if not self._token:
            return {}
        value = self._token
        if self.token_encoding == "base64":
            value = base64.b64encode(value.encode("utf-8")).decode("ascii")
        return {"Authorization": f"Token {value}"}

    def _secrets(self) -> List[str]:
        if not self._token:
            return []
        encoded = base64.b64encode(self._token.encode("utf-8")).decode("ascii")
        return sorted({self._token, encoded}, key=len, reverse=True)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def _scrub_exc(self, exc: EvChargepointsError) -> EvChargepointsError:
        clean = self._scrub(exc.message)
        if clean != exc.message:
            exc.message = clean
            exc.args = (clean,)
        if isinstance(exc, HttpError):
            exc.body_excerpt = self._scrub(exc.body_excerpt)
        return exc

    # requests
    def _get_envelope(self, url: str, trusted_origin, is_cancelled) -> tuple:
        headers = self._auth_header() if _origin(url) == trusted_origin else {}
        try:
            resp = self.http.get(url, headers=headers, max_bytes=self.max_page_bytes,
                                 is_cancelled=is_cancelled)
        except HttpError as exc:
            raise self._scrub_exc(self._explain_http_error(exc)) from None
        except EvChargepointsError as exc:
            raise self._scrub_exc(exc) from None
        try:
            body = resp.json()
        except EvChargepointsError as exc:
            raise self._scrub_exc(exc) from None
        return resp, self._check_envelope(body, url)

    def _explain_http_error(self, exc: HttpError) -> HttpError:
        message = _envelope_message(exc.body_excerpt)
        if not message:
            return exc
        return HttpError(exc.status, exc.url, f"OCPI: {self._scrub(message)}", exc.headers,
                         exc.body_excerpt)

    def _check_envelope(self, body, url: str) -> dict:
        shown = redact_url(url)
        if not isinstance(body, Mapping) or "status_code" not in body:
            raise PayloadError(f"The answer from {shown} is not an OCPI response "
                               "(no status_code envelope).")
        try:
            code = int(body["status_code"])
        except (TypeError, ValueError):
            raise PayloadError(f"The answer from {shown} has an unreadable OCPI "
                               f"status_code ({str(body['status_code'])[:20]!r}).") from None
        if code != 1000:
            said = self._scrub(str(body.get("status_message") or "").strip())[:300]
            meaning = STATUS_MEANINGS.get(code, "error")
            tail = f": {said}" if said else ""
            raise OcpiStatusError(f"The OCPI server at {shown} reported error {code} "
                                  f"({meaning}){tail}.", code, said, url)
        return dict(body)

    # discovery
    def discover(self, is_cancelled: Optional[CancelCheck] = None) -> Dict[str, str]:
        """Module URLs (role SENDER) of version 2.2.1 from the versions endpoint."""
        if not self.versions_url:
            return dict(self.endpoints)
        origin = _origin(self.versions_url)
        _, env = self._get_envelope(self.versions_url, origin, is_cancelled)
        data = env.get("data")
        if isinstance(data, Mapping) and "endpoints" in data:
            details = data  # we were given the version details URL itself
        else:
            if not isinstance(data, list):
                raise PayloadError(f"{redact_url(self.versions_url)} did not list OCPI "
                                   "versions.")
            offered = {str(v.get("version")): v.get("url") for v in data
                       if isinstance(v, Mapping)}
            if self.version not in offered or not offered[self.version]:
                raise PayloadError(
                    f"The OCPI server offers version(s) {', '.join(sorted(offered)) or 'none'}"
                    f" but not {self.version}, which the plugin reads.")
            detail_url = urljoin(self.versions_url, offered[self.version])
            _, detail_env = self._get_envelope(detail_url, origin, is_cancelled)
            details = detail_env.get("data")
            if not isinstance(details, Mapping):
                raise PayloadError(f"{redact_url(detail_url)} did not describe OCPI "
                                   f"{self.version}'s endpoints.")
        found: Dict[str, str] = {}
        for ep in details.get("endpoints") or []:
            if not isinstance(ep, Mapping) or not ep.get("identifier") or not ep.get("url"):
                continue
            role = ep.get("role")
            if role is not None and str(role).upper() != "SENDER":
                continue  # e.g. an eMSP's own locations RECEIVER endpoint
            found.setdefault(str(ep["identifier"]), urljoin(self.versions_url, str(ep["url"])))
        for ident, url in found.items():
            self.endpoints.setdefault(ident, url)
        return found

    def endpoint(self, module: str, is_cancelled: Optional[CancelCheck] = None) -> str:
        if module not in self.endpoints and self.versions_url:
            self.discover(is_cancelled)
        if module not in self.endpoints:
            raise PayloadError(f"The OCPI server does not offer the '{module}' module "
                               f"(as sender) in version {self.version}.")
        return self.endpoints[module]

    # paged pulls
    def fetch_locations(self, date_from=None, date_to=None,
                        is_cancelled: Optional[CancelCheck] = None) -> FetchResult:
        return self.fetch("locations", date_from=date_from, date_to=date_to,
                          is_cancelled=is_cancelled)

    def fetch_cdrs(self, date_from=None, date_to=None,
                   is_cancelled: Optional[CancelCheck] = None) -> FetchResult:
        return self.fetch("cdrs", date_from=date_from, date_to=date_to,
                          is_cancelled=is_cancelled)

    def fetch(self, module: str, *, date_from=None, date_to=None,
              is_cancelled: Optional[CancelCheck] = None) -> FetchResult:
        """Every object of ``module``, following the server's paging to the end."""
        base = self.endpoint(module, is_cancelled)
        origin = _origin(base)
        query = dict(parse_qsl(urlsplit(base).query, keep_blank_values=True))
        since, until = format_date(date_from), format_date(date_to)
        if since:
            query["date_from"] = since
        if until:
            query["date_to"] = until
        if self.page_limit:
            query.update(offset="0", limit=str(self.page_limit))
        parts = urlsplit(base)
        url: Optional[str] = urlunsplit(parts._replace(query=urlencode(query)))
        report = FetchReport(module, redact_url(base), date_from=since)

        items: List[dict] = []
        keys = set()
        visited = set()
        page_key_sets = []
        smallest_page: Optional[int] = None
        while url:
            if is_cancelled and is_cancelled():
                raise RequestCancelled(f"Fetching OCPI {module} from {report.url} was "
                                       "cancelled.", report.url)
            if report.pages >= self.max_pages:
                report.warn(f"stopped after {report.pages} pages (the most the plugin reads "
                            "in one pull).")
                report.complete = False
                break
            if report.declared_total is not None and smallest_page:
                allowed = math.ceil(report.declared_total / smallest_page) + 1
                if report.pages >= allowed:
                    report.warn(f"the server announced {report.declared_total} {module} but "
                                f"kept offering more pages after {report.pages}; stopped "
                                "there.")
                    report.complete = False
                    break
            norm = _normalise_url(url)
            if norm in visited:
                report.warn(f"the server's next-page link leads back to a page already "
                            f"read (after {report.pages} pages); stopped there.")
                report.complete = False
                break
            visited.add(norm)

            resp, env = self._get_envelope(url, origin, is_cancelled)
            report.pages += 1
            data = env.get("data", [])
            if data is None:
                data = []
            if not isinstance(data, list):
                raise PayloadError(f"Page {report.pages} of OCPI {module} from {report.url} "
                                   "does not hold a list.")
            total = _int_header(resp, "X-Total-Count")
            if total is not None:
                report.declared_total = total
            limit = _int_header(resp, "X-Limit")
            if limit is not None:
                report.server_limit = limit

            page_keys = frozenset(k for k in map(_item_key, data) if k is not None)
            if page_keys and page_keys in page_key_sets:
                report.warn(f"page {report.pages} repeats the objects of an earlier page; "
                            "the server seems to ignore paging, so the pull stopped there.")
                report.complete = False
                break
            page_key_sets.append(page_keys)
            for item in data:
                key = _item_key(item)
                if key is not None and key in keys:
                    report.duplicates += 1
                    continue
                if key is not None:
                    keys.add(key)
                items.append(item)
            if data:
                smallest_page = len(data) if smallest_page is None else min(smallest_page,
                                                                             len(data))
            log.info("OCPI %s page %d: %d objects from %s", module, report.pages, len(data),
                     report.url)

            link = next_link(resp.header("Link"))
            if not link:
                break
            nxt = urljoin(url, link)
            if not data:
                report.warn(f"page {report.pages} was empty but pointed to another page; "
                            "stopped there.")
                report.complete = False
                break
            if _origin(nxt) != origin:
                report.warn(f"the next-page link points to another server "
                            f"({urlsplit(nxt).netloc}); not followed, so the token stays "
                            "with the server it belongs to.")
                report.complete = False
                break
            url = nxt

        report.received = len(items)
        if report.duplicates:
            report.warn(f"{report.duplicates} objects arrived twice (the data probably changed "
                        "during the pull); each was kept once.")
        if report.declared_total is not None and report.declared_total != report.received \
                and report.complete:
            report.warn(f"the server announced {report.declared_total} {module} but "
                        f"{report.received} arrived.")
            report.complete = False
        return FetchResult(items, report)


def _envelope_message(excerpt: str) -> str:
    try:
        body = json.loads(excerpt)
    except (TypeError, ValueError):
        return ""
    if isinstance(body, Mapping):
        return str(body.get("status_message") or "").strip()[:200]
    return ""
