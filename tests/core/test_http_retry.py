"""HttpClient retries, backoff and Retry-After against the replay server."""

import email.utils
import logging
import time

import pytest
from replay_server import ReplayServer

from ev_chargepoints.core.errors import (
    ConnectionFailed,
    HttpError,
    RequestCancelled,
    RequestTimeout,
)
from ev_chargepoints.core.sources.http import HttpClient, RetryPolicy
from ev_chargepoints.core.sources.transport import RequestsTransport

CATALOGUE = "/api/v2/datasets/export.json"
BOUNDED_S = 10.0


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


class RecordingSleep:
    def __init__(self):
        self.total = 0.0

    def __call__(self, seconds):
        self.total += seconds
        time.sleep(seconds)


def client(attempts=3, backoff=0.01, max_wait=5.0, timeout=2.0, sleep=None):
    return HttpClient(RequestsTransport(), timeout=timeout,
                      policy=RetryPolicy(attempts=attempts, backoff_s=backoff,
                                         max_wait_s=max_wait),
                      sleep=sleep or time.sleep)


def catalogue_ids(resp):
    return {d["id"] for d in resp.json()}


def test_429_with_retry_after_is_honoured(srv):
    srv.fault(CATALOGUE, "status", status=429, retry_after=1, times=1)
    sleep = RecordingSleep()
    resp = client(sleep=sleep).get(srv.url + CATALOGUE)
    assert "2lzpg" in catalogue_ids(resp)
    assert srv.hits[CATALOGUE] == 2
    assert 0.9 <= sleep.total < BOUNDED_S


def test_429_with_http_date_retry_after(srv):
    when = email.utils.formatdate(time.time() + 1, usegmt=True)
    srv.fault(CATALOGUE, "status", status=429, retry_after=when, times=1)
    resp = client().get(srv.url + CATALOGUE)
    assert "bndry" in catalogue_ids(resp)
    assert srv.hits[CATALOGUE] == 2


def test_429_without_retry_after_uses_backoff(srv):
    srv.fault(CATALOGUE, "status", status=429, times=2)
    sleep = RecordingSleep()
    resp = client(backoff=0.05, sleep=sleep).get(srv.url + CATALOGUE)
    assert "ncr22" in catalogue_ids(resp)
    assert srv.hits[CATALOGUE] == 3
    assert sleep.total == pytest.approx(0.05 + 0.10, abs=0.05)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_retried_then_success(srv, status):
    srv.fault(CATALOGUE, "status", status=status, times=2)
    resp = client().get(srv.url + CATALOGUE)
    assert "2lzpg" in catalogue_ids(resp)
    assert srv.hits[CATALOGUE] == 3


def test_html_gateway_error_page_retried(srv):
    srv.fault(CATALOGUE, "html", status=502, times=1)
    resp = client().get(srv.url + CATALOGUE)
    assert "ncr22" in catalogue_ids(resp)
    assert srv.hits[CATALOGUE] == 2


def test_gives_up_after_policy_attempts(srv, caplog):
    srv.fault(CATALOGUE, "status", status=503)
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="ev_chargepoints"):
        with pytest.raises(HttpError) as info:
            client(attempts=3).get(srv.url + CATALOGUE)
    assert info.value.status == 503
    assert "unavailable for now" in info.value.message
    assert srv.hits[CATALOGUE] == 3
    assert time.monotonic() - start < BOUNDED_S
    assert sum("Retrying" in r.getMessage() for r in caplog.records) == 2


def test_retry_after_too_long_is_an_error_at_once(srv):
    srv.fault(CATALOGUE, "status", status=429, retry_after=3600)
    start = time.monotonic()
    with pytest.raises(HttpError) as info:
        client(max_wait=5).get(srv.url + CATALOGUE)
    assert info.value.status == 429
    assert "wait 3600 s" in info.value.message
    assert srv.hits[CATALOGUE] == 1
    assert time.monotonic() - start < BOUNDED_S


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_not_retried(srv, status):
    srv.fault(CATALOGUE, "status", status=status)
    with pytest.raises(HttpError) as info:
        client().get(srv.url + CATALOGUE)
    assert info.value.status == status
    assert srv.hits[CATALOGUE] == 1


def test_connection_reset_retried_then_success(srv):
    srv.fault(CATALOGUE, "reset", times=1)
    resp = client().get(srv.url + CATALOGUE)
    assert "bndry" in catalogue_ids(resp)
    assert srv.hits[CATALOGUE] == 2


def test_persistent_reset_gives_up(srv):
    srv.fault(CATALOGUE, "truncate")
    with pytest.raises(ConnectionFailed):
        client(attempts=2).get(srv.url + CATALOGUE)
    assert srv.hits[CATALOGUE] == 2


def test_timeouts_retried_then_typed_error(srv):
    srv.fault(CATALOGUE, "latency", delay=30)
    start = time.monotonic()
    with pytest.raises(RequestTimeout):
        client(attempts=2, timeout=0.4).get(srv.url + CATALOGUE)
    assert srv.hits[CATALOGUE] == 2
    assert time.monotonic() - start < BOUNDED_S


def test_cancel_during_backoff_is_prompt(srv):
    srv.fault(CATALOGUE, "status", status=429, retry_after=4)
    cancelled = {"flag": False}

    def sleep(seconds):
        cancelled["flag"] = True
        time.sleep(seconds)

    start = time.monotonic()
    with pytest.raises(RequestCancelled):
        client(attempts=4, sleep=sleep).get(srv.url + CATALOGUE,
                                            is_cancelled=lambda: cancelled["flag"])
    assert time.monotonic() - start < 3.5
    assert srv.hits[CATALOGUE] == 1
