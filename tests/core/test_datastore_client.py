"""DatastoreClient (DataPress + CKAN shim) against the replay server."""

import csv
import gzip
import hashlib
import logging

import pytest
from replay_server import (
    BOROUGHS_RESOURCE,
    BOUNDARIES_ID,
    EV_SITE_ID,
    EV_SITE_RESOURCE,
    NCR_FILE,
    NCR_ID,
    NCR_RESOURCE,
    NCR_TABLE,
    USAGE_ID,
    USAGE_RESOURCE,
    WARDS_2011_RESOURCE,
    WARDS_2018_RESOURCE,
    ReplayServer,
)

from ev_chargepoints.core.errors import (
    ConnectionFailed,
    HttpError,
    PayloadError,
    ResponseTooLarge,
)
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
from ev_chargepoints.core.sources.download_cache import DownloadCache
from ev_chargepoints.core.sources.http import HttpClient, RetryPolicy
from ev_chargepoints.core.sources.london_datastore import DatastoreClient, Resource, check_integrity
from ev_chargepoints.core.sources.transport import RequestsTransport

API_KEY = "dp-key-7f3a9c1e5b"
V2 = "/api/v2/datasets/export.json"
LEGACY = "/api/datasets/export.json"


def ncr_rows():
    with gzip.open(LONDON_SNAPSHOT / NCR_FILE, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


HEADER, ROWS = ncr_rows()


@pytest.fixture  # per test: tests change the served datasets
def srv():
    with ReplayServer(api_key=API_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(srv):
    srv.clear_faults()
    srv.reset_hits()
    yield
    srv.clear_faults()


def make_client(srv, api_key=None, cache=None, attempts=3, **kw):
    http = HttpClient(RequestsTransport(), timeout=3,
                      policy=RetryPolicy(attempts=attempts, backoff_s=0.01, max_wait_s=2))
    return DatastoreClient(http, srv.url, api_key=api_key, cache=cache, **kw)


# --- catalogue -------------------------------------------------------------------

def test_catalogue_v2(srv):
    items = make_client(srv).catalogue()
    assert {d["id"] for d in items} == {EV_SITE_ID, BOUNDARIES_ID, NCR_ID}
    assert srv.hits[V2] == 1 and srv.hits[LEGACY] == 0


def test_catalogue_falls_back_to_legacy_path_on_404(srv):
    srv.fault(V2, "status", status=404)
    items = make_client(srv).catalogue()
    assert EV_SITE_ID in {d["id"] for d in items}
    assert srv.hits[V2] == 1 and srv.hits[LEGACY] == 1


def test_catalogue_server_error_is_not_a_fallback(srv):
    srv.fault(V2, "status", status=500)
    with pytest.raises(HttpError) as info:
        make_client(srv, attempts=2).catalogue()
    assert info.value.status == 500
    assert srv.hits[V2] == 2 and srv.hits[LEGACY] == 0


def test_catalogue_with_key_lists_restricted(srv):
    datasets = make_client(srv, api_key=API_KEY).list_datasets()
    by_id = {d.id: d for d in datasets}
    assert by_id[USAGE_ID].restricted
    assert not by_id[EV_SITE_ID].restricted


@pytest.mark.parametrize("mode, error, words", [
    ("invalid_json", PayloadError, "not valid JSON"),
    ("html", PayloadError, "HTML page"),
    ("invalid_utf8", PayloadError, "UTF-8"),
])
def test_catalogue_bad_payloads(srv, mode, error, words):
    srv.fault(V2, mode)
    with pytest.raises(error) as info:
        make_client(srv).catalogue()
    assert words in info.value.message


def test_catalogue_gzip_bomb(srv):
    srv.fault(V2, "gzip_bomb", expanded=64 * 1024 * 1024)
    with pytest.raises(ResponseTooLarge):
        make_client(srv, max_json_bytes=8 * 1024 * 1024).catalogue()


# --- datasets ----------------------------------------------------------------------

def test_old_generation_fields_normalised(srv):
    ds = make_client(srv).get_dataset(EV_SITE_ID)
    assert ds.title == "Electric Vehicle Charging Site"
    assert ds.modified == "2022-05-04T09:00:00.000Z"
    assert "Open Government Licence" in ds.licence_title
    (res,) = ds.resources
    assert res.resource_id == EV_SITE_RESOURCE
    assert res.format == "csv"
    data = srv.fixtures.file_bytes(EV_SITE_ID, EV_SITE_RESOURCE)
    assert res.size == len(data)
    assert res.hash == hashlib.md5(data).hexdigest()
    assert res.modified == "2022-05-04T09:00:00.000Z"


def test_new_generation_fields_and_shared_file_names(srv):
    ds = make_client(srv).get_dataset(BOUNDARIES_ID)
    assert [r.resource_id for r in ds.resources] == [
        BOROUGHS_RESOURCE, WARDS_2018_RESOURCE, WARDS_2011_RESOURCE]
    wards18, wards11 = ds.resource(WARDS_2018_RESOURCE), ds.resource(WARDS_2011_RESOURCE)
    assert wards18.url.rsplit("/", 1)[-1] == wards11.url.rsplit("/", 1)[-1]
    assert wards18.size == (LONDON_SNAPSHOT / "london_wards_2018.gpkg").stat().st_size
    assert wards18.format == "geopackage"
    with pytest.raises(PayloadError):
        ds.resource("London wards (2018)")  # titles are not keys


def test_ckan_fallback_when_native_404(srv):
    srv.fault(f"/api/dataset/{EV_SITE_ID}", "status", status=404)
    ds = make_client(srv).get_dataset(EV_SITE_ID)
    assert ds.source == "ckan"
    assert ds.resources[0].resource_id == EV_SITE_RESOURCE
    assert ds.modified == "2022-05-04T09:00:00.000Z"
    assert srv.hits["/api/3/action/package_show"] == 1


def test_ckan_fallback_when_native_sends_html(srv):
    srv.fault(f"/api/dataset/{BOUNDARIES_ID}", "html")
    ds = make_client(srv).get_dataset(BOUNDARIES_ID)
    assert ds.source == "ckan" and len(ds.resources) == 3


def test_unknown_dataset_is_a_readable_404(srv):
    with pytest.raises(HttpError) as info:
        make_client(srv).get_dataset("zz9zz")
    assert info.value.status == 404
    assert "/api/dataset/zz9zz" in info.value.message
    assert "check the URL or dataset id" in info.value.message


def test_invalid_ids_refused():
    http = HttpClient(RequestsTransport())
    client = DatastoreClient(http, "http://127.0.0.1:9")
    for bad in ("", "..", "a/b", "..\\x"):
        with pytest.raises(ValueError):
            client.get_dataset(bad)


# --- downloads ---------------------------------------------------------------------

def test_download_rapid_sites_real_content(srv, tmp_path):
    result = make_client(srv).download(EV_SITE_ID, EV_SITE_RESOURCE, tmp_path)
    assert result.verified and not result.warnings and not result.from_cache
    with open(result.path, encoding="utf-8", newline="") as fh:
        got = list(csv.DictReader(fh))
    col = {n: i for i, n in enumerate(HEADER)}
    dc_ids = {r[col["chargeDeviceID"]] for r in ROWS
              if any(r[col[f"connector{n}ChargeMethod"]] == "DC" for n in range(1, 9))}
    assert len(got) == len(dc_ids) == 508
    assert {r["chargeDeviceID"] for r in got} == dc_ids
    assert result.path.parent.parent == tmp_path


def test_download_without_url_uses_download_path(srv, tmp_path):
    client = make_client(srv)
    ds = client.get_dataset(NCR_ID)
    res = ds.resource(NCR_RESOURCE)
    assert res.url == "" and res.hash.endswith("-1")
    result = client.download(ds, res, tmp_path)
    assert result.path.read_bytes() == (LONDON_SNAPSHOT / NCR_FILE).read_bytes()
    downloads = [p for p, _ in srv.requests if p.startswith("/download/")]
    assert downloads == [f"/download/{NCR_ID}/{NCR_RESOURCE}/NCR_devices_London.csv"]
    assert result.verified  # the size matched; the multipart ETag cannot be checked


def test_same_file_name_resources_do_not_collide(srv, tmp_path):
    client = make_client(srv)
    ds = client.get_dataset(BOUNDARIES_ID)
    a = client.download(ds, WARDS_2018_RESOURCE, tmp_path)
    b = client.download(ds, WARDS_2011_RESOURCE, tmp_path)
    assert a.path != b.path and a.path.name == b.path.name == "London_Ward.gpkg"
    assert a.path.read_bytes() == (LONDON_SNAPSHOT / "london_wards_2018.gpkg").read_bytes()
    assert b.path.read_bytes() == (
        LONDON_SNAPSHOT / "london_wards_2011_citymerged.gpkg").read_bytes()


def test_cache_avoids_second_download_and_notices_changes(srv, tmp_path):
    cache = DownloadCache(tmp_path / "cache")
    client = make_client(srv, cache=cache)
    path = f"/download/{BOUNDARIES_ID}/{BOROUGHS_RESOURCE}/London_Borough_Excluding_MHW.gpkg"
    first = client.download(BOUNDARIES_ID, BOROUGHS_RESOURCE, tmp_path / "a")
    second = client.download(BOUNDARIES_ID, BOROUGHS_RESOURCE, tmp_path / "b")
    assert not first.from_cache and second.from_cache
    assert srv.hits[path] == 1
    assert second.path.read_bytes() == first.path.read_bytes()

    # The publisher replaces the file: new hash, so it is fetched again.
    new = (LONDON_SNAPSHOT / "london_wards_2018.gpkg").read_bytes()
    srv.fixtures.add_file(BOUNDARIES_ID, BOROUGHS_RESOURCE, "London_Borough_Excluding_MHW.gpkg",
                          new)
    meta = srv.datasets[BOUNDARIES_ID]["resources"][BOROUGHS_RESOURCE]
    meta.update(size=len(new), hash=hashlib.md5(new).hexdigest())
    third = client.download(BOUNDARIES_ID, BOROUGHS_RESOURCE, tmp_path / "c")
    assert not third.from_cache and third.path.read_bytes() == new
    assert srv.hits[path] == 2


def test_size_and_hash_mismatch_are_warnings(srv, tmp_path, caplog):
    srv.datasets[EV_SITE_ID]["resources"][EV_SITE_RESOURCE]["check_size"] = 12
    srv.datasets[BOUNDARIES_ID]["resources"][BOROUGHS_RESOURCE]["hash"] = "0" * 32
    client = make_client(srv, cache=DownloadCache(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING):
        a = client.download(EV_SITE_ID, EV_SITE_RESOURCE, tmp_path)
        b = client.download(BOUNDARIES_ID, BOROUGHS_RESOURCE, tmp_path)
    assert a.path.is_file() and not a.verified
    assert any("lists 12 bytes" in w for w in a.warnings)
    assert any("MD5 checksum does not match" in w for w in b.warnings)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) >= 2
    assert client.cache.entries() == []  # suspect files are not cached


def test_check_integrity_variants():
    data = b"hello"
    sha = hashlib.sha256(data).hexdigest()
    assert check_integrity(data, Resource("r", size=5, hash=f"sha256:{sha}")) == (True, [])
    assert check_integrity(data, Resource("r", hash="abc-3")) == (False, [])
    verified, warnings = check_integrity(data, Resource("r", size=6))
    assert not verified and warnings


def test_download_retried_after_503(srv, tmp_path):
    path = f"/download/{EV_SITE_ID}/{EV_SITE_RESOURCE}/Rapid_charging_points.csv"
    srv.fault(path, "status", status=503, retry_after=0, times=1)
    result = make_client(srv).download(EV_SITE_ID, EV_SITE_RESOURCE, tmp_path)
    assert result.verified
    assert srv.hits[path] == 2


def test_broken_download_leaves_no_file(srv, tmp_path):
    path = f"/download/{BOUNDARIES_ID}/{BOROUGHS_RESOURCE}/London_Borough_Excluding_MHW.gpkg"
    srv.fault(path, "truncate")
    with pytest.raises(ConnectionFailed) as info:
        make_client(srv, attempts=2).download(BOUNDARIES_ID, BOROUGHS_RESOURCE, tmp_path)
    assert "broke off" in info.value.message
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_hostile_names_never_become_paths(srv, tmp_path):
    data = (RESOURCES / "data" / "london" / "ward-profiles-excel-version.csv").read_bytes()
    rid = "evil-resource"
    srv.fixtures.add_file(BOUNDARIES_ID, rid, "x", data)
    srv.datasets[BOUNDARIES_ID]["resources"][rid] = {
        "title": "../../../etc/passwd", "format": "csv",
        "url": f"/download/{BOUNDARIES_ID}/{rid}/..%2F..%2F..%2F.bashrc", "size": len(data)}
    client = make_client(srv)
    result = client.download(BOUNDARIES_ID, rid, tmp_path / "dest")
    assert result.path.resolve().is_relative_to((tmp_path / "dest").resolve())
    assert result.path.name == "bashrc"
    assert result.path.read_bytes() == data
    assert not (tmp_path / ".bashrc").exists()

    ds = client.get_dataset(BOUNDARIES_ID)
    bad = Resource("../../escape", title="x", url="file:///etc/passwd")
    with pytest.raises(PayloadError):
        client.download(ds, bad, tmp_path / "dest")


# --- restricted datasets and the API key ---------------------------------------------

def test_restricted_dataset_needs_key(srv):
    with pytest.raises(HttpError) as info:
        make_client(srv).get_dataset(USAGE_ID)
    assert info.value.status == 401
    assert "API key or token" in info.value.message
    with pytest.raises(HttpError) as info:
        make_client(srv, api_key="wrong-key-000").get_dataset(USAGE_ID)
    assert info.value.status == 403
    assert "restricted" in info.value.message


def test_restricted_download_with_key(srv, tmp_path):
    client = make_client(srv, api_key=API_KEY)
    ds = client.get_dataset(USAGE_ID)
    assert ds.restricted
    result = client.download(ds, USAGE_RESOURCE, tmp_path)
    expected = (RESOURCES / "data" / "dundee" / "cpdata.csv.gz").read_bytes()
    assert result.path.read_bytes() == expected
    assert gzip.decompress(expected).splitlines()[0].startswith(b"Charging event,CP ID")


def test_api_key_never_leaks(srv, tmp_path, caplog):
    wrong = "leaky-secret-key-123"
    caplog.set_level(logging.DEBUG)
    messages = []
    for client in (make_client(srv, api_key=wrong), make_client(srv, api_key=API_KEY)):
        assert "key-" not in repr(client)
        srv.fault(f"/api/dataset/{USAGE_ID}", "status", status=503)
        for call in (lambda c=client: c.get_dataset(USAGE_ID),
                     lambda c=client: c.query_table("no-such-table")):
            with pytest.raises(HttpError) as info:
                call()
            messages += [str(info.value), info.value.message, repr(info.value)]
        srv.clear_faults()
    with pytest.raises(HttpError) as info:
        make_client(srv, api_key=wrong).get_dataset(USAGE_ID)
    messages.append(str(info.value))
    texts = messages + [r.getMessage() for r in caplog.records]
    assert texts
    for secret in (wrong, API_KEY):
        assert not any(secret in t for t in texts)


def test_api_key_only_sent_to_the_datastore_host(srv, tmp_path):
    # Same server reached as "localhost": another origin as far as the client knows.
    rid = BOROUGHS_RESOURCE
    meta = srv.datasets[BOUNDARIES_ID]["resources"][rid]
    meta["url"] = srv.url.replace("127.0.0.1", "localhost") + meta["url"]
    client = make_client(srv, api_key=API_KEY)
    client.download(BOUNDARIES_ID, rid, tmp_path)
    sent = [h for p, h in srv.requests if p.startswith("/download/")]
    assert sent and all("Authorization" not in h for h in sent)
    api = [h for p, h in srv.requests if p.startswith("/api/dataset/")]
    assert api and all(h.get("Authorization") == API_KEY for h in api)


# --- tables --------------------------------------------------------------------------

def test_query_table_pages_until_short_page(srv):
    rows = make_client(srv).query_table(NCR_TABLE, limit=2000)
    assert len(rows) == len(ROWS) == 8940
    assert srv.hits[f"/api/table/{NCR_TABLE}"] == 5
    assert rows[0]["chargeDeviceID"] == ROWS[0][0]
    assert rows[-1]["chargeDeviceID"] == ROWS[-1][0]
    assert len(rows[0]) == 158
    assert len({r["chargeDeviceID"] for r in rows}) == 8940


def test_query_table_exact_multiple_and_max_rows(srv):
    rows = make_client(srv).query_table(NCR_TABLE, limit=4470)
    assert len(rows) == 8940
    assert srv.hits[f"/api/table/{NCR_TABLE}"] == 3  # two full pages, then an empty one
    srv.reset_hits()
    few = make_client(srv).query_table(NCR_TABLE, limit=100, max_rows=250)
    assert [r["chargeDeviceID"] for r in few] == [r[0] for r in ROWS[:250]]
    assert srv.hits[f"/api/table/{NCR_TABLE}"] == 3


def test_query_table_server_ignoring_offset_is_stopped(srv):
    srv.fault(f"/api/table/{NCR_TABLE}", "repeat_page")
    with pytest.raises(PayloadError) as info:
        make_client(srv).query_table(NCR_TABLE, limit=1000)
    assert "ignore paging" in info.value.message
    assert srv.hits[f"/api/table/{NCR_TABLE}"] == 2


def test_query_table_bad_page(srv):
    srv.fault(f"/api/table/{NCR_TABLE}", "invalid_utf8")
    with pytest.raises(PayloadError):
        make_client(srv).query_table(NCR_TABLE)
