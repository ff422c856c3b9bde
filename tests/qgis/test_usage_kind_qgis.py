"""Real and SYNTHETIC usage in QGIS: "Load London charge points" brings the real
registry devices and never synthetic usage; "Load demo usage (synthetic)" opens a
demo store of its own whose layers say SYNTHETIC; Processing outputs and logs of a
synthetic store say so, those of a real store do not.

Stores from the bundled real data: the NCR devices of London with a month of
SYNTHETIC usage (the demo's), or with the real Dundee sessions of March to May 2018.
"""

from __future__ import annotations

import csv
import gzip
import sqlite3
from pathlib import Path

import pytest
from event_wait import wait_for
from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsSettings

from ev_chargepoints.core.config import Settings
from ev_chargepoints.core.errors import MixedUsageError
from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.store.history_parts import copy_store
from ev_chargepoints.core.store.usage_kind import NOTE
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.qgis import loader
from ev_chargepoints.qgis import settings as plugin_settings

DUNDEE_RETURN = RESOURCES / "data" / "dundee" / "cp-data-mar-may-2018.csv.gz"
MONTH = ("2022-06-01", "2022-07-01")
LABEL = "SYNTHETIC usage"


def counts(store) -> dict:
    """Devices and sessions in the store, counted with sqlite3 alone: sessions are rows
    of the GeoPackage (schema 4) or of the Parquet parts its manifest lists (schema 5:
    the rows the parts hold less the open rows later parts completed)."""
    with sqlite3.connect(store) as conn:
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = {"devices": conn.execute("SELECT count(*) FROM devices").fetchone()[0]}
        if "history_parts" in tables:
            parts = conn.execute("SELECT coalesce(sum(rows), 0) FROM history_parts "
                                 "WHERE kind = 'sessions'").fetchone()[0]
            completed = conn.execute(
                "SELECT count(*) FROM session_completions").fetchone()[0] \
                if "session_completions" in tables else 0
            found["sessions"] = parts - completed
        else:
            found["sessions"] = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
        return found


def ncr_devices() -> int:
    """Devices in the registry snapshot, read with the csv module."""
    with gzip.open(LONDON_SNAPSHOT / NCR_SNAPSHOT, "rt", encoding="utf-8", newline="") as f:
        return len({row["chargeDeviceID"] for row in csv.DictReader(f)})


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory, qgis_app):
    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    with Workspace(path) as ws:
        ws.import_bundled_snapshot(usage_start=MONTH[0], usage_end=MONTH[1])
    return path


@pytest.fixture(scope="module")
def real_store(tmp_path_factory, qgis_app):
    path = tmp_path_factory.mktemp("real") / "borough.gpkg"
    with Workspace(path) as ws:
        reports = ws.import_files([LONDON_SNAPSHOT / NCR_SNAPSHOT, DUNDEE_RETURN])
        assert [r.outcome for r in reports] == ["imported", "imported"]
    return path


def names(loaded) -> list[str]:
    return [loaded.devices.name(), loaded.wards.name(), loaded.boroughs.name()]


# --- the loader -------------------------------------------------------------------------

def test_load_london_brings_the_registry_devices_and_no_synthetic_usage(
        tmp_path, qgis_new_project, real_store):
    store = tmp_path / "workspace.gpkg"
    info = loader.prepare_map(str(store), "quarter", Progress())
    assert counts(store) == {"devices": ncr_devices(), "sessions": 0}
    assert not info.synthetic_usage and info.periods == ["no usage data"]
    with Workspace(store) as ws:
        assert ws.usage_kind() is None
    loaded = loader.build_layers(info, project=QgsProject.instance())
    assert not any("SYNTHETIC" in name for name in names(loaded))
    # the user's own usage is what the map shows, unlabelled
    info = loader.prepare_map(str(real_store), "quarter", Progress())
    assert not info.synthetic_usage and "2018-Q2" in info.periods
    loaded = loader.build_layers(info, project=QgsProject.instance())
    assert not any("SYNTHETIC" in name for name in names(loaded))


def test_the_demo_has_a_store_of_its_own_and_says_synthetic(tmp_path, qgis_new_project,
                                                            real_store):
    workspace = tmp_path / "workspace.gpkg"
    demo = Path(plugin_settings.demo_store_path(str(workspace)))
    assert demo == tmp_path / "demo.gpkg"
    assert plugin_settings.demo_store_path(str(demo)) == str(tmp_path / "synthetic_demo.gpkg")
    assert Path(plugin_settings.demo_store_path("postgres-connection:shared")).parent == \
        Path(plugin_settings.default_store_path()).parent
    info = loader.prepare_map(str(demo), "quarter", Progress(), demo=True, demo_usage=MONTH)
    assert info.synthetic_usage and info.periods == ["2022-Q2"]
    assert counts(demo)["sessions"] > 0 and not workspace.exists()
    loaded = loader.build_layers(info, project=QgsProject.instance())
    assert all(name.endswith(f"— {LABEL}") for name in names(loaded)), names(loaded)
    # a store holding real usage is never made a demo
    before = counts(real_store)
    with pytest.raises(MixedUsageError, match="holds real usage"):
        loader.prepare_map(str(real_store), "quarter", Progress(), demo=True, demo_usage=MONTH)
    assert counts(real_store) == before


def test_plugin_actions_keep_the_demo_out_of_the_workspace_store(
        qgis_iface, plugin_package, qgis_new_project, synthetic_store, tmp_path):
    workspace = tmp_path / "workspace.gpkg"
    copy_store(synthetic_store, tmp_path / "demo.gpkg")  # a month, not the demo's year
    qsettings = QgsSettings()
    key = plugin_settings.PREFIX + "settings_json"
    saved = qsettings.value(key, None)
    plugin = plugin_package.classFactory(qgis_iface)
    try:
        plugin_settings.save(Settings(store_path=str(workspace)))
        plugin.initGui()
        texts = {a.text(): a for a in plugin.actions}
        assert {"Load London charge points", "Load demo usage (synthetic)"} <= set(texts)

        texts["Load demo usage (synthetic)"].trigger()
        wait_for(lambda: plugin.loaded is not None and plugin.load_action.isEnabled(),
                 "the demo load")
        assert all(LABEL in name for name in names(plugin.loaded)), names(plugin.loaded)
        assert not workspace.exists()

        plugin.loaded = None
        texts["Load London charge points"].trigger()
        wait_for(lambda: plugin.loaded is not None and plugin.load_action.isEnabled(),
                 "the London load")
        assert not any("SYNTHETIC" in name for name in names(plugin.loaded))
        assert counts(workspace) == {"devices": ncr_devices(), "sessions": 0}
        group = QgsProject.instance().layerTreeRoot().findGroup("EV charge points")
        assert len(group.findLayers()) == 3   # the demo's layers were replaced
    finally:
        plugin.unload()
        if saved is None:
            qsettings.remove(key)
        else:
            qsettings.setValue(key, saved)


# --- Processing -------------------------------------------------------------------------

class Log(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, info):
        self.lines.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):
        self.lines.append(warning)
        super().pushWarning(warning)


def test_processing_outputs_of_a_synthetic_store_say_so(ev_provider, synthetic_store,
                                                        qgis_new_project):
    import processing

    log = Log()
    result = processing.run("evchargepoints:utilisation",
                            {"STORE": str(synthetic_store), "OUTPUT": "memory:"},
                            feedback=log)
    assert result["OUTPUT"].name().endswith(f"— {LABEL}")
    assert NOTE in log.lines
    assert sum(f["sessions"] for f in result["OUTPUT"].getFeatures()) <= \
        counts(synthetic_store)["sessions"]
    # to be loaded on completion, as the Processing dialog asks (outputs with a destination
    # project): the names they will be loaded under say it. (runAndLoadResults itself
    # needs the real QGIS window since 3.44: it hands the layer tree view to the GUI utils.)
    from qgis.core import QgsProcessingOutputLayerDefinition

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    outputs = {key: QgsProcessingOutputLayerDefinition("TEMPORARY_OUTPUT",
                                                       QgsProject.instance())
               for key in ("OUTPUT", "TABLE")}
    loaded = processing.run("evchargepoints:summarisebyarea",
                            {"STORE": str(synthetic_store), **outputs},
                            context=context, feedback=Log())
    ids = [loaded[k] if isinstance(loaded[k], str) else loaded[k].id()
           for k in ("OUTPUT", "TABLE")]
    assert all(context.willLoadLayerOnCompletion(i) for i in ids)
    assert [context.layerToLoadOnCompletionDetails(i).name for i in ids] == [
        f"Areas with summary — {LABEL}", f"Summary table — {LABEL}"]


def test_processing_outputs_of_a_real_store_do_not(ev_provider, real_store, qgis_new_project):
    import processing

    log = Log()
    result = processing.run("evchargepoints:utilisation",
                            {"STORE": str(real_store), "OUTPUT": "memory:"}, feedback=log)
    assert "SYNTHETIC" not in result["OUTPUT"].name()
    assert not any("SYNTHETIC" in line for line in log.lines)
    assert 0 < sum(f["sessions"] for f in result["OUTPUT"].getFeatures()) <= \
        counts(real_store)["sessions"]
