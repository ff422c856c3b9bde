"""A borough's whole journey through the command line, on one store of combined real data
(conftest.py builds it: registry ``import``, OCPI ``fetch``, watched status and ``watch``,
usage returns ``import``, ``reconcile`` with a decision), then ``summary`` (borough and
ward), ``utilisation``, ``sites``, ``export`` and ``validate --store``.

Every figure is recomputed here from the inputs (borough_data.py): device counts from
the registry CSV and the feed placed by an even-odd ray test on the bundled boundaries,
sessions and kWh from the returns with plain pandas, reliability from the watched polls
and the fetched statuses over the observed intervals.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pandas as pd
import pytest
from borough_data import (
    DOWN,
    KERB_EVSE,
    KERB_LOCATION,
    MIN_OBSERVED_HOURS,
    OPS_FEED,
    USAGE_BOROUGH,
    WINDOW,
    WORKING,
    cli,
    power_class,
    report_json,
)
from watched_history import LOCATIONS, POLL_MINUTES, STATUS

from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.outputs.tables import read_csv

CATCHMENT_M = 400.0
CAP_MINUTES = 60


@pytest.fixture(scope="module")
def devices(reg, journey, boroughs, wards) -> pd.DataFrame:
    """Every charge point once: the registry's devices and the newcomer's Locations (the
    feed's other EVSEs are registry devices), placed in boroughs and wards."""
    columns = ["device_id", "operator", "x", "y", "connectors", "max_kw"]
    frame = pd.concat([reg[columns], journey.feed.newcomers[columns]], ignore_index=True)
    frame["borough"] = boroughs.locate(frame["x"], frame["y"])
    frame["ward"] = wards.locate(frame["x"], frame["y"])
    frame["power_class"] = power_class(frame["max_kw"])
    return frame


@pytest.fixture(scope="module")
def usage(journey, devices) -> pd.DataFrame:
    placed = devices.set_index("device_id")
    return journey.usage.assign(borough=journey.usage["device_id"].map(placed["borough"]),
                                ward=journey.usage["device_id"].map(placed["ward"]))


def shown_period(usage) -> str:
    return max(usage["quarter"])


def suppressed_areas(usage, column: str, parent: str | None = None) -> set:
    """The areas whose usage a published summary leaves empty, recomputed from the returns:
    fewer than 3 devices or one operator behind the figures of the period shown and the
    one before it, and, beside a lone such area under a published total (London's, or the
    borough's above its wards), the shown area with the fewest devices."""
    quarters = sorted(usage["quarter"].unique())[-2:]
    rows = usage[usage["quarter"].isin(quarters)].dropna(subset=[column])
    cells = rows.groupby(column).agg(n=("device_id", "nunique"),
                                     ops=("operator", "nunique"),
                                     parent=(parent or column, "first"))
    if parent is None:
        cells["parent"] = "London"
    cells["hidden"] = (cells["n"] < 3) | (cells["ops"] <= 1)
    hidden = set(cells.index[cells["hidden"]])
    for _parent, group in cells.groupby("parent"):
        shown = group[~group["hidden"]]
        if group["hidden"].sum() == 1 and len(shown):
            hidden.add(shown.reset_index().sort_values(["n", column]).iloc[0][column])
    return hidden


def suppressed_in(table) -> set:
    return set(table.index[table["usage_disclosure"].str.startswith("suppressed")])


# --- into the store -----------------------------------------------------------------------

def test_registry_feed_and_returns_go_in(journey, reg):
    steps = journey.steps
    assert steps["import registry"].stdout.startswith(
        f"ncr_chargepoints_london_2022-05.csv.gz: {len(reg):,} rows read")
    assert f"devices: {len(reg)} added" in steps["import registry"].stdout

    locations = journey.feed.locations
    evses = sum(len(loc["evses"]) for loc in locations)
    fetched = steps["fetch"].stdout
    assert fetched.startswith(f"{OPS_FEED} locations ")
    assert f"{len(locations)} rows read" in fetched and f"devices: {len(locations)} added" in \
        fetched and f"status_snapshots: {evses} added" in fetched
    assert steps["fetch pages"] > 1  # paged, as real feeds are

    lines = steps["import returns"].stdout.strip().splitlines()
    assert len(lines) == len(journey.returns)
    for path, line in zip(journey.returns, lines):
        rows = len(pd.read_csv(path))
        assert line == f"{path.name}: {rows:,} rows read, {rows:,} added. sessions: {rows} added"
    assert sum(len(pd.read_csv(p)) for p in journey.returns) == len(journey.usage)


def test_watch_polls_the_live_feed(journey):
    lines = journey.steps["watch"].stdout.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ 127\.0\.0\.1 status .*: "
                        rf"{len(LOCATIONS)} rows read, .*status_snapshots: "
                        rf"{len(journey.watched)} added", lines[0]), lines[0]


def test_reconcile_reviews_the_doubtful_kerb_and_keeps_the_decision(journey, reg):
    feed = journey.feed
    by_reference = len(feed.evse_device) + len(journey.watched)
    evses = by_reference + 1 + len(feed.newcomers)
    locations = len(feed.locations) + len({d for d, _uid in journey.watched.values()})
    first = journey.steps["reconcile"].stdout.splitlines()
    assert first[0] == (f"{len(reg) + locations:,} source records ({len(reg):,} registry "
                        f"devices, {evses} feed EVSEs in {locations} Locations) -> "
                        f"{len(reg) + len(feed.newcomers) + 1:,} devices")
    assert first[1:6] == [f"matched by reference: {by_reference}", "matched by proximity: 0",
                          "matched by decision: 0", "ambiguous (for review): 1",
                          f"feed-only devices: {len(feed.newcomers) + 1}"]
    assert "source-qualified ids (an id another device holds): 1" in first

    review = journey.review
    assert set(review["feed_key"]) == {f"ocpi:{OPS_FEED}:{KERB_LOCATION}#{KERB_EVSE}"}
    assert set(review["registry_device_id"]) == feed.kerb_partners
    assert len(review) == len(feed.kerb_partners) >= 2

    decided = journey.steps["decide"].stdout.splitlines()
    assert decided[0] == "decision recorded: " + journey.steps["decision"].replace("=", " = ")
    assert decided[1].endswith(f"-> {len(reg) + len(feed.newcomers):,} devices")
    assert decided[2:7] == [f"matched by reference: {by_reference}", "matched by proximity: 0",
                            "matched by decision: 1", "ambiguous (for review): 0",
                            f"feed-only devices: {len(feed.newcomers)}"]


# --- summary ------------------------------------------------------------------------------

def test_each_charger_counts_once_per_borough(summary_borough, devices, reg, journey):
    table = read_csv(summary_borough.path).set_index("area_code")
    assert len(table) == 33
    inside = devices[devices["borough"].notna()]
    expected = inside.groupby("borough").agg(
        devices=("device_id", "size"), connectors=("connectors", "sum"),
        rapid=("power_class", lambda c: (c == "rapid").sum()),
        ultra=("power_class", lambda c: (c == "ultra").sum())).reindex(table.index,
                                                                      fill_value=0)
    assert table["devices"].to_dict() == expected["devices"].to_dict()
    assert table["connectors"].to_dict() == expected["connectors"].to_dict()
    assert table["rapid_devices"].to_dict() == expected["rapid"].to_dict()
    assert table["ultra_devices"].to_dict() == expected["ultra"].to_dict()
    # the feeds' EVSEs that are registry devices and the decided kerb add nothing, the
    # newcomer's Locations one device each
    counted_twice = len(reg) + sum(len(loc["evses"]) for loc in journey.feed.locations)
    assert table["devices"].sum() == len(inside) < counted_twice
    assert devices["device_id"].is_unique
    assert f"{len(devices):,} devices: {len(inside):,} inside a ward and its borough" in \
        summary_borough.result.stderr
    assert "1 by decision; 0 ambiguous (for review); 3 feed-only devices" in \
        summary_borough.result.stderr


def test_usage_per_borough_from_the_returns(summary_borough, usage):
    period = shown_period(usage)
    assert summary_borough.result.stdout.strip() == (
        f"33 areas (borough, {period}) written to {summary_borough.path}")
    table = read_csv(summary_borough.path).set_index("area_code")
    assert set(table["period"]) == {period}
    shown = usage[usage["quarter"] == period].groupby("borough").agg(
        sessions=("kwh", "size"), kwh=("kwh", "sum"))
    assert len(shown) >= 2 and shown.loc[table.index[table["area_name"] == USAGE_BOROUGH][0],
                                         "sessions"] > 1000
    # published: areas resting on few devices or one operator leave their usage empty
    hidden = suppressed_areas(usage, "borough")
    assert hidden and suppressed_in(table) == hidden
    assert table.loc[list(hidden), ["sessions", "kwh", "occupancy_pct"]].isna().all().all()
    got = table.loc[table["sessions"].fillna(0) > 0]
    assert got["sessions"].astype(int).to_dict() == \
        shown.drop(index=list(hidden), errors="ignore")["sessions"].to_dict()
    np.testing.assert_allclose(got["kwh"].to_numpy(), shown.loc[got.index, "kwh"], rtol=1e-9)
    assert f"suppressed: {len(hidden)} of 33 areas" in summary_borough.result.stderr


def test_a_period_without_figures_is_one_line(journey, usage, tmp_path):
    out = tmp_path / "summary.csv"
    result = cli("-q", "summary", "--store", journey.store, "--period", "2019-Q1", "--out",
                 out)  # -q: no progress lines
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: no utilisation for period '2019-Q1'; available: "
        + ", ".join(sorted(usage["quarter"].unique())))
    assert not out.exists()


def test_each_charger_counts_once_per_ward_and_usage_per_ward(summary_ward, devices, usage,
                                                             boroughs, journey, tmp_path):
    table = read_csv(summary_ward.path).set_index("area_code")
    assert len(table) == 633
    # no device stands on the Thames between the boroughs' high-water line and the wards'
    assert (devices["ward"].notna() == devices["borough"].notna()).all()
    both = devices[devices["ward"].notna()]
    expected = both.groupby("ward")["device_id"].size().reindex(table.index, fill_value=0)
    assert table["devices"].to_dict() == expected.to_dict()
    # every ward lies in its borough
    assert (both.groupby("ward")["borough"].nunique() == 1).all()
    parents = both.drop_duplicates("ward").set_index("ward")["borough"]
    assert (table.loc[parents.index, "parent_code"] == parents).all()

    period = shown_period(usage)
    shown = usage[usage["quarter"] == period].groupby("ward").agg(
        sessions=("kwh", "size"), kwh=("kwh", "sum"))
    # published: wards resting on few devices or one operator, and a partner beside a lone
    # one in its borough, leave their usage empty; the others show it
    hidden = suppressed_areas(usage, "ward", parent="borough")
    assert len(hidden) >= 5 and suppressed_in(table) == hidden
    assert table.loc[list(hidden), ["sessions", "kwh", "occupancy_pct"]].isna().all().all()
    got = table.loc[table["sessions"].fillna(0) > 0]
    assert len(got) >= 3
    assert got["sessions"].astype(int).to_dict() == \
        shown.drop(index=list(hidden), errors="ignore")["sessions"].to_dict()
    np.testing.assert_allclose(got["kwh"].to_numpy(), shown.loc[got.index, "kwh"], rtol=1e-9)

    # not for publication: every ward's figures, and the file says INTERNAL
    out = tmp_path / "wards_internal.csv"
    result = cli("summary", "--store", journey.store, "--level", "ward", "--internal",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("— INTERNAL – not for publication")
    assert out.read_text(encoding="utf-8").startswith("INTERNAL – not for publication")
    internal = read_csv(out).set_index("area_code")
    got = internal.loc[internal["sessions"].fillna(0) > 0]
    assert len(got) >= 10
    assert got["sessions"].astype(int).to_dict() == shown["sessions"].to_dict()
    np.testing.assert_allclose(got["kwh"].to_numpy(), shown.loc[got.index, "kwh"], rtol=1e-9)


def test_sessions_and_kwh_per_device_quarter(utilisation_quarters, usage):
    table = read_csv(utilisation_quarters.path, dtype={"device_id": str})
    expected = usage.groupby(["device_id", "quarter"]).agg(sessions=("kwh", "size"),
                                                           kwh=("kwh", "sum"))
    got = table[table["sessions"] > 0].set_index(["device_id", "period"]).sort_index()
    assert got.index.tolist() == expected.index.tolist()
    assert got["sessions"].astype(int).tolist() == expected["sessions"].tolist()
    np.testing.assert_allclose(got["kwh"].to_numpy(), expected["kwh"].to_numpy(), rtol=1e-9)
    assert set(table["device_id"]) == set(usage["device_id"])
    # plugged-in time over the quarters the returns cover is the sessions' own within
    # them (split at quarter ends; time spilling into the next quarter, which no return
    # covers, has no figures there)
    end = usage["end_utc"].clip(upper=WINDOW[1].tz_convert("UTC"))
    hours = ((end - usage["start_utc"]).dt.total_seconds() / 3600).groupby(
        usage["device_id"]).sum()
    plugged = table.groupby("device_id")["plugged_hours"].sum()
    np.testing.assert_allclose(plugged[hours.index].to_numpy(), hours.to_numpy(), rtol=1e-9)
    assert utilisation_quarters.result.stdout.startswith(f"{len(table):,} rows ("
                                                         f"{usage['device_id'].nunique()} "
                                                         "devices, ")


# --- live status on the registry devices -------------------------------------------------

def kind_of(status: str) -> str:
    return "working" if status in WORKING else "down" if status in DOWN else "excluded"


def watched_minutes(key, n):
    """(working, down, excluded) minutes and observations of a watched EVSE by hand: each
    poll's status holds until the EVSE's next poll, for at most 60 minutes; the last of the
    six polls is followed by `watch`'s own poll years later, which saw the same status
    and holds 60 minutes too."""
    seen = [(t, s) for t, s in zip(POLL_MINUTES, STATUS[(key, n)]) if s is not None]
    minutes = {"working": 0, "down": 0, "excluded": 0}
    for (t, status), after in zip(seen, [t for t, _s in seen[1:]] + [None]):
        minutes[kind_of(status)] += CAP_MINUTES if after is None else \
            min(after - t, CAP_MINUTES)
    minutes[kind_of(seen[-1][1])] += CAP_MINUTES
    return minutes, len(seen) + 1


@pytest.fixture(scope="module")
def observed(journey, devices) -> pd.DataFrame:
    """Every EVSE with status (watched and fetched), the device it is and its observed
    minutes by hand."""
    feed, rows = journey.feed, []
    for (key, n), (_location, uid) in journey.watched.items():
        minutes, count = watched_minutes(key, n)
        rows.append({"evse_uid": uid, "device_id": uid, "observations": count, **minutes})
    newcomer = feed.newcomers.set_index("evse_uid")["device_id"]
    for uid, status in feed.evse_status.items():
        device = feed.evse_device.get(uid) or newcomer.get(uid) or \
            (feed.kerb_device if uid == KERB_EVSE else None)
        rows.append({"evse_uid": uid, "device_id": device, "observations": 1,
                     "working": 0, "down": 0, "excluded": 0, kind_of(status): CAP_MINUTES})
    frame = pd.DataFrame(rows)
    placed = devices.set_index("device_id")
    frame["operator"] = frame["device_id"].map(placed["operator"])
    frame["rapid"] = frame["device_id"].map(placed["max_kw"]) >= 50
    assert frame["operator"].notna().all()
    return frame


def test_status_lands_on_the_registry_devices(status_per_evse, observed, reg, journey):
    table = read_csv(status_per_evse.path, dtype={"device_id": str, "evse_uid": str})
    assert table.groupby("evse_uid")["device_id"].first().to_dict() == \
        observed.set_index("evse_uid")["device_id"].to_dict()
    registry_ids = set(reg["device_id"])
    on_registry = set(table["device_id"]) & registry_ids
    assert set(table["device_id"]) - on_registry == \
        set(journey.feed.newcomers["device_id"])
    assert journey.feed.kerb_device in on_registry       # the officer's decision
    hours = table.groupby("evse_uid")["status_observed_hours"].sum()
    hand = observed.set_index("evse_uid")
    minutes = hand[["working", "down", "excluded"]].sum(axis=1)
    np.testing.assert_allclose(hours[hand.index], minutes / 60, rtol=1e-9)
    # the day of the six polls (the later observations are of today's quarter)
    polled = table[table["period"] == "2024-Q1"].set_index("evse_uid")
    watched = [uid for _location, uid in journey.watched.values()]
    assert sorted(polled.index) == sorted(watched)
    assert (polled["status_observations"] == hand.loc[polled.index, "observations"] - 1).all()
    # POD Point's rapid EVSE: 130 minutes working, 80 out of order
    assert polled.loc[journey.watched[("pod", 0)][1], "uptime_pct"] == \
        pytest.approx(100 * 130 / 210)


def test_reliability_over_the_observed_intervals(validate_out, observed):
    report = report_json(validate_out.path)
    assert (report["max_gap_hours"], report["min_observed_hours"]) == (1.0, MIN_OBSERVED_HOURS)
    operators = {op["operator"]: op for op in report["operators"]}
    assert set(operators) == set(observed["operator"])
    lines = validate_out.result.stdout.splitlines()
    for name, evses in observed.groupby("operator"):
        op = operators[name]
        for scope, rows in (("reliability", evses), ("rapid_reliability",
                                                     evses[evses["rapid"]])):
            record = op[scope]
            if not len(rows):
                assert record is None, (name, scope)
                continue
            working, down = rows["working"].sum(), rows["down"].sum()
            seen = working + down + rows["excluded"].sum()
            assert record["working_h"] == pytest.approx(working / 60, abs=1e-5), name
            assert record["down_h"] == pytest.approx(down / 60, abs=1e-5), name
            assert record["observed_h"] == pytest.approx(seen / 60, abs=1e-5), name
            assert (record["observations"], record["evses"]) == \
                (rows["observations"].sum(), len(rows)), name
            assert record["reliability"] == pytest.approx(working / (working + down)), name
        rapid = evses[evses["rapid"]]
        if len(rapid):
            working, down = rapid["working"].sum(), rapid["down"].sum()
            seen = working + down + rapid["excluded"].sum()
            verdict = "fail" if working / (working + down) < 0.99 else "pass"
            assert op["verdict"] == verdict
            assert f"{verdict.upper():5} {name} \u2014 rapid network " \
                   f"{100 * working / (working + down):.2f}% over " \
                   f"{(working + down) / 60:.1f} counted hours ({seen / 60:.1f} observed " \
                   f"hours, {rapid['observations'].sum()} observations of {len(rapid)} " \
                   f"EVSE(s)): {verdict}" in lines
        else:
            assert f"PASS  {name}" in lines
    # the watched POD Point hub: only its 50 kW device is in the rapid network
    pod = operators["POD Point"]["rapid_reliability"]
    assert (pod["evses"], pod["reliability"]) == (1, pytest.approx((130 + 60) / (210 + 60)))


# --- sites --------------------------------------------------------------------------------

def test_candidate_sites_count_each_charger_once(sites_out, journey, devices, usage):
    sites = pd.read_csv(journey.sites)
    table = read_csv(sites_out.path, dtype={"site_id": str}).set_index("site_id")
    assert sorted(table.index) == sorted(sites["site_id"])
    period = shown_period(usage)
    assert set(table["usage_period"]) == {period}
    in_period = usage[usage["quarter"] == period].groupby("device_id").agg(
        sessions=("kwh", "size"), kwh=("kwh", "sum"))
    x, y = wgs84_to_bng(sites["longitude"].to_numpy(), sites["latitude"].to_numpy())
    for site, sx, sy in zip(sites["site_id"], x, y):
        distance = np.hypot(devices["x"].to_numpy() - sx, devices["y"].to_numpy() - sy)
        within = devices[distance <= CATCHMENT_M]
        row = table.loc[site]
        assert row["devices_within"] == len(within), site
        assert row["connectors_within"] == within["connectors"].sum(), site
        assert row["rapid_within"] == (within["power_class"] == "rapid").sum(), site
        assert row["nearest_device_m"] == pytest.approx(np.nanmin(distance), abs=0.01), site
        used = in_period.reindex(within["device_id"]).dropna()
        assert row["devices_with_usage_within"] == len(used), site
        assert row["sessions_within"] == used["sessions"].sum(), site
        assert row["kwh_within"] == pytest.approx(used["kwh"].sum(), rel=1e-9, abs=1e-9), site
    assert table.loc["new-kerb", "nearest_device_id"] == journey.feed.newcomers.loc[
        0, "device_id"]
    assert table.loc["busy-device", "sessions_within"] > 0
    assert sites_out.result.stdout.splitlines()[0] == (
        f"{len(sites)} sites analysed within 400 m written to {sites_out.path}")


# --- the committee page -------------------------------------------------------------------

def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=120).stdout


def figure(text: str, label: str) -> list[str]:
    match = re.search(rf"^\s*{re.escape(label)}\s+(\S+(?: %)?)\s+(\S+(?: %)?)\s*$", text,
                      re.MULTILINE)
    assert match, label
    return [match.group(1), match.group(2)]


def test_committee_page_for_the_borough(export_out, devices, usage, boroughs):
    pdfs = sorted(export_out.path.glob("*.pdf"))
    assert len(pdfs) == 1 and export_out.result.stdout.strip().splitlines()[-1] == (
        f"1 PDF file(s), 2 other file(s) written to {export_out.path}")
    text = pdf_text(pdfs[0])
    period = shown_period(usage)
    quarters = sorted(usage["quarter"].unique())
    assert f"{USAGE_BOROUGH}: electric vehicle charge points" in text
    assert f"Quarter {period} · compared with {quarters[-2]}" in text

    code = {n: c for c, n in boroughs.name_of.items()}[USAGE_BOROUGH]
    london = devices[devices["borough"].notna()]
    mine = london[london["borough"] == code]
    assert figure(text, "Charge devices") == [f"{len(mine):,}", f"{len(london):,}"]
    assert figure(text, "Connectors") == [f"{mine['connectors'].sum():,}",
                                          f"{london['connectors'].sum():,}"]

    now = usage[usage["quarter"] == period]
    before = usage[usage["quarter"] == quarters[-2]]
    here, there = now[now["borough"] == code], now[now["borough"].notna()]
    assert figure(text, "Devices with usage records") == [
        f"{usage.loc[usage['borough'] == code, 'device_id'].nunique()}",
        f"{usage.loc[usage['borough'].notna(), 'device_id'].nunique()}"]
    assert figure(text, "Sessions") == [f"{len(here):,}", f"{len(there):,}"]
    assert figure(text, "Energy delivered (MWh)") == [f"{here['kwh'].sum() / 1000:,.1f}",
                                                      f"{there['kwh'].sum() / 1000:,.1f}"]
    change = [100 * (len(a) / len(b) - 1) for a, b in (
        (here, before[before["borough"] == code]), (there, before[before["borough"].notna()]))]
    assert figure(text, "Sessions change on previous") == [f"{c:.1f} %" for c in change]
    assert "National Chargepoint Registry" in text


def test_no_output_says_synthetic(journey, summary_borough, summary_ward,
                                  utilisation_quarters, status_per_evse, sites_out,
                                  export_out, validate_out):
    texts = [s.stdout + s.stderr for s in journey.steps.values()
             if isinstance(s, subprocess.CompletedProcess)]
    for output in (summary_borough, summary_ward, utilisation_quarters, status_per_evse,
                   sites_out):
        texts += [output.text, output.path.read_text("utf-8")]
    texts += [export_out.text, pdf_text(next(export_out.path.glob("*.pdf")))]
    texts += [p.read_text("utf-8") for p in export_out.path.glob("*.csv")]
    texts += [validate_out.text, (validate_out.path / "report.html").read_text("utf-8"),
              (validate_out.path / "report.json").read_text("utf-8")]
    for text in texts:
        assert "synthetic" not in text.lower()
