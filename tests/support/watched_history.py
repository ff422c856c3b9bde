"""A watched status history with known changes, polled from the loopback OCPI server.

Four real London locations of the replay feed (National Chargepoint Registry
devices, see ``replay_server.build_ocpi_locations``) are served, their EVSE
statuses set per poll as in :data:`STATUS`, and polled six times through
``Workspace.poll_ocpi_status`` at the times of :data:`POLL_MINUTES` (the poll's
time is given, so the hours are exact): the first poll is complete, the next
ones ask only for changes, and unchanged EVSEs are carried forward, as ``watch``
does. Between the 4th and 5th polls lie 3 hours, longer than the 1-hour cap.
The hand computations of the figures are written out in the tests.
"""

from __future__ import annotations

import copy

import pandas as pd

LOCATIONS = {  # key: (location id in the replay feed, operator, power class, EVSEs)
    "pod": ("1e577dafa16172d3791e4ece90786978", "POD Point", "rapid", 3),
    "bp": ("af2c9843333cc1e2578ddf18b3eed066", "BP Pulse", "rapid", 1),
    "bp_new": ("b59c20a7e6c3b143fb799678665af2ed", "BP Pulse", "rapid", 1),
    "ubi": ("918d060df13b64b7d02fbd689b0d1e5c", "ubitricity", "slow", 2),
}
START = pd.Timestamp("2024-03-04 09:00", tz="UTC")
POLL_MINUTES = (0, 20, 40, 60, 240, 270)

AV, CH, OOO, INOP, UNK, BLK = ("AVAILABLE", "CHARGING", "OUTOFORDER", "INOPERATIVE",
                               "UNKNOWN", "BLOCKED")
STATUS = {  # (location key, EVSE number): status at each poll; None = not in the feed
    ("pod", 0): (AV, CH, OOO, OOO, AV, AV),
    ("pod", 1): (CH, CH, CH, CH, CH, CH),
    ("pod", 2): (INOP, AV, AV, UNK, AV, AV),
    ("bp", 0): (AV, AV, AV, INOP, INOP, AV),
    ("bp_new", 0): (None, None, None, None, None, OOO),  # one observation only
    ("ubi", 0): (AV, AV, AV, AV, AV, AV),
    ("ubi", 1): (BLK, BLK, AV, AV, AV, AV),
}


def poll_times() -> list:
    return [START + pd.Timedelta(minutes=m) for m in POLL_MINUTES]


def _iso(at: pd.Timestamp) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def chosen_locations(server) -> dict:
    """Copies (changed freely) of the four locations from the server's fixtures."""
    by_id = {loc["id"]: loc for loc in server.fixtures.london_locations}
    chosen = {}
    for key, (location_id, operator, _cls, n_evses) in LOCATIONS.items():
        loc = copy.deepcopy(by_id[location_id])
        assert loc["operator"]["name"] == operator and len(loc["evses"]) == n_evses
        chosen[key] = loc
    return chosen


def evse_uids(server) -> dict:
    """(location key, EVSE number) -> (device_id, evse_uid) as the store keeps them."""
    return {(key, i): (loc["id"], evse["uid"])
            for key, loc in chosen_locations(server).items()
            for i, evse in enumerate(loc["evses"])}


def poll_history(workspace, server) -> list:
    """Serve the statuses of each poll and poll the server at each poll time."""
    url = server.url + "/ocpi/2.2.1/locations"
    chosen = chosen_locations(server)
    before: dict = {}
    since = None
    times = poll_times()
    for n, at in enumerate(times):
        feed = []
        for key, loc in chosen.items():
            statuses = [STATUS[(key, i)][n] for i in range(len(loc["evses"]))]
            if all(s is None for s in statuses):
                continue
            if before.get(key) != statuses:  # changed (or new): last_updated moves on
                loc["last_updated"] = _iso(at)
                for evse, status in zip(loc["evses"], statuses):
                    evse["status"] = status
                    evse["last_updated"] = _iso(at)
            before[key] = statuses
            feed.append(loc)
        server.fixtures.locations = copy.deepcopy(feed)
        outcome, since = workspace.poll_ocpi_status(url, since=since, observed_utc=at)
        assert all(r.outcome != "failed" for r in outcome.imports), outcome.imports
        assert since == at
    return times
