"""Uptime and reliability over observed time only, from a really polled status history.

The history (tests/support/watched_history.py) is six polls of the loopback OCPI
server at 0, 20, 40, 60, 240 and 270 minutes; each observation holds until the
EVSE's next one for at most the cap (default 1 hour), so the held times are
20, 20, 20, 60 (180 minutes capped), 30 and 60 (the last poll, capped) minutes.
"""

from __future__ import annotations

import pandas as pd
import pytest
from replay_server import ReplayServer
from watched_history import LOCATIONS, evse_uids, poll_history

from ev_chargepoints.core.errors import EvChargepointsError
from ev_chargepoints.core.sources.transport import RequestsTransport
from ev_chargepoints.core.standard import conformance, model
from ev_chargepoints.core.standard.model import FAIL, NOT_CHECKED, NOT_ENOUGH, PASS
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.workspace import Workspace

# By hand, in minutes (W working, D not working, X excluded), per EVSE:
HAND = {
    # AV 20 W, CH 20 W, OOO 20 D, OOO 60 D (3 h gap capped), AV 30 W, AV 60 W (last)
    ("pod", 0): dict(W=130, D=80, X=0, n=6),
    ("pod", 1): dict(W=210, D=0, X=0, n=6),                # CHARGING throughout
    # INOP 20 D, AV 20 W, AV 20 W, UNKNOWN 60 X, AV 30 W, AV 60 W
    ("pod", 2): dict(W=130, D=20, X=60, n=6),
    # AV 20 W, AV 20 W, AV 20 W, INOP 60 D, INOP 30 D, AV 60 W
    ("bp", 0): dict(W=120, D=90, X=0, n=6),
    ("bp_new", 0): dict(W=0, D=60, X=0, n=1),              # one snapshot: the cap only
    ("ubi", 0): dict(W=210, D=0, X=0, n=6),
    ("ubi", 1): dict(W=170, D=0, X=40, n=6),               # BLOCKED 20 + 20 excluded
}


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    store = tmp_path_factory.mktemp("watched") / "live.gpkg"
    with ReplayServer() as server, Workspace(store) as ws:
        times = poll_history(ws, server)
        uids = evse_uids(server)
    return store, times, uids


def hours(minutes: float) -> float:
    return minutes / 60.0


def test_polls_recorded_every_evse_at_every_poll(watched):
    store, times, uids = watched
    with HistoryStore.create_or_open(store) as hs:
        status = hs.status_snapshots()
    per_poll = status.groupby("observed_utc").size()
    assert list(per_poll.index) == times
    assert list(per_poll) == [6, 6, 6, 6, 6, 7]  # the new BP Pulse EVSE at the last poll
    device, evse = uids[("pod", 0)]
    mine = status[(status["device_id"] == device) & (status["evse_uid"] == evse)]
    assert list(mine.sort_values("observed_utc")["status"]) == [
        "AVAILABLE", "CHARGING", "OUTOFORDER", "OUTOFORDER", "AVAILABLE", "AVAILABLE"]


def test_reliability_per_evse_and_operator_equals_the_hand_computation(watched):
    store, _times, uids = watched
    with Workspace(store) as ws:
        result = ws.reliability(min_observed_hours=3)
    table = result.table.set_index(["device_id", "evse_uid"])
    assert len(table) == len(HAND)
    for key, hand in HAND.items():
        row = table.loc[uids[key]]
        counted = hand["W"] + hand["D"]
        assert row["working_h"] == pytest.approx(hours(hand["W"])), key
        assert row["down_h"] == pytest.approx(hours(hand["D"])), key
        assert row["excluded_h"] == pytest.approx(hours(hand["X"])), key
        assert row["observed_h"] == pytest.approx(hours(counted + hand["X"])), key
        assert row["observations"] == hand["n"], key
        assert row["reliability"] == pytest.approx(hand["W"] / counted), key
        expected = NOT_ENOUGH if counted < 3 * 60 else \
            PASS if hand["W"] / counted >= 0.99 else FAIL
        assert row["result"] == expected, key
        assert row["operator"] == LOCATIONS[key[0]][1]
    # 3.5 h observed each, except pod 2 (2.5 counted), bp_new (1) and ubi 1 (2.83)
    assert table.loc[uids[("pod", 1)], "result"] == PASS
    assert table.loc[uids[("bp_new", 0)], "result"] == NOT_ENOUGH

    ops = result.operators.set_index(["operator", "scope"])
    # POD Point: W 130 + 210 + 130 = 470, D 80 + 20 = 100, X 60, over 18 observations
    pod = ops.loc[("POD Point", "rapid network")]
    assert (pod["working_h"], pod["down_h"], pod["excluded_h"], pod["observed_h"]) == (
        pytest.approx(hours(470)), pytest.approx(hours(100)), pytest.approx(hours(60)),
        pytest.approx(hours(630)))
    assert pod["counted_h"] == pytest.approx(hours(570))
    assert (pod["observations"], pod["evses"]) == (18, 3)
    assert pod["reliability"] == pytest.approx(470 / 570) and pod["result"] == FAIL
    # BP Pulse: W 120, D 90 + 60 = 150 over 4.5 h, 7 observations of 2 EVSEs
    bp = ops.loc[("BP Pulse", "rapid network")]
    assert (bp["working_h"], bp["down_h"], bp["observed_h"]) == (
        pytest.approx(hours(120)), pytest.approx(hours(150)), pytest.approx(hours(270)))
    assert (bp["observations"], bp["evses"], bp["result"]) == (7, 2, FAIL)
    assert bp["reliability"] == pytest.approx(120 / 270)
    # ubitricity: W 210 + 170 = 380, X 40, no down time; slow, so no rapid network
    ubi = ops.loc[("ubitricity", "operator")]
    assert (ubi["working_h"], ubi["down_h"], ubi["observed_h"], ubi["result"]) == (
        pytest.approx(hours(380)), 0.0, pytest.approx(hours(420)), PASS)
    assert ("ubitricity", "rapid network") not in ops.index


def test_too_little_observed_time_is_not_judged(watched):
    store, _times, _uids = watched
    with Workspace(store) as ws:
        result = ws.reliability()  # the default minimum: a day of counted time
    assert result.min_observed_hours == model.MIN_OBSERVED_HOURS == 24
    assert set(result.table["result"]) == {NOT_ENOUGH}
    assert set(result.operators["result"]) == {NOT_ENOUGH}
    # the figures are still given, with their observed hours
    pod = result.operators.set_index(["operator", "scope"]).loc[("POD Point", "operator")]
    assert pod["reliability"] == pytest.approx(470 / 570)
    assert pod["observed_h"] == pytest.approx(hours(630))


def test_the_cap_is_configurable(watched):
    store, _times, uids = watched
    with Workspace(store) as ws:
        table = ws.reliability(max_gap_hours=4, min_observed_hours=0).table
    row = table.set_index(["device_id", "evse_uid"]).loc[uids[("pod", 0)]]
    # with a 4-hour cap the 3-hour gap is observed, and the last poll holds 4 hours:
    # AV 20 W, CH 20 W, OOO 20 D, OOO 180 D, AV 30 W, AV 240 W
    assert row["working_h"] == pytest.approx(hours(20 + 20 + 30 + 240))
    assert row["down_h"] == pytest.approx(hours(20 + 180))
    single = table.set_index(["device_id", "evse_uid"]).loc[uids[("bp_new", 0)]]
    assert single["down_h"] == pytest.approx(4.0) and single["observations"] == 1


def test_occupancy_from_status_is_the_same_computation(watched):
    store, _times, uids = watched
    with Workspace(store) as ws:
        occupancy = ws.status_occupancy("quarter", by="evse")
        reliability = ws.reliability().table
    assert set(occupancy["period"]) == {"2024-Q1"}
    merged = occupancy.merge(reliability, on=["device_id", "evse_uid"])
    assert len(merged) == len(HAND)
    assert merged["status_observed_hours"].tolist() == pytest.approx(
        merged["observed_h"].tolist())
    assert merged["status_observations"].tolist() == merged["observations"].tolist()
    hand = HAND[("bp", 0)]
    row = occupancy.set_index(["device_id", "evse_uid"]).loc[uids[("bp", 0)]]
    assert row["uptime_pct"] == pytest.approx(100 * hand["W"] / (hand["W"] + hand["D"]))


def test_validate_with_the_store_history(watched, tmp_path):
    store, _times, _uids = watched
    with Workspace(store) as ws:
        report = ws.validate(min_observed_hours=3, out_dir=tmp_path)
    assert report.verdicts == {"BP Pulse": FAIL, "POD Point": FAIL, "ubitricity": PASS}
    assert [i.kind for i in report.inputs] == ["status-history"]
    pod = report.operator("POD Point")
    assert pod.rapid_reliability.observed_h == pytest.approx(hours(630))
    assert pod.rapid_reliability.observations == 18
    message = next(c for c in pod.checks if c.code == "reliability").message
    assert "82.46%" in message and "9.5 counted hours (10.5 observed hours, 18 " \
        "observations of 3 EVSE(s))" in message
    ubi = report.operator("ubitricity")
    assert next(c for c in ubi.checks if c.code == "reliability").result == NOT_CHECKED
    html = (tmp_path / "report.html").read_text()
    assert "Observed h" in html and "10.5" in html


def test_summaries_show_uptime_with_observed_hours(watched):
    store, _times, _uids = watched
    with Workspace(store) as ws:
        summariser = ws.summariser("quarter")
        everything = summariser.summarise("borough", "2024-Q1")
        pod = summariser.summarise("borough", "2024-Q1", {"operator": "POD Point"})
        placed = ws.assignment().table.set_index("device_id")["borough_code"]
    # every observed hour and observation of the devices placed in a London borough
    # (the BP Pulse af2c... registry entry lies east of the GLA boundary)
    minutes = {"pod": 630, "bp": 210, "bp_new": 60, "ubi": 420}
    counts = {"pod": 18, "bp": 6, "bp_new": 1, "ubi": 12}
    inside = [k for k, (device, *_rest) in LOCATIONS.items() if pd.notna(placed[device])]
    assert inside == ["pod", "bp_new", "ubi"]
    assert everything["status_observed_hours"].sum() == pytest.approx(
        hours(sum(minutes[k] for k in inside)))
    assert everything["status_observations"].sum() == sum(counts[k] for k in inside)
    shown = pod[pod["status_observed_hours"] > 0]
    assert len(shown) == 1
    assert shown["uptime_pct"].iloc[0] == pytest.approx(100 * 470 / 570)
    assert shown["status_observed_hours"].iloc[0] == pytest.approx(hours(630))


def test_one_fetch_is_not_stretched_to_now():
    """The live-feed case that gave "33.33 % over 172,651 counted hours" and a FAIL:
    BP Pulse's four rapid EVSEs, each seen once (at its last_updated, 2020)."""
    with ReplayServer() as server:
        report = conformance.validate_ocpi_feed(server.url + "/ocpi/2.2.1/locations",
                                                RequestsTransport())
        locations = server.fixtures.locations

    def kw(connector):  # OCPI: max_electric_power (W), else volts x amps (x 3 phases)
        if connector.get("max_electric_power"):
            return connector["max_electric_power"] / 1000
        phases = 3 if connector["power_type"] == "AC_3_PHASE" else 1
        return connector["max_voltage"] * connector["max_amperage"] * phases / 1000

    bp = [(evse["last_updated"], evse["status"]) for loc in locations
          if (loc.get("operator") or {}).get("name") == "BP Pulse"
          and max(kw(c) for e in loc["evses"] for c in e["connectors"]) >= 50
          for evse in loc["evses"]]
    rapid = report.operator("BP Pulse").rapid_reliability
    assert rapid.observations == 4 == len(bp)
    # the old stretch from last_updated to now would have counted years
    stretched = sum((pd.Timestamp.now("UTC") - pd.Timestamp(t)).total_seconds() / 3600
                    for t, _ in bp)
    assert stretched > 100_000
    # now: one hour (the cap) per observation; UNKNOWN is observed but not counted
    working = sum(1 for _, s in bp if s == "AVAILABLE")
    down = sum(1 for _, s in bp if s in ("Out_Of_Order", "OUTOFORDER", "INOPERATIVE"))
    assert (working, down) == (1, 2)
    assert rapid.observed_h == pytest.approx(4.0)
    assert (rapid.working_h, rapid.down_h) == (pytest.approx(working), pytest.approx(down))
    assert rapid.reliability == pytest.approx(1 / 3) and rapid.result == NOT_ENOUGH
    check = next(c for c in report.operator("BP Pulse").checks if c.code == "reliability")
    assert check.result == NOT_CHECKED and "Not enough observed time" in check.message
    assert "172,651" not in check.message


def test_bad_options_and_no_history_are_one_line_errors(watched, tmp_path):
    store, _times, _uids = watched
    with Workspace(store) as ws:
        before = len(ws.store.status_snapshots())
        with pytest.raises(EvChargepointsError, match="more than 0 hours"):
            ws.reliability(max_gap_hours=0)
        with pytest.raises(EvChargepointsError, match="0 hours or more"):
            ws.validate(min_observed_hours=-1)
        assert len(ws.store.status_snapshots()) == before
    empty = tmp_path / "empty.gpkg"
    HistoryStore.create_or_open(empty).close()
    with Workspace(empty) as ws:
        with pytest.raises(EvChargepointsError, match="run 'watch'"):
            ws.reliability()
        with pytest.raises(EvChargepointsError, match="run 'watch'"):
            ws.validate()


def test_status_without_a_usable_observation_gives_no_rows_not_a_crash():
    # An empty status table, and one whose rows lack a time or a device, used to raise
    # TypeError ("Cannot infer number of levels from empty list").
    from ev_chargepoints.core import schema
    from ev_chargepoints.core.analysis.uptime import status_occupancy

    empty = schema.empty("status_snapshots")
    assert status_occupancy(empty).empty
    unusable = pd.DataFrame({"device_id": [None, "D1"], "evse_uid": ["E1", "E2"],
                             "status": ["AVAILABLE", "CHARGING"],
                             "observed_utc": [pd.Timestamp("2024-01-01", tz="UTC"), pd.NaT]})
    assert status_occupancy(unusable, by="device").empty
