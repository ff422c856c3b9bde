"""The default period: the latest with substantial usage, the same for every role.

"Substantial" (docs/user-guide.md, "Periods"): the sessions that start in the period
are at least 10 % of the median over the periods in which sessions start. A return
whose last sessions spill a few minutes into the next quarter no longer makes that
quarter the default, and on the shared store a borough officer under row-level
security gets the default the owner gets. Expected periods are recomputed here from
the sessions with plain Python (csv, zoneinfo) or pandas, not with the plugin's code.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections import Counter
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from pg_cluster import PG_BIN
from test_utilisation_dundee import independent_sessions

from ev_chargepoints import cli
from ev_chargepoints.core.outputs import mapdata
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, resource
from ev_chargepoints.core.schema import ParseResult
from ev_chargepoints.core.sources import synthetic
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.sources.parsers.sessions_csv import combine
from ev_chargepoints.core.store.usage_kind import SYNTHETIC_FORMAT
from ev_chargepoints.core.workspace import Workspace

UK = ZoneInfo("Europe/London")
DUNDEE_FILES = ["cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz"]
SPILL = 8                    # sessions of the next quarter at the end of the return


def _label(stamp, kind: str) -> str:
    local = stamp.astimezone(UK)
    return {"month": f"{local.year}-{local.month:02d}",
            "quarter": f"{local.year}-Q{(local.month - 1) // 3 + 1}"}[kind]


def _expected_default(counts: Counter) -> str:
    """The latest period holding at least 10 % of the median period's sessions."""
    floor = 0.10 * statistics.median(n for n in counts.values() if n > 0)
    return max(p for p, n in counts.items() if n >= floor)


# --- a real return with a spill: Dundee, October 2017 to March 2018 ---------------------

@pytest.fixture(scope="module")
def spill_store(tmp_path_factory):
    """The real Dundee sessions that start from October 2017 to March 2018 (UK time), and
    the first 8 that start in April: one return whose last sessions spill over."""
    parsed, _ = combine([parse_file(resource("data", "dundee", name))
                         for name in DUNDEE_FILES])
    local = parsed["start_utc"].dt.tz_convert("Europe/London")
    inside = (local >= pd.Timestamp("2017-10-01", tz=UK)) & \
        (local < pd.Timestamp("2018-04-01", tz=UK))
    after = parsed[local >= pd.Timestamp("2018-04-01", tz=UK)].sort_values("start_utc")
    sessions = pd.concat([parsed[inside], after.head(SPILL)], ignore_index=True)
    path = tmp_path_factory.mktemp("spill") / "spill.gpkg"
    with Workspace(path) as ws:
        report = ws.import_result(ParseResult("sessions-csv", "dundee return", len(sessions),
                                              tables={"sessions": sessions}),
                                  "dundee_return_2017Q4_2018Q1.csv", "dundee-return-v1")
        assert report.outcome == "imported"
    # the same sessions, counted without the plugin: closed ones, by local start
    rows = [r for r in independent_sessions()[0]
            if pd.Timestamp("2017-10-01", tz=UK) <= r[2] < pd.Timestamp("2018-04-01", tz=UK)]
    spilled = sorted((r for r in independent_sessions()[0]
                      if r[2] >= pd.Timestamp("2018-04-01", tz=UK)), key=lambda r: r[2])
    return path, rows + spilled[:SPILL]


@pytest.mark.parametrize("kind", ["quarter", "month"])
def test_a_few_spilled_sessions_do_not_make_the_default_period(spill_store, kind):
    path, rows = spill_store
    counts = Counter(_label(start, kind) for _d, _c, start, _e, _k in rows)
    expected = _expected_default(counts)
    assert expected == {"quarter": "2018-Q1", "month": "2018-03"}[kind]
    spilled = {"quarter": "2018-Q2", "month": "2018-04"}[kind]
    assert 0 < counts[spilled] <= SPILL                     # the spill is in the data
    with Workspace(path) as ws:
        assert ws.usage_periods(kind)[-1] == spilled        # offered, but not the default
        table, _ = ws.summary(level="borough", period_kind=kind)
        assert table.attrs["period"] == expected
        assert ws.summariser(kind).summarise("borough").attrs["period"] == expected
        assert ws.default_period(kind) == expected
        map_info = ws.map_frames(kind).info(None)
        assert map_info.latest_period == expected and map_info.periods[-1] == spilled
        sessions = mapdata.period_sessions(ws.utilisation(kind))
    assert sessions.to_dict() == {p: counts[p] for p in sessions.index}
    assert mapdata.latest_period(sessions) == expected


def test_the_definition_on_its_edges():
    assert mapdata.latest_period(pd.Series(dtype="float64")) is None
    assert mapdata.latest_period(pd.Series({"2022-Q1": 0.0})) is None
    assert mapdata.latest_period(pd.Series({"2022-Q1": 8.0})) == "2022-Q1"
    two = pd.Series({"2022-Q1": 19_000.0, "2022-Q2": 8.0})
    assert mapdata.substantial_periods(two) == ["2022-Q1"]
    # a period at exactly a tenth of the median is substantial
    assert mapdata.latest_period(pd.Series({"a": 100.0, "b": 100.0, "c": 10.0})) == "c"
    assert mapdata.latest_period(pd.Series({"a": 100.0, "b": 100.0, "c": 9.0})) == "b"


# --- the shared store: every role gets the owner's default ------------------------------

OWNER, IMPORTER = "evcp_default_owner", "evcp_default_import"
CAMDEN, HACKNEY = "E09000007", "E09000012"


@pytest.fixture(scope="module")
def shared(pg_cluster):
    """The real registry; SYNTHETIC sessions (real Dundee distributions) for Camden's
    devices in 2022-Q1 only and for Hackney's from 2022-01-01 to 2022-07-01 UTC, whose
    last hour is 2022-Q3 in UK time: a few sessions spill into that quarter."""
    database = pg_cluster.create_database()
    try:
        pg_cluster.ensure_login(OWNER)
        pg_cluster.execute(f"GRANT CREATE ON DATABASE {database} TO {OWNER}")
        assert cli.main(["import", str(LONDON_SNAPSHOT / NCR_SNAPSHOT), "--store",
                         pg_cluster.dsn(database, OWNER)]) == 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        script = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-d", pg_cluster.dsn(database), "-f",
             str(resource("sql", "shared_store_roles.sql"))],
            capture_output=True, text=True, env=env, timeout=120)
        assert script.returncode == 0, script.stderr
        pg_cluster.ensure_login(IMPORTER, "evcp_importer")
        with Workspace(pg_cluster.dsn(database, OWNER)) as ws:
            placed = ws.assignment().table
            devices, connectors = ws.devices(), ws.connectors()
        reference = synthetic.dundee_sessions()
        parts = []
        for borough, start, end, seed in (
                (CAMDEN, pd.Timestamp("2022-01-01", tz=UK), pd.Timestamp("2022-04-01", tz=UK),
                 31),
                (HACKNEY, "2022-01-01", "2022-07-01", 32)):
            ids = set(placed.loc[placed["borough_code"] == borough, "device_id"])
            mine = devices[devices["device_id"].isin(ids)]
            parts.append(synthetic.synthetic_sessions(
                mine, connectors[connectors["device_id"].isin(ids)], reference, start, end,
                seed=seed, occupancy_range=(0.02, 0.2)))
        sessions = pd.concat(parts, ignore_index=True)
        sessions["session_key"] = [f"default-period:{i}" for i in range(len(sessions))]
        with Workspace(pg_cluster.dsn(database, IMPORTER)) as ws:
            report = ws.import_result(
                ParseResult(SYNTHETIC_FORMAT, "synthetic", len(sessions),
                            tables={"sessions": sessions}),
                "synthetic camden and hackney", "default-period-usage-v1")
            assert report.outcome == "imported", report.message
        camden = set(placed.loc[placed["borough_code"] == CAMDEN, "device_id"])
        yield pg_cluster, database, sessions, camden
    finally:
        pg_cluster.drop_database(database)


def test_every_role_of_the_shared_store_gets_the_same_default(shared):
    cluster, database, sessions, camden = shared
    local = sessions["start_utc"].dt.tz_convert("Europe/London")
    quarter = local.dt.year.astype(str) + "-Q" + ((local.dt.month - 1) // 3 + 1).astype(str)
    counts = Counter(quarter)
    expected = _expected_default(counts)
    assert expected == "2022-Q2" and 0 < counts["2022-Q3"] < 0.001 * counts["2022-Q2"]
    assert set(quarter[sessions["device_id"].isin(camden)]) == {"2022-Q1"}

    roles = (OWNER, IMPORTER, "camden_officer", "london_analyst")
    summarised = {}
    for role in roles:
        with Workspace(cluster.dsn(database, role)) as ws:
            summarised[role] = ws.summary(level="borough")[0].attrs["period"]
    assert summarised == {role: expected for role in roles}
    seen = {}
    for role in roles:
        with Workspace(cluster.dsn(database, role)) as ws:
            seen[role] = (ws.default_period("quarter"),
                          ws.summariser("quarter").summarise("borough").attrs["period"],
                          ws.write_map("quarter").latest_period)
    assert seen == {role: (expected,) * 3 for role in roles}
