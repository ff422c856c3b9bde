"""Summarise by area: through processing.run, with custom areas, and through qgis_process."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsField,
    QgsProcessingException,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QMetaType

from ev_chargepoints.core.outputs import disclosure
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
ALG = "evchargepoints:summarisebyarea"
WESTMINSTER, HAVERING = "E09000033", "E09000016"
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("summary_alg") / "london.gpkg"
    with Workspace(path) as ws:
        ws.import_bundled_snapshot(usage_start="2022-04-01", usage_end="2022-07-01")
    return str(path)


@pytest.fixture(scope="module")
def boroughs_run(ev_provider, store, tmp_path_factory):
    """The bundled boroughs, no filters: areas to a GeoPackage and the table to CSV."""
    folder = tmp_path_factory.mktemp("summary_alg_out")
    return run({"LEVEL": 0, "STORE": store, "OUTPUT": str(folder / "boroughs.gpkg"),
                "TABLE": str(folder / "boroughs.csv")})


def run(params):
    import processing
    return processing.run(ALG, params)


def missing(value) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())


def by_code(layer, field="devices"):
    return {f["area_code"]: f[field] for f in layer.getFeatures()}


def boroughs_layer():
    layer = QgsVectorLayer(str(LONDON_SNAPSHOT / "london_boroughs.gpkg"), "boroughs", "ogr")
    assert layer.isValid()
    return layer


def renamed_copy(source, code_name, label_name, crs="EPSG:27700"):
    """A memory copy of ``source`` whose code and name fields have other names."""
    layer = QgsVectorLayer(f"MultiPolygon?crs={crs}", "areas", "memory")
    provider = layer.dataProvider()
    provider.addAttributes([QgsField(label_name, QMetaType.Type.QString),
                            QgsField(code_name, QMetaType.Type.QString),
                            QgsField("hectares", QMetaType.Type.Double)])
    layer.updateFields()
    features = []
    for f in source.getFeatures():
        out = QgsFeature(layer.fields())
        out.setAttributes([f["NAME"], f["GSS_CODE"], f["HECTARES"]])
        out.setGeometry(f.geometry())
        features.append(out)
    provider.addFeatures(features)
    return layer


def test_provider_lists_the_algorithm(ev_provider):
    alg = ev_provider.algorithm("summarisebyarea")
    assert alg is not None and alg.group() == "Analysis"
    assert alg.displayName() == "Summarise charge points by area"
    names = {p.name() for p in alg.parameterDefinitions()}
    assert {"AREAS", "CODE_FIELD", "NAME_FIELD", "LEVEL", "STORE", "PERIOD", "OPERATOR",
            "POWER_CLASS", "LOCATION_TYPE", "OUTPUT", "TABLE"} <= names


def test_bundled_boroughs_counts(boroughs_run):
    result = boroughs_run
    layer = QgsVectorLayer(result["OUTPUT"], "out", "ogr")
    assert layer.isValid() and layer.featureCount() == 33
    assert layer.crs().authid() == "EPSG:27700"
    devices = by_code(layer)
    assert sum(devices.values()) == 8_538 == result["DEVICES"]
    assert devices[WESTMINSTER] == 1_214 and devices[HAVERING] == 34
    assert all(f.hasGeometry() and f.geometry().area() > 1e6 for f in layer.getFeatures())
    # the latest quarter in which sessions start (not the spill-over past the data's end)
    assert result["PERIOD_SHOWN"] == "2022-Q2"
    assert {f["period"] for f in layer.getFeatures()} == {"2022-Q2"}
    assert "8,538 inside" in result["REPORT"]
    with open(result["TABLE"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 33
    row = next(r for r in rows if r["area_code"] == WESTMINSTER)
    assert int(row["devices"]) == 1_214 and row["area_name"] == "Westminster"
    assert float(row["occupancy_pct"]) > 0


def test_wards_period_and_filters(ev_provider, store, boroughs_run):
    wards = run({"LEVEL": 1, "STORE": store, "PERIOD": "2022-Q2", "OUTPUT": "memory:",
                 "TABLE": "memory:"})
    layer = wards["OUTPUT"]
    assert layer.featureCount() == 633 and wards["DEVICES"] == 8_538
    assert wards["PERIOD_SHOWN"] == "2022-Q2"
    assert {f["period"] for f in layer.getFeatures()} == {"2022-Q2"}
    in_westminster = [f for f in layer.getFeatures() if f["parent_code"] == WESTMINSTER]
    assert sum(f["devices"] for f in in_westminster) == 1_214
    assert wards["TABLE"].featureCount() == 633 and not wards["TABLE"].isSpatial()

    boroughs = QgsVectorLayer(boroughs_run["OUTPUT"], "boroughs", "ogr")
    rapid, ultra = by_code(boroughs, "rapid_devices"), by_code(boroughs, "ultra_devices")
    fast_charging = run({"LEVEL": 0, "STORE": store, "POWER_CLASS": "Rapid; ULTRA",
                         "OUTPUT": "memory:", "TABLE": "memory:"})
    filtered = by_code(fast_charging["OUTPUT"])
    assert filtered[WESTMINSTER] == rapid[WESTMINSTER] + ultra[WESTMINSTER]
    assert fast_charging["DEVICES"] == sum(rapid.values()) + sum(ultra.values())
    assert 0 < fast_charging["DEVICES"] < 8_538


def test_any_polygon_layer_with_chosen_or_detected_fields(ev_provider, store, boroughs_run):
    chosen = run({"AREAS": renamed_copy(boroughs_layer(), "ref", "label"),
                  "CODE_FIELD": "ref", "NAME_FIELD": "label", "LEVEL": 0, "STORE": store,
                  "OUTPUT": "memory:", "TABLE": "memory:"})
    devices = by_code(chosen["OUTPUT"])
    assert devices == by_code(QgsVectorLayer(boroughs_run["OUTPUT"], "boroughs", "ogr"))
    assert devices[WESTMINSTER] == 1_214 and devices[HAVERING] == 34
    names = {f["area_code"]: f["area_name"] for f in chosen["OUTPUT"].getFeatures()}
    assert names[HAVERING] == "Havering"

    detected = run({"AREAS": renamed_copy(boroughs_layer(), "code", "name"), "LEVEL": 0,
                    "STORE": store, "OUTPUT": "memory:", "TABLE": "memory:"})
    assert by_code(detected["OUTPUT"]) == devices


def test_areas_in_another_crs_are_reprojected(ev_provider, store):
    import processing

    mercator = processing.run("native:reprojectlayer", {
        "INPUT": boroughs_layer(), "TARGET_CRS": QgsCoordinateReferenceSystem("EPSG:3857"),
        "OUTPUT": "memory:"})["OUTPUT"]
    result = run({"AREAS": mercator, "CODE_FIELD": "GSS_CODE", "NAME_FIELD": "NAME",
                  "LEVEL": 0, "STORE": store, "OUTPUT": "memory:", "TABLE": "memory:"})
    layer = result["OUTPUT"]
    assert layer.crs().authid() == "EPSG:3857"     # the input's geometries, untouched
    devices = by_code(layer)
    # a projection round trip moves vertices by far less than a millimetre
    assert abs(sum(devices.values()) - 8_538) <= 2
    assert abs(devices[WESTMINSTER] - 1_214) <= 2 and devices[HAVERING] == 34
    source = {f["GSS_CODE"]: f.geometry() for f in mercator.getFeatures()}
    for feature in layer.getFeatures():
        assert feature.geometry().equals(source[feature["area_code"]])


def test_unknown_period_and_missing_store_are_reported(ev_provider, store, tmp_path):
    with pytest.raises(QgsProcessingException, match="no utilisation for period"):
        run({"LEVEL": 0, "STORE": store, "PERIOD": "1999-Q1", "OUTPUT": "memory:",
             "TABLE": "memory:"})
    # 2022-Q3 holds only the plugged time of sessions spilling past the data's end: nobody
    # reports usage for it, so it has no figures (no longer 0 % everywhere)
    with pytest.raises(QgsProcessingException, match="no utilisation for period '2022-Q3'"):
        run({"LEVEL": 1, "STORE": store, "PERIOD": "2022-Q3", "OUTPUT": "memory:",
             "TABLE": "memory:"})
    with pytest.raises(QgsProcessingException, match="There is no store"):
        run({"LEVEL": 0, "STORE": str(tmp_path / "none.gpkg"), "OUTPUT": "memory:",
             "TABLE": "memory:"})
    no_code = QgsVectorLayer("Polygon?crs=EPSG:27700&field=label:string", "x", "memory")
    with pytest.raises(QgsProcessingException, match="No area code field"):
        run({"AREAS": no_code, "LEVEL": 0, "STORE": store, "OUTPUT": "memory:",
             "TABLE": "memory:"})


def test_ward_outputs_suppress_usage_unless_internal(ev_provider, store):
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    published = run({"LEVEL": 1, "STORE": store, "OUTPUT": "memory:", "TABLE": "memory:"})
    with Workspace(store) as ws:
        full, _ = ws.summary(level="ward")
        usage = ws.utilisation("quarter")
        places = ws.assignment().table.set_index("device_id")
        operators = ws.devices().set_index("device_id")["operator"]
    # the rule, recomputed from the devices with usage in the period shown
    used = usage.loc[usage["period"] == published["PERIOD_SHOWN"], "device_id"].unique()
    ward = places.loc[used, "ward_code"].dropna()
    per = pd.DataFrame({"ward": ward, "operator": operators.loc[ward.index].fillna("")
                        .str.lower()}).groupby("ward").agg(n=("operator", "size"),
                                                          ops=("operator", "nunique"))
    failing = set(per.index[(per["n"] < 3) | (per["ops"] <= 1)])
    for layer in (published["OUTPUT"], published["TABLE"]):
        status, sessions = by_code(layer, "usage_disclosure"), by_code(layer, "sessions")
        suppressed = {c for c, s in status.items() if s.startswith("suppressed")}
        assert failing <= suppressed and len(failing) > 100
        # the only others are the partners that keep a borough total from revealing one
        assert {status[c] for c in suppressed - failing} <= {disclosure.COMPLEMENT}
        assert all(missing(sessions[c]) for c in suppressed)
        shown = full.set_index("area_code").loc[
            [c for c, s in status.items() if s == disclosure.SHOWN], "sessions"]
        assert len(shown) > 300 and all(sessions[c] == v for c, v in shown.items())
    assert disclosure.INTERNAL not in published["OUTPUT"].name()

    context, feedback = QgsProcessingContext(), QgsProcessingFeedback()
    lines = []
    feedback.pushWarning = lambda text: lines.append(text)
    internal = processing.run(ALG, {"LEVEL": 1, "STORE": store, "INTERNAL": True,
                                    "OUTPUT": "memory:"}, context=context, feedback=feedback)
    layer = internal["OUTPUT"]
    assert "TABLE" not in internal or not internal["TABLE"]
    assert layer.name().endswith(disclosure.INTERNAL_SUFFIX)
    assert disclosure.INTERNAL_NOTE in lines
    sessions = by_code(layer, "sessions")
    for code, value in full.set_index("area_code")["sessions"].dropna().items():
        assert sessions[code] == value


def test_either_output_alone_and_not_neither(ev_provider, store, tmp_path):
    table_only = run({"LEVEL": 0, "STORE": store, "TABLE": str(tmp_path / "t.csv")})
    assert len(read_csv(table_only["TABLE"])) == 33 and not table_only.get("OUTPUT")
    areas_only = run({"LEVEL": 0, "STORE": store, "OUTPUT": str(tmp_path / "a.gpkg")})
    assert QgsVectorLayer(areas_only["OUTPUT"], "a", "ogr").featureCount() == 33
    assert not areas_only.get("TABLE")
    with pytest.raises(QgsProcessingException, match="Choose where to write"):
        run({"LEVEL": 0, "STORE": store})


def _system_env(home: Path, plugins: Path) -> dict:
    """qgis_process embeds the system Python: keep venv and pyenv settings out of it, and
    pytest-qgis's profile (QGIS_CUSTOM_CONFIG_PATH, QGIS_OPTIONS_PATH): it gets its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYENV", "PYTHON", "VIRTUAL_ENV", "CONDA", "QGIS_"))}
    env.update({"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": str(home), "QGIS_PLUGINPATH": str(plugins),
                "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(home)})
    # what pip added for the plugin (duckdb: Debian has no package), as a user's
    # `pip install --user duckdb` gives it to QGIS's Python; numpy/pandas stay Debian's
    added = sorted((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    if added:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in added)
    return env


def test_qgis_process_runs_the_algorithm(store, tmp_path):
    home, plugins = tmp_path / "home", tmp_path / "plugins"
    home.mkdir(mode=0o700)
    plugins.mkdir()
    (plugins / "ev_chargepoints").symlink_to(ROOT, target_is_directory=True)
    env = _system_env(home, plugins)
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", "ev_chargepoints"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert enable.returncode == 0, enable.stdout + enable.stderr
    out, table = tmp_path / "areas.gpkg", tmp_path / "table.csv"
    # either output alone: the areas layer only, then the table only
    done = subprocess.run([QGIS_PROCESS, "run", ALG, "--", "LEVEL=0", f"STORE={store}",
                           "OPERATOR=ubitricity", f"OUTPUT={out}"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    layer = QgsVectorLayer(str(out), "out", "ogr")
    assert layer.isValid() and layer.featureCount() == 33
    devices = by_code(layer)
    with Workspace(store) as ws:
        expected, _ = ws.summary(level="borough", filters={"operator": ["ubitricity"]})
    assert devices == dict(zip(expected["area_code"], expected["devices"]))
    assert 0 < sum(devices.values()) < 8_538
    # one operator's devices alone: every borough's usage is that operator's
    status, sessions = by_code(layer, "usage_disclosure"), by_code(layer, "sessions")
    used = expected.loc[expected["sessions"] > 0, "area_code"]
    assert len(used) >= 10 and {status[c] for c in used} <= {
        disclosure.ONE_OPERATOR, disclosure.FEW_DEVICES.format(n=3)}
    assert all(missing(sessions[c]) for c in used)
    assert not table.exists()
    done = subprocess.run([QGIS_PROCESS, "run", ALG, "--", "LEVEL=0", f"STORE={store}",
                           "OPERATOR=ubitricity", "INTERNAL=true", f"TABLE={table}"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert disclosure.INTERNAL_NOTE in done.stdout + done.stderr
    rows = read_csv(table).set_index("area_code")
    assert len(rows) == 33 and "usage_disclosure" not in rows
    used = expected.set_index("area_code")["sessions"].dropna()
    assert len(used) >= 10 and (rows.loc[used.index, "sessions"] == used).all()
