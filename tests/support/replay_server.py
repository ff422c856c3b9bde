"""Loopback server replaying the London Datastore (DataPress) and OCPI 2.2.1 APIs.

Everything it serves is built from the real files bundled with the plugin
(``resources/data/london``, ``resources/data/dundee``) and the official OCPI
examples in ``tests/data/ocpi/spec-examples`` (CC BY-ND: read, wrapped in
envelopes in memory, never changed). Fault modes can be switched on per path
while it runs; every response is finite and the server stops cleanly.

Use it as a context manager or pytest fixture::

    with ReplayServer() as srv:
        srv.fault("/api/v2/datasets/export.json", "status", status=503, times=2)
        ...
        assert srv.hits["/api/v2/datasets/export.json"] == 3

or as a script: ``python tests/support/replay_server.py --root DIR --port N`` (prints
the base URL, serves until Ctrl-C or ``--max-seconds``).

Fault modes (``srv.fault(path, mode, times=N, **params)``; ``path`` without query,
``"*"`` for all):

=============== ==================================================================
latency         sleep ``delay`` s before answering (then answer normally)
slow_body       send the real body in ``chunks`` pieces, ``delay`` s apart
status          answer ``status`` with optional ``retry_after`` and ``body``
truncate        Content-Length larger than the body, half sent, then close
reset           a third of the body, then a TCP reset
invalid_json    200 with JSON cut short
invalid_utf8    200 JSON with bytes that are not UTF-8
html            an HTML error page (``status``, default 200) instead of JSON
gzip_bomb       Content-Encoding gzip expanding to ``expanded`` bytes
huge            ``size`` bytes, Content-Length sent if ``declare`` (default true)
expired_token   401 with an OCPI envelope (2004 "Token expired")
link_self       OCPI: Link rel=next is the page's own URL
link_to         OCPI: Link rel=next is ``url``
link_cycle      OCPI: from offset ``cycle_at`` on, the next link goes back to offset 0
repeat_page     OCPI and /api/table: offset ignored, always the first page
endless         OCPI: next links go on past the data (empty pages)
lying_total     OCPI: X-Total-Count is ``total``
ocpi_status     OCPI: envelope ``code``/``message`` in HTTP ``http_status`` (200)
=============== ==================================================================

Every response is finite: sleeps end when the server stops, streams are capped.
"""

from __future__ import annotations

import argparse
import base64
import collections
import copy
import csv
import gzip
import hashlib
import io
import json
import socket
import struct
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, urlencode, urlsplit

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_DATA = REPO_ROOT / "resources" / "data"
SPEC_EXAMPLES = REPO_ROOT / "tests" / "data" / "ocpi" / "spec-examples"

NCR_FILE = "ncr_chargepoints_london_2022-05.csv.gz"

# Fixed ids so tests can name them.
EV_SITE_ID = "2lzpg"
EV_SITE_RESOURCE = "8ef9c743-c01d-4329-8239-8f858ff4de53"
BOUNDARIES_ID = "bndry"
BOROUGHS_RESOURCE = "3f6c2e0a-9f0c-4b43-9c83-boroughs0001"
WARDS_2018_RESOURCE = "a1d0c6e8-1b7e-4c57-8a6e-wards2018001"
WARDS_2011_RESOURCE = "b2e1d7f9-2c8f-4d68-9b7f-wards2011001"
WARDS_SHARED_FILENAME = "London_Ward.gpkg"  # both ward resources use it, on purpose
NCR_ID = "ncr22"
NCR_RESOURCE = "c3f2e8a0-3d9a-4e79-8c80-ncrlondon001"
NCR_TABLE = "5e0b4c1a-7d2f-4b8e-9a61-ncrdevices01"
USAGE_ID = "evusg"
USAGE_RESOURCE = "d4a3f9b1-4eab-4f8a-9d91-usagereturn1"

OCPI_VERSION = "2.2.1"
OCPI_MAX_LIMIT = 50
SPEC_LOCATIONS = (
    "location_example.json",
    "location_example_parking_garage_opening_hours.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
)

FAULT_MODES = frozenset({
    "latency", "slow_body", "status", "truncate", "invalid_json", "invalid_utf8", "html",
    "reset", "gzip_bomb", "huge", "expired_token",
    # OCPI list endpoints (repeat_page also for /api/table):
    "link_self", "link_to", "link_cycle", "lying_total", "repeat_page", "endless", "ocpi_status",
})


# --- fixture data --------------------------------------------------------------

def _iso(ts: str, fallback: str = "2022-05-04T00:00:00Z") -> str:
    """NCR ``2022-02-07 10:56:13`` → RFC 3339 UTC; the NCR's ``0000-00-00`` → fallback."""
    try:
        return datetime.strptime(ts.strip(), "%Y-%m-%d %H:%M:%S").strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return fallback


def _h(text: str) -> int:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16)


def load_ncr(data_root: Path) -> Tuple[List[str], List[List[str]]]:
    with gzip.open(data_root / "london" / NCR_FILE, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [row for row in reader if len(row) == len(header)]
    # The NCR header can repeat a name: keep every column by making names unique.
    seen: Dict[str, int] = collections.Counter()
    unique = []
    for name in header:
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique, rows


CONNECTOR_STANDARD = {
    "Type 2 Mennekes (IEC62196)": "IEC_62196_T2",
    "Type 1 SAEJ1772 (IEC 62196)": "IEC_62196_T1",
    "3-pin Type G (BS1363)": "DOMESTIC_G",
    "JEVS G105 (CHAdeMO) DC": "CHADEMO",
    "CCS Type 2 Combo (IEC62196)": "IEC_62196_T2_COMBO",
    "Type 2 Tesla (IEC62196) DC": "TESLA_S",
    "Type 3 Scame (IEC62196)": "IEC_62196_T3C",
}
POWER_TYPE = {"Single Phase AC": "AC_1_PHASE", "Three Phase AC": "AC_3_PHASE", "DC": "DC"}


def _party(controller: str) -> str:
    letters = "".join(c for c in controller.upper() if c.isalpha())
    return (letters + "XXX")[:3]


def _evse_status(device_id: str, controller: str, in_service: bool) -> str:
    roll = _h(device_id) % 100
    if controller == "Char.gy":  # char.gy's open feed uses its own words
        return "FAULTED" if (not in_service or roll < 12) else "WORKING"
    if not in_service:
        return "Out_Of_Order" if controller == "BP Pulse" else "OUTOFORDER"
    if controller == "BP Pulse" and roll < 25:
        return "Out_Of_Order"
    for limit, status in ((45, "AVAILABLE"), (75, "CHARGING"), (80, "RESERVED"),
                          (85, "BLOCKED"), (90, "UNKNOWN"), (95, "INOPERATIVE")):
        if roll < limit:
            return status
    return "OUTOFORDER"


def _num(text: str) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def build_ocpi_locations(header: List[str], rows: List[List[str]],
                         n_sites: int = 220, n_chargy: int = 20) -> List[dict]:
    """Realistic London OCPI Locations from real NCR devices: one EVSE per device."""
    col = {name: i for i, name in enumerate(header)}

    def g(row, name):
        return row[col[name]].strip()

    sites: Dict[tuple, List[List[str]]] = collections.defaultdict(list)
    for row in rows:
        key = (g(row, "postcode").upper(), g(row, "deviceControllerName"),
               (g(row, "thoroughfare") or g(row, "street")).lower())
        sites[key].append(row)
    ordered = sorted(sites, key=lambda k: hashlib.md5(repr(k).encode()).hexdigest())
    chosen = ordered[:n_sites]
    chosen += [k for k in ordered[n_sites:] if k[1] == "Char.gy"][:n_chargy]

    locations = []
    for key in chosen:
        devices = sorted(sites[key], key=lambda r: g(r, "chargeDeviceID"))[:6]
        first = devices[0]
        controller = g(first, "deviceControllerName") or "Unknown operator"
        party = _party(controller)
        evses = []
        for dev in devices:
            dev_id = g(dev, "chargeDeviceID")
            updated = _iso(g(dev, "dateUpdated"), _iso(g(dev, "dateCreated")))
            connectors = []
            for n in range(1, 9):
                ctype = g(dev, f"connector{n}Type")
                if not ctype:
                    continue
                volts = _num(g(dev, f"connector{n}RatedVoltage")) or 230.0
                amps = _num(g(dev, f"connector{n}OutputCurrent")) or 16.0
                conn = {
                    "id": g(dev, f"connector{n}ID") or str(n),
                    "standard": CONNECTOR_STANDARD.get(ctype, "IEC_62196_T2"),
                    "format": "CABLE" if g(dev, f"connector{n}TetheredCable") == "1"
                    else "SOCKET",
                    "power_type": POWER_TYPE.get(g(dev, f"connector{n}ChargeMethod"),
                                                 "AC_1_PHASE"),
                    "max_voltage": int(volts),
                    "max_amperage": int(amps),
                    "last_updated": updated,
                }
                kw = _num(g(dev, f"connector{n}RatedOutputKW"))
                # Real feeds (char.gy among them) often leave max_electric_power out.
                if kw and controller != "Char.gy" and _h(dev_id + str(n)) % 4:
                    conn["max_electric_power"] = int(kw * 1000)
                connectors.append(conn)
            if not connectors:
                continue
            ref = "".join(c for c in g(dev, "reference").upper() if c.isalnum())[:20] or dev_id[:8]
            evses.append({
                "uid": dev_id,
                "evse_id": f"GB*{party}*E{ref}",
                "status": _evse_status(dev_id, controller,
                                       g(dev, "chargeDeviceStatus") != "Out of service"),
                "connectors": connectors,
                "physical_reference": g(dev, "reference") or None,
                "last_updated": updated,
            })
        if not evses:
            continue
        address = " ".join(p for p in (g(first, "buildingNumber"),
                                       g(first, "thoroughfare") or g(first, "street"))
                           if p and p != "null")
        loc = {
            "country_code": "GB",
            "party_id": party,
            "id": g(first, "chargeDeviceID"),
            "publish": True,
            "name": g(first, "name") or address,
            "address": address or g(first, "name"),
            "city": g(first, "town") or "London",
            "postal_code": g(first, "postcode"),
            "country": "GBR",
            "coordinates": {"latitude": f"{float(g(first, 'latitude')):.6f}",
                            "longitude": f"{float(g(first, 'longitude')):.6f}"},
            "parking_type": "ON_STREET" if g(first, "locationType") == "On-street"
            else "PARKING_LOT",
            "evses": evses,
            "operator": {"name": controller},
            "owner": {"name": g(first, "deviceOwnerName") or controller},
            "time_zone": "Europe/London",
            "opening_times": {"twentyfourseven": g(first, "access24Hours") == "1"},
            "last_updated": max(e["last_updated"] for e in evses),
        }
        if controller == "Char.gy":  # char.gy puts the borough, with stray spaces, in city
            loc["city"] = f" {g(first, 'town') or 'London'} "
        locations.append(loc)
    return locations


def build_ocpi_cdrs(locations: List[dict], n: int = 120) -> List[dict]:
    """Synthetic CDRs (labelled so in ``remark``) on the replayed London locations."""
    cdrs = []
    pairs = [(loc, evse) for loc in locations for evse in loc["evses"]]
    for i in range(n):
        loc, evse = pairs[(i * 7) % len(pairs)]
        conn = evse["connectors"][0]
        start = datetime(2022, 4, 1, tzinfo=timezone.utc).timestamp() + i * 5400 + _h(
            evse["uid"]) % 3600
        hours = 0.5 + (_h(f"{i}{evse['uid']}") % 600) / 100.0
        charging = hours * 0.7
        kwh = round(charging * 6.5, 3)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        start_s = datetime.fromtimestamp(start, timezone.utc).strftime(fmt)
        end_s = datetime.fromtimestamp(start + hours * 3600, timezone.utc).strftime(fmt)
        upd_s = datetime.fromtimestamp(start + hours * 3600 + 300, timezone.utc).strftime(fmt)
        cdrs.append({
            "country_code": "GB", "party_id": loc["party_id"], "id": f"SYN-{i:05d}",
            "start_date_time": start_s, "end_date_time": end_s,
            "cdr_token": {"country_code": "GB", "party_id": loc["party_id"],
                          "uid": f"TOK{i:06d}", "type": "APP_USER",
                          "contract_id": f"GB-SYN-C{i:06d}"},
            "auth_method": "COMMAND",
            "cdr_location": {
                "id": loc["id"], "name": loc["name"], "address": loc["address"],
                "city": loc["city"], "postal_code": loc["postal_code"], "country": "GBR",
                "coordinates": loc["coordinates"], "evse_uid": evse["uid"],
                "evse_id": evse["evse_id"], "connector_id": conn["id"],
                "connector_standard": conn["standard"], "connector_format": conn["format"],
                "connector_power_type": conn["power_type"]},
            "currency": "GBP",
            "charging_periods": [{"start_date_time": start_s, "dimensions": [
                {"type": "ENERGY", "volume": kwh},
                {"type": "TIME", "volume": round(charging, 3)}]}],
            "total_cost": {"excl_vat": round(kwh * 0.35, 2), "incl_vat": round(kwh * 0.42, 2)},
            "total_energy": kwh,
            "total_time": round(hours, 3),
            "total_parking_time": round(hours - charging, 3),
            "remark": "synthetic replay fixture",
            "last_updated": upd_s,
        })
    return cdrs


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Fixtures:
    """Everything the server serves, built once from the bundled real files."""

    def __init__(self, data_root: Path = DEFAULT_DATA, spec_dir: Path = SPEC_EXAMPLES):
        self.data_root = Path(data_root)
        self.ncr_header, self.ncr_rows = load_ncr(self.data_root)
        self.ncr_table = [dict(zip(self.ncr_header, row)) for row in self.ncr_rows]
        self.tables: Dict[str, List[dict]] = {NCR_TABLE: self.ncr_table}

        spec = Path(spec_dir)
        self.spec_locations = [json.loads((spec / name).read_text("utf-8"))
                               for name in SPEC_LOCATIONS]
        self.spec_cdr = json.loads((spec / "cdr_example.json").read_text("utf-8"))
        self.london_locations = build_ocpi_locations(self.ncr_header, self.ncr_rows)
        self.locations = self.london_locations + self.spec_locations
        self.cdrs = build_ocpi_cdrs(self.london_locations) + [self.spec_cdr]

        self.files: Dict[Tuple[str, str], Tuple[str, bytes, str]] = {}
        self.datasets: Dict[str, dict] = {}
        self._build_datasets()

    def file_bytes(self, dataset_id: str, resource_id: str) -> bytes:
        return self.files[(dataset_id, resource_id)][1]

    def add_file(self, dataset_id: str, resource_id: str, filename: str, data: bytes,
                 mimetype: str = "application/octet-stream") -> str:
        self.files[(dataset_id, resource_id)] = (filename, data, mimetype)
        return f"/download/{dataset_id}/{resource_id}/{quote(filename)}"

    def _build_datasets(self):
        london = self.data_root / "london"
        col = {n: i for i, n in enumerate(self.ncr_header)}
        # Rapid sites: the real NCR devices with a DC connector, as a CSV.
        keep = ["chargeDeviceID", "name", "latitude", "longitude", "postcode",
                "deviceControllerName", "connector1Type", "connector1RatedOutputKW"]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(keep)
        for row in self.ncr_rows:
            if any(row[col[f"connector{n}ChargeMethod"]] == "DC" for n in range(1, 9)):
                writer.writerow([row[col[k]] for k in keep])
        rapid = buf.getvalue().encode("utf-8")
        self.rapid_count = rapid.count(b"\n") - 1
        url = self.add_file(EV_SITE_ID, EV_SITE_RESOURCE, "Rapid_charging_points.csv",
                            rapid, "text/csv")
        self.datasets[EV_SITE_ID] = {
            "id": EV_SITE_ID, "slug": "electric-vehicle-charging-site",
            "title": "Electric Vehicle Charging Site",
            "description": "<p>Rapid charge points (replayed from the NCR snapshot).</p>",
            "createdAt": "2019-05-07T10:32:33.000Z", "updatedAt": "2022-05-04T09:00:00.000Z",
            "licence": {"title": "UK Open Government Licence (OGL v3)",
                        "url": "http://www.nationalarchives.gov.uk/doc/open-government-licence/"
                               "version/3/"},
            "sharing": "public", "tags": ["electric vehicles", "transport"],
            "topics": ["transport"], "canonical": "/dataset/electric-vehicle-charging-site-2lzpg",
            "custom": {"update_frequency": "Ad hoc"},
            "resources": {EV_SITE_RESOURCE: {  # old link-checker field generation
                "title": "Rapid charging points", "format": "csv", "url": url,
                "description": "One row per rapid device",
                "check_size": len(rapid), "check_hash": _md5(rapid),
                "check_http_status": 200, "check_mimetype": "text/csv",
                "check_timestamp": "2022-05-04T09:00:00.000Z"}},
        }

        boundaries = {}
        for rid, path, title, filename, order in (
                (BOROUGHS_RESOURCE, london / "london_boroughs.gpkg", "London boroughs",
                 "London_Borough_Excluding_MHW.gpkg", 0),
                (WARDS_2018_RESOURCE, london / "london_wards_2018.gpkg", "London wards (2018)",
                 WARDS_SHARED_FILENAME, 1),
                (WARDS_2011_RESOURCE, london / "london_wards_2011_citymerged.gpkg",
                 "London wards (2011, City merged)", WARDS_SHARED_FILENAME, 2)):
            data = path.read_bytes()
            url = self.add_file(BOUNDARIES_ID, rid, filename, data,
                                "application/geopackage+sqlite3")
            boundaries[rid] = {  # current field generation
                "title": title, "format": "geopackage", "url": url, "description": title,
                "size": len(data), "hash": _md5(data), "order": order,
                "origin": "upload", "timeframe": {"from": "2018-05-01", "to": "2022-05-01"}}
        self.datasets[BOUNDARIES_ID] = {
            "id": BOUNDARIES_ID, "slug": "statistical-gis-boundary-files-london",
            "title": "Statistical GIS Boundary Files for London",
            "createdAt": "2014-01-10T12:00:00.000Z", "updatedAt": "2022-05-01T12:00:00.000Z",
            "licence": {"title": "UK Open Government Licence (OGL v3)", "url": ""},
            "sharing": "public", "tags": ["boundaries"], "topics": ["geography"],
            "resources": boundaries,
        }

        ncr_bytes = (london / NCR_FILE).read_bytes()
        self.add_file(NCR_ID, NCR_RESOURCE, NCR_FILE, ncr_bytes, "application/gzip")
        self.datasets[NCR_ID] = {
            "id": NCR_ID, "slug": "national-chargepoint-registry-london",
            "title": "National Chargepoint Registry - London snapshot (May 2022)",
            "createdAt": "2022-05-04T00:00:00.000Z", "updatedAt": "2022-05-04T12:00:00.000Z",
            "licence": {"title": "UK Open Government Licence (OGL v3)", "url": ""},
            "sharing": "public", "tags": ["electric vehicles"], "topics": ["transport"],
            "resources": {NCR_RESOURCE: {  # no url: clients must build /download/...
                "title": "NCR devices (London)", "format": "csv",
                "description": "All 158 NCR columns, gzip-compressed",
                "check_size": len(ncr_bytes), "check_hash": _md5(ncr_bytes) + "-1",
                "check_timestamp": "2022-05-04T12:00:00.000Z",
                "tables": {NCR_TABLE: {"name": "ncr_devices"}}}},
        }

        usage = (self.data_root / "dundee" / "cpdata.csv.gz").read_bytes()
        url = self.add_file(USAGE_ID, USAGE_RESOURCE, "usage-return.csv.gz", usage,
                            "application/gzip")
        self.datasets[USAGE_ID] = {
            "id": USAGE_ID, "slug": "ev-charge-point-usage-returns",
            "title": "EV charge point usage returns (borough officers only)",
            "createdAt": "2022-01-01T00:00:00.000Z", "updatedAt": "2022-04-01T00:00:00.000Z",
            "licence": {"title": "Restricted", "url": ""},
            "sharing": {"type": "restricted", "readusers": ["officer@example.gov.uk"],
                        "readteams": ["borough-ev-officers"]},
            "resources": {USAGE_RESOURCE: {
                "title": "Usage return (sessions)", "format": "csv", "url": url,
                "size": len(usage), "hash": _md5(usage)}},
        }

    _shared: Optional[Fixtures] = None

    @classmethod
    def shared(cls) -> Fixtures:
        """The default fixtures, built once per process (building takes about 0.5 s)."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def copy(self) -> Fixtures:
        """A copy whose datasets and files a test may change freely."""
        dup = copy.copy(self)
        dup.datasets = copy.deepcopy(self.datasets)
        dup.files = dict(self.files)
        dup.tables = dict(self.tables)
        dup.locations = list(self.locations)
        dup.cdrs = list(self.cdrs)
        return dup

    def is_restricted(self, dataset_id: str) -> bool:
        ds = self.datasets.get(dataset_id) or {}
        return ds.get("sharing", "public") != "public"


# --- faults ----------------------------------------------------------------------

class Fault:
    def __init__(self, mode: str, times: Optional[int], params: Dict[str, Any]):
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; known: {sorted(FAULT_MODES)}")
        self.mode = mode
        self.times = times
        self.params = params


_BOMB_CACHE: Dict[int, bytes] = {}


def gzip_bomb(expanded: int) -> bytes:
    if expanded not in _BOMB_CACHE:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
            block = b"\0" * (1 << 20)
            left = expanded
            while left > 0:
                gz.write(block[:min(left, len(block))])
                left -= len(block)
        _BOMB_CACHE[expanded] = buf.getvalue()
    return _BOMB_CACHE[expanded]


# --- the server -----------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, OSError)):
            return  # clients hang up on purpose in many tests
        super().handle_error(request, client_address)


class ReplayServer:
    """Threaded loopback server for the Datastore and OCPI APIs, with fault modes."""

    def __init__(self, data_root: Optional[Path] = None, *, port: int = 0,
                 token: Optional[str] = None, token_encoding: str = "base64",
                 api_key: Optional[str] = None, ocpi_max_limit: int = OCPI_MAX_LIMIT,
                 fixtures: Optional[Fixtures] = None):
        if token_encoding not in ("base64", "raw", "either"):
            raise ValueError("token_encoding must be 'base64', 'raw' or 'either'")
        if fixtures is None:
            fixtures = (Fixtures(Path(data_root)) if data_root else Fixtures.shared()).copy()
        self.fixtures = fixtures
        self.token = token
        self.token_encoding = token_encoding
        self.api_key = api_key
        self.ocpi_max_limit = ocpi_max_limit
        self.hits: collections.Counter = collections.Counter()
        self.requests: List[Tuple[str, Dict[str, str]]] = []
        self.targets: List[str] = []  # raw request targets, query included
        self._faults: Dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._port = port
        self._httpd: Optional[_Server] = None
        self._bound_port = 0
        self._thread: Optional[threading.Thread] = None

    # lifecycle
    def start(self) -> ReplayServer:
        handler = type("BoundHandler", (_Handler,), {"replay": self})
        self._httpd = _Server(("127.0.0.1", self._port), handler)
        self._bound_port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="replay-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        assert self._bound_port, "server not started"
        return self._bound_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # faults and counters
    def fault(self, path: str, mode: str, *, times: Optional[int] = None, **params) -> None:
        """Switch a fault on for ``path`` (exact path, no query; ``*`` for every path).

        ``times`` limits it to that many requests, after which the path answers
        normally again.
        """
        if mode == "gzip_bomb":
            # Compress now, not while answering: on a loaded machine building tens of
            # megabytes takes longer than the clients' one-second timeouts under test.
            gzip_bomb(int(params.get("expanded", 64 * 1024 * 1024)))
        with self._lock:
            self._faults[path] = Fault(mode, times, params)

    def clear_faults(self, path: Optional[str] = None) -> None:
        with self._lock:
            if path is None:
                self._faults.clear()
            else:
                self._faults.pop(path, None)

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()
            self.requests.clear()
            self.targets.clear()

    def _record(self, path: str, target: str, headers: Dict[str, str]) -> Optional[Fault]:
        with self._lock:
            self.hits[path] += 1
            self.requests.append((path, headers))
            self.targets.append(target)
            fault = self._faults.get(path) or self._faults.get("*")
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    for key, val in list(self._faults.items()):
                        if val is fault:
                            del self._faults[key]
            return fault

    # OCPI auth
    def ocpi_header(self, token: Optional[str] = None, encoding: Optional[str] = None) -> str:
        token = self.token if token is None else token
        enc = encoding or ("base64" if self.token_encoding != "raw" else "raw")
        if enc == "base64":
            token = base64.b64encode(token.encode("utf-8")).decode("ascii")
        return f"Token {token}"

    def _ocpi_authorised(self, header: Optional[str]) -> bool:
        if self.token is None:
            return True
        if not header:
            return False
        ok = set()
        if self.token_encoding in ("base64", "either"):
            ok.add(self.ocpi_header(encoding="base64"))
        if self.token_encoding in ("raw", "either"):
            ok.add(self.ocpi_header(encoding="raw"))
        return header.strip() in ok

    def _api_key_ok(self, headers) -> Optional[int]:
        """None when allowed, else the HTTP status to answer with."""
        sent = headers.get("X-API-Key") or headers.get("Authorization")
        if not sent:
            return 401
        return None if (self.api_key is not None and sent.strip() == self.api_key) else 403

    # data views for tests
    @property
    def datasets(self) -> Dict[str, dict]:
        return self.fixtures.datasets

    def locations_since(self, date_from: Optional[str] = None) -> List[dict]:
        return _filter_dates(self.fixtures.locations, date_from, None)


def _parse_dt(text: str) -> Optional[datetime]:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _filter_dates(items: List[dict], date_from: Optional[str], date_to: Optional[str]):
    lo = _parse_dt(date_from) if date_from else None
    hi = _parse_dt(date_to) if date_to else None
    out = []
    for item in items:
        when = _parse_dt(item.get("last_updated", ""))
        if when is None:
            continue
        if lo and when < lo:
            continue
        if hi and when >= hi:
            continue
        out.append(item)
    return out


def _envelope(data: Any = None, status_code: int = 1000, message: str = "Success") -> bytes:
    body = {"status_code": status_code, "status_message": message,
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if data is not None:
        body["data"] = data
    return json.dumps(body).encode("utf-8")


HTML_ERROR = (b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable"
              b"</title></head><body><h1>Service Temporarily Unavailable</h1><p>The server "
              b"is down for maintenance.</p></body></html>")

Reply = Tuple[int, Dict[str, str], bytes]
HANDLED: Reply = (0, {}, b"")  # the fault already wrote its own answer


class _Handler(BaseHTTPRequestHandler):
    replay: ReplayServer  # set on the bound subclass
    protocol_version = "HTTP/1.1"
    timeout = 15  # bounds reads and writes on a silent client
    server_version = "ReplayServer/1.0"

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests read hits instead
        pass

    # dispatch
    def do_GET(self):  # noqa: N802
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        fault = self.replay._record(path, self.path, dict(self.headers.items()))
        self.fault = fault
        try:
            if fault and fault.mode == "latency":
                self._wait(float(fault.params.get("delay", 2.0)))
            reply = self._fault_reply(fault) if fault else None
            if reply is None:
                reply = self._route(path)
            if reply is not HANDLED:
                self._send(*reply)
        except (ConnectionError, socket.timeout, BrokenPipeError):
            self.close_connection = True

    def _wait(self, seconds: float):
        self.replay._stopping.wait(min(seconds, 60.0))

    def _route(self, path: str) -> Reply:
        segs = [s for s in path.split("/") if s]
        if segs[:1] == ["ocpi"]:
            return self._ocpi(segs[1:])
        if path in ("/api/v2/datasets/export.json", "/api/datasets/export.json"):
            return self._catalogue()
        if len(segs) == 3 and segs[:2] == ["api", "dataset"]:
            return self._dataset(segs[2])
        if len(segs) == 3 and segs[:2] == ["api", "table"]:
            return self._table(segs[2])
        if path == "/api/3/action/package_show":
            return self._ckan(self.query.get("id", ""))
        if len(segs) >= 4 and segs[0] == "download":
            return self._download(segs[1], segs[2])
        return self._json(404, {"error": "Not found"})

    # DataPress
    def _json(self, status: int, obj: Any, extra: Optional[Dict[str, str]] = None) -> Reply:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers.update(extra or {})
        return status, headers, json.dumps(obj).encode("utf-8")

    def _dataset_view(self, ds: dict) -> dict:
        view = json.loads(json.dumps(ds))
        for res in view.get("resources", {}).values():
            if res.get("url", "").startswith("/"):
                res["url"] = self.replay.url + res["url"]
        return view

    def _catalogue(self) -> Reply:
        allowed = self.replay._api_key_ok(self.headers) is None
        items = [self._dataset_view(ds) for ds_id, ds in self.replay.datasets.items()
                 if allowed or not self.replay.fixtures.is_restricted(ds_id)]
        return self._json(200, items)

    def _restricted_refusal(self, dataset_id: str) -> Optional[Reply]:
        if self.replay.fixtures.is_restricted(dataset_id):
            status = self.replay._api_key_ok(self.headers)
            if status is not None:
                return self._json(status, {"error": "This dataset is restricted."})
        return None

    def _dataset(self, dataset_id: str) -> Reply:
        ds = self.replay.datasets.get(dataset_id)
        if ds is None:
            return self._json(404, {"error": "Dataset not found"})
        return self._restricted_refusal(dataset_id) or self._json(200, self._dataset_view(ds))

    def _ckan(self, dataset_id: str) -> Reply:
        ds = self.replay.datasets.get(dataset_id)
        if ds is None:
            return self._json(404, {"success": False, "error": {"message": "Not found"}})
        refused = self._restricted_refusal(dataset_id)
        if refused:
            return refused
        view = self._dataset_view(ds)
        resources = [{"id": rid, "name": r.get("title", ""), "url": r.get("url", ""),
                      "format": r.get("format", ""), "description": r.get("description", ""),
                      "size": r.get("size", r.get("check_size"))}
                     for rid, r in view["resources"].items()]
        return self._json(200, {"success": True, "result": {
            "id": ds["id"], "name": ds["slug"], "title": ds["title"],
            "metadata_created": ds["createdAt"], "metadata_modified": ds["updatedAt"],
            "license_title": (ds.get("licence") or {}).get("title", ""),
            "resources": resources}})

    def _table(self, table_id: str) -> Reply:
        rows = self.replay.fixtures.tables.get(table_id)
        if rows is None:
            return self._json(404, {"error": "Table not found"})
        try:
            limit = max(0, min(int(self.query.get("$limit", 1000)), 5000))
            offset = max(0, int(self.query.get("$offset", 0)))
        except ValueError:
            return self._json(400, {"error": "$limit and $offset must be integers"})
        if self.fault and self.fault.mode == "repeat_page":
            offset = 0
        return self._json(200, {"rows": rows[offset:offset + limit]})

    def _download(self, dataset_id: str, resource_id: str) -> Reply:
        entry = self.replay.fixtures.files.get((dataset_id, resource_id))
        if entry is None:
            return 404, {"Content-Type": "text/plain"}, b"Not found"
        refused = self._restricted_refusal(dataset_id)
        if refused:
            return refused
        filename, data, mimetype = entry
        return 200, {"Content-Type": mimetype,
                     "Content-Disposition": f'attachment; filename="{filename}"'}, data

    # OCPI
    def _ocpi(self, segs: List[str]) -> Reply:
        replay = self.replay
        if not replay._ocpi_authorised(self.headers.get("Authorization")):
            return 401, {"Content-Type": "application/json"}, _envelope(
                None, 2004, "Unknown or missing token")
        base = replay.url + "/ocpi"
        if segs == ["versions"]:
            return self._ocpi_reply(_envelope([
                {"version": "2.1.1", "url": f"{base}/2.1.1"},
                {"version": OCPI_VERSION, "url": f"{base}/{OCPI_VERSION}"}]))
        if segs == [OCPI_VERSION]:
            return self._ocpi_reply(_envelope({"version": OCPI_VERSION, "endpoints": [
                {"identifier": "credentials", "role": "RECEIVER",
                 "url": f"{base}/{OCPI_VERSION}/credentials"},
                {"identifier": "locations", "role": "RECEIVER",
                 "url": f"{base}/emsp/{OCPI_VERSION}/locations"},
                {"identifier": "locations", "role": "SENDER",
                 "url": f"{base}/{OCPI_VERSION}/locations"},
                {"identifier": "cdrs", "role": "SENDER", "url": f"{base}/{OCPI_VERSION}/cdrs"},
                {"identifier": "tariffs", "role": "SENDER",
                 "url": f"{base}/{OCPI_VERSION}/tariffs"}]}))
        if segs == ["2.1.1"]:
            return self._ocpi_reply(_envelope({"version": "2.1.1", "endpoints": []}))
        if segs == [OCPI_VERSION, "locations"]:
            return self._ocpi_list(replay.fixtures.locations)
        if segs == [OCPI_VERSION, "cdrs"]:
            return self._ocpi_list(replay.fixtures.cdrs)
        if len(segs) == 3 and segs[:2] == [OCPI_VERSION, "locations"]:
            for loc in replay.fixtures.locations:
                if loc["id"] == segs[2]:
                    return self._ocpi_reply(_envelope(loc))
            return self._ocpi_reply(_envelope(None, 2003, "Unknown location"), 404)
        return self._ocpi_reply(_envelope(None, 2000, "Unknown endpoint"), 404)

    def _ocpi_reply(self, body: bytes, status: int = 200,
                    extra: Optional[Dict[str, str]] = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        headers.update(extra or {})
        return status, headers, body

    def _ocpi_list(self, items: List[dict]) -> Reply:
        fault = self.fault
        mode = fault.mode if fault else ""
        params = fault.params if fault else {}
        if mode == "ocpi_status":
            return self._ocpi_reply(_envelope(
                None, int(params.get("code", 2001)),
                params.get("message", "Invalid or missing parameters")),
                int(params.get("http_status", 200)))
        try:
            offset = max(0, int(self.query.get("offset", 0)))
            limit = int(self.query.get("limit", self.replay.ocpi_max_limit))
        except ValueError:
            return self._ocpi_reply(_envelope(None, 2001, "offset and limit must be integers"),
                                    400)
        limit = max(1, min(limit, self.replay.ocpi_max_limit))
        chosen = _filter_dates(items, self.query.get("date_from"), self.query.get("date_to"))
        total = len(chosen)
        page_offset = 0 if mode == "repeat_page" else offset
        page = chosen[page_offset:page_offset + limit]

        def link(next_offset: int) -> str:
            query = {k: v for k, v in self.query.items() if k not in ("offset", "limit")}
            query.update(offset=next_offset, limit=limit)
            path = urlsplit(self.path).path
            return f"<{self.replay.url}{path}?{urlencode(query)}>; rel=\"next\""

        headers = {"X-Total-Count": str(total), "X-Limit": str(self.replay.ocpi_max_limit)}
        nxt = None
        if mode == "link_self":
            nxt = f"<{self.replay.url}{self.path}>; rel=\"next\""
        elif mode == "link_to":
            nxt = f"<{params['url']}>; rel=\"next\""
        elif mode == "link_cycle" and offset >= int(params.get("cycle_at", limit)):
            nxt = link(0)
        elif mode in ("repeat_page", "endless"):
            nxt = link(offset + limit)
        elif offset + limit < total:
            nxt = link(offset + limit)
        if nxt:
            headers["Link"] = nxt
        if mode == "lying_total":
            headers["X-Total-Count"] = str(params.get("total", total * 3))
        return self._ocpi_reply(_envelope(page), 200, headers)

    # fault replies that replace the normal content
    def _fault_reply(self, fault: Fault) -> Optional[Reply]:
        mode, p = fault.mode, fault.params
        if mode == "status":
            status = int(p.get("status", 500))
            headers = {"Content-Type": "application/json"}
            if p.get("retry_after") is not None:
                headers["Retry-After"] = str(p["retry_after"])
            body = p.get("body", json.dumps({"error": f"status {status}"}))
            return status, headers, body.encode("utf-8") if isinstance(body, str) else body
        if mode == "expired_token":
            return 401, {"Content-Type": "application/json"}, _envelope(
                None, 2004, "Token expired")
        if mode == "html":
            return int(p.get("status", 200)), {"Content-Type": "text/html"}, HTML_ERROR
        if mode == "invalid_json":
            return 200, {"Content-Type": "application/json"}, \
                b'{"status_code": 1000, "data": [{"id": "GB-1", "name": "Broken'
        if mode == "invalid_utf8":
            return 200, {"Content-Type": "application/json; charset=utf-8"}, \
                b'{"rows": [{"name": "Caf\xe9 \xff\xfe car park"}]}'
        if mode == "gzip_bomb":
            payload = gzip_bomb(int(p.get("expanded", 64 * 1024 * 1024)))
            self._send(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"},
                       payload)
            return HANDLED
        if mode == "huge":
            self._send_huge(int(p.get("size", 64 * 1024 * 1024)), bool(p.get("declare", True)))
            return HANDLED
        if mode in ("truncate", "reset", "slow_body"):
            reply = self._route(urlsplit(self.path).path.rstrip("/") or "/")
            if mode == "truncate":
                self._send_truncated(*reply)
            elif mode == "reset":
                self._send_reset(*reply)
            else:
                self._send_slow(*reply, chunks=int(p.get("chunks", 5)),
                                delay=float(p.get("delay", 0.5)))
            return HANDLED
        return None  # latency and OCPI list modes fall through to the route

    # senders
    def _head(self, status: int, headers: Dict[str, str], length: Optional[int]):
        self.send_response(status)
        for key, val in headers.items():
            self.send_header(key, val)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _send(self, status: int, headers: Dict[str, str], body: bytes):
        accept = self.headers.get("Accept-Encoding", "")
        if ("gzip" in accept and "Content-Encoding" not in headers and len(body) > 2048
                and headers.get("Content-Type", "").startswith("application/json")):
            body = gzip.compress(body, compresslevel=5)
            headers = dict(headers, **{"Content-Encoding": "gzip"})
        self._head(status, headers, len(body))
        self.wfile.write(body)
        self.wfile.flush()

    def _send_truncated(self, status, headers, body):
        self._head(status, headers, len(body) + 4096)
        self.wfile.write(body[: max(1, len(body) // 2)])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)

    def _send_reset(self, status, headers, body):
        self._head(status, headers, len(body))
        self.wfile.write(body[: max(1, len(body) // 3)])
        self.wfile.flush()
        time.sleep(0.05)
        # SO_LINGER with a zero timeout makes close() send a TCP RST.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _send_slow(self, status, headers, body, chunks: int, delay: float):
        self._head(status, headers, len(body))
        step = max(1, -(-len(body) // chunks))
        for start in range(0, len(body), step):
            if self.replay._stopping.is_set():
                return
            self.wfile.write(body[start:start + step])
            self.wfile.flush()
            self._wait(delay)

    def _send_huge(self, size: int, declare: bool):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if declare:
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        block = b"x" * 65536
        sent = 0
        while sent < size and not self.replay._stopping.is_set():
            chunk = block[: min(len(block), size - sent)]
            self.wfile.write(chunk)
            sent += len(chunk)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="plugin root (holding resources/data) or the data folder itself")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", help="OCPI token the server expects (none: anonymous)")
    parser.add_argument("--token-encoding", default="base64",
                        choices=("base64", "raw", "either"))
    parser.add_argument("--api-key", help="API key for restricted Datastore datasets")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="stop after this long (the run is always bounded)")
    args = parser.parse_args(argv)
    root = args.root
    data_root = root / "resources" / "data" if (root / "resources" / "data").is_dir() else root
    if (data_root / NCR_FILE).is_file():
        data_root = data_root.parent
    server = ReplayServer(data_root, port=args.port, token=args.token,
                          token_encoding=args.token_encoding, api_key=args.api_key)
    with server:
        print(server.url, flush=True)
        try:
            server._stopping.wait(args.max_seconds)
        except KeyboardInterrupt:
            pass
    return 0


try:  # a ready-made fixture: ``from replay_server import replay_server``
    import pytest
except ImportError:  # pragma: no cover - script use without pytest
    pytest = None

if pytest is not None:
    @pytest.fixture
    def replay_server():
        with ReplayServer() as srv:
            yield srv


if __name__ == "__main__":
    sys.exit(main())
