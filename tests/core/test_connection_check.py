"""The "Test connection" checks against the replay server, with RequestsTransport."""

from __future__ import annotations

import base64

import pytest
from replay_server import ReplayServer

from ev_chargepoints.core.sources import connection_check as cc
from ev_chargepoints.core.sources.transport import RequestsTransport

TOKEN = "cc-token-8f2d41"
API_KEY = "cc-api-key-77a0"
CATALOGUE = "/api/v2/datasets/export.json"
LOCATIONS = "/ocpi/2.2.1/locations"


@pytest.fixture(scope="module")
def srv():
    with ReplayServer(token=TOKEN, api_key=API_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(srv):
    srv.clear_faults()
    yield
    srv.clear_faults()


@pytest.fixture()
def transport():
    return RequestsTransport()


def assert_no_secret(result):
    for secret in (TOKEN, API_KEY):
        assert secret not in result.message
        assert base64.b64encode(secret.encode()).decode() not in result.message


# --- Datastore ----------------------------------------------------------------------

def test_datastore_good_counts_the_catalogue(srv, transport):
    result = cc.check_datastore(transport, srv.url)
    public = sum(1 for ds in srv.datasets if not srv.fixtures.is_restricted(ds))
    assert result.ok and result.kind == cc.OK
    assert result.message == f"Datastore reachable: {public} datasets in the catalogue."


def test_datastore_with_key_reads_a_restricted_dataset(srv, transport):
    result = cc.check_datastore(transport, srv.url, API_KEY, datasets=["2lzpg", "evusg", ""])
    assert result.ok, result.message
    assert f"{len(srv.datasets)} datasets in the catalogue" in result.message
    assert "'2lzpg' (Electric Vehicle Charging Site)" in result.message
    assert "restricted; the API key was accepted" in result.message
    assert_no_secret(result)


def test_datastore_401_without_key_for_a_restricted_dataset(srv, transport):
    result = cc.check_datastore(transport, srv.url, datasets=["evusg"])
    assert not result.ok and result.kind == cc.CREDENTIALS and result.status == 401
    assert result.message.startswith("Datastore reachable: ")
    assert "But dataset 'evusg': HTTP 401 from " in result.message
    assert "the server needs valid credentials" in result.message


def test_datastore_wrong_key_is_403_and_never_echoed(srv, transport):
    result = cc.check_datastore(transport, srv.url, "not-the-key-123", datasets=["evusg"])
    assert not result.ok and result.kind == cc.FORBIDDEN and result.status == 403
    assert "access is forbidden" in result.message
    assert "not-the-key-123" not in result.message


def test_datastore_timeout_is_reported_in_seconds(srv, transport):
    srv.fault(CATALOGUE, "latency", delay=5)
    result = cc.check_datastore(transport, srv.url, timeout=1)
    assert not result.ok and result.kind == cc.TIMEOUT
    assert result.message == f"{srv.url}{CATALOGUE} did not answer within 1 s."


def test_datastore_404_suggests_a_datapress_address(srv, transport):
    result = cc.check_datastore(transport, srv.url + "/not-a-datastore")
    assert not result.ok and result.kind == cc.NOT_FOUND and result.status == 404
    assert "HTTP 404 from " in result.message and "nothing was found" in result.message
    assert "https://data.london.gov.uk" in result.message


def test_datastore_html_page_instead_of_json(srv, transport):
    srv.fault(CATALOGUE, "html")
    result = cc.check_datastore(transport, srv.url)
    assert not result.ok and result.kind == cc.PAYLOAD
    assert "is an HTML page, not JSON" in result.message
    assert "proxy login page" in result.message


def test_datastore_bad_address_is_refused_before_any_request(srv, transport):
    srv.reset_hits()
    result = cc.check_datastore(transport, "data.london.gov.uk")
    assert not result.ok and result.kind == cc.CONFIG
    assert "must be an http(s) address" in result.message
    assert not srv.hits


def test_datastore_connection_refused(transport):
    with ReplayServer() as gone:
        url = gone.url
    result = cc.check_datastore(transport, url)
    assert not result.ok and result.kind == cc.CONNECTION
    assert "Could not connect to" in result.message


# --- OCPI -----------------------------------------------------------------------------

def test_ocpi_good_counts_locations_and_pages(srv, transport):
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, True)
    total = len(srv.fixtures.locations)
    pages = -(-total // srv.ocpi_max_limit)
    assert result.ok and result.kind == cc.OK
    assert result.message == f"OCPI feed answered: {total:,} locations on {pages} pages."
    assert_no_secret(result)


def test_ocpi_discovers_locations_from_the_versions_url(srv, transport):
    result = cc.check_ocpi(transport, srv.url + "/ocpi/versions", TOKEN, True)
    assert result.ok
    assert f"{len(srv.fixtures.locations):,} locations" in result.message


def test_ocpi_reads_no_more_than_max_pages(srv, transport):
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, True, max_pages=2)
    assert result.ok
    assert result.message == (
        f"OCPI feed answered: {2 * srv.ocpi_max_limit} locations on the first 2 pages (the "
        f"test reads no more; the server announces {len(srv.fixtures.locations)}).")


def test_ocpi_401_without_token(srv, transport):
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, None, True)
    assert not result.ok and result.kind == cc.CREDENTIALS and result.status == 401
    assert result.message.startswith(f"HTTP 401 from {srv.url}{LOCATIONS}: the server needs "
                                      "valid credentials")
    assert "Choose the authentication configuration" in result.message


def test_ocpi_401_with_raw_token_suggests_base64(srv, transport):
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, False)
    assert not result.ok and result.kind == cc.CREDENTIALS
    assert "try with Base64 encoding switched on" in result.message
    assert_no_secret(result)


def test_ocpi_expired_token(srv, transport):
    srv.fault(LOCATIONS, "expired_token")
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, True)
    assert not result.ok and result.status == 401
    assert "Token expired" in result.message and "new token" in result.message
    assert_no_secret(result)


def test_ocpi_timeout(srv, transport):
    srv.fault(LOCATIONS, "latency", delay=5)
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, True, timeout=1)
    assert not result.ok and result.kind == cc.TIMEOUT
    assert result.message.endswith("did not answer within 1 s.")


def test_ocpi_404(srv, transport):
    result = cc.check_ocpi(transport, srv.url + "/ocpi/2.2.1/nothing", TOKEN, True)
    assert not result.ok and result.kind == cc.NOT_FOUND and result.status == 404
    assert "nothing was found at that address" in result.message


def test_ocpi_html_page_instead_of_json(srv, transport):
    srv.fault(LOCATIONS, "html")
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, True)
    assert not result.ok and result.kind == cc.PAYLOAD
    assert "is an HTML page, not JSON" in result.message


def test_ocpi_status_error_is_explained(srv, transport):
    srv.fault(LOCATIONS, "ocpi_status", code=3001, message="Cannot use the client's API")
    result = cc.check_ocpi(transport, srv.url + LOCATIONS, TOKEN, True)
    assert not result.ok and result.kind == cc.OCPI_STATUS
    assert "reported error 3001" in result.message


def test_ocpi_url_with_credentials_is_refused(srv, transport):
    result = cc.check_ocpi(transport, "https://user:pw@example.org/ocpi/versions", TOKEN)
    assert not result.ok and result.kind == cc.CONFIG
    assert "must not contain a user name or password" in result.message
