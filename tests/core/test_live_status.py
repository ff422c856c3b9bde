"""The map's live status classes, from a status history really polled from the loopback
OCPI feed (tests/support/watched_history.py: four London Locations, seven EVSEs, polls at
0, 20, 40, 60, 240 and 270 minutes). The store holds the feed only, so each Location is
one device and the POD Point and ubitricity devices have three and two EVSEs."""

from __future__ import annotations

import struct

import pandas as pd
import pytest
from replay_server import ReplayServer
from watched_history import LOCATIONS, STATUS, evse_uids, poll_history

from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.outputs import mapdata
from ev_chargepoints.core.store.gpkg_file import read_layer
from ev_chargepoints.core.workspace import Workspace

# Written out here, not taken from the code under test: OCPI status -> class, and the
# order in which a device's EVSEs decide its class (one free EVSE: the device is free).
CLASS_OF = {"AVAILABLE": "available", "CHARGING": "charging", "BLOCKED": "charging",
            "RESERVED": "charging", "OUTOFORDER": "out_of_order",
            "INOPERATIVE": "out_of_order", "UNKNOWN": "unknown"}
ORDER = ["available", "charging", "out_of_order", "unknown"]


def by_hand(poll: int) -> dict:
    """Location key -> (class, EVSEs per class) at poll number ``poll``."""
    out = {}
    for key, (_id, _operator, _cls, n_evses) in LOCATIONS.items():
        classes = [CLASS_OF[STATUS[(key, i)][poll]] for i in range(n_evses)
                   if STATUS[(key, i)][poll] is not None]
        if classes:
            out[key] = (min(classes, key=ORDER.index),
                        {c: classes.count(c) for c in ORDER})
    return out


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    store = tmp_path_factory.mktemp("live-status") / "feed.gpkg"
    with ReplayServer() as server, Workspace(store) as ws:
        times = poll_history(ws, server)
        uids = evse_uids(server)
    return store, times, uids


def location_key(device_id: str) -> str:
    return next(k for k, v in LOCATIONS.items() if v[0] == device_id)


@pytest.mark.parametrize("poll", range(6))
def test_each_device_shows_its_evses_latest_status(watched, poll):
    store, times, _uids = watched
    with Workspace(store) as ws:
        status = ws.reconciled_status()
    seen = status[status["observed_utc"] <= times[poll]]  # the history as it was then
    table = mapdata.classify_live_status(seen, times[poll] + pd.Timedelta(minutes=5), 30)
    expected = by_hand(poll)
    assert len(table) == len(expected)
    for row in table.itertuples():
        cls, counts = expected[location_key(row.device_id)]
        assert row.live_status == row.last_status == cls
        assert row.evses == sum(counts.values())
        assert (row.evses_available, row.evses_charging, row.evses_out_of_order,
                row.evses_unknown) == tuple(counts[c] for c in ORDER)
        assert row.observed_utc == times[poll]
        assert row.age_minutes == 5.0
        assert row.source == "ocpi:127.0.0.1"


def test_the_pod_point_site_is_available_while_one_of_three_evses_charges(watched):
    store, times, _uids = watched
    with Workspace(store) as ws:
        table = mapdata.classify_live_status(ws.reconciled_status(), times[-1], 30)
    pod = table.set_index("device_id").loc[LOCATIONS["pod"][0]]
    # last poll: AVAILABLE, CHARGING, AVAILABLE
    assert (pod["live_status"], pod["evses"], pod["evses_available"],
            pod["evses_charging"]) == ("available", 3, 2, 1)
    assert pod["ocpi_status"] == "AVAILABLE;CHARGING"


def test_status_older_than_the_age_limit_is_stale_and_keeps_the_last_class(watched):
    store, times, _uids = watched
    with Workspace(store) as ws:
        status = ws.reconciled_status()
    last = times[-1]
    for minutes, limit, stale in ((29, 30, False), (30, 30, False), (31, 30, True),
                                  (11, 10, True), (9, 10, False)):
        table = mapdata.classify_live_status(status, last + pd.Timedelta(minutes=minutes),
                                             limit)
        expected = by_hand(5)
        assert len(table) == 4
        for row in table.itertuples():
            cls = expected[location_key(row.device_id)][0]
            assert row.last_status == cls
            assert row.live_status == ("stale" if stale else cls), (minutes, limit)
            assert row.age_minutes == minutes


def test_an_evse_no_longer_reported_does_not_decide_its_device(watched):
    store, times, uids = watched
    with Workspace(store) as ws:
        status = ws.reconciled_status()
    pod_id = LOCATIONS["pod"][0]
    pod = status[status["device_id"] == pod_id]
    first = pod["evse_uid"] == uids[("pod", 0)][1]
    # the first POD Point EVSE last reported at 60 minutes (OUTOFORDER)
    cut = status.drop(pod[first & (pod["observed_utc"] > times[3])].index)
    table = mapdata.classify_live_status(cut, times[-1] + pd.Timedelta(minutes=1), 30)
    row = table.set_index("device_id").loc[pod_id]
    # counted: EVSEs 2 and 3 at the last poll (CHARGING, AVAILABLE); EVSE 1's OUTOFORDER
    # of 60 minutes is 3.5 hours old
    assert (row["live_status"], row["evses"], row["evses_out_of_order"]) == \
        ("available", 2, 0)
    # when every EVSE of it is old, all of them give the last known class
    old = mapdata.classify_live_status(cut, times[-1] + pd.Timedelta(hours=2), 30)
    row = old.set_index("device_id").loc[pod_id]
    assert (row["live_status"], row["last_status"], row["evses"],
            row["evses_out_of_order"]) == ("stale", "available", 3, 1)
    assert row["observed_utc"] == times[-1]


def test_status_layer_file_has_one_placed_feature_per_device(watched, tmp_path):
    store, times, _uids = watched
    now = times[-1] + pd.Timedelta(minutes=3)
    with Workspace(store) as ws:
        info = ws.status_layer(tmp_path / "status", now, 30)
        devices = ws.devices().set_index("device_id")
    assert info.path.parent == tmp_path / "status" and info.path.suffix == ".gpkg"
    assert info.features == 4 and info.not_on_map == 0
    assert info.classes == {"available": 3, "charging": 0, "out_of_order": 1, "unknown": 0,
                            "stale": 0}
    assert pd.Timestamp(info.latest_utc) == times[-1] and pd.Timestamp(info.now_utc) == now
    attributes, wkbs, _crs = read_layer(info.path)
    assert len(attributes) == 4
    assert {"device_id", "name", "operator", "live_status", "observed_utc", "source",
            "age_minutes"} <= set(attributes.columns)
    for row, wkb in zip(attributes.itertuples(), wkbs):
        device = devices.loc[row.device_id]
        x, y = wgs84_to_bng(device["longitude"], device["latitude"])
        px, py = struct.unpack("<dd", wkb[5:21])
        assert (px, py) == pytest.approx((float(x), float(y)), abs=0.01)
        assert row.operator == LOCATIONS[location_key(row.device_id)][1]


def test_each_write_is_a_new_file_and_older_ones_can_be_removed(watched, tmp_path):
    store, times, _uids = watched
    folder = tmp_path / "status"
    with Workspace(store) as ws:
        first = ws.status_layer(folder, times[-1], 30)
        second = ws.status_layer(folder, times[-1], 30)
        third = ws.status_layer(folder, times[-1], 30)
    assert len({first.path, second.path, third.path}) == 3
    mapdata.remove_older_status_files(second.path, keep=[first.path])
    assert sorted(folder.glob("*.gpkg")) == sorted([first.path, second.path, third.path])
    mapdata.remove_older_status_files(third.path)
    assert sorted(folder.glob("*.gpkg")) == [third.path]


def test_no_status_in_the_store_writes_nothing(tmp_path):
    with Workspace(tmp_path / "empty.gpkg") as ws:
        assert ws.status_layer(tmp_path / "status") is None
    assert not (tmp_path / "status").exists()
    empty = mapdata.classify_live_status(pd.DataFrame(columns=[
        "observed_utc", "device_id", "evse_uid", "status", "source"]), "2024-01-01", 30)
    assert list(empty.columns) == mapdata.STATUS_FIELDS and not len(empty)
