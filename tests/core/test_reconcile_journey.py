"""The officer's journey: the registry (bundled May 2022 snapshot) plus an operator's
live OCPI 2.2.1 feed fetched over HTTP from a loopback server, on both store backends.

The feed's EVSEs are real registry devices (the registry's own coordinates,
operator-style evse_ids carrying the registry reference numbers): the borough
summary counts each once, the feed's status lands on the registry devices, an
ambiguous EVSE waits for review and the officer's decision survives a re-import.
A second feed whose Location ids repeat registry device ids counts correctly in
the summary, the map and the committee figures."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from replay_server import ReplayServer

from ev_chargepoints import cli
from ev_chargepoints.core.analysis import areas, reconcile
from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.outputs import mapdata
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "tests/data/ocpi/spec-examples/location_example.json")
                  .read_text("utf-8"))
TOKEN = "journey-token"
LOCATIONS = "/ocpi/2.2.1/locations"
T1, T2, T3 = (pd.Timestamp(t) for t in ("2022-05-20T08:00:00Z", "2022-05-20T09:00:00Z",
                                         "2022-05-21T09:00:00Z"))
STATUSES = ("CHARGING", "AVAILABLE", "OUTOFORDER")


def evse(uid, evse_id, status):
    out = copy.deepcopy(SPEC["evses"][0])
    out.update(uid=uid, status=status)
    if evse_id:
        out["evse_id"] = evse_id
    else:
        out.pop("evse_id", None)
    return out


def location(loc_id, row, evses, party, operator=None):
    out = copy.deepcopy(SPEC)
    out.update(id=loc_id, country_code="GB", party_id=party, country="GBR", city="London",
               coordinates={"latitude": repr(float(row.latitude)),
                            "longitude": repr(float(row.longitude))},
               evses=evses, time_zone="Europe/London", last_updated="2022-05-19T00:00:00Z")
    if operator:
        out["operator"] = {"name": operator}
    else:
        out.pop("operator", None)
    return out


def digits(reference: str) -> str:
    return max(re.findall(r"\d+", reference), key=len)


STYLE = {"ubitricity": ("UBI", lambda ref: f"GB*UBI*E{digits(ref)}*1"),
         "Source London": ("SRC", lambda ref: f"GB-SRC-E{ref}"),
         "BP Pulse": ("BPP", lambda ref: f"GB*BPP*E{ref}")}


@pytest.fixture(scope="module")
def registry():
    """The bundled registry as the test reads it (the store imports the same file)."""
    devices = parse_file(LONDON_SNAPSHOT / NCR_SNAPSHOT).table("devices")
    x, y = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    return devices.assign(bng_x=x, bng_y=y)


def lamp_feed(devices):
    """Locations of three operators whose EVSEs are registry devices: sites of up to
    three devices sharing a postcode, some Location ids reusing a registry id."""
    payload, expected, status_of = [], {}, {}
    for operator, (party, style) in STYLE.items():
        own = devices[(devices["operator"] == operator) & devices["reference"].notna()].copy()
        own = own[own["reference"].str.contains(r"\d{4}", regex=True)]
        own["n"] = [digits(r).lstrip("0") for r in own["reference"]]
        own = own[~own["n"].duplicated(keep=False)].sort_values("device_id")
        for s, (_postcode, site) in enumerate(list(own.groupby("postcode"))[:60]):
            site = site.head(3)
            evses = []
            for k, row in enumerate(site.itertuples()):
                uid = f"{party}-{s}-{k}"
                status = STATUSES[(s + k) % 3]
                evses.append(evse(uid, style(row.reference), status))
                expected[uid], status_of[row.device_id] = row.device_id, status
            first = site.iloc[0]
            loc_id = first["device_id"] if s % 2 else f"{party}-SITE-{s}"
            payload.append(location(loc_id, first, evses, party,
                                    operator if s % 3 else None))
    return payload, expected, status_of


def crowded(devices, operator="Source London"):
    """A registry device with other devices of its operator within the proximity radius,
    and all of them (brute force)."""
    pool = devices[devices["operator"] == operator].sort_values("device_id")
    for row in pool.itertuples():
        d = np.hypot(pool["bng_x"].to_numpy() - row.bng_x, pool["bng_y"].to_numpy() - row.bng_y)
        near = set(pool["device_id"].to_numpy()[d <= reconcile.PROXIMITY_M])
        if len(near) >= 2:
            return row, near
    raise AssertionError("no crowded site")


@pytest.fixture(params=["geopackage", "postgis"])
def target(request, tmp_path):
    if request.param == "geopackage":
        return tmp_path / "borough.gpkg"
    return request.getfixturevalue("pg_dsn")


@pytest.fixture
def server():
    with ReplayServer(token=TOKEN) as srv:
        yield srv


def fetch(ws, server, payload, feed, observed):
    server.fixtures.locations = payload
    outcome = ws.fetch_ocpi(server.url + LOCATIONS, token=TOKEN, feed_name=feed,
                            observed_utc=observed)
    assert [r.outcome for r in outcome.imports] == ["imported"], outcome.imports
    return outcome


def borough_counts(ws):
    table, _ = ws.summary(level="borough", with_usage=False)
    return table.set_index("area_code")["devices"]


def test_registry_and_live_feed_count_each_charger_once(target, server, registry, tmp_path):
    payload, expected, status_of = lamp_feed(registry)
    assert len(payload) > 100 and len(expected) > len(payload)  # several EVSEs a Location
    with Workspace(target) as ws:
        ws.import_bundled_snapshot(synthetic_usage=False)
        alone = borough_counts(ws)
        assert alone.sum() > 8000

        fetch(ws, server, payload, "lamps", T1)
        assert server.hits[LOCATIONS] > 2  # paged, as real feeds are
        assert (borough_counts(ws) == alone).all()
        rec = ws.reconciliation()
        assert len(ws.devices()) == len(registry) and ws.devices()["device_id"].is_unique
        links = rec.links[rec.links["source"] == "ocpi:lamps"].set_index("evse_uid")
        assert links["device_id"].to_dict() == expected
        assert rec.counts["reference"] == len(expected) and rec.counts["ambiguous"] == 0
        assert "matched " + f"{len(expected):,} by reference" in rec.describe()

        # the feed's status is on the registry devices, as device and as EVSE status
        devices = ws.devices().set_index("device_id")
        assert devices.loc[list(status_of), "evse_status"].to_dict() == status_of
        down = [d for d, s in status_of.items() if s == "OUTOFORDER"]
        assert (devices.loc[down, "status"] == "Out of service").all()
        occupancy = ws.status_occupancy(by="device")
        assert set(occupancy["device_id"]) == set(status_of)
        charging = occupancy.set_index("device_id")["charging_pct"]
        assert (charging[[d for d, s in status_of.items() if s == "CHARGING"]] == 100).all()

        # an EVSE with no number at a site of several devices of its operator: review
        row, partners = crowded(registry)
        payload_2 = payload + [location("KERBSIDE", row, [evse("K-1", None, "AVAILABLE")],
                                        "SRC")]
        fetch(ws, server, payload_2, "lamps", T2)
        rec = ws.reconciliation()
        assert rec.counts["ambiguous"] == 1
        assert set(rec.review["registry_device_id"]) == partners
        assert set(rec.review["feed_key"]) == {"ocpi:lamps:KERBSIDE#K-1"}
        borough = areas.load_boroughs()
        bx, by = wgs84_to_bng([row.longitude], [row.latitude])
        where = borough.table["area_code"].iloc[borough.locate(bx, by).index[0]]
        counted = borough_counts(ws)
        assert counted[where] == alone[where] + 1  # kept apart until decided
        assert (counted.drop(where) == alone.drop(where)).all()

        review = tmp_path / "review.csv"
        code = cli.main(["reconcile", "--store", str(target), "--out", str(review)])
        assert code == 0
        written = read_csv(review, dtype=str)
        assert set(written["registry_device_id"]) == partners

        chosen = sorted(partners)[0]
        assert cli.main(["reconcile", "--store", str(target), "--accept",
                         f"ncr:{chosen}=ocpi:lamps:KERBSIDE#K-1"]) == 0

    # a new session, and a re-import of the feed: the decision still holds
    with Workspace(target) as ws:
        fetch(ws, server, payload_2, "lamps", T3)
        assert len(ws.store.import_log()) >= 4
        rec = ws.reconciliation()
        assert rec.counts["decision"] == 1 and rec.counts["ambiguous"] == 0
        assert rec.links.set_index("evse_uid").loc["K-1", "device_id"] == chosen
        assert (borough_counts(ws) == alone).all()
        assert ws.devices().set_index("device_id").loc[chosen, "sources"] == "ncr;ocpi:lamps"


def test_a_feed_repeating_registry_ids_counts_correctly_everywhere(target, server, registry,
                                                                     capsys):
    # new chargers of another operator, in outer London, under ids the registry uses
    taken = registry.sort_values("device_id").head(40)
    spots = registry[(registry["latitude"] > 51.55)].sort_values("device_id").tail(40)
    payload = [location(t.device_id, s, [evse(f"NEW-{i}", None, "AVAILABLE")], "NEW",
                        "Newcomer Charging Ltd")
               for i, (t, s) in enumerate(zip(taken.itertuples(), spots.itertuples()))]
    with Workspace(target) as ws:
        ws.import_bundled_snapshot(synthetic_usage=False)
        alone = borough_counts(ws)
        fetch(ws, server, payload, "newcomers", T1)
        raw = ws.store.devices()
        assert raw["device_id"].duplicated().sum() == len(taken)  # the old crash's input

        counted = borough_counts(ws)
        boroughs = areas.load_boroughs()
        x, y = wgs84_to_bng(spots["longitude"].to_numpy(), spots["latitude"].to_numpy())
        hit = boroughs.locate(x, y).index
        extra = pd.Series(np.bincount(hit[hit >= 0], minlength=len(boroughs)),
                          index=boroughs.table["area_code"].to_numpy())
        assert (counted == alone + extra.reindex(alone.index)).all()
        assert counted.sum() == alone.sum() + (hit >= 0).sum()

        devices = ws.devices()
        assert devices["device_id"].is_unique and len(devices) == len(registry) + len(taken)
        assert {f"ocpi:newcomers:{d}" for d in taken["device_id"]} <= set(devices["device_id"])

        frames = ws.map_frames()
        assert frames.periods == [mapdata.NO_USAGE_PERIOD]
        assert len(frames.devices) == len(devices)
        assert frames.devices["device_id"].is_unique
        borough_rows = frames.areas["map_boroughs"][0].set_index("area_code")
        assert (borough_rows["devices"] == counted.reindex(borough_rows.index)).all()

        data = ws.committee_data()
        assert (data.boroughs.set_index("area_code")["devices"]
                == counted.reindex(data.boroughs["area_code"]).to_numpy()).all()
        assert int(data.london["devices"].iloc[0]) == counted.sum()

    if isinstance(target, Path):
        out = target.with_name("summary.csv")
        assert cli.main(["summary", "--store", str(target), "--out", str(out)]) == 0
        written = read_csv(out)
        assert written["devices"].sum() == counted.sum()
        err = capsys.readouterr().err
        assert "Reconciliation: " in err and f"{len(taken):,} feed-only devices" in err
