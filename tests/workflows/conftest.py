"""Whole journeys: one real store built once per session through the CLI, as a borough
builds it (borough_data.py says what goes in), the CLI outputs every test compares, and
the independent figures they are checked against.

Runs in the QGIS pass of tools/run_tests.sh (pytest-qgis): the Processing journey uses
the QGIS suite's own ``ev_provider`` fixture, imported from tests/qgis/conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from borough_data import (
    BOROUGHS_GPKG,
    KERB_EVSE,
    KERB_LOCATION,
    MIN_OBSERVED_HOURS,
    NCR,
    OPS_FEED,
    OPS_TOKEN,
    OPS_TOKEN_ENV,
    USAGE_BOROUGH,
    WARDS_GPKG,
    Areas,
    assign_devices,
    candidate_sites,
    cli,
    dundee_sessions,
    ok,
    ops_feed,
    registry,
    write_returns,
)
from replay_server import ReplayServer
from watched_history import LOCATIONS, chosen_locations, evse_uids, poll_history

from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.workspace import Workspace
from tests.qgis.conftest import ev_provider  # noqa: F401  (the QGIS suite's fixture)

# the watched Locations (tests/support/watched_history.py) are registry devices
WATCHED_RAPID_LOCATION = LOCATIONS["bp"][0]


@dataclass
class Journey:
    """The store and what went into it, with the output of every CLI step."""

    folder: Path
    store: Path
    feed: object                   # borough_data.Feed
    watched: dict                  # (Location key, EVSE number) -> (device_id, evse_uid)
    usage: pd.DataFrame            # every session of the returns, as sent
    returns: list                  # the return files
    sites: Path                    # candidate sites CSV
    steps: dict = field(default_factory=dict)   # step -> CompletedProcess
    review: pd.DataFrame = None    # the review table before the decision


@pytest.fixture(scope="session")
def reg():
    return registry()


@pytest.fixture(scope="session")
def boroughs():
    return Areas(BOROUGHS_GPKG)


@pytest.fixture(scope="session")
def wards():
    return Areas(WARDS_GPKG)


@pytest.fixture(scope="session")
def usage_borough(boroughs):
    return {name: code for code, name in boroughs.name_of.items()}[USAGE_BOROUGH]


@pytest.fixture(scope="session")
def returns(reg, boroughs, usage_borough, tmp_path_factory):
    """The operators' quarterly usage returns (written once, used by both journeys)."""
    sessions = dundee_sessions()
    placed = pd.Series(boroughs.locate(reg["x"], reg["y"]), index=reg.index)
    mapping = assign_devices(sessions, reg, placed, usage_borough)
    return write_returns(sessions, mapping, reg, tmp_path_factory.mktemp("returns"))


@pytest.fixture(scope="session")
def journey(reg, returns, tmp_path_factory) -> Journey:
    folder = tmp_path_factory.mktemp("borough")
    store = folder / "borough.gpkg"
    steps = {}
    steps["import registry"] = ok(cli("import", NCR, "--store", store))

    with ReplayServer(token=OPS_TOKEN, ocpi_max_limit=20) as ops, ReplayServer() as live:
        watched_ids = {e["uid"] for loc in chosen_locations(live).values()
                       for e in loc["evses"]}
        feed = ops_feed(ops.fixtures, reg, watched_ids)
        ops.fixtures.locations = feed.locations
        steps["fetch"] = ok(cli("fetch", "--ocpi", ops.url + "/ocpi/2.2.1/locations",
                                "--store", store, "--feed-name", OPS_FEED,
                                "--token-env", OPS_TOKEN_ENV,
                                env={OPS_TOKEN_ENV: OPS_TOKEN}))
        steps["fetch pages"] = ops.hits["/ocpi/2.2.1/locations"]
        # six polls with known changes through the facade call `watch` makes (the helper
        # gives each poll its time, so the observed hours are exact), then `watch` itself
        # polls once more, now, with the statuses of the last poll
        with Workspace(store) as ws:
            poll_history(ws, live)
        watched = evse_uids(live)
        steps["watch"] = ok(cli("watch", "--ocpi", live.url + "/ocpi/2.2.1/locations",
                                "--count", 1, "--store", store))

    usage, files = returns
    steps["import returns"] = ok(cli("import", *files, "--store", store))

    review = folder / "review.csv"
    steps["reconcile"] = ok(cli("reconcile", "--store", store, "--out", review))
    decision = f"ncr:{feed.kerb_device}=ocpi:{OPS_FEED}:{KERB_LOCATION}#{KERB_EVSE}"
    steps["decide"] = ok(cli("reconcile", "--store", store, "--accept", decision,
                             "--note", "site visit: the kerb post is this registry device"))
    steps["decision"] = decision

    sites = folder / "sites.csv"
    watched_device = next(uid for (key, _n), (_d, uid) in watched.items() if key == "bp")
    candidate_sites(feed, reg, usage, watched_device).to_csv(sites, index=False)
    return Journey(folder, store, feed, watched, usage, files, sites, steps,
                   read_csv(review, dtype=str))


# --- the CLI outputs (run once, compared by the CLI and the Processing journeys) ----------

@dataclass
class Output:
    path: Path
    result: object   # CompletedProcess

    @property
    def text(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="session")
def summary_borough(journey) -> Output:
    out = journey.folder / "summary_borough.csv"
    return Output(out, ok(cli("summary", "--store", journey.store, "--out", out)))


@pytest.fixture(scope="session")
def summary_ward(journey) -> Output:
    out = journey.folder / "summary_ward.csv"
    return Output(out, ok(cli("summary", "--store", journey.store, "--level", "ward",
                              "--out", out)))


@pytest.fixture(scope="session")
def utilisation_quarters(journey) -> Output:
    out = journey.folder / "utilisation.csv"
    return Output(out, ok(cli("utilisation", "--store", journey.store, "--period",
                              "quarter", "--out", out)))


@pytest.fixture(scope="session")
def status_per_evse(journey) -> Output:
    out = journey.folder / "status.csv"
    return Output(out, ok(cli("utilisation", "--store", journey.store, "--from-status",
                              "--by", "evse", "--out", out)))


@pytest.fixture(scope="session")
def sites_out(journey) -> Output:
    out = journey.folder / "sites_analysed.csv"
    return Output(out, ok(cli("sites", "--store", journey.store, "--sites", journey.sites,
                              "--out", out)))


@pytest.fixture(scope="session")
def export_out(journey) -> Output:
    out = journey.folder / "committee"
    return Output(out, ok(cli("export", "--store", journey.store, "--borough",
                              USAGE_BOROUGH, "--out", out)))


@pytest.fixture(scope="session")
def validate_out(journey) -> Output:
    out = journey.folder / "report"
    return Output(out, ok(cli("validate", "--store", journey.store, "--min-observed-hours",
                              MIN_OBSERVED_HOURS, "--out", out)))
