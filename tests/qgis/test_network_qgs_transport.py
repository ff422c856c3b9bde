"""QgsTransport (QGIS's own network stack) against the loopback replay server."""

from __future__ import annotations

import threading
import time

import pytest
from qgis.core import QgsFeedback
from replay_server import ReplayServer

from ev_chargepoints.core import errors
from ev_chargepoints.qgis.network import QgsTransport

CATALOGUE = "/api/v2/datasets/export.json"


@pytest.fixture()
def server():
    with ReplayServer() as srv:
        yield srv


def test_fetches_json_with_the_user_agent_configured_in_qgis(server):
    response = QgsTransport().get(server.url + CATALOGUE, timeout=10)
    assert response.status == 200
    catalogue = response.json()
    assert isinstance(catalogue, list) and {d["id"] for d in catalogue} >= {"2lzpg"}
    _, headers = server.requests[-1]
    agent = next(v for k, v in headers.items() if k.lower() == "user-agent")
    assert "QGIS/" in agent


def test_http_errors_are_typed_with_readable_messages(server):
    with pytest.raises(errors.HttpError) as not_found:
        QgsTransport().get(server.url + "/api/dataset/nosuchid", timeout=10)
    assert not_found.value.status == 404
    assert "nothing was found at that address" in not_found.value.message

    server.fault(CATALOGUE, "status", status=503, retry_after=7)
    with pytest.raises(errors.HttpError) as unavailable:
        QgsTransport().get(server.url + CATALOGUE, timeout=10)
    assert unavailable.value.status == 503
    assert unavailable.value.headers.get("Retry-After") == "7"
    assert "unavailable" in unavailable.value.message


def test_timeout_is_honoured_and_bounded(server):
    server.fault(CATALOGUE, "latency", delay=10)
    started = time.monotonic()
    with pytest.raises(errors.RequestTimeout) as exc:
        QgsTransport().get(server.url + CATALOGUE, timeout=1)
    assert time.monotonic() - started < 8
    assert "did not answer within 1 s" in exc.value.message


def test_response_over_the_limit_is_refused(server):
    server.fault(CATALOGUE, "huge", size=8 * 1024 * 1024)
    with pytest.raises(errors.ResponseTooLarge):
        QgsTransport().get(server.url + CATALOGUE, timeout=10, max_bytes=1024 * 1024)


def test_connection_refused_is_a_connection_error():
    with ReplayServer() as srv:
        dead_url = srv.url + CATALOGUE
    with pytest.raises(errors.ConnectionFailed) as exc:
        QgsTransport().get(dead_url, timeout=5)
    assert "Could not fetch" in exc.value.message


def test_cancel_through_feedback_stops_the_request(server):
    server.fault(CATALOGUE, "latency", delay=10)
    feedback = QgsFeedback()
    threading.Timer(0.5, feedback.cancel).start()
    started = time.monotonic()
    with pytest.raises(errors.RequestCancelled):
        QgsTransport(feedback=feedback).get(server.url + CATALOGUE, timeout=30)
    assert time.monotonic() - started < 5


def test_query_strings_are_kept_out_of_error_messages(server):
    with pytest.raises(errors.HttpError) as exc:
        QgsTransport().get(server.url + "/api/dataset/nosuchid?apikey=SECRET123", timeout=10)
    assert "SECRET123" not in exc.value.message


def test_authcfg_credentials_are_applied_by_qgis_not_by_python(server, auth_manager):
    import base64

    from qgis.core import QgsAuthMethodConfig

    manager = auth_manager
    config = QgsAuthMethodConfig("Basic")
    config.setName("replay basic")
    config.setConfig("username", "officer")
    config.setConfig("password", "s3cret-pw")
    assert manager.storeAuthenticationConfig(config)[0]
    try:
        QgsTransport(authcfg=config.id()).get(server.url + CATALOGUE, timeout=10)
        _, headers = server.requests[-1]
        sent = next(v for k, v in headers.items() if k.lower() == "authorization")
        assert sent == "Basic " + base64.b64encode(b"officer:s3cret-pw").decode()
    finally:
        manager.removeAuthenticationConfig(config.id())
