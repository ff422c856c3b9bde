"""The map straight from the shared store: postgres-provider layers through a saved
QGIS PostgreSQL connection whose credentials are a QGIS authentication
configuration, on a real PostgreSQL + PostGIS 3.

The store holds the real NCR devices of Camden (from the bundled London
snapshot, placed by areas.assign_devices) and SYNTHETIC sessions drawn from the
real Dundee distributions for March to May 2022 (two quarters). The same data
goes into a GeoPackage store; both maps must agree feature for feature, carry
the same styles, and the project must never hold the password.
"""

from __future__ import annotations

import uuid

import pytest
from qgis.core import (
    QgsFeatureRequest,
    QgsProject,
    QgsVectorLayer,
)
from qgis_shared_store import camden_slice, saved_connection

from ev_chargepoints.core.errors import StoreError
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.core.schema import ParseResult
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.qgis import loader, pg_connection, render
from ev_chargepoints.qgis import settings as plugin_settings

PASSWORD = "Officer-SECRET-pw-7d41c9"
PERIODS = ["2022-Q1", "2022-Q2"]


@pytest.fixture(scope="module")
def camden():
    """The NCR devices of Camden and synthetic sessions for them (parsed once)."""
    return camden_slice(seed=14)


def fill(ws, camden):
    ncr, usage = camden
    ws.import_result(ncr, "ncr camden", "camden-ncr-2022-05")
    ws.import_result(usage, "synthetic camden", "camden-synthetic-seed-14")


@pytest.fixture()
def officer(pg_database, auth_manager):
    """A role that logs in with its password only, owning the store database; a Basic
    authentication configuration holding that password and a saved QGIS connection
    using it. Removed afterwards."""
    cluster, dbname = pg_database
    with saved_connection(cluster, dbname, auth_manager, PASSWORD) as officer:
        yield officer


def test_the_map_opens_from_postgis_with_the_geopackage_styles(officer, camden, tmp_path,
                                                               qgis_new_project):
    name = officer["connection"]
    assert name in pg_connection.connection_names()
    target = pg_connection.store_target(name)
    assert target.is_database and "password" not in target.conninfo
    assert PASSWORD not in repr(target) and f"user={officer['role']}" in target.conninfo

    with Workspace(target) as ws:
        fill(ws, camden)
        counts = ws.store.counts()
        with ws.store.transaction() as cur:
            cur.execute("SELECT current_user")
            assert cur.fetchone()[0] == officer["role"]       # logged in with the password
            # a map table as versions before the masked view left it: replaced
            cur.execute("CREATE TABLE ev_chargepoints.map_devices (fid integer, period text)")
    gpkg_store = tmp_path / "camden.gpkg"
    with Workspace(gpkg_store) as ws:
        fill(ws, camden)
        assert ws.store.counts()["sessions"] == counts["sessions"]
    devices_n = counts["devices"]
    assert devices_n == len(camden[0].tables["devices"]) == 397
    assert counts["sessions"] == 5_466

    pg_info = loader.prepare_map(target, "quarter", Progress(), import_bundled_if_empty=False)
    gpkg_info = loader.prepare_map(str(gpkg_store), "quarter", Progress(),
                                   import_bundled_if_empty=False)
    assert pg_info.path is None and pg_info.database_schema == "ev_chargepoints"
    assert pg_info.periods == gpkg_info.periods == PERIODS
    assert pg_info.counts == gpkg_info.counts == {
        "map_devices": devices_n * 2, "map_boroughs": 33 * 2, "map_wards": 633 * 2}
    assert pg_info.vintage == gpkg_info.vintage and pg_info.synthetic_usage

    # The tables in the database: SRID 27700, fid key, spatial indexes.
    conn = officer["cluster"].connect(officer["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT f_table_name, type, srid FROM geometry_columns WHERE "
                        "f_table_schema = 'ev_chargepoints' AND f_table_name LIKE 'map_%' "
                        "ORDER BY 1")
            assert cur.fetchall() == [("map_boroughs", "MULTIPOLYGON", 27700),
                                      ("map_device_rows", "POINT", 27700),
                                      ("map_devices", "POINT", 27700),
                                      ("map_wards", "MULTIPOLYGON", 27700)]
            cur.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'ev_chargepoints' "
                        "AND tablename LIKE 'map_%' AND indexdef LIKE '%USING gist%'")
            assert cur.fetchone()[0] == 3
            # the devices layer is a view of every device over rows only the owner reads
            cur.execute("SELECT relname, relkind, relrowsecurity, relacl IS NOT NULL AND "
                        "array_length(relacl, 1) > 1 FROM pg_class WHERE oid IN "
                        "('ev_chargepoints.map_devices'::regclass, "
                        "'ev_chargepoints.map_device_rows'::regclass) ORDER BY 1")
            assert cur.fetchall() == [("map_device_rows", "r", True, False),
                                      ("map_devices", "v", False, False)]
    finally:
        conn.close()

    # A second load of an unchanged store reuses the tables.
    again = loader.prepare_map(target, "quarter", Progress(), import_bundled_if_empty=False)
    assert again == pg_info
    latest = _an_officer_reads_the_owners_map(officer, target, pg_info)

    reference = plugin_settings.CONNECTION_REFERENCE + name
    project = QgsProject.instance()
    gpkg_project = QgsProject()                     # holds the GeoPackage layers to compare
    gpkg_map = loader.build_layers(gpkg_info, project=gpkg_project, store_path=str(gpkg_store))
    pg_map = loader.build_layers(pg_info, project=project, store_path=reference)
    for role in ("devices", "wards", "boroughs"):
        pg_layer, gpkg_layer = getattr(pg_map, role), getattr(gpkg_map, role)
        assert pg_layer.isValid() and pg_layer.providerType() == "postgres"
        assert gpkg_layer.providerType() == "ogr"
        assert pg_layer.featureCount() == gpkg_layer.featureCount() > 0
        assert pg_layer.subsetString() == gpkg_layer.subsetString() == \
            "\"period\" = '2022-Q2'"
        assert pg_layer.crs().authid() == "EPSG:27700"
        assert pg_layer.name() == gpkg_layer.name()
        assert pg_layer.renderer().type() == gpkg_layer.renderer().type()
        assert _rules(pg_layer) == _rules(gpkg_layer)
        assert pg_layer.labelsEnabled() == gpkg_layer.labelsEnabled()
        assert pg_layer.customProperty(loader.STORE_PROPERTY) == reference
        assert pg_layer.customProperty(loader.ROLE_PROPERTY) == role
        assert pg_layer.metadata().abstract() == gpkg_layer.metadata().abstract()
        source = pg_layer.source()
        assert f"authcfg={officer['authcfg']}" in source
        assert "password" not in source and PASSWORD not in source
        assert set(gpkg_layer.fields().names()) <= set(pg_layer.fields().names())
    assert pg_map.devices.featureCount() == devices_n
    assert pg_map.wards.featureCount() == 633 and pg_map.boroughs.featureCount() == 33
    assert pg_map.devices.renderer().type() == "RuleRenderer"
    # seed 14: Camden's devices by occupancy band in 2022-Q2, as the legend says
    assert [n for _label, _expression, n in _rules(pg_map.devices)] == [357, 4, 0, 0, 36]
    props = pg_map.devices.temporalProperties()
    assert props.isActive() and (props.startExpression(), props.endExpression()) == \
        ('to_datetime("period_start")', 'to_datetime("period_end") + to_interval(\'1 day\')')

    q2 = _values(pg_map.devices)
    assert q2 == _values(gpkg_map.devices)
    loader.set_period(pg_map, "2022-Q1")
    assert pg_map.devices.subsetString() == "\"period\" = '2022-Q1'"
    assert pg_map.wards.subsetString() == "\"period\" = '2022-Q1'"
    assert "2022-Q1" in pg_map.devices.name()
    q1 = _values(pg_map.devices)
    assert len(q1) == len(q2) == devices_n and q1 != q2
    loader.set_period(gpkg_map, "2022-Q1")
    assert q1 == _values(gpkg_map.devices)
    busy = {d for d, occupancy in q1.items() if occupancy is not None}
    assert len(busy) > devices_n // 2              # most Camden devices have March usage
    _an_operator_analyst_sees_every_device(officer, latest, {"2022-Q1": q1, "2022-Q2": q2},
                                           camden, tmp_path)

    png = render.render_png([pg_map.devices, pg_map.boroughs, pg_map.wards],
                            tmp_path / "postgis_map.png", extent=pg_map.devices.extent(),
                            size=(1000, 800))
    assert png.stat().st_size > 20_000

    qgs = tmp_path / "shared.qgs"
    assert project.write(str(qgs))
    text = qgs.read_text(encoding="utf-8")
    assert PASSWORD not in text and "password=" not in text
    assert f"authcfg={officer['authcfg']}" in text and ">postgres</provider>" in text

    reopened = QgsProject()
    assert reopened.read(str(qgs))
    found = loader.find_loaded(reopened)
    assert found is not None and found.devices.isValid()
    assert found.devices.featureCount() == devices_n
    assert found.devices.subsetString() == "\"period\" = '2022-Q1'"
    reopened.clear()
    gpkg_project.clear()


def _an_officer_reads_the_owners_map(officer, owner_target, pg_info):
    """A reader role (no grants) opens the owner's map, never rewrites it, and sees
    every device without usage (the rows beneath the view stay closed to it) and the
    public area tables. Returns the map the owner then rewrites."""
    from ev_chargepoints.core.store.postgis import mapdata as pg_mapdata

    cluster, dbname = officer["cluster"], officer["dbname"]
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    cluster.create_role(reader)
    cluster.execute(f"GRANT USAGE ON SCHEMA ev_chargepoints TO {reader}; "
                    f"GRANT SELECT ON ALL TABLES IN SCHEMA ev_chargepoints TO {reader}", dbname)
    with Workspace(cluster.dsn(dbname, reader)) as ws:
        assert not pg_mapdata.may_write(ws.store)
        assert loader.prepare_map(ws.target, "quarter", Progress(),
                                  import_bundled_if_empty=False) == pg_info
    with Workspace(owner_target) as ws:                    # the store changes...
        assert pg_mapdata.may_write(ws.store)
        ws.import_result(ParseResult("ncr", "empty", 0), "empty return", "camden-empty")
        assert pg_mapdata.current_map(ws.store, "quarter", ws.store_stamp()) is None
    with Workspace(cluster.dsn(dbname, reader)) as ws:     # ...the reader keeps the last map
        assert loader.prepare_map(ws.target, "quarter", Progress(),
                                  import_bundled_if_empty=False) == pg_info
        with pytest.raises(StoreError, match="Only the owner of the shared store"):
            pg_mapdata.write_tables(ws.store, ws.map_frames("quarter"), "quarter",
                                    ws.store_stamp())
        with ws.store.transaction() as cur:
            # every device in both periods, no usage (no grants), every area
            cur.execute("SELECT (SELECT count(*) FROM ev_chargepoints.map_devices), "
                        "(SELECT count(occupancy_pct) + count(sessions) + count(kwh) "
                        " FROM ev_chargepoints.map_devices), "
                        "(SELECT count(*) FROM ev_chargepoints.map_wards)")
            assert cur.fetchone() == (397 * 2, 0, 633 * 2)
            # SELECT on all tables, yet row security gives it none of the rows beneath
            cur.execute("SELECT count(*) FROM ev_chargepoints.map_device_rows")
            assert cur.fetchone()[0] == 0
    with Workspace(owner_target) as ws:          # the owner replaces the view and its table
        rewritten = ws.write_map("quarter")
    assert rewritten.counts == pg_info.counts and rewritten.periods == pg_info.periods
    assert rewritten.vintage == pg_info.vintage.replace("2 imports", "3 imports")
    return rewritten


def _an_operator_analyst_sees_every_device(officer, pg_info, owner_values, camden, tmp_path):
    """An operator's analyst (a reader granted Source London's devices) opens the
    owner's map in QGIS: every Camden device in every period, occupancy only for
    Source London's, the others drawn as "no usage data"."""
    cluster, dbname, metadata = officer["cluster"], officer["dbname"], officer["metadata"]
    analyst = f"analyst_{uuid.uuid4().hex[:8]}"
    cluster.create_role(analyst)
    cluster.execute(f"GRANT USAGE ON SCHEMA ev_chargepoints TO {analyst}; "
                    f"GRANT SELECT ON ALL TABLES IN SCHEMA ev_chargepoints TO {analyst}; "
                    f"INSERT INTO ev_chargepoints.access_grants (role_name, operator) "
                    f"VALUES ('{analyst}', 'Source London')", dbname)
    devices = camden[0].tables["devices"]
    ours = set(devices.loc[devices["operator"].str.strip().str.lower() == "source london",
                           "device_id"])
    assert len(ours) == 97
    name = f"London shared store {analyst}"
    metadata.saveConnection(metadata.createConnection(
        f"host={cluster.host} port={cluster.port} dbname={dbname} user={analyst}",
        {"saveUsername": True}), name)
    project = QgsProject()
    try:
        info = loader.prepare_map(pg_connection.store_target(name), "quarter", Progress(),
                                  import_bundled_if_empty=False)
        assert info == pg_info
        loaded = loader.build_layers(info, project=project,
                                     store_path=plugin_settings.CONNECTION_REFERENCE + name)
        layer = loaded.devices
        assert layer.isValid() and layer.providerType() == "postgres"
        shown = {}
        for period in PERIODS:
            loader.set_period(loaded, period)
            values = _values(layer)
            assert len(values) == layer.featureCount() == 397      # every device
            assert values == {d: v if d in ours else None
                              for d, v in owner_values[period].items()}
            shown[period] = {d for d, v in values.items() if v is not None}
            assert shown[period] <= ours
        # Source London's devices with usage in the period; the rest "no usage data"
        assert {p: len(ids) for p, ids in shown.items()} == {"2022-Q1": 91, "2022-Q2": 91}
        assert [n for _label, _expression, n in _rules(layer)] == [90, 1, 0, 0, 397 - 91]
        assert loaded.wards.featureCount() == 633 and loaded.boroughs.featureCount() == 33
        png = render.render_png([layer, loaded.boroughs, loaded.wards],
                                tmp_path / "analyst_map.png", extent=layer.extent(),
                                size=(1000, 800))
        assert png.stat().st_size > 20_000
    finally:
        project.clear()
        metadata.deleteConnection(name)


def test_a_connection_whose_authcfg_is_missing_says_so(officer):
    metadata = officer["metadata"]
    name = f"{officer['connection']} (stale)"
    metadata.saveConnection(metadata.createConnection(
        f"host={officer['cluster'].host} port={officer['cluster'].port} "
        f"dbname={officer['dbname']} authcfg=zzmissing", {}), name)
    try:
        with pytest.raises(pg_connection.ConnectionError,
                           match="authentication configuration 'zzmissing' of the PostgreSQL "
                                 "connection .* could not be read"):
            pg_connection.store_target(name)
    finally:
        metadata.deleteConnection(name)
    with pytest.raises(pg_connection.ConnectionError,
                       match="no saved PostgreSQL connection named 'Nowhere'"):
        plugin_settings.target_for(plugin_settings.CONNECTION_REFERENCE + "Nowhere")


def test_a_connection_with_a_saved_password_is_refused(officer):
    metadata = officer["metadata"]
    name = f"{officer['connection']} (plain)"
    metadata.saveConnection(metadata.createConnection(
        f"host={officer['cluster'].host} port={officer['cluster'].port} "
        f"dbname={officer['dbname']} user={officer['role']} password={PASSWORD}",
        {"saveUsername": True, "savePassword": True}), name)
    try:
        with pytest.raises(pg_connection.ConnectionError, match="keeps its password") as err:
            pg_connection.store_target(name)
        assert PASSWORD not in str(err.value)
    finally:
        metadata.deleteConnection(name)


def test_settings_name_the_connection_not_the_credentials(officer):
    from ev_chargepoints.core.config import ConfigError, Settings

    settings = Settings(store_path="/tmp/unused.gpkg", store_connection=officer["connection"])
    settings.validate()
    assert plugin_settings.store_reference(settings) == \
        plugin_settings.CONNECTION_REFERENCE + officer["connection"]
    target = plugin_settings.store_target(settings)
    assert target.is_database and target.password == PASSWORD
    assert PASSWORD not in str(settings.to_dict())
    with pytest.raises(ConfigError, match="not an address"):
        Settings(store_connection="postgresql://me:pw@db/evcp").validate()
    plain = Settings(store_path="/tmp/evcp.gpkg")
    assert plugin_settings.store_target(plain).path.name == "evcp.gpkg"


def _rules(layer: QgsVectorLayer):
    """(label, filter, features it draws) of each rule of the rule-based renderer."""
    renderer = layer.renderer()
    out = []
    for rule in renderer.rootRule().descendants():
        expression = rule.filterExpression()
        request = QgsFeatureRequest()
        if expression:
            request.setFilterExpression(expression)
        out.append((rule.label(), expression, sum(1 for _ in layer.getFeatures(request))))
    return out


def _values(layer: QgsVectorLayer) -> dict:
    out = {}
    for feature in layer.getFeatures():
        value = feature["occupancy_pct"]
        out[feature["device_id"]] = None if value is None or value != value or \
            str(value) == "NULL" else round(float(value), 9)
    return out


def test_settings_dialog_keeps_only_the_connection_name(officer, tmp_path):
    from qgis.core import QgsSettings
    from qgis.PyQt.QtCore import QSettings
    from qgis.PyQt.QtWidgets import QDialog

    from ev_chargepoints.gui.settings_dialog import SettingsDialog

    qsettings = QgsSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialog = SettingsDialog(qsettings=qsettings)
    try:
        assert dialog.store_kind_file.isChecked() and not dialog.store_connection.isEnabled()
        dialog.store_kind_database.setChecked(True)
        assert dialog.store_connection.isEnabled() and not dialog.store_path.isEnabled()
        dialog.store_connection.setConnection("")
        assert not dialog.save()
        assert "Choose the saved PostgreSQL connection" in dialog.last_error
        dialog.store_connection.setConnection(officer["connection"])
        assert dialog.save(), dialog.last_error
    finally:
        dialog.done(QDialog.DialogCode.Rejected)
        dialog.deleteLater()
    saved = plugin_settings.load(qsettings)
    assert saved.store_connection == officer["connection"]
    qsettings.sync()
    text = (tmp_path / "settings.ini").read_text()
    assert officer["connection"] in text and PASSWORD not in text
    assert plugin_settings.store_target(saved).conninfo.startswith("host=127.0.0.1")

    reopened = SettingsDialog(qsettings=qsettings)
    try:
        assert reopened.store_kind_database.isChecked()
        assert reopened.store_connection.currentConnection() == officer["connection"]
        reopened.store_kind_file.setChecked(True)
        assert reopened.settings().store_connection == ""
    finally:
        reopened.done(QDialog.DialogCode.Rejected)
        reopened.deleteLater()
