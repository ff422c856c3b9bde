"""A London borough's combined real data, and the independent figures it is checked against.

What a borough puts into one store (conftest.py builds it once, through the CLI but for
six timed status polls):

- the bundled registry (NCR, May 2022: 8,940 devices) with ``import``;
- an OCPI 2.2.1 Locations feed ("ops") fetched with ``fetch --ocpi`` from a loopback
  server: Locations built by the replay server's own builder
  (``replay_server.build_ocpi_locations``: registry coordinates, operator-style
  ``evse_id`` = ``GB*<party>*E<reference>``) from Source London and InstaVolt devices
  whose ``reference`` carries a number no other device's reference carries; three
  Locations of an operator the registry does not know yet (one under an id a registry
  device has); and one EVSE without ``evse_id`` at a kerb where several Source London
  devices stand within the proximity radius, which the officer decides in ``reconcile``;
- watched live status (tests/support/watched_history.py: six polls of four real
  POD Point, BP Pulse and ubitricity Locations with known status changes, in 2024), then
  one ``watch`` poll of the same feed, now;
- quarterly usage returns (docs/data-standard.md §3) of two operators for 2021-Q4 and
  2022-Q1: the real Dundee sessions of October 2017 to March 2018, moved on by exactly
  209 weeks (same weekday and time of day, same duration and kWh), each Dundee charge
  point given to one registry device (mostly Source London and BP Pulse devices in
  Camden, some BP Pulse rapid devices elsewhere).

The figures are recomputed here without the plugin's readers or placement: the registry
CSV and the Dundee files read with plain pandas, boroughs and wards located with an
even-odd ray test on the boundary rings read through OGR. The one shared piece is the
WGS84 -> British National Grid projection (``core.crs``: the Ordnance Survey's published
Helmert + Transverse Mercator, checked against PROJ in tests/qgis/test_crs_against_qgis.py).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from replay_server import build_ocpi_locations

from ev_chargepoints.core.analysis.reconcile import PROXIMITY_M
from ev_chargepoints.core.crs import wgs84_to_bng

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "resources" / "data"
NCR = DATA / "london" / "ncr_chargepoints_london_2022-05.csv.gz"
BOROUGHS_GPKG = DATA / "london" / "london_boroughs.gpkg"
WARDS_GPKG = DATA / "london" / "london_wards_2018.gpkg"
DUNDEE = DATA / "dundee"
DUNDEE_FILES = ("cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz")
UK = "Europe/London"

OPS_FEED, OPS_TOKEN_ENV, OPS_TOKEN = "ops", "EVCP_OPS_TOKEN", "ops-feed-token-5c1e"
FEED_OPERATORS = {"Source London": 40, "InstaVolt Ltd": 10}  # operator: Locations
NEWCOMER, NEWCOMER_PARTY = "Newcomer Charging Ltd", "NEW"
NEWCOMER_KW = 22.0
KERB_LOCATION, KERB_EVSE = "SL-KERB-1", "K-1"
# OCPI statuses of the feed's registry EVSEs, in turn
STATUS_CYCLE = ("AVAILABLE", "CHARGING", "AVAILABLE", "OUTOFORDER", "CHARGING", "INOPERATIVE",
                "UNKNOWN", "AVAILABLE", "BLOCKED", "RESERVED")
WORKING, DOWN = {"AVAILABLE", "CHARGING", "RESERVED"}, {"INOPERATIVE", "OUTOFORDER"}

USAGE_BOROUGH = "Camden"
SHIFT = pd.Timedelta(weeks=209)
QUARTERS = ("2021-Q4", "2022-Q1")
WINDOW = (pd.Timestamp("2021-10-01", tz=UK), pd.Timestamp("2022-04-01", tz=UK))
RETURN_OPERATORS = {"Source London": "sourcelondon", "BP Pulse": "bppulse"}
RETURN_COLUMNS = ["device_id", "connector_id", "session_id", "start_utc", "end_utc", "kwh"]
MIN_OBSERVED_HOURS = 3  # `validate --store`: the watched history spans 4.5 hours


# --- the CLI, as a user types it ------------------------------------------------------

PYTHON = ROOT / ".venv" / "bin" / "python"


def cli(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``.venv/bin/python -m ev_chargepoints ARGS`` from the checkout."""
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    return subprocess.run([python, "-m", "ev_chargepoints", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.args[3:] + [result.stdout, result.stderr]
    assert "Traceback" not in result.stdout + result.stderr
    return result


def report_json(folder: Path) -> dict:
    return json.loads((Path(folder) / "report.json").read_text("utf-8"))


# --- the registry, read with plain pandas -------------------------------------------------

def registry() -> pd.DataFrame:
    raw = pd.read_csv(NCR, dtype=str, keep_default_na=False, compression="gzip")
    out = pd.DataFrame({
        "device_id": raw["chargeDeviceID"].str.strip(),
        "reference": raw["reference"].str.strip(),
        "operator": raw["deviceControllerName"].str.strip(),
        "latitude": pd.to_numeric(raw["latitude"], errors="coerce"),
        "longitude": pd.to_numeric(raw["longitude"], errors="coerce"),
        "created": raw["dateCreated"].str.strip(),
        "postcode": raw["postcode"].str.strip().str.upper(),
    })
    present, power = [], []
    for n in range(1, 9):
        cells = [raw[f"connector{n}{f}"].str.strip() for f in ("ID", "Type", "RatedOutputKW")]
        present.append((cells[0] != "") | (cells[1] != "") | (cells[2] != ""))
        power.append(pd.to_numeric(cells[2], errors="coerce"))
    out["connectors"] = pd.concat(present, axis=1).sum(axis=1).astype(int)
    kw = pd.concat(power, axis=1)
    out["max_kw"] = kw.where(kw > 0).max(axis=1)
    out["x"], out["y"] = wgs84_to_bng(out["longitude"].to_numpy(), out["latitude"].to_numpy())
    return out


def power_class(kw: pd.Series) -> pd.Series:
    return pd.cut(kw, [0, 7.99, 49.99, 149.99, np.inf],
                  labels=["slow", "fast", "rapid", "ultra"]).astype(object)


def reference_number(reference: str):
    """The number of a reference made of letters (or _) and then 4 or more digits."""
    match = re.fullmatch(r"[A-Za-z_]*?0*(\d{4,})", reference or "")
    return match.group(1) if match else None


# --- boroughs and wards, located by hand ---------------------------------------------------

class Areas:
    """Polygons of a bundled GeoPackage layer (EPSG:27700) and an even-odd point test."""

    def __init__(self, path: Path):
        from osgeo import ogr

        ogr.UseExceptions()  # GDAL 3.9+ warns when neither is chosen (Debian 13)
        dataset = ogr.Open(str(path))
        layer = dataset.GetLayer(0)
        self.codes, self.names, self.rings, boxes = [], [], [], []
        for feature in layer:
            geometry = feature.GetGeometryRef()
            parts = [geometry.GetGeometryRef(i) for i in range(geometry.GetGeometryCount())]
            if geometry.GetGeometryName() == "POLYGON":
                parts = [geometry]
            rings = [np.array(part.GetGeometryRef(j).GetPoints())[:, :2]
                     for part in parts for j in range(part.GetGeometryCount())]
            self.codes.append(feature.GetField("GSS_CODE").strip())
            self.names.append(feature.GetField("NAME").strip())
            self.rings.append(rings)
            allpts = np.vstack(rings)
            boxes.append((*allpts.min(axis=0), *allpts.max(axis=0)))
        self.boxes = np.array(boxes)
        self.name_of = dict(zip(self.codes, self.names))

    def locate(self, x, y) -> np.ndarray:
        """Area code of each point (None outside every area)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        out = np.full(len(x), None, dtype=object)
        for code, rings, (x0, y0, x1, y1) in zip(self.codes, self.rings, self.boxes):
            idx = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if not len(idx):
                continue
            px, py = x[idx][:, None], y[idx][:, None]
            odd = np.zeros(len(idx), dtype=bool)
            for ring in rings:
                for s in range(0, len(ring) - 1, 2048):
                    a, b = ring[s:s + 2049][:-1], ring[s + 1:s + 2049]
                    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
                    spans = (ay > py) != (by > py)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        cross_x = ax + (py - ay) * (bx - ax) / (by - ay)
                    odd ^= (np.count_nonzero(spans & (px < cross_x), axis=1) % 2).astype(bool)
            out[idx[odd]] = code
        return out


# --- the operators' feed ------------------------------------------------------------------

def crowded_kerb(reg: pd.DataFrame, operator: str = "Source London"):
    """The first device (by id) of ``operator`` with another of its devices within the
    proximity radius, and all its devices within that radius of it (brute force)."""
    pool = reg[reg["operator"] == operator].sort_values("device_id")
    px, py, ids = pool["x"].to_numpy(), pool["y"].to_numpy(), pool["device_id"].to_numpy()
    for row in pool.itertuples():
        near = set(ids[np.hypot(px - row.x, py - row.y) <= PROXIMITY_M])
        if len(near) >= 2:
            return row, near
    raise AssertionError("no crowded kerb")


@dataclass
class Feed:
    locations: list
    evse_device: dict          # EVSE uid -> the registry device it is (registry EVSEs)
    evse_status: dict          # EVSE uid -> OCPI status, every EVSE of the feed
    newcomers: pd.DataFrame    # one row per newcomer Location: expected device id, x, y...
    kerb_device: str = ""
    kerb_partners: set = field(default_factory=set)


def ops_feed(fixtures, reg: pd.DataFrame, exclude: set) -> Feed:
    """The operators' feed (see the module's docstring); ``exclude``: device ids that
    must stay out of it (the watched ones)."""
    numbers = reg["reference"].map(reference_number)
    all_numbers = reg["reference"].map(
        lambda r: max(re.findall(r"\d+", r), key=len).lstrip("0") if re.search(r"\d", r)
        else None)
    unique = numbers.notna() & numbers.map(all_numbers.value_counts()).eq(1)
    kerb, partners = crowded_kerb(reg)
    col = {name: i for i, name in enumerate(fixtures.ncr_header)}
    locations = []
    for operator, n_sites in FEED_OPERATORS.items():
        chosen = set(reg.loc[unique & (reg["operator"] == operator), "device_id"])
        chosen -= exclude | partners
        rows = [r for r in fixtures.ncr_rows if r[col["chargeDeviceID"]].strip() in chosen]
        locations += build_ocpi_locations(fixtures.ncr_header, rows, n_sites=n_sites,
                                          n_chargy=0)
    reference = reg.set_index("device_id")["reference"]
    evse_device, evse_status = {}, {}
    for i, evse in enumerate(e for loc in locations for e in loc["evses"]):
        # the builder makes one EVSE per registry device, the device's id its uid
        assert evse["evse_id"].endswith(reference_number(reference[evse["uid"]])), evse
        evse_device[evse["uid"]] = evse["uid"]
        evse["status"] = evse_status[evse["uid"]] = STATUS_CYCLE[i % len(STATUS_CYCLE)]

    # the kerb: an EVSE without evse_id among several Source London devices
    template = copy.deepcopy(next(loc for loc in locations
                                  if loc["operator"]["name"] == "Source London"))
    kerb_loc = _location(template, KERB_LOCATION, "SOU", "Source London", kerb.latitude,
                         kerb.longitude, [_evse(template, KERB_EVSE, None, "AVAILABLE", 7.0)])
    locations.append(kerb_loc)
    evse_status[KERB_EVSE] = "AVAILABLE"

    # a newcomer the registry does not know: three kerbs ~170 m north of registry devices
    # in three boroughs, the first under a registry device's id
    taken = set(all_numbers.dropna())
    in_feed = {loc["id"] for loc in locations} | {e["uid"] for loc in locations
                                                  for e in loc["evses"]}
    spots = reg[reg["operator"] == "ubitricity"].sort_values("device_id")
    spots = spots.drop_duplicates("postcode").iloc[[0, 400, 800]]
    rows = []
    for k, spot in enumerate(spots.itertuples()):
        number = f"9{k + 1:07d}"
        assert number not in taken
        loc_id = min(set(reg["device_id"]) - in_feed) if k == 0 else f"NEW-LOC-{k}"
        uid, status = f"NEW-{k}", ("AVAILABLE", "OUTOFORDER", "CHARGING")[k]
        lat, lon = spot.latitude + 0.0015, spot.longitude
        locations.append(_location(template, loc_id, NEWCOMER_PARTY, NEWCOMER, lat, lon,
                                   [_evse(template, uid, f"GB*NEW*E{number}", status,
                                          NEWCOMER_KW, connectors=2)]))
        evse_status[uid] = status
        x, y = wgs84_to_bng(np.array([lon]), np.array([lat]))
        rows.append({"device_id": f"ocpi:{OPS_FEED}:{loc_id}" if k == 0 else loc_id,
                     "location_id": loc_id, "evse_uid": uid, "latitude": lat,
                     "longitude": lon, "x": float(x[0]), "y": float(y[0]), "connectors": 2,
                     "max_kw": NEWCOMER_KW, "operator": NEWCOMER})
    return Feed(locations, evse_device, evse_status, pd.DataFrame(rows), kerb.device_id,
                partners)


def _location(template, loc_id, party, operator, lat, lon, evses):
    loc = copy.deepcopy(template)
    loc.update(id=loc_id, party_id=party, operator={"name": operator},
               owner={"name": operator}, evses=evses,
               coordinates={"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}"},
               last_updated=max(e["last_updated"] for e in evses))
    return loc


def _evse(template, uid, evse_id, status, kw, connectors=1):
    evse = copy.deepcopy(template["evses"][0])
    conn = evse["connectors"][0]
    conn.update(max_electric_power=int(kw * 1000), power_type="AC_3_PHASE",
                standard="IEC_62196_T2", format="SOCKET")
    evse.update(uid=uid, status=status, physical_reference=None,
                connectors=[dict(conn, id=str(n + 1)) for n in range(connectors)])
    if evse_id:
        evse["evse_id"] = evse_id
    else:
        evse.pop("evse_id", None)
    return evse


# --- the usage returns ---------------------------------------------------------------------

def dundee_sessions() -> pd.DataFrame:
    """The real Dundee sessions that, moved on by :data:`SHIFT`, start in the two quarters."""
    raw = pd.concat([pd.read_csv(DUNDEE / f, dtype=str, keep_default_na=False)
                     for f in DUNDEE_FILES], ignore_index=True)
    start = pd.to_datetime(raw["Start Date"] + " " + raw["Start Time"],
                           format="%d/%m/%Y %H:%M", errors="coerce")
    end = pd.to_datetime(raw["End Date"] + " " + raw["End Time"], format="%d/%m/%Y %H:%M",
                         errors="coerce")
    out = pd.DataFrame({
        "cp": raw["CP ID"].str.strip(), "connector_id": raw["Connector"].str.strip(),
        "session_id": "DUN-" + raw["Charging event"].str.strip(),
        "start_utc": start.dt.tz_localize(UK, ambiguous="NaT", nonexistent="NaT")
        .dt.tz_convert("UTC") + SHIFT,
        "end_utc": end.dt.tz_localize(UK, ambiguous="NaT", nonexistent="NaT")
        .dt.tz_convert("UTC") + SHIFT,
        "kwh_text": raw["Total kWh"].str.strip(),
        "kwh": pd.to_numeric(raw["Total kWh"], errors="coerce"),
        "model": raw["Model"].str.strip()})
    local = out["start_utc"].dt.tz_convert(UK)
    keep = (out["cp"].str.fullmatch(r"\d+") & out["connector_id"].str.fullmatch(r"[1-3]")
            & out["start_utc"].notna() & out["end_utc"].notna() & out["kwh"].notna()
            & (out["kwh"] >= 0) & (out["end_utc"] >= out["start_utc"])
            & (local >= WINDOW[0]) & (local < WINDOW[1]))
    out = out[keep].sort_values(["start_utc", "session_id"])
    return out.drop_duplicates(["cp", "connector_id", "start_utc"]).reset_index(drop=True)


def assign_devices(sessions: pd.DataFrame, reg: pd.DataFrame, borough_of: pd.Series,
                   usage_borough: str) -> dict:
    """Dundee charge point -> registry device, each registered before the returns' first
    quarter with the connectors the sessions use: rapid chargers to BP Pulse rapid devices
    (those in ``usage_borough``, a borough code, first, then elsewhere in London), 22 kW
    ones to other BP Pulse devices and 7 kW ones to Source London devices of the borough."""
    needed = sessions.groupby("cp")["connector_id"].max().astype(int)
    model = sessions.groupby("cp")["model"].first()
    ready = reg[(reg["created"] < "2021-10-01") & reg["created"].str.match(r"20\d\d-")
                & borough_of.notna().to_numpy()]
    home = (borough_of[ready.index] == usage_borough).to_numpy()
    ready = ready.assign(away=~home).sort_values(["away", "device_id"])
    bp = ready["operator"] == "BP Pulse"
    pools = {"rapid": ready[bp & (ready["max_kw"] >= 50)],
             "22kW": ready[bp & (ready["max_kw"] < 50) & ~ready["away"]],
             "7kW": ready[(ready["operator"] == "Source London") & (ready["max_kw"] <= 22)
                          & ~ready["away"]]}
    used, mapping = set(), {}
    for cp in sorted(needed.index, key=int):
        kind = "rapid" if re.search(r"Rapid|50kW", model[cp]) else \
            "22kW" if "22kW" in model[cp] else "7kW"
        pool = pools[kind]
        pick = pool[(pool["connectors"] >= needed[cp]) & ~pool["device_id"].isin(used)]
        device = pick.iloc[0]
        used.add(device["device_id"])
        mapping[cp] = device["device_id"]
    return mapping


def quarter_of(start_utc: pd.Series) -> pd.Series:
    local = start_utc.dt.tz_convert(UK)
    return local.dt.year.astype(str) + "-Q" + local.dt.quarter.astype(str)


def write_returns(sessions: pd.DataFrame, mapping: dict, reg: pd.DataFrame,
                  folder: Path) -> tuple[pd.DataFrame, list]:
    """One usage return per operator and quarter, named as §1.1 asks; returns every
    session as sent (device_id, connector_id, start/end, kwh, quarter, operator) and the
    files."""
    operator_of = reg.set_index("device_id")["operator"]
    rows = sessions.assign(device_id=sessions["cp"].map(mapping))
    rows["operator"] = rows["device_id"].map(operator_of)
    rows["quarter"] = quarter_of(rows["start_utc"])
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for (operator, quarter), part in rows.groupby(["operator", "quarter"], sort=True):
        name = f"{RETURN_OPERATORS[operator]}_usage_return_{quarter.replace('-', '')}.csv"
        text = part.assign(
            start_utc=part["start_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end_utc=part["end_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            kwh=part["kwh_text"])[RETURN_COLUMNS]
        text.to_csv(folder / name, index=False, lineterminator="\n")
        files.append(folder / name)
    return rows, files


def candidate_sites(feed: Feed, reg: pd.DataFrame, usage: pd.DataFrame,
                    watched_device: str) -> pd.DataFrame:
    """A few sites a borough would look at: a newcomer's new kerb, the busiest device of
    the returns, the decided kerb, a watched rapid hub and an outer newcomer kerb."""
    by_id = reg.set_index("device_id")
    busiest = usage["device_id"].value_counts().index[0]
    picks = [("new-kerb", *feed.newcomers.iloc[0][["longitude", "latitude"]]),
             ("busy-device", by_id.loc[busiest, "longitude"], by_id.loc[busiest, "latitude"]),
             ("decided-kerb", by_id.loc[feed.kerb_device, "longitude"],
              by_id.loc[feed.kerb_device, "latitude"]),
             ("watched-rapid", by_id.loc[watched_device, "longitude"],
              by_id.loc[watched_device, "latitude"]),
             ("outer-kerb", *feed.newcomers.iloc[2][["longitude", "latitude"]])]
    sites = pd.DataFrame(picks, columns=["site_id", "longitude", "latitude"])
    # 30 m east of each point, so that no site sits exactly on a device
    sites["longitude"] = sites["longitude"] + 30 / (111_320 * np.cos(np.radians(51.5)))
    return sites
