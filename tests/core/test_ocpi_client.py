"""OcpiClient against the replay server's OCPI 2.2.1 feed (built from real NCR devices)."""

import json
import logging
import math
import time

import pytest
from replay_server import SPEC_EXAMPLES, ReplayServer

from ev_chargepoints.core.errors import (
    ConnectionFailed,
    EvChargepointsError,
    HttpError,
    OcpiStatusError,
    PayloadError,
    RequestCancelled,
    ResponseTooLarge,
)
from ev_chargepoints.core.sources.http import HttpClient, RetryPolicy
from ev_chargepoints.core.sources.ocpi_feed import OcpiClient, format_date, next_link
from ev_chargepoints.core.sources.transport import RequestsTransport

TOKEN = "cpo-token-5d1e8b2a"
LOCATIONS = "/ocpi/2.2.1/locations"
CDRS = "/ocpi/2.2.1/cdrs"
BOUNDED_S = 15.0
STANDARD = {"AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED",
            "REMOVED", "RESERVED", "UNKNOWN"}


@pytest.fixture(scope="module")
def srv():
    with ReplayServer(token=TOKEN) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(srv):
    srv.clear_faults()
    srv.reset_hits()
    yield
    srv.clear_faults()


def http(attempts=3, timeout=3.0):
    return HttpClient(RequestsTransport(), timeout=timeout,
                      policy=RetryPolicy(attempts=attempts, backoff_s=0.01, max_wait_s=2))


def direct(srv, token=TOKEN, encoding="base64", **kw):
    return OcpiClient(http(), token=token, token_encoding=encoding,
                      endpoints={"locations": srv.url + LOCATIONS, "cdrs": srv.url + CDRS}, **kw)


def discovering(srv, **kw):
    return OcpiClient(http(), token=TOKEN, versions_url=srv.url + "/ocpi/versions", **kw)


def ids(items):
    return [i["id"] for i in items]


# --- full pulls ------------------------------------------------------------------

def test_discovery_picks_221_sender_endpoints(srv):
    client = discovering(srv)
    found = client.discover()
    assert found["locations"] == srv.url + LOCATIONS  # not the RECEIVER one under /emsp
    assert found["cdrs"] == srv.url + CDRS
    assert srv.hits["/ocpi/versions"] == 1 and srv.hits["/ocpi/2.2.1"] == 1


def test_discovery_errors_are_readable(srv):
    with pytest.raises(PayloadError) as info:
        discovering(srv, version="2.3.0").fetch_locations()
    assert "offers version(s) 2.1.1, 2.2.1 but not 2.3.0" in info.value.message
    with pytest.raises(PayloadError) as info:
        discovering(srv).fetch("sessions")
    assert "does not offer the 'sessions' module" in info.value.message


def test_full_locations_pull_follows_links(srv):
    result = discovering(srv).fetch_locations()
    expected = srv.fixtures.locations
    assert ids(result.items) == ids(expected)
    rep = result.report
    assert rep.complete and rep.warnings == []
    assert rep.declared_total == rep.received == len(expected) == 245
    assert rep.pages == math.ceil(245 / 50) == srv.hits[LOCATIONS]
    assert rep.server_limit == 50


def test_pull_has_real_london_content_and_spec_examples(srv):
    items = direct(srv).fetch_locations().items
    evses = [e for loc in items for e in loc.get("evses", [])]
    statuses = {e["status"] for e in evses}
    assert {"WORKING", "FAULTED", "Out_Of_Order"} <= statuses  # real-world deviations
    assert statuses & STANDARD
    london = [loc for loc in items if loc["country_code"] == "GB"]
    assert len(london) == 240
    assert all(51.2 < float(loc["coordinates"]["latitude"]) < 51.8 for loc in london)
    assert any(loc["operator"]["name"] == "ubitricity" for loc in london)
    spec = json.loads((SPEC_EXAMPLES / "location_example.json").read_text("utf-8"))
    assert next(loc for loc in items if loc["id"] == "LOC1") == spec


def test_small_page_limit(srv):
    result = direct(srv, page_limit=20).fetch_locations()
    assert result.report.pages == math.ceil(245 / 20)
    assert len(result.items) == 245


def test_date_from_incremental_pull(srv):
    since = "2022-01-01T00:00:00Z"
    result = direct(srv).fetch_locations(date_from=since)
    expected = srv.locations_since(since)
    assert 0 < len(expected) < 245
    assert ids(result.items) == ids(expected)
    assert all(loc["last_updated"] >= since for loc in result.items)
    assert result.report.date_from == since and result.report.complete
    assert len(srv.targets) == result.report.pages
    assert all("date_from=2022-01-01T00%3A00%3A00Z" in t for t in srv.targets)


def test_cdrs_pull(srv):
    result = direct(srv).fetch_cdrs()
    assert len(result.items) == 121 and result.report.complete
    assert result.items[-1]["id"] == "12345"  # the official example, wrapped in memory
    syn = result.items[0]
    assert syn["remark"] == "synthetic replay fixture"
    loc_ids = {loc["id"] for loc in srv.fixtures.locations}
    assert all(c["cdr_location"]["id"] in loc_ids for c in result.items[:-1])


# --- token handling ------------------------------------------------------------------

def test_raw_token_server():
    with ReplayServer(token=TOKEN, token_encoding="raw") as raw_srv:
        result = direct(raw_srv, encoding="raw").fetch_locations()
        assert len(result.items) == 245
        with pytest.raises(HttpError) as info:
            direct(raw_srv, encoding="base64").fetch_locations()
        assert info.value.status == 401


def test_anonymous_feed():
    with ReplayServer() as open_srv:
        result = direct(open_srv, token=None).fetch_locations()
        assert len(result.items) == 245
        assert all("Authorization" not in h for _, h in open_srv.requests)


def test_wrong_token_is_a_readable_401(srv):
    with pytest.raises(HttpError) as info:
        direct(srv, token="not-the-token").fetch_locations()
    assert info.value.status == 401
    assert "valid credentials" in info.value.message
    assert "Unknown or missing token" in info.value.message
    assert srv.hits[LOCATIONS] == 1  # 401 is not retried


def test_token_expires_mid_pull(srv):
    client = direct(srv)
    assert len(client.fetch_locations().items) == 245
    srv.fault(LOCATIONS, "expired_token")
    with pytest.raises(HttpError) as info:
        client.fetch_locations()
    assert info.value.status == 401 and "Token expired" in info.value.message


def test_token_never_leaks(srv, caplog):
    caplog.set_level(logging.DEBUG)
    encoded = srv.ocpi_header().split(" ", 1)[1]
    errors = []
    client = direct(srv)
    assert TOKEN not in repr(client) and encoded not in repr(client)
    # A server echoing the token back in its message.
    srv.fault(LOCATIONS, "ocpi_status", code=2004, message=f"token {encoded} / {TOKEN} unknown",
              http_status=401)
    with pytest.raises(HttpError) as info:
        client.fetch_locations()
    errors.append(info.value)
    srv.fault(LOCATIONS, "ocpi_status", code=2001, message=f"bad {TOKEN}")
    with pytest.raises(OcpiStatusError) as info:
        client.fetch_locations()
    errors.append(info.value)
    for mode in ("invalid_json", "link_self", "truncate"):
        srv.fault(LOCATIONS, mode)
        try:
            client.fetch_locations()
        except EvChargepointsError as exc:
            errors.append(exc)
    texts = [r.getMessage() for r in caplog.records]
    for exc in errors:
        texts += [str(exc), repr(exc), exc.message, getattr(exc, "body_excerpt", ""),
                  getattr(exc, "status_message", "")]
    assert len(errors) == 4 and caplog.records
    for secret in (TOKEN, encoded):
        assert not any(secret in t for t in texts), secret
    assert "***" in errors[0].message


# --- envelope and payload faults --------------------------------------------------------

def test_ocpi_error_inside_http_200(srv):
    srv.fault(LOCATIONS, "ocpi_status", code=2001, message="Invalid date_from")
    with pytest.raises(OcpiStatusError) as info:
        direct(srv).fetch_locations()
    exc = info.value
    assert exc.status_code == 2001 and exc.status_message == "Invalid date_from"
    assert "reported error 2001 (invalid or missing parameters): Invalid date_from" in exc.message


def test_ocpi_server_error_code(srv):
    srv.fault(LOCATIONS, "ocpi_status", code=3000, message="Database offline")
    with pytest.raises(OcpiStatusError) as info:
        direct(srv).fetch_locations()
    assert "3000 (server error)" in info.value.message


@pytest.mark.parametrize("mode, words", [
    ("invalid_json", "not valid JSON"), ("invalid_utf8", "UTF-8"), ("html", "HTML page"),
])
def test_bad_pages(srv, mode, words):
    srv.fault(LOCATIONS, mode)
    with pytest.raises(PayloadError) as info:
        direct(srv).fetch_locations()
    assert words in info.value.message


def test_not_an_envelope(srv):
    srv.fault(LOCATIONS, "status", status=200, body='{"rows": []}')
    with pytest.raises(PayloadError) as info:
        direct(srv).fetch_locations()
    assert "not an OCPI response" in info.value.message


def test_transient_503_on_a_page_is_retried(srv):
    srv.fault(LOCATIONS, "status", status=503, times=2)
    result = direct(srv).fetch_locations()
    assert len(result.items) == 245 and result.report.complete
    assert srv.hits[LOCATIONS] == result.report.pages + 2


def test_429_with_retry_after(srv):
    srv.fault(LOCATIONS, "status", status=429, retry_after=1, times=1)
    result = direct(srv).fetch_locations()
    assert len(result.items) == 245


def test_persistent_reset_is_a_typed_error(srv):
    srv.fault(LOCATIONS, "reset")
    start = time.monotonic()
    with pytest.raises(ConnectionFailed):
        direct(srv).fetch_locations()
    assert time.monotonic() - start < BOUNDED_S


def test_gzip_bomb_page(srv):
    srv.fault(LOCATIONS, "gzip_bomb", expanded=64 * 1024 * 1024)
    start = time.monotonic()
    with pytest.raises(ResponseTooLarge):
        direct(srv, max_page_bytes=8 * 1024 * 1024).fetch_locations()
    assert time.monotonic() - start < BOUNDED_S


# --- paging loops and lies --------------------------------------------------------------

def test_next_link_to_itself(srv):
    start = time.monotonic()
    srv.fault(LOCATIONS, "link_self")
    result = direct(srv).fetch_locations()
    assert time.monotonic() - start < BOUNDED_S
    assert ids(result.items) == ids(srv.fixtures.locations[:50])
    assert not result.report.complete
    assert any("leads back to a page already read" in w for w in result.report.warnings)
    assert srv.hits[LOCATIONS] == 1


def test_next_link_cycle(srv):
    srv.fault(LOCATIONS, "link_cycle", cycle_at=100)
    result = direct(srv).fetch_locations()
    assert ids(result.items) == ids(srv.fixtures.locations[:150])
    # The first request had no offset, so the loop is seen when page 1 comes back.
    assert srv.hits[LOCATIONS] == 4
    assert any("repeats the objects of an earlier page" in w for w in result.report.warnings)
    srv.reset_hits()
    result = direct(srv, page_limit=50).fetch_locations()
    assert srv.hits[LOCATIONS] == 3
    assert any("leads back to a page already read" in w for w in result.report.warnings)


def test_pages_repeating_the_same_ids(srv):
    srv.fault(LOCATIONS, "repeat_page")
    result = direct(srv).fetch_locations()
    assert len(result.items) == 50
    assert srv.hits[LOCATIONS] == 2
    assert any("repeats the objects" in w for w in result.report.warnings)


def test_endless_empty_pages(srv):
    srv.fault(LOCATIONS, "endless")
    result = direct(srv).fetch_locations()
    assert len(result.items) == 245
    assert srv.hits[LOCATIONS] == 6
    assert any("empty but pointed" in w for w in result.report.warnings)


def test_total_count_lies_low(srv):
    srv.fault(LOCATIONS, "lying_total", total=60)
    result = direct(srv).fetch_locations()
    rep = result.report
    assert rep.declared_total == 60 and not rep.complete
    assert rep.pages == math.ceil(60 / 50) + 1 == srv.hits[LOCATIONS]
    assert any("kept offering more pages" in w for w in rep.warnings)


def test_total_count_lies_high(srv):
    srv.fault(LOCATIONS, "lying_total", total=1000)
    result = direct(srv).fetch_locations()
    assert len(result.items) == 245
    assert any("announced 1000 locations but 245 arrived" in w
               for w in result.report.warnings)
    assert not result.report.complete


def test_max_pages_cap(srv):
    result = direct(srv, max_pages=2).fetch_locations()
    assert len(result.items) == 100 and not result.report.complete
    assert srv.hits[LOCATIONS] == 2


def test_slow_server_bounded(srv):
    srv.fault(LOCATIONS, "latency", delay=30)
    client = OcpiClient(http(attempts=2, timeout=0.4), token=TOKEN,
                        endpoints={"locations": srv.url + LOCATIONS})
    start = time.monotonic()
    with pytest.raises(EvChargepointsError) as info:
        client.fetch_locations()
    assert type(info.value).__name__ == "RequestTimeout"
    assert time.monotonic() - start < BOUNDED_S


def test_cancel_between_pages(srv):
    def is_cancelled():
        return srv.hits[LOCATIONS] >= 2

    with pytest.raises(RequestCancelled) as info:
        direct(srv).fetch_locations(is_cancelled=is_cancelled)
    assert "cancelled" in info.value.message
    assert srv.hits[LOCATIONS] == 2


def test_next_link_to_other_host_not_followed(srv):
    with ReplayServer(token=TOKEN) as other:
        # "localhost" is another origin than "127.0.0.1" as far as the client knows.
        elsewhere = other.url.replace("127.0.0.1", "localhost") + LOCATIONS
        srv.fault(LOCATIONS, "link_to", url=elsewhere)
        result = direct(srv).fetch_locations()
        assert ids(result.items) == ids(srv.fixtures.locations[:50])
        assert other.hits[LOCATIONS] == 0
        assert any("another server" in w for w in result.report.warnings)


# --- helpers ------------------------------------------------------------------------

def test_next_link_parser():
    assert next_link('<https://x/l?offset=50&limit=50>; rel="next"') == \
        "https://x/l?offset=50&limit=50"
    assert next_link('<https://x/p>; rel="prev", <https://x/n>; rel=next') == "https://x/n"
    assert next_link('<https://x/p>; rel="prev"') is None
    assert next_link(None) is None


def test_format_date():
    from datetime import datetime, timedelta, timezone
    assert format_date(datetime(2022, 5, 1, 12)) == "2022-05-01T12:00:00Z"
    bst = timezone(timedelta(hours=1))
    assert format_date(datetime(2022, 5, 1, 13, tzinfo=bst)) == "2022-05-01T12:00:00Z"
    assert format_date("2022-05-01T00:00:00Z") == "2022-05-01T00:00:00Z"
    with pytest.raises(ValueError):
        format_date("yesterday")
