"""RequestsTransport against the loopback replay server (no HTTP mocks)."""

import time

import pytest
from replay_server import (
    BOROUGHS_RESOURCE,
    BOUNDARIES_ID,
    ReplayServer,
)

from ev_chargepoints.core.errors import (
    ConnectionFailed,
    HttpError,
    PayloadError,
    RequestCancelled,
    RequestTimeout,
    ResponseTooLarge,
)
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.transport import RequestsTransport

CATALOGUE = "/api/v2/datasets/export.json"
BOROUGHS = f"/download/{BOUNDARIES_ID}/{BOROUGHS_RESOURCE}/London_Borough_Excluding_MHW.gpkg"
BOUNDED_S = 8.0  # generous ceiling for anything that must not hang


@pytest.fixture(scope="module")
def srv():
    with ReplayServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(srv):
    srv.clear_faults()
    srv.reset_hits()
    yield
    srv.clear_faults()


@pytest.fixture
def transport():
    return RequestsTransport()


def test_fetches_real_geopackage_bytes(srv, transport):
    resp = transport.get(srv.url + BOROUGHS, timeout=5)
    expected = (LONDON_SNAPSHOT / "london_boroughs.gpkg").read_bytes()
    assert resp.status == 200
    assert resp.body == expected
    assert resp.body[:16] == b"SQLite format 3\x00"
    assert srv.hits[BOROUGHS] == 1


def test_fetches_json_catalogue_gzip_decoded(srv, transport):
    resp = transport.get(srv.url + CATALOGUE, timeout=5)
    data = resp.json()
    ids = {d["id"] for d in data}
    assert {"2lzpg", "bndry", "ncr22"} <= ids
    assert "evusg" not in ids  # restricted: hidden without an API key
    sent = srv.requests[-1][1]
    assert sent["User-Agent"].startswith("ev_chargepoints/")


@pytest.mark.parametrize("status, words", [
    (404, "nothing was found"), (401, "valid credentials"), (500, "internal error"),
])
def test_http_errors_are_typed_and_readable(srv, transport, status, words):
    srv.fault(CATALOGUE, "status", status=status)
    with pytest.raises(HttpError) as info:
        transport.get(srv.url + CATALOGUE + "?key=abc", timeout=5)
    assert info.value.status == status
    assert words in info.value.message
    assert f"HTTP {status}" in str(info.value)
    assert "key=abc" not in str(info.value)


def test_unknown_path_is_404(srv, transport):
    with pytest.raises(HttpError) as info:
        transport.get(srv.url + "/api/dataset/nope", timeout=5)
    assert info.value.status == 404


def test_timeout_is_honoured(srv, transport):
    srv.fault(CATALOGUE, "latency", delay=30)
    start = time.monotonic()
    with pytest.raises(RequestTimeout) as info:
        transport.get(srv.url + CATALOGUE, timeout=0.5)
    assert time.monotonic() - start < BOUNDED_S
    assert "did not answer within 0.5 s" in info.value.message


def test_stall_mid_body_is_a_timeout(srv, transport):
    srv.fault(BOROUGHS, "slow_body", chunks=3, delay=30)
    start = time.monotonic()
    with pytest.raises(RequestTimeout):
        transport.get(srv.url + BOROUGHS, timeout=0.5)
    assert time.monotonic() - start < BOUNDED_S


def test_slow_but_steady_body_arrives(srv, transport):
    srv.fault(BOROUGHS, "slow_body", chunks=4, delay=0.1)
    resp = transport.get(srv.url + BOROUGHS, timeout=5)
    assert resp.body == (LONDON_SNAPSHOT / "london_boroughs.gpkg").read_bytes()


def test_declared_size_over_limit(srv, transport):
    srv.fault(BOROUGHS, "huge", size=50 * 1024 * 1024, declare=True)
    with pytest.raises(ResponseTooLarge) as info:
        transport.get(srv.url + BOROUGHS, timeout=5, max_bytes=1024 * 1024)
    assert "announced 52,428,800 bytes" in info.value.message


def test_undeclared_stream_over_limit_is_cut(srv, transport):
    srv.fault(BOROUGHS, "huge", size=50 * 1024 * 1024, declare=False)
    start = time.monotonic()
    with pytest.raises(ResponseTooLarge):
        transport.get(srv.url + BOROUGHS, timeout=5, max_bytes=2 * 1024 * 1024)
    assert time.monotonic() - start < BOUNDED_S


def test_real_file_over_limit(srv, transport):
    with pytest.raises(ResponseTooLarge):
        transport.get(srv.url + BOROUGHS, timeout=5, max_bytes=100_000)


def test_gzip_bomb_is_stopped(srv, transport):
    srv.fault(CATALOGUE, "gzip_bomb", expanded=64 * 1024 * 1024)
    start = time.monotonic()
    with pytest.raises(ResponseTooLarge) as info:
        transport.get(srv.url + CATALOGUE, timeout=5, max_bytes=4 * 1024 * 1024)
    assert "after decompression" in info.value.message
    assert time.monotonic() - start < BOUNDED_S


def test_connection_reset_mid_body(srv, transport):
    srv.fault(BOROUGHS, "reset")
    with pytest.raises(ConnectionFailed) as info:
        transport.get(srv.url + BOROUGHS, timeout=5)
    assert "broke off" in info.value.message


def test_truncated_body(srv, transport):
    srv.fault(BOROUGHS, "truncate")
    with pytest.raises(ConnectionFailed):
        transport.get(srv.url + BOROUGHS, timeout=5)


def test_nothing_listening():
    with ReplayServer() as server:
        url = server.url
    with pytest.raises(ConnectionFailed) as info:
        RequestsTransport().get(url + CATALOGUE, timeout=2)
    assert "Could not connect" in info.value.message


def test_cancel_before_and_during(srv, transport):
    with pytest.raises(RequestCancelled):
        transport.get(srv.url + BOROUGHS, timeout=5, is_cancelled=lambda: True)
    assert srv.hits[BOROUGHS] == 0

    srv.fault(BOROUGHS, "slow_body", chunks=10, delay=0.3)
    calls = []

    def cancel_after_first_chunk():
        calls.append(1)
        return len(calls) > 1

    start = time.monotonic()
    with pytest.raises(RequestCancelled):
        transport.get(srv.url + BOROUGHS, timeout=5, is_cancelled=cancel_after_first_chunk)
    assert time.monotonic() - start < BOUNDED_S


def test_bad_payloads_raise_payload_errors(srv, transport):
    srv.fault(CATALOGUE, "invalid_json")
    with pytest.raises(PayloadError) as info:
        transport.get(srv.url + CATALOGUE, timeout=5).json()
    assert "not valid JSON" in info.value.message

    srv.fault(CATALOGUE, "invalid_utf8")
    with pytest.raises(PayloadError) as info:
        transport.get(srv.url + CATALOGUE, timeout=5).json()
    assert "not valid UTF-8" in info.value.message

    srv.fault(CATALOGUE, "html")
    resp = transport.get(srv.url + CATALOGUE, timeout=5)
    assert resp.content_type == "text/html"
    with pytest.raises(PayloadError) as info:
        resp.json()
    assert "an HTML page, not JSON" in info.value.message
