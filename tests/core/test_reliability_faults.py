"""Fault matrix through the Workspace facade: every client path × every fault that applies.

Each case pulls through ``Workspace.fetch_datastore`` (a dataset of two real-data
resources: an NCR slice and a Dundee session slice) or ``Workspace.fetch_ocpi``
(the replayed London OCPI Locations feed) while the loopback replay server misbehaves.
The outcome must be one of:

- **data**: the store ends up exactly as after a fault-free pull (counts and import log);
- **error**: a typed ``EvChargepointsError`` with a readable one-line message, and the
  store exactly as before (counts and the whole import log);
- **skipped** (Datastore): a resource that arrived but cannot be read is skipped with a
  message; the other resources are imported as in a fault-free pull;
- **partial** (OCPI): the server's paging misbehaved, the client stopped with
  ``complete=False`` and a warning. The objects that did arrive are imported in *merge*
  mode: new and changed devices are added, and no device is closed (a partial list is
  not evidence that a device was removed). That is the documented choice.

Every case ends within a bounded time (small timeouts and backoff through the
Workspace's ``http_policy``/``timeout``/``max_download_bytes``) and records a row for
docs/reliability.md.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import pandas as pd
import pytest
from replay_server import NCR_FILE, ReplayServer

from ev_chargepoints.core import errors
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
from ev_chargepoints.core.sources.http import RetryPolicy
from ev_chargepoints.core.sources.transport import RequestsTransport
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.history_parts import copy_store
from ev_chargepoints.core.workspace import Workspace

SUITE = "faults"
TOKEN = "cpo-token-reliability"
API_KEY = "dp-key-reliability"
DATASET = "relia"
NCR_RES = "res-ncr-slice-0001"
SESSIONS_RES = "res-sessions-slice-0002"
NCR_NAME = "ncr_slice.csv"
SESSIONS_NAME = "dundee_sessions_slice.csv"
DS_PATH = f"/api/dataset/{DATASET}"
NCR_PATH = f"/download/{DATASET}/{NCR_RES}/{NCR_NAME}"
SESSIONS_PATH = f"/download/{DATASET}/{SESSIONS_RES}/{SESSIONS_NAME}"
LOCATIONS = "/ocpi/2.2.1/locations"

TIMEOUT_S = 1.0
POLICY = RetryPolicy(attempts=2, backoff_s=0.01, max_wait_s=2.0)
MAX_DOWNLOAD = 4 * 1024 * 1024     # Workspace cap for Datastore files in this suite
JSON_CAP = 64 * 1024 * 1024        # the clients' own cap for JSON answers and OCPI pages
BOUND_S = 45.0                     # generous: every case must end well within this
T0 = pd.Timestamp("2022-05-04T08:00:00Z")  # the store's earlier OCPI snapshot
T1 = pd.Timestamp("2022-05-05T08:00:00Z")  # the pull under test


# --- served data: slices of the real bundled files ----------------------------------

def _ncr_slice(first: int, last: int) -> bytes:
    with gzip.open(LONDON_SNAPSHOT / NCR_FILE, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([rows[0]] + rows[1 + first:1 + last])
    return buf.getvalue().encode("utf-8")


def _sessions_slice(n: int) -> bytes:
    path = RESOURCES / "data" / "dundee" / "cpdata.csv.gz"
    with gzip.open(path, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    return b"".join(lines[: n + 1])


NCR_BYTES = _ncr_slice(0, 150)
SESSIONS_BYTES = _sessions_slice(300)
OLD_NCR_BYTES = _ncr_slice(150, 200)


@pytest.fixture(scope="module")
def srv():
    with ReplayServer(token=TOKEN, api_key=API_KEY) as server:
        fx = server.fixtures
        ncr_url = fx.add_file(DATASET, NCR_RES, NCR_NAME, NCR_BYTES, "text/csv")
        ses_url = fx.add_file(DATASET, SESSIONS_RES, SESSIONS_NAME, SESSIONS_BYTES, "text/csv")
        fx.datasets[DATASET] = {
            "id": DATASET, "slug": "reliability-slices", "title": "Reliability slices",
            "createdAt": "2022-05-01T00:00:00.000Z", "updatedAt": "2022-05-04T00:00:00.000Z",
            "licence": {"title": "UK Open Government Licence (OGL v3)", "url": ""},
            "sharing": "public",
            "resources": {
                NCR_RES: {"title": "NCR slice", "format": "csv", "url": ncr_url,
                          "size": len(NCR_BYTES),
                          "hash": hashlib.md5(NCR_BYTES).hexdigest(), "order": 0},
                SESSIONS_RES: {"title": "Dundee sessions slice", "format": "csv",
                               "url": ses_url, "size": len(SESSIONS_BYTES),
                               "hash": hashlib.md5(SESSIONS_BYTES).hexdigest(), "order": 1}},
        }
        yield server


@pytest.fixture(autouse=True)
def _clean(srv):
    srv.clear_faults()
    yield
    srv.clear_faults()


def workspace(path, transport=None) -> Workspace:
    return Workspace(path, transport or RequestsTransport(), http_policy=POLICY,
                     timeout=TIMEOUT_S, max_download_bytes=MAX_DOWNLOAD)


def fetch(ws: Workspace, srv, client: str):
    if client == "datastore":
        return ws.fetch_datastore(srv.url, DATASET)
    return ws.fetch_ocpi(srv.url + LOCATIONS, token=TOKEN, observed_utc=T1)


# --- store state ---------------------------------------------------------------------

LOG_COLUMNS = ["id", "file_name", "sha256", "format", "rows_read", "rows_added",
               "rows_updated", "rows_duplicate", "rows_rejected", "outcome"]


def state(path) -> dict:
    """Everything a failed pull must leave alone: counts and the whole import log."""
    with HistoryStore.create_or_open(path) as store:
        log = store.import_log()
        log["imported_utc"] = log["imported_utc"].astype(str)
        current = store.devices()
        closed = store.devices(current_only=False)
        return {"counts": store.counts(),
                "log": log.to_dict("records"),
                "current": sorted(zip(current["source"], current["device_id"])),
                "closed": int(closed["valid_to_utc"].notna().sum())}


def comparable(st: dict) -> dict:
    """A state without the per-run parts (import times, free-text messages)."""
    return {"counts": st["counts"], "current": st["current"], "closed": st["closed"],
            "log": [{k: row[k] for k in LOG_COLUMNS} for row in st["log"]]}


@pytest.fixture(scope="module")
def template(srv, tmp_path_factory):
    """A store with history: an OCPI snapshot at T0 and an older NCR slice."""
    root = tmp_path_factory.mktemp("reliability-template")
    path = root / "template.gpkg"
    old = root / "ncr_older.csv"
    old.write_bytes(OLD_NCR_BYTES)
    with workspace(path) as ws:
        ws.fetch_ocpi(srv.url + LOCATIONS, token=TOKEN, observed_utc=T0)
        reports = ws.import_files([old])
        assert reports[0].outcome == "imported"
    return path


@pytest.fixture(scope="module")
def expected(srv, template, tmp_path_factory):
    """The store after a fault-free pull of each client, from the template."""
    out = {}
    for client in ("datastore", "ocpi"):
        path = tmp_path_factory.mktemp(f"reference-{client}") / "store.gpkg"
        copy_store(template, path)
        with workspace(path) as ws:
            outcome = fetch(ws, srv, client)
        assert not outcome.skipped and not outcome.warnings, (outcome.skipped, outcome.warnings)
        assert [r.outcome for r in outcome.imports] == ["imported"] * len(outcome.imports)
        out[client] = state(path)
    before = state(template)
    ds, oc = out["datastore"], out["ocpi"]
    # the references themselves hold what the server served
    assert ds["counts"]["sessions"] > before["counts"]["sessions"]
    assert len(ds["log"]) == len(before["log"]) + 2
    assert oc["log"][-1]["rows_read"] == len(srv.fixtures.locations)
    assert oc["counts"]["status_snapshots"] > before["counts"]["status_snapshots"]
    return out


# --- the matrix ----------------------------------------------------------------------

@dataclass
class Case:
    client: str
    fault: str                      # what the table calls it
    faults: list                    # (path, mode, params) set before the pull
    expect: str                     # data | error | skipped | partial
    error: Optional[type] = None    # for "error": the typed error expected
    words: tuple = ()               # words the message must contain
    transport: Optional[Callable] = None  # optional transport wrapper (mid-pull faults)
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.client}-{self.fault}"


def F(path, mode, **params):  # noqa: N802 - reads like a table row
    return (path, mode, params)


class FaultAfterFirst(RequestsTransport):
    """Switches a fault on after the first successful OCPI page (a mid-pull fault)."""

    def __init__(self, srv, path, mode, **params):
        super().__init__()
        self._arm = (srv, path, mode, params)

    def get(self, url, **kw):
        response = super().get(url, **kw)
        if self._arm is not None:
            srv, path, mode, params = self._arm
            srv.fault(path, mode, **params)
            self._arm = None
        return response


E = errors
DATASTORE_CASES = [
    # timeouts
    Case("datastore", "timeout (no answer)", [F(NCR_PATH, "latency", delay=4)], "error",
         E.RequestTimeout, ("did not answer",)),
    Case("datastore", "stall mid-body", [F(SESSIONS_PATH, "slow_body", chunks=3, delay=4)],
         "error", E.RequestTimeout, ("stopped sending",)),
    Case("datastore", "timeout once, then answer", [F(DS_PATH, "latency", delay=4, times=1)],
         "data"),
    # connection reset mid-body
    Case("datastore", "connection reset mid-body", [F(NCR_PATH, "reset")], "error",
         E.ConnectionFailed, ("broke off",)),
    Case("datastore", "connection reset once", [F(SESSIONS_PATH, "reset", times=1)], "data"),
    # rate limiting
    Case("datastore", "429 with Retry-After, once",
         [F(NCR_PATH, "status", status=429, retry_after=1, times=1)], "data"),
    Case("datastore", "429 without Retry-After, once",
         [F(NCR_PATH, "status", status=429, times=1)], "data"),
    Case("datastore", "429 with Retry-After, persistent",
         [F(SESSIONS_PATH, "status", status=429, retry_after=1)], "error", E.HttpError,
         ("429", "too many requests")),
    Case("datastore", "429 without Retry-After, persistent",
         [F(DS_PATH, "status", status=429)], "error", E.HttpError, ("429",)),
    Case("datastore", "429 with Retry-After: 3600 s",
         [F(NCR_PATH, "status", status=429, retry_after=3600)], "error", E.HttpError,
         ("429", "wait 3600 s")),
    # server errors
    *[Case("datastore", f"{s} once", [F(NCR_PATH, "status", status=s, times=1)], "data")
      for s in (500, 502, 503)],
    *[Case("datastore", f"{s} persistent", [F(path, "status", status=s)], "error",
           E.HttpError, (str(s),))
      for s, path in ((500, DS_PATH), (502, NCR_PATH), (503, SESSIONS_PATH))],
    Case("datastore", "503 with Retry-After, persistent",
         [F(DS_PATH, "status", status=503, retry_after=1)], "error", E.HttpError,
         ("503", "unavailable")),
    # broken bodies
    Case("datastore", "truncated body (dataset JSON)", [F(DS_PATH, "truncate")], "error",
         E.ConnectionFailed, ("broke off",)),
    Case("datastore", "truncated body (file)", [F(SESSIONS_PATH, "truncate")], "error",
         E.ConnectionFailed, ("broke off",)),
    Case("datastore", "invalid JSON (dataset; CKAN shim answers)",
         [F(DS_PATH, "invalid_json")], "data"),
    Case("datastore", "invalid JSON everywhere (dataset and CKAN shim)",
         [F("*", "invalid_json")], "error", E.PayloadError, ("not valid JSON",)),
    Case("datastore", "invalid UTF-8 (dataset; CKAN shim answers)",
         [F(DS_PATH, "invalid_utf8")], "data"),
    Case("datastore", "invalid UTF-8 everywhere", [F("*", "invalid_utf8")], "error",
         E.PayloadError, ("UTF-8",)),
    Case("datastore", "invalid UTF-8 file (JSON instead of CSV)",
         [F(NCR_PATH, "invalid_utf8")], "skipped", words=("NCR slice", "JSON")),
    Case("datastore", "wrong content type: HTML page (file)", [F(NCR_PATH, "html")],
         "skipped", words=("NCR slice", "unrecognised CSV header")),
    Case("datastore", "wrong content type: HTML page everywhere", [F("*", "html")], "error",
         E.PayloadError, ("HTML page",)),
    Case("datastore", "HTML 502 gateway page", [F(SESSIONS_PATH, "html", status=502)],
         "error", E.HttpError, ("502",)),
    # too large
    Case("datastore", "gzip bomb (file)",
         [F(NCR_PATH, "gzip_bomb", expanded=MAX_DOWNLOAD * 4)], "error",
         E.ResponseTooLarge, ("larger than the limit",)),
    Case("datastore", "far larger than expected, size declared",
         [F(NCR_PATH, "huge", size=MAX_DOWNLOAD * 8)], "error", E.ResponseTooLarge,
         ("announced",)),
    Case("datastore", "far larger than expected, size not declared",
         [F(SESSIONS_PATH, "huge", size=MAX_DOWNLOAD * 2, declare=False)], "error",
         E.ResponseTooLarge, ("larger than the limit",)),
    # credentials
    Case("datastore", "expired key → 401", [F(NCR_PATH, "expired_token")], "error",
         E.HttpError, ("401", "credentials")),
]

OCPI_CASES = [
    Case("ocpi", "timeout (no answer)", [F(LOCATIONS, "latency", delay=4)], "error",
         E.RequestTimeout, ("did not answer",)),
    Case("ocpi", "stall mid-body", [F(LOCATIONS, "slow_body", chunks=3, delay=4)], "error",
         E.RequestTimeout, ("stopped sending",)),
    Case("ocpi", "timeout once, then answer", [F(LOCATIONS, "latency", delay=4, times=1)],
         "data"),
    Case("ocpi", "connection reset mid-body", [F(LOCATIONS, "reset")], "error",
         E.ConnectionFailed, ("broke off",)),
    Case("ocpi", "connection reset once", [F(LOCATIONS, "reset", times=1)], "data"),
    Case("ocpi", "429 with Retry-After, once",
         [F(LOCATIONS, "status", status=429, retry_after=1, times=1)], "data"),
    Case("ocpi", "429 without Retry-After, once",
         [F(LOCATIONS, "status", status=429, times=1)], "data"),
    Case("ocpi", "429 with Retry-After, persistent",
         [F(LOCATIONS, "status", status=429, retry_after=1)], "error", E.HttpError,
         ("429", "too many requests")),
    Case("ocpi", "429 without Retry-After, persistent",
         [F(LOCATIONS, "status", status=429)], "error", E.HttpError, ("429",)),
    Case("ocpi", "429 with Retry-After: 3600 s",
         [F(LOCATIONS, "status", status=429, retry_after=3600)], "error", E.HttpError,
         ("429", "wait 3600 s")),
    *[Case("ocpi", f"{s} once", [F(LOCATIONS, "status", status=s, times=1)], "data")
      for s in (500, 502, 503)],
    *[Case("ocpi", f"{s} persistent", [F(LOCATIONS, "status", status=s)], "error",
           E.HttpError, (str(s),)) for s in (500, 502, 503)],
    Case("ocpi", "503 with Retry-After, persistent",
         [F(LOCATIONS, "status", status=503, retry_after=1)], "error", E.HttpError,
         ("503",)),
    Case("ocpi", "5xx on page 2 (mid-pull)", [], "error", E.HttpError, ("502",),
         transport=lambda srv: FaultAfterFirst(srv, LOCATIONS, "status", status=502)),
    Case("ocpi", "truncated body", [F(LOCATIONS, "truncate")], "error",
         E.ConnectionFailed, ("broke off",)),
    Case("ocpi", "truncated JSON", [F(LOCATIONS, "invalid_json")], "error",
         E.PayloadError, ("not valid JSON",)),
    Case("ocpi", "truncated JSON on page 2 (mid-pull)", [], "error", E.PayloadError,
         ("not valid JSON",),
         transport=lambda srv: FaultAfterFirst(srv, LOCATIONS, "invalid_json")),
    Case("ocpi", "invalid UTF-8", [F(LOCATIONS, "invalid_utf8")], "error", E.PayloadError,
         ("UTF-8",)),
    Case("ocpi", "wrong content type: HTML page", [F(LOCATIONS, "html")], "error",
         E.PayloadError, ("HTML page",)),
    Case("ocpi", "HTML 502 gateway page", [F(LOCATIONS, "html", status=502)], "error",
         E.HttpError, ("502",)),
    Case("ocpi", "gzip bomb", [F(LOCATIONS, "gzip_bomb", expanded=JSON_CAP + (8 << 20))],
         "error", E.ResponseTooLarge, ("larger than the limit",)),
    Case("ocpi", "far larger than expected, size declared",
         [F(LOCATIONS, "huge", size=JSON_CAP * 2)], "error", E.ResponseTooLarge,
         ("announced",)),
    Case("ocpi", "expired token → 401", [F(LOCATIONS, "expired_token")], "error",
         E.HttpError, ("401", "Token expired")),
    Case("ocpi", "token expires mid-pull → 401", [], "error", E.HttpError,
         ("401", "Token expired"),
         transport=lambda srv: FaultAfterFirst(srv, LOCATIONS, "expired_token")),
    Case("ocpi", "OCPI error status in HTTP 200",
         [F(LOCATIONS, "ocpi_status", code=2001, message="Invalid or missing parameters")],
         "error", E.OcpiStatusError, ("2001",)),
    Case("ocpi", "OCPI server error status in HTTP 200",
         [F(LOCATIONS, "ocpi_status", code=3000, message="Generic server error")],
         "error", E.OcpiStatusError, ("3000",)),
    # paging that misbehaves
    Case("ocpi", "next link to itself", [F(LOCATIONS, "link_self")], "partial",
         words=("already read",)),
    Case("ocpi", "next link loops back to the start",
         [F(LOCATIONS, "link_cycle", cycle_at=100)], "partial", words=("stopped",)),
    Case("ocpi", "repeating page (offset ignored)", [F(LOCATIONS, "repeat_page")],
         "partial", words=("repeats the objects",)),
    Case("ocpi", "endless empty pages", [F(LOCATIONS, "endless")], "partial",
         words=("empty but pointed",)),
    Case("ocpi", "lying X-Total-Count (too low)", [F(LOCATIONS, "lying_total", total=10)],
         "partial", words=("announced 10",)),
    Case("ocpi", "lying X-Total-Count (too high)",
         [F(LOCATIONS, "lying_total", total=10_000)], "partial", words=("announced 10000",)),
]

CASES = DATASTORE_CASES + OCPI_CASES


def shown(text: str, srv) -> str:
    """The user's message with the random loopback port made stable for the docs."""
    return str(text).replace(srv.url, "http://127.0.0.1:PORT")


def _check_message(message: str, words) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    # no Python reprs (regression: a reset showed "(\"Connection broken: ConnectionResetError(
    # 104, ...)\", ConnectionResetError(...))")
    assert not re.search(r"\w+(Error|Exception)\(", message), message
    assert len(message) < 600, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_matrix(case: Case, srv, template, expected, tmp_path, reliability_record):
    path = tmp_path / "store.gpkg"
    copy_store(template, path)
    before = state(path)
    for fault_path, mode, params in case.faults:
        srv.fault(fault_path, mode, **params)
    transport = case.transport(srv) if case.transport else None
    started = time.monotonic()
    outcome, failure = None, None
    with workspace(path, transport) as ws:
        try:
            outcome = fetch(ws, srv, case.client)
        except errors.EvChargepointsError as exc:  # anything else fails the test
            failure = exc
    elapsed = time.monotonic() - started
    srv.clear_faults()
    after = state(path)
    assert elapsed < BOUND_S, f"{case.id} took {elapsed:.1f} s"

    if case.expect == "error":
        assert failure is not None, f"expected {case.error.__name__}, got {outcome}"
        assert isinstance(failure, case.error), (type(failure), failure)
        _check_message(failure.message, case.words)
        assert after == before, "a failed pull changed the store"
        assert TOKEN not in failure.message and API_KEY not in failure.message
        reliability_record(SUITE, case.client, case.fault,
                           f"error: {type(failure).__name__}; store unchanged",
                           shown(failure.message, srv))
        return

    assert failure is None, f"{case.id}: unexpected {type(failure).__name__}: {failure}"
    reference = expected[case.client]
    if case.expect == "data":
        assert not outcome.skipped and not outcome.warnings
        assert comparable(after) == comparable(reference)
        reliability_record(SUITE, case.client, case.fault,
                           "correct data (retried or fell back); store as after a clean pull",
                           "")
    elif case.expect == "skipped":
        assert len(outcome.skipped) == 1 and not outcome.imports[1:]
        message = outcome.skipped[0]
        _check_message(message, case.words)
        # the readable resource is imported exactly as in the clean pull; nothing else
        new = [row for row in comparable(after)["log"] if row["id"] > before["log"][-1]["id"]]
        ref_new = [row for row in comparable(reference)["log"]
                   if row["id"] > before["log"][-1]["id"]]
        assert len(new) == 1 and new[0]["file_name"].endswith(SESSIONS_NAME)
        same = {k: v for k, v in new[0].items() if k != "id"}
        assert same in [{k: v for k, v in r.items() if k != "id"} for r in ref_new]
        assert after["counts"]["sessions"] == reference["counts"]["sessions"]
        assert after["counts"]["devices"] == before["counts"]["devices"]
        reliability_record(SUITE, case.client, case.fault,
                           "unreadable file skipped with a reason; the other resource "
                           "imported", shown(message, srv))
    else:  # partial OCPI pull: merged, nothing closed
        assert outcome.warnings, "a partial pull must say so"
        message = " ".join(outcome.warnings)
        _check_message(message.replace("\n", " "), case.words)
        assert after["closed"] == before["closed"], "a partial pull closed devices"
        assert set(before["current"]) <= set(after["current"])
        last = after["log"][-1]
        assert last["outcome"] == "imported" and len(after["log"]) == len(before["log"]) + 1
        assert 0 < last["rows_read"] <= len(srv.fixtures.locations)
        assert after["counts"]["status_snapshots"] > before["counts"]["status_snapshots"]
        reliability_record(SUITE, case.client, case.fault,
                           f"partial pull ({last['rows_read']} of "
                           f"{len(srv.fixtures.locations)} locations) merged with a warning; "
                           "no device closed", shown(message, srv))
