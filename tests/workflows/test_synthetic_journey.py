"""The demo's kind of store (real registry devices plus a month of SYNTHETIC usage, as
``demo`` makes it, in a folder of its own) on the same journey: the operators' feed goes
in (devices and status are welcome), the operators' usage returns are refused with one
line each and exit code 2, leaving the file as it was, and every CLI output says
SYNTHETIC."""

from __future__ import annotations

import csv
import hashlib
import subprocess

import pandas as pd
import pytest
from borough_data import (
    OPS_FEED,
    OPS_TOKEN,
    OPS_TOKEN_ENV,
    UK,
    USAGE_BOROUGH,
    cli,
    ok,
    ops_feed,
)
from replay_server import ReplayServer

from ev_chargepoints.core.store.geopackage import HistoryStore
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace

STAMP = " — SYNTHETIC usage"
MONTH = ("2022-03-01", "2022-04-01")


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, reg):
    store = tmp_path_factory.mktemp("demo-output") / "london.gpkg"  # where `demo` puts it
    with Workspace(store) as ws:
        reports = ws.import_bundled_snapshot(usage_start=MONTH[0], usage_end=MONTH[1])
        assert [r.outcome for r in reports] == ["imported", "imported"]
        assert ws.has_synthetic_usage()
    with ReplayServer(token=OPS_TOKEN) as ops:
        ops.fixtures.locations = ops_feed(ops.fixtures, reg, set()).locations
        fetched = ok(cli("fetch", "--ocpi", ops.url + "/ocpi/2.2.1/locations", "--store",
                         store, "--feed-name", OPS_FEED, "--token-env", OPS_TOKEN_ENV,
                         env={OPS_TOKEN_ENV: OPS_TOKEN}))
    assert "status_snapshots: " in fetched.stdout and STAMP not in fetched.stdout
    return store


def refusal(name: str, store) -> str:
    return (f"{name}: not imported — {store.name} holds SYNTHETIC demo usage; import real "
            "usage into a store of its own (e.g. --store my-borough.gpkg, or another store "
            "in the plugin settings).")


def test_the_usage_returns_are_refused_and_change_nothing(demo_store, returns):
    _usage, files = returns
    before = sha(demo_store)
    result = cli("-q", "import", *files, "--store", demo_store)  # -q: no progress lines
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.splitlines() == [refusal(f.name, demo_store) for f in files]
    assert result.stderr.strip() == (f"error: {len(files)} of {len(files)} file(s) could not "
                                     "be imported (see the lines above); the store keeps "
                                     "everything imported before.")
    one = cli("-q", "import", files[0], "--store", demo_store)
    assert one.returncode == 2
    assert one.stdout.strip() == refusal(files[0].name, demo_store)
    assert len(one.stderr.strip().splitlines()) == 1
    assert sha(demo_store) == before


def rows(path) -> list:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_every_cli_output_says_synthetic(demo_store, reg, boroughs, tmp_path):
    summary = tmp_path / "summary.csv"
    result = ok(cli("summary", "--store", demo_store, "--out", summary))
    assert result.stdout.strip() == f"33 areas (borough, 2022-Q1) written to {summary}{STAMP}"
    table = rows(summary)
    assert table[0] == [NOTE] and table[1][0] == "area_code" and len(table) == 35
    # the sessions shown are those of the store's devices in London, read from the store
    with HistoryStore.create_or_open(demo_store) as store:
        sessions = store.sessions(columns=["device_id", "start_utc"])
    assert len(sessions) > 10_000
    inside = set(reg.loc[pd.notna(boroughs.locate(reg["x"], reg["y"])), "device_id"])
    frame = pd.DataFrame(table[2:], columns=table[1])
    assert frame["sessions"].astype(float).sum() == sessions["device_id"].isin(inside).sum()
    start = pd.to_datetime(sessions["start_utc"], utc=True).dt.tz_convert(UK)
    assert start.min() >= pd.Timestamp(MONTH[0], tz=UK) and \
        start.max() < pd.Timestamp(MONTH[1], tz=UK)

    utilisation = tmp_path / "utilisation.csv"
    result = ok(cli("utilisation", "--store", demo_store, "--out", utilisation))
    assert result.stdout.strip().endswith(STAMP) and rows(utilisation)[0] == [NOTE]

    sites = tmp_path / "sites.csv"
    pd.DataFrame({"site_id": ["s1"], "longitude": [-0.1419], "latitude": [51.5394]}).to_csv(
        sites, index=False)
    analysed = tmp_path / "sites_analysed.csv"
    result = ok(cli("sites", "--store", demo_store, "--sites", sites, "--out", analysed))
    assert result.stdout.splitlines()[0] == \
        f"1 sites analysed within 400 m written to {analysed}{STAMP}"
    assert rows(analysed)[0] == [NOTE]

    report = tmp_path / "report"
    result = ok(cli("validate", "--store", demo_store, "--out", report))
    assert result.stdout.strip().splitlines()[-1] == \
        f"Report: {report / 'report.html'} (and report.json){STAMP}"

    pages = tmp_path / "committee"
    result = ok(cli("export", "--store", demo_store, "--borough", USAGE_BOROUGH, "--out",
                    pages))
    assert result.stdout.strip().splitlines()[-1] == \
        f"1 PDF file(s), 2 other file(s) written to {pages}{STAMP}"
    text = subprocess.run(["pdftotext", "-layout", str(next(pages.glob("*.pdf"))), "-"],
                          capture_output=True, text=True, check=True, timeout=120).stdout
    assert "SYNTHETIC" in text
    for table_file in pages.glob("*.csv"):
        assert "SYNTHETIC" in table_file.read_text("utf-8")
