"""First use of the shared store by every role (docs/shared-store.md, §6 and §7).

A fresh PostGIS store as a platform runs it: the store owner creates it with the
real London registry (8,940 NCR devices, May 2022) through the CLI, the database
administrator runs the roles script, and the import service (a member of
``evcp_importer``, not the owner) imports two months of usage drawn from the real
Dundee sessions. Nobody runs a summary. Then each role's first summary (CLI and
Workspace) must show what the role may see, say so in a line and per area, and
carry figures equal to an independent pandas computation on the owner's rows.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
from pg_cluster import PG_BIN

from ev_chargepoints import cli
from ev_chargepoints.core.analysis import areas, utilisation
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, resource
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.store.postgis.access import (
    ACCESS_COLUMN,
    EVERY_DEVICE,
    NOT_SHOWN,
    PUBLISHED,
)
from ev_chargepoints.core.store.postgis.backend import PostgisStore
from ev_chargepoints.core.workspace import Workspace

CAMDEN, HACKNEY = "E09000007", "E09000012"
OWNER, IMPORTER, ADMIN = "evcp_roles_owner", "evcp_roles_import", "evcp_roles_admin"
USAGE_START, USAGE_END = "2022-03-01", "2022-05-01"
THRESHOLD = 3  # the store's default (store_meta.disclosure_threshold)
SEE_ALL = (OWNER, IMPORTER, ADMIN)


@pytest.fixture(scope="module")
def shared(pg_cluster):
    database = pg_cluster.create_database()
    try:
        pg_cluster.ensure_login(OWNER)
        pg_cluster.execute(f"GRANT CREATE ON DATABASE {database} TO {OWNER}")
        ncr = LONDON_SNAPSHOT / NCR_SNAPSHOT
        assert cli.main(["import", str(ncr), "--store",
                         pg_cluster.dsn(database, OWNER)]) == 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        script = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-d", pg_cluster.dsn(database), "-f",
             str(resource("sql", "shared_store_roles.sql"))],
            capture_output=True, text=True, env=env, timeout=120)
        assert script.returncode == 0, script.stderr
        pg_cluster.ensure_login(IMPORTER, "evcp_importer")
        pg_cluster.ensure_login(ADMIN, "evcp_admin")
        with Workspace(pg_cluster.dsn(database, IMPORTER)) as ws:
            reports = ws.import_bundled_snapshot(usage_start=USAGE_START,
                                                 usage_end=USAGE_END)
        assert reports[-1].outcome == "imported" and reports[-1].rows_added > 100_000
        yield pg_cluster, database
    finally:
        pg_cluster.drop_database(database)


@pytest.fixture(scope="module")
def truth(shared):
    """Per device and quarter, from the owner's rows with the pandas engine, and each
    device's ward, borough and operator placed by areas.assign_devices."""
    cluster, database = shared
    with PostgisStore.create_or_open(cluster.dsn(database, OWNER)) as store:
        sessions = store.sessions()
        devices = store.devices()
        history = store.devices(current_only=False), store.connectors(current_only=False)
    usage = utilisation.utilisation(sessions, *history, period="quarter")
    usage = usage[usage["device_id"].isin(sessions["device_id"])]
    placed = areas.assign_devices(devices, areas.load_wards(2018), areas.load_boroughs()).table
    places = placed[["device_id", "ward_code", "borough_code"]].merge(
        devices[["device_id", "operator", "power_class"]], on="device_id")
    return {"usage": usage.merge(places, on="device_id"), "places": places}


def _expected(truth, code_column, period, devices=None):
    """Sums per area of the devices (all, or the ids given) with usage in ``period``,
    and the contributors the disclosure rule counts."""
    usage = truth["usage"]
    usage = usage[usage["period"] == period]
    if devices is not None:
        usage = usage[usage["device_id"].isin(devices)]
    grouped = usage.groupby(code_column)
    return pd.DataFrame({
        "sessions": grouped["sessions"].sum(), "kwh": grouped["kwh"].sum(),
        "occupancy_pct": grouped["plugged_hours"].sum() / grouped["available_hours"].sum()
        * 100, "usage_devices": grouped["device_id"].nunique(),
        "usage_operators": grouped["operator"].agg(
            lambda ops: ops.fillna("").str.strip().str.lower().nunique())})


def _cli_summary(shared, role, tmp_path, *options):
    """The CSV and the lines the CLI printed (stdout)."""
    cluster, database = shared
    out = tmp_path / f"{role}.csv"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["summary", "--store", cluster.dsn(database, role), "--out",
                         str(out), *options]) == 0
    return read_csv(out), printed.getvalue()


ROLE_LINES = {
    OWNER: "Store owner (evcp_roles_owner): usage of every device shown.",
    IMPORTER: "Import or administration role (evcp_roles_import, sees every row)",
    ADMIN: "Import or administration role (evcp_roles_admin, sees every row)",
    "camden_officer": "Borough officer (Camden) — camden_officer: full usage where you "
                      "see every device (those of Camden); elsewhere the published area "
                      "aggregates",
    "ubitricity_analyst": "Operator (ubitricity) — ubitricity_analyst: full usage where "
                          "you see every device",
    "london_analyst": "Analyst (london_analyst, no per-device access): aggregated usage "
                      "only — the published area aggregates",
}


@pytest.mark.parametrize("role", list(ROLE_LINES))
def test_every_roles_first_summary_shows_londons_usage_and_says_what_it_may_see(
        shared, truth, role, tmp_path):
    """Nobody ran a summary: the imports placed the devices and prepared the quarterly
    aggregates. Every role gets every borough's usage at its first summary, the same
    figures as the pandas engine over all devices, and says what it rests on."""
    table, printed = _cli_summary(shared, role, tmp_path)
    assert ROLE_LINES[role] in printed
    period = table["period"].iloc[0]
    expected = _expected(truth, "borough_code", period)
    # every borough pools enough devices and operators: nothing is suppressed
    assert (expected["usage_devices"] >= THRESHOLD).all()
    assert (expected["usage_operators"] > 1).all()
    table = table.set_index("area_code").loc[expected.index]
    assert len(table) == 33
    for column in ("sessions", "kwh", "occupancy_pct"):
        np.testing.assert_allclose(table[column], expected[column], rtol=1e-6,
                                   err_msg=column)
    assert (table["devices_with_usage"] == expected["usage_devices"]).all()
    access = table[ACCESS_COLUMN]
    if role in SEE_ALL:
        assert (access == EVERY_DEVICE).all()
    elif role == "camden_officer":
        assert access[CAMDEN] == EVERY_DEVICE
        assert (access.drop(CAMDEN) == PUBLISHED).all()
    else:  # the operator runs devices in every borough, but not all of any
        assert (access == PUBLISHED).all()


@pytest.mark.parametrize("role", ["camden_officer", "london_analyst"])
def test_ward_summary_shows_whole_wards_in_full_and_published_aggregates_elsewhere(
        shared, truth, role):
    cluster, database = shared
    with Workspace(cluster.dsn(database, role)) as ws:
        table, _ = ws.summary(level="ward")
    assert role in table.attrs["role_note"]
    period = table.attrs["period"]
    expected = _expected(truth, "ward_code", period)
    table = table.set_index("area_code")
    mine = table["parent_code"] == CAMDEN if role == "camden_officer" \
        else pd.Series(False, index=table.index)
    assert (table.loc[mine, ACCESS_COLUMN] == EVERY_DEVICE).all()
    empty = table["devices"] == 0   # nothing to hide, nothing to show
    assert empty.any() and table.loc[empty, "sessions"].isna().all()
    published = table[~mine & ~empty]
    assert published[ACCESS_COLUMN].str.startswith(PUBLISHED).all()
    # the rule, judged independently: fewer than 3 devices, or one operator
    judged = expected.reindex(published.index)
    failing = judged["usage_devices"].lt(THRESHOLD) | judged["usage_operators"].eq(1)
    assert failing.sum() > 10
    assert published.loc[failing, "sessions"].isna().all()
    assert published.loc[failing, ACCESS_COLUMN].str.contains("suppressed").all()
    # suppressed, never looking like zero: the count of devices with usage stays
    assert (published.loc[failing, "devices_with_usage"]
            == judged.loc[failing, "usage_devices"]).all()
    # a ward suppressed only to protect another is alone with one failing ward
    complement = published[ACCESS_COLUMN].str.contains("protects another area") & ~failing
    for parent in published.loc[complement, "parent_code"]:
        siblings = published["parent_code"] == parent
        assert int((failing & siblings).sum()) == 1
    shown = published[ACCESS_COLUMN] == PUBLISHED
    assert shown.sum() > 300
    for column in ("sessions", "kwh", "occupancy_pct"):
        np.testing.assert_allclose(published.loc[shown, column],
                                   expected[column].reindex(published.index[shown]),
                                   rtol=1e-6)
    if role == "camden_officer":   # its own wards in full, small ones too
        own = table[mine]
        own_expected = expected.reindex(own.index)
        small = own_expected["usage_devices"].lt(THRESHOLD) | \
            own_expected["usage_operators"].eq(1)
        assert small.any() and own.loc[small, "sessions"].notna().all()
        np.testing.assert_allclose(own["sessions"], own_expected["sessions"], rtol=1e-9)


def test_filtered_summary_shows_not_shown_for_your_role_not_zero(shared, truth):
    """Published aggregates cover all devices, so they cannot stand in for a filtered
    selection: other boroughs' devices are counted, their usage is not shown (empty,
    with the reason), never an empty row that reads as no sessions."""
    cluster, database = shared
    with Workspace(cluster.dsn(database, "camden_officer")) as ws:
        table, _ = ws.summary(level="borough", filters={"power_class": "fast"})
    places, period = truth["places"], table.attrs["period"]
    fast = places.loc[places["power_class"] == "fast", "device_id"]
    expected = _expected(truth, "borough_code", period, devices=fast)
    counts = places[places["power_class"] == "fast"].groupby("borough_code").size()
    table = table.set_index("area_code")
    assert (table["devices"] == counts.reindex(table.index).fillna(0)).all()
    camden = table.loc[CAMDEN]
    assert camden[ACCESS_COLUMN] == EVERY_DEVICE
    assert camden["sessions"] == pytest.approx(expected.loc[CAMDEN, "sessions"], rel=1e-9)
    others = table.drop(CAMDEN)
    others = others[others["devices"] > 0]
    assert len(others) > 20
    assert others[ACCESS_COLUMN].str.startswith(NOT_SHOWN).all()
    assert others["sessions"].isna().all() and others["devices_with_usage"].isna().all()
    assert others["share_no_usage_pct"].isna().all()


def test_operator_filtered_to_its_own_devices_sees_them_in_full(shared, truth):
    cluster, database = shared
    with Workspace(cluster.dsn(database, "ubitricity_analyst")) as ws:
        table, _ = ws.summary(level="borough", filters={"operator": "ubitricity"})
    places = truth["places"]
    mine = places.loc[places["operator"].str.lower() == "ubitricity", "device_id"]
    expected = _expected(truth, "borough_code", table.attrs["period"], devices=mine)
    table = table.set_index("area_code")
    assert (table[ACCESS_COLUMN] == EVERY_DEVICE).all()
    assert len(expected) == 18   # boroughs with ubitricity's devices in use
    np.testing.assert_allclose(table.loc[expected.index, "sessions"], expected["sessions"],
                               rtol=1e-9)
    assert table.drop(expected.index)["sessions"].isna().all()


def test_monthly_aggregates_are_published_once_prepared(shared, truth, tmp_path):
    """The imports prepare the quarterly aggregates; other period lengths are prepared
    by the owner's first summary of them, and kept current by every import after."""
    cluster, database = shared
    table, printed = _cli_summary(shared, "london_analyst", tmp_path,
                                  "--period-kind", "month")
    assert "no month aggregates are published yet" in printed
    assert table["sessions"].isna().all()
    assert table[ACCESS_COLUMN].str.startswith(NOT_SHOWN).all()
    _cli_summary(shared, OWNER, tmp_path, "--period-kind", "month")
    table, printed = _cli_summary(shared, "london_analyst", tmp_path,
                                  "--period-kind", "month")
    assert "published yet" not in printed
    assert (table[ACCESS_COLUMN] == PUBLISHED).all()
    month = table["period"].iloc[0]
    with PostgisStore.create_or_open(cluster.dsn(database, OWNER)) as store:
        sessions = store.sessions()
        months = utilisation.utilisation(sessions, store.devices(current_only=False),
                                         store.connectors(current_only=False),
                                         period="month")
    months = months[months["period"] == month].merge(truth["places"], on="device_id")
    expected = months.groupby("borough_code")["sessions"].sum()
    table = table.set_index("area_code")
    np.testing.assert_allclose(table.loc[expected.index, "sessions"], expected, rtol=1e-9)


def test_aggregates_behind_an_import_that_did_not_prepare_them_say_so(shared):
    """An import that bypasses the Workspace (a program using the store directly)
    leaves the aggregates as they were: readers are told, until the next preparing
    import or an explicit prepare_shared_store brings them up to date."""
    cluster, database = shared
    with Workspace(cluster.dsn(database, "london_analyst")) as ws:
        assert "prepared before" not in ws.role_view().note
    with PostgisStore.create_or_open(cluster.dsn(database, IMPORTER)) as store:
        report = store.import_file(LONDON_SNAPSHOT / NCR_SNAPSHOT)
    assert report.rows_added == 0   # the same file again: still a new import_log row
    with Workspace(cluster.dsn(database, "london_analyst")) as ws:
        note = ws.role_view().note
        assert "prepared before the latest import" in note
        ws.prepare_shared_store()   # not this login's to do: nothing changes
        assert ws.role_view().note == note
    with Workspace(cluster.dsn(database, IMPORTER)) as ws:
        ws.prepare_shared_store()
    with Workspace(cluster.dsn(database, "london_analyst")) as ws:
        assert "prepared before" not in ws.role_view().note
