"""The same borough store through QGIS Processing: ``processing.run("evchargepoints:...")``
in process, and one ``qgis_process run``, give the figures the CLI gave (the CLI outputs
of conftest.py, themselves checked against independent computations in
test_cli_journey.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from borough_data import MIN_OBSERVED_HOURS, USAGE_BOROUGH, report_json
from qgis.core import (
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingFeedback,
    QgsVectorLayer,
)

from ev_chargepoints.core.outputs.tables import read_csv
from tests.qgis.conftest import PLUGIN_DEPRECATIONS_ARE_ERRORS
from tests.qgis.test_summary_algorithm import QGIS_PROCESS, _system_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings(PLUGIN_DEPRECATIONS_ARE_ERRORS)

AREA_FIGURES = ["devices", "connectors", "rapid_devices", "ultra_devices", "sessions", "kwh",
                "plugged_hours", "occupancy_pct"]
SITE_FIGURES = ["devices_within", "connectors_within", "rapid_within", "nearest_device_m",
                "devices_with_usage_within", "sessions_within", "kwh_within",
                "residents_within", "new_coverage_residents", "score", "rank"]


class Log(QgsProcessingFeedback):
    """Everything an algorithm says."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def pushInfo(self, info):
        self.lines.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):
        self.lines.append(warning)
        super().pushWarning(warning)

    def reportError(self, error, fatalError=False):
        self.lines.append(error)
        super().reportError(error, fatalError)


def run(name, params, log=None):
    import processing

    return processing.run(f"evchargepoints:{name}", params, feedback=log or Log())


def table_of(layer) -> pd.DataFrame:
    names = layer.fields().names()
    rows = []
    for feature in layer.getFeatures():
        values = [None if (hasattr(v, "isNull") and v.isNull()) else v
                  for v in feature.attributes()]
        rows.append(dict(zip(names, values)))
    return pd.DataFrame(rows, columns=names)


def assert_same(ours: pd.DataFrame, cli: pd.DataFrame, columns, key, atol=None):
    """Equal figures per ``key``; ``atol``: absolute tolerances of some columns."""
    ours, cli = ours.set_index(key).sort_index(), cli.set_index(key).sort_index()
    assert ours.index.tolist() == cli.index.tolist()
    for column in columns:
        np.testing.assert_allclose(pd.to_numeric(ours[column]).to_numpy(float),
                                   pd.to_numeric(cli[column]).to_numpy(float), rtol=1e-9,
                                   atol=(atol or {}).get(column, 1e-9), equal_nan=True,
                                   err_msg=column)


@pytest.mark.parametrize("level", ["borough", "ward"])
def test_summaries_match_the_cli(ev_provider, journey, summary_borough, summary_ward, level,
                                 tmp_path):
    log = Log()
    result = run("summarisebyarea", {"LEVEL": ["borough", "ward"].index(level),
                                     "STORE": str(journey.store), "OUTPUT": "memory:",
                                     "TABLE": str(tmp_path / "table.csv")}, log)
    cli_out = summary_borough if level == "borough" else summary_ward
    cli_table = read_csv(cli_out.path)
    assert_same(read_csv(result["TABLE"]), cli_table, AREA_FIGURES, "area_code")
    assert_same(table_of(result["OUTPUT"]), cli_table, AREA_FIGURES, "area_code")
    assert result["DEVICES"] == cli_table["devices"].sum()
    assert result["PERIOD_SHOWN"] == cli_table["period"].iloc[0]
    assert all(line in cli_out.result.stderr for line in result["REPORT"].splitlines())
    assert "SYNTHETIC" not in result["OUTPUT"].name() + "\n".join(log.lines)


def test_candidate_sites_match_the_cli(ev_provider, journey, sites_out):
    sites = pd.read_csv(journey.sites)
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=name:string", "sites", "memory")
    features = []
    for row in sites.itertuples():
        feature = QgsFeature(layer.fields())
        feature.setAttributes([row.site_id])
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(row.longitude, row.latitude)))
        features.append(feature)
    assert layer.dataProvider().addFeatures(features)[0]
    result = run("analysesites", {"INPUT": layer, "ID_FIELD": "name",
                                  "STORE": str(journey.store), "OUTPUT": "memory:"})
    ours = table_of(result["OUTPUT"]).rename(columns={"name": "key"})
    cli = read_csv(sites_out.path, dtype={"site_id": str}).rename(columns={"site_id": "key"})
    # QGIS projects the WGS84 layer with PROJ, the CLI with core.crs: under a millimetre
    # apart, which moves the distance to the nearest device and the score (its gap term)
    assert_same(ours, cli, SITE_FIGURES, "key", atol={"nearest_device_m": 0.005,
                                                      "score": 0.001})


def test_utilisation_and_status_match_the_cli(ev_provider, journey, utilisation_quarters,
                                              status_per_evse):
    store = str(journey.store)
    sessions = table_of(run("utilisation", {"STORE": store, "SOURCE": 0, "PERIOD": 1,
                                            "BY": 0, "OUTPUT": "memory:"})["OUTPUT"])
    cli = read_csv(utilisation_quarters.path, dtype={"device_id": str})
    key = ["device_id", "period"]
    assert_same(sessions, cli, ["sessions", "kwh", "plugged_hours", "occupancy_pct"], key)

    status = table_of(run("utilisation", {"STORE": store, "SOURCE": 1, "PERIOD": 1,
                                          "BY": 2, "OUTPUT": "memory:"})["OUTPUT"])
    cli = read_csv(status_per_evse.path, dtype={"device_id": str, "evse_uid": str})
    assert_same(status, cli, ["uptime_pct", "status_observed_hours", "status_observations",
                              "working_hours", "down_hours"], ["device_id", "evse_uid", "period"])


def test_reliability_matches_the_cli(ev_provider, journey, validate_out, tmp_path):
    result = run("validate", {"STATUS_HISTORY": True, "STORE": str(journey.store),
                              "MIN_OBSERVED_HOURS": MIN_OBSERVED_HOURS,
                              "OUTPUT_FOLDER": str(tmp_path)})
    ours, cli = report_json(tmp_path), report_json(validate_out.path)
    assert json.dumps(ours["operators"], sort_keys=True) == \
        json.dumps(cli["operators"], sort_keys=True)
    verdicts = [line for line in validate_out.result.stdout.splitlines()
                if line.startswith(("PASS", "FAIL", "WARN"))]
    # the CLI prints "FAIL  POD Point — ...", Processing "FAIL: POD Point — ..."
    assert result["VERDICTS"].splitlines() == [f"{v[:5].strip()}: {v[6:]}" for v in verdicts]
    reliability = result["RELIABILITY"].splitlines()
    rapid = [v[6:].replace(" \u2014 ", ": ", 1) for v in verdicts if "rapid network" in v]
    assert len(rapid) == 3 and set(rapid) <= set(reliability)


def pdf_lines(path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True, timeout=120).stdout
    return [line for line in text.splitlines() if not line.startswith("Printed ")]


def test_committee_export_matches_the_cli(ev_provider, journey, export_out, tmp_path):
    result = run("exportcommitteemap", {"STORE": str(journey.store),
                                        "BOROUGHS": USAGE_BOROUGH,
                                        "OUTPUT_FOLDER": str(tmp_path)})
    ours = sorted(Path(f).name for f in result["FILES"])
    assert ours == sorted(p.name for p in export_out.path.iterdir())
    assert result["FINGERPRINT"] in ours[0]
    for name in ours:
        if name.endswith(".csv"):
            assert (tmp_path / name).read_text("utf-8") == \
                (export_out.path / name).read_text("utf-8")
        else:
            assert pdf_lines(tmp_path / name) == pdf_lines(export_out.path / name)


def test_qgis_process_gives_the_cli_ward_summary(journey, summary_ward, tmp_path):
    """``qgis_process`` with the plugin folder on QGIS_PLUGINPATH, as QGIS finds an
    installed plugin."""
    home, plugins = tmp_path / "home", tmp_path / "plugins"
    home.mkdir(mode=0o700)
    plugins.mkdir()
    (plugins / "ev_chargepoints").symlink_to(ROOT, target_is_directory=True)
    env = _system_env(home, plugins)
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", "ev_chargepoints"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert enable.returncode == 0, enable.stdout + enable.stderr
    out, table = tmp_path / "wards.gpkg", tmp_path / "wards.csv"
    done = subprocess.run([QGIS_PROCESS, "run", "evchargepoints:summarisebyarea", "--",
                           "LEVEL=1", f"STORE={journey.store}", f"OUTPUT={out}",
                           f"TABLE={table}"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    layer = QgsVectorLayer(str(out), "wards", "ogr")
    assert layer.isValid() and layer.featureCount() == 633
    cli = read_csv(summary_ward.path)
    assert_same(table_of(layer), cli, AREA_FIGURES, "area_code")
    assert_same(read_csv(table), cli, AREA_FIGURES, "area_code")
    assert "SYNTHETIC" not in done.stdout + done.stderr
