"""No data is not 0 %: a device has usage figures for a period only where whoever
reports its usage (its operator's returns, else its session file or feed) reports that
period (docs/user-guide.md, "Periods").

Two operators' real returns (the Dundee sessions, read with the plugin's session
parser, each Dundee charge point reported as one of the operator's registry devices):
ubitricity's in Camden for October 2017 to March 2018, and Source London's in Hackney
for April and May 2018. Then a watch poll of a feed (the official OCPI 2.2.1 Location
example) in July 2018: watched status reaches into 2018-Q3, where nobody reports usage.
A device has no data in the quarters its operator does not report, so Camden none in
2018-Q2 and 2018-Q3: "no data" in the utilisation table, the area summaries, the
committee tables and their CSV, and the device map (NULL), not 0 %; the quarters an
operator reports keep their real zeros. The expectations are worked out here from the
sessions with pandas, without the plugin's utilisation code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.outputs import committee, disclosure
from ev_chargepoints.core.outputs.tables import read_csv, write_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, resource
from ev_chargepoints.core.schema import ParseResult
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.sources.parsers.ocpi import parse_locations
from ev_chargepoints.core.sources.parsers.sessions_csv import combine
from ev_chargepoints.core.workspace import Workspace

UK = "Europe/London"
CAMDEN, HACKNEY = "E09000007", "E09000012"
DUNDEE_FILES = ["cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz"]
OCPI_LOCATION = Path(__file__).resolve().parents[1] / "data" / "ocpi" / "spec-examples" / \
    "location_example.json"
WATCHED = "2018-07-16T09:00:00Z"
RETURNS = {  # file: (borough, operator, first day, end day, its quarters)
    "ubitricity_2017Q4_2018Q1.csv": (CAMDEN, "ubitricity", "2017-10-01", "2018-04-01",
                                     ["2017-Q4", "2018-Q1"]),
    "sourcelondon_2018Q2.csv": (HACKNEY, "Source London", "2018-04-01", "2018-06-01",
                                ["2018-Q2"]),
}


def _quarter(stamps: pd.Series) -> pd.Series:
    local = stamps.dt.tz_convert(UK)
    return local.dt.year.astype(str) + "-Q" + ((local.dt.month - 1) // 3 + 1).astype(str)


def _fill(target) -> dict:
    """The registry, both returns and the watch poll, into the store ``target``; the
    expected coverage and closed sessions per device and quarter."""
    parsed, _ = combine([parse_file(resource("data", "dundee", name))
                         for name in DUNDEE_FILES])
    local = parsed["start_utc"].dt.tz_convert(UK)
    returns, covered = [], set()
    with Workspace(target) as ws:
        assert ws.import_files([LONDON_SNAPSHOT / NCR_SNAPSHOT])[0].outcome == "imported"
        placed = ws.assignment().table.merge(ws.devices()[["device_id", "operator"]],
                                             on="device_id")
        for file_name, (code, operator, first, end, quarters) in RETURNS.items():
            sessions = parsed[(local >= pd.Timestamp(first, tz=UK))
                              & (local < pd.Timestamp(end, tz=UK))].copy()
            points = sorted(sessions["device_id"].astype(str).unique())
            mine = sorted(placed.loc[(placed["borough_code"] == code)
                                     & (placed["operator"] == operator), "device_id"])
            assert len(mine) > len(points)
            device_of = dict(zip(points, mine))
            sessions["device_id"] = sessions["device_id"].astype(str).map(device_of)
            sessions["source"] = f"usage-return:{file_name}"
            report = ws.import_result(ParseResult("usage-return", file_name, len(sessions),
                                                  tables={"sessions": sessions}),
                                      file_name, f"{file_name}-v1")
            assert report.outcome == "imported", report.message
            assert sorted(_quarter(sessions["start_utc"]).unique()) == quarters
            covered |= {(d, q) for d in sessions["device_id"].unique() for q in quarters}
            returns.append(sessions)
        poll = parse_locations(json.loads(OCPI_LOCATION.read_text(encoding="utf-8")),
                               source="ocpi:example", observed_utc=WATCHED)
        assert len(poll.tables["status_snapshots"]) == 2
        assert ws.import_result(poll, "location_example.json", "ocpi-poll-2018-07-16") \
            .outcome == "imported"
    # expected, from the sessions: a device has data in every quarter its return covers
    # (each with thousands of sessions), zero or not, and in no other
    sessions = pd.concat(returns, ignore_index=True)
    closed = sessions[sessions["end_utc"].notna()
                      & (sessions["end_utc"] >= sessions["start_utc"])]  # open ones wait
    counts = pd.crosstab(closed["device_id"], _quarter(closed["start_utc"]))
    return {"path": target, "counts": counts, "covered": covered}


@pytest.fixture(scope="module")
def borough(tmp_path_factory):
    return _fill(tmp_path_factory.mktemp("borough") / "borough.gpkg")


def test_utilisation_has_figures_only_where_the_return_reports(borough):
    with Workspace(borough["path"]) as ws:
        usage = ws.utilisation("quarter")
        watched = ws.summariser("quarter").periods_with_data
    assert "2018-Q3" in watched                 # the watched status reaches 2018-Q3
    assert set(zip(usage["device_id"], usage["period"])) == borough["covered"]
    counts = borough["counts"]
    found = usage.set_index(["device_id", "period"])
    for d, q in borough["covered"]:
        assert found.at[(d, q), "sessions"] == counts.at[d, q]
    # a device its return reports with no session in a quarter it covers: a real zero
    zeros = [(d, q) for d, q in borough["covered"] if counts.at[d, q] == 0]
    assert zeros
    assert (found.loc[zeros, "occupancy_pct"] == 0).all()


def _no_usage(row) -> bool:
    """No usage figure (a table of a period without any has no usage columns at all)."""
    return all(c not in row or np.isnan(row[c])
               for c in ("sessions", "kwh", "plugged_hours", "occupancy_pct"))


def test_a_quarter_without_returns_says_no_data(borough, tmp_path):
    with Workspace(borough["path"]) as ws:
        table, _ = ws.summary(level="borough", period="2018-Q2")
        by_code = table.set_index("area_code")
        assert by_code.at[CAMDEN, "devices"] > 0 and _no_usage(by_code.loc[CAMDEN])
        assert by_code.at[HACKNEY, "sessions"] == borough["counts"]["2018-Q2"].sum()
        out = write_csv(table, tmp_path / "q2.csv")
        written = read_csv(out, dtype=str, keep_default_na=False).set_index("area_code")
        assert written.loc[CAMDEN, "occupancy_pct"] == ""
        assert written.loc[HACKNEY, "occupancy_pct"] != ""
        # committee pages: a borough nobody reports usage for says so (Camden's cell is
        # suppressed: the quarter before, one operator's devices stand behind it)
        data = ws.committee_data("2018-Q2", 3)
        _header, rows = committee.borough_table(data, "Westminster")
        occupancy = next(row for row in rows if row[0].startswith("Occupancy"))
        assert occupancy[1] == disclosure.NO_DATA == "no data"
        # the quarter only watched status reaches (the Area summary offers it)
        summariser = ws.summariser("quarter")
        assert "2018-Q3" in summariser.periods_with_data
        q3 = summariser.summarise("borough", "2018-Q3").set_index("area_code")
        assert _no_usage(q3.loc[CAMDEN]) and _no_usage(q3.loc[HACKNEY])
        # a quarter a return covers keeps its figures
        q1, _ = ws.summary(level="borough", period="2018-Q1")
        expected = int(borough["counts"]["2018-Q1"].sum())
        assert q1.set_index("area_code").at[CAMDEN, "sessions"] == expected


def test_the_map_shows_no_data_where_no_source_reports(borough):
    with Workspace(borough["path"]) as ws:
        frames = ws.map_frames("quarter")
    grid = frames.devices
    assert frames.periods == ["2017-Q4", "2018-Q1", "2018-Q2"]
    covered = pd.Series([(d, p) in borough["covered"]
                         for d, p in zip(grid["device_id"], grid["period"])])
    assert covered.sum() == len(borough["covered"])
    assert grid.loc[covered.to_numpy(), "occupancy_pct"].notna().all()
    assert grid.loc[~covered.to_numpy(), "occupancy_pct"].isna().all()


def test_the_shared_store_computes_the_same_coverage_in_sql(borough, pg_cluster):
    """The same imports into PostGIS: the server's utilisation keeps the same rows, with
    the same figures, as the GeoPackage store's."""
    database = pg_cluster.create_database()
    try:
        shared = _fill(pg_cluster.dsn(database))
        with Workspace(shared["path"]) as ws:
            ours = ws.utilisation("quarter")
        with Workspace(borough["path"]) as ws:
            expected = ws.utilisation("quarter")
    finally:
        pg_cluster.drop_database(database)
    assert set(zip(ours["device_id"], ours["period"])) == shared["covered"] == \
        borough["covered"]
    assert list(ours.columns) == list(expected.columns)
    for column in ("sessions", "kwh", "plugged_hours", "available_hours", "occupancy_pct"):
        np.testing.assert_allclose(ours[column].to_numpy("float64"),
                                   expected[column].to_numpy("float64"), rtol=1e-9,
                                   equal_nan=True, err_msg=column)
