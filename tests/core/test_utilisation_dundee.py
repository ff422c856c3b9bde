"""The real Dundee year (67,112 sessions) through the store and the utilisation engine,
checked against an independent plain-Python computation over the CSV rows."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from ev_chargepoints.core.analysis.utilisation import utilisation
from ev_chargepoints.core.sources.parsers import parse_file
from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.interface import file_sha256
from ev_chargepoints.core.workspace import Workspace

DUNDEE = Path(__file__).resolve().parents[2] / "resources" / "data" / "dundee"
FILES = ["cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz", "cp-data-mar-may-2018.csv.gz",
         "charge-sessions-june-sept.csv.gz"]
UK = ZoneInfo("Europe/London")
UTC = dt.timezone.utc


# --- the independent computation: csv + datetime + zoneinfo, nothing from the plugin ---

def _exists(naive: dt.datetime, fold: int) -> bool:
    aware = naive.replace(tzinfo=UK, fold=fold)
    return aware.astimezone(UTC).astimezone(UK).replace(tzinfo=None) == naive


def _to_utc(naive: dt.datetime, fold: int = 0) -> dt.datetime:
    while not _exists(naive, fold):  # clocks went forward: move to the end of the gap
        naive = (naive + dt.timedelta(minutes=1)).replace(second=0)
    return naive.replace(tzinfo=UK, fold=fold).astimezone(UTC)


def _read(date: str, time: str) -> dt.datetime:
    return dt.datetime.strptime(f"{date} {time}", "%d/%m/%Y %H:%M")


def independent_sessions():
    """Closed, usable sessions as (device, connector, start_utc, end_utc, kwh)."""
    out, open_count = [], 0
    for name in FILES:
        with gzip.open(DUNDEE / name, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                device = row["CP ID"].strip()
                if not device:
                    continue
                kwh = float(row["Total kWh"]) if row["Total kWh"].strip() else math.nan
                if kwh < 0:
                    continue
                start = _to_utc(_read(row["Start Date"], row["Start Time"]))
                if not row["End Date"].strip():
                    open_count += 1
                    continue
                end_local = _read(row["End Date"], row["End Time"])
                if end_local.year <= 1970:
                    continue
                end = _to_utc(end_local)
                if end < start:  # the repeated hour in October: the later one
                    end = _to_utc(end_local, fold=1)
                if end < start:
                    continue
                out.append((device, row["Connector"].strip(), start, end, kwh))
    return out, open_count


def _quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def independent_figures(rows):
    figures = defaultdict(lambda: {"sessions": 0, "kwh": 0.0, "plugged": 0.0, "days": set()})
    connectors = defaultdict(set)
    for device, connector, start, end, kwh in rows:
        connectors[device].add(connector)
        first = figures[(device, _quarter(start.astimezone(UK).date()))]
        first["sessions"] += 1
        first["kwh"] += 0.0 if math.isnan(kwh) else kwh
        cursor = start
        while cursor < end:  # walk from local midnight to local midnight
            day = cursor.astimezone(UK).date()
            midnight = _to_utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
            stop = min(end, midnight)
            part = figures[(device, _quarter(day))]
            part["plugged"] += (stop - cursor).total_seconds() / 3600
            part["days"].add(day)
            cursor = stop
    return figures, {d: len(c) for d, c in connectors.items()}


def quarter_hours(label: str) -> float:
    year, q = int(label[:4]), int(label[-1])
    start = _to_utc(dt.datetime(year, 3 * q - 2, 1))
    end = _to_utc(dt.datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1))
    return (end - start).total_seconds() / 3600


# --- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dundee_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("dundee") / "history.gpkg"
    store = HistoryStore.create_or_open(path)
    reports = [store.import_file(DUNDEE / name) for name in FILES]
    yield store, reports
    store.close()


@pytest.fixture(scope="module")
def independent():
    rows, open_count = independent_sessions()
    figures, connectors = independent_figures(rows)
    return rows, open_count, figures, connectors


# --- tests ----------------------------------------------------------------------------

def test_dundee_imports_once_and_a_corrupt_file_changes_nothing(dundee_store, tmp_path):
    store, reports = dundee_store
    assert [r.outcome for r in reports] == ["imported"] * 4
    assert sum(r.rows_read for r in reports) == 67_112
    parsed = [parse_file(DUNDEE / name) for name in FILES]
    assert [r.rows_added for r in reports] == [len(p.table("sessions")) for p in parsed]
    assert [r.rows_rejected for r in reports] == [len(p.rejects) for p in parsed]
    rejects = store.import_rejects()
    assert len(rejects) == sum(len(p.rejects) for p in parsed)
    assert "negative kWh" in set(rejects["reason"])
    before_sessions = store.sessions()
    before_counts = store.counts()

    again = store.import_file(DUNDEE / FILES[1])
    assert again.outcome == "already imported" and again.rows_added == 0
    corrupt = tmp_path / "cp-data-broken.csv"
    corrupt.write_bytes(b"Charging event,CP ID,Connector\n\x00\xff\xfe broken \x00" * 3)
    failed = store.import_file(corrupt)
    assert failed.outcome == "failed" and failed.message

    pd.testing.assert_frame_equal(store.sessions(), before_sessions)
    after = store.counts()
    assert after["import_log"] == before_counts["import_log"] + 2
    assert {k: v for k, v in after.items() if k != "import_log"} == \
        {k: v for k, v in before_counts.items() if k != "import_log"}
    log = store.import_log()
    assert list(log["outcome"]) == ["imported"] * 4 + ["already imported", "failed"]
    assert list(log["sha256"][:4]) == [file_sha256(DUNDEE / n) for n in FILES]
    assert log["file_name"].iloc[-1] == "cp-data-broken.csv"
    assert "rejected" in log["message"].iloc[-1]
    assert "already imported" in log["message"].iloc[-2]
    assert store.periods() == ["2017-Q3", "2017-Q4", "2018-Q1", "2018-Q2", "2018-Q3"]


def test_dundee_sessions_match_the_csv_rows(dundee_store, independent):
    store, _ = dundee_store
    rows, open_count, _, _ = independent
    stored = store.sessions()
    closed = stored[stored["end_utc"].notna()]
    assert len(closed) == len(rows)
    assert stored["end_utc"].isna().sum() == open_count
    mine = sorted((d, c, s.timestamp(), e.timestamp()) for d, c, s, e, _ in rows)
    theirs = sorted(zip(closed["device_id"], closed["connector_id"],
                        closed["start_utc"].astype("int64") / 1e9,
                        closed["end_utc"].astype("int64") / 1e9))
    assert mine == theirs


def _quarterly(store, engine: str) -> pd.DataFrame:
    """Per device and quarter by the numpy engine on the store's frame, or by the front
    doors' way: the Workspace, whose GeoPackage store is aggregated in SQL by DuckDB over
    the Parquet history."""
    if engine == "numpy":
        return utilisation(store.sessions(categorical=True), period="quarter")
    with Workspace(store.path, create=False) as ws:
        return ws.utilisation("quarter")


@pytest.mark.parametrize("engine", ["numpy", "sql"])
def test_dundee_quarterly_figures_match_an_independent_computation(dundee_store, independent,
                                                                   engine):
    store, _ = dundee_store
    rows, open_count, figures, connectors = independent
    out = _quarterly(store, engine)
    assert out["sessions"].sum() == len(rows)
    assert out["flag_open"].sum() == open_count
    crossing = 0
    checked = 0
    for record in out.itertuples(index=False):
        expected = figures.get((record.device_id, record.period))
        if expected is None:
            assert record.sessions == 0 and record.plugged_hours == 0
            continue
        checked += 1
        assert record.sessions == expected["sessions"]
        assert record.kwh == pytest.approx(expected["kwh"], abs=1e-6)
        assert record.plugged_hours == pytest.approx(expected["plugged"], abs=1e-6)
        assert record.in_use_days == len(expected["days"])
        hours = quarter_hours(record.period) * connectors[record.device_id]
        assert record.available_hours == pytest.approx(hours)
        assert record.occupancy_pct == pytest.approx(expected["plugged"] / hours * 100)
        assert record.occupancy_pct <= 100
    assert checked == len(figures)
    # The data do contain sessions over midnight and over a quarter end.
    for _device, _connector, start, end, _kwh in rows:
        if _quarter(start.astimezone(UK).date()) != _quarter(end.astimezone(UK).date()):
            crossing += 1
    overnight = sum(start.astimezone(UK).date() != end.astimezone(UK).date()
                    for _d, _c, start, end, _k in rows)
    assert crossing > 0 and overnight > 1000


def test_dundee_monthly_totals_add_up_to_the_quarters(dundee_store):
    store, _ = dundee_store
    sessions = store.sessions(categorical=True)
    months = utilisation(sessions, period="month", quality=False)
    quarters = utilisation(sessions, period="quarter", quality=False)
    months["quarter"] = [f"{p[:4]}-Q{(int(p[5:]) - 1) // 3 + 1}" for p in months["period"]]
    summed = months.groupby(["device_id", "quarter"])[
        ["sessions", "kwh", "plugged_hours", "in_use_days"]].sum()
    joined = quarters.set_index(["device_id", "period"])[summed.columns]
    joined.index.names = summed.index.names
    pd.testing.assert_frame_equal(summed.sort_index(), joined.sort_index(), check_dtype=False)
    years = utilisation(sessions, period="year", quality=False)
    assert years["plugged_hours"].sum() == pytest.approx(quarters["plugged_hours"].sum())
    assert np.isclose(years["kwh"].sum(), quarters["kwh"].sum())
