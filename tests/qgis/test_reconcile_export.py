"""A feed whose Location ids repeat registry device ids: the map loads and the
Processing committee export runs, each charger counted once (the registry's own
chargers listed again by the feed) and the feed's new chargers counted too."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from qgis.core import QgsProject

from ev_chargepoints.core import paths
from ev_chargepoints.core.analysis import areas
from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.outputs.tables import read_csv
from ev_chargepoints.core.progress import Progress
from ev_chargepoints.core.sources import parsers
from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT
from ev_chargepoints.core.sources.parsers.ocpi import parse_locations
from ev_chargepoints.core.workspace import Workspace
from ev_chargepoints.qgis import loader

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "tests/data/ocpi/spec-examples/location_example.json")
                  .read_text("utf-8"))


def _location(loc_id, lat, lon, uid, evse_id, operator):
    out = copy.deepcopy(SPEC)
    evse = copy.deepcopy(SPEC["evses"][0])
    evse.update(uid=uid, status="CHARGING")
    if evse_id:
        evse["evse_id"] = evse_id
    else:
        evse.pop("evse_id", None)
    out.update(id=loc_id, country_code="GB", party_id="XXX", country="GBR", city="London",
               coordinates={"latitude": repr(float(lat)), "longitude": repr(float(lon))},
               evses=[evse], operator={"name": operator})
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Store path and the expected devices per borough, counted from the inputs."""
    path = tmp_path_factory.mktemp("reconcile_export") / "feed.gpkg"
    ncr = parsers.parse_file(paths.LONDON_SNAPSHOT / NCR_SNAPSHOT)
    devices, connectors = ncr.tables["devices"], ncr.tables["connectors"]
    wards, boroughs = areas.load_wards(2018), areas.load_boroughs()
    borough = areas.assign_devices(devices, wards, boroughs).table["borough_code"]
    sample = devices.assign(borough=borough.to_numpy()).dropna(subset=["borough"]) \
        .sort_values("device_id").groupby("borough").head(10)
    ncr.tables = {"devices": sample.drop(columns="borough").reset_index(drop=True),
                  "connectors": connectors[connectors["device_id"].isin(sample["device_id"])]
                  .reset_index(drop=True)}
    # the feed lists the sampled ubitricity chargers again, under their registry ids ...
    again = sample[sample["operator"] == "ubitricity"]
    payload = [_location(r.device_id, r.latitude, r.longitude, f"U{i}",
                         f"GB*UBI*E{r.reference[4:]}*1", "ubitricity")
               for i, r in enumerate(again.itertuples())]
    # ... and new chargers elsewhere, under ids of other sampled registry devices
    others = sample[sample["operator"] != "ubitricity"].head(25)
    spots = devices[~devices["device_id"].isin(sample["device_id"])].sort_values(
        "device_id").tail(25)
    payload += [_location(o.device_id, s.latitude, s.longitude, f"N{i}", None,
                          "Newcomer Charging Ltd")
                for i, (o, s) in enumerate(zip(others.itertuples(), spots.itertuples()))]
    feed = parse_locations(payload, source="ocpi:newcomers",
                           observed_utc=pd.Timestamp("2022-05-20T12:00:00Z"))
    with Workspace(path) as ws:
        assert ws.import_result(ncr, "registry sample", "registry-sample-v1").outcome == \
            "imported"
        assert ws.import_result(feed, "feed", "feed-v1").outcome == "imported"
        raw = ws.store.devices()
    assert raw["device_id"].duplicated().sum() == len(payload)
    x, y = wgs84_to_bng(spots["longitude"].to_numpy(), spots["latitude"].to_numpy())
    new_in = boroughs.locate(x, y).index
    expected = sample.groupby("borough").size().reindex(boroughs.codes, fill_value=0) \
        + np.bincount(new_in[new_in >= 0], minlength=len(boroughs))
    assert len(again) > 0
    return path, expected, len(sample) + len(spots)


def test_the_map_loads_with_each_charger_once(store, qgis_new_project):
    path, expected, n_devices = store
    info = loader.prepare_map(str(path), "quarter", Progress())
    loaded = loader.build_layers(info, project=QgsProject.instance())
    assert loaded.devices.featureCount() == n_devices
    ids = [f["device_id"] for f in loaded.devices.getFeatures()]
    assert len(set(ids)) == len(ids)
    counts = {f["area_code"]: f["devices"] for f in loaded.boroughs.getFeatures()}
    assert counts == expected.to_dict()


def test_the_processing_export_counts_each_charger_once(store, tmp_path, qgis_processing):
    import processing

    from ev_chargepoints.processing.algorithms.export_algorithm import (
        ExportCommitteeMapAlgorithm,
    )

    path, expected, _ = store
    alg = ExportCommitteeMapAlgorithm()
    alg.initAlgorithm()
    result = processing.run(alg, {"STORE": str(path), "OUTPUT_FOLDER": str(tmp_path)})
    assert any(f.endswith(".pdf") for f in result["FILES"])
    summary = read_csv(next(tmp_path.glob("*_boroughs_summary.csv")))
    counted = summary.set_index("area_code")["devices"]
    london = "E12000007"
    assert counted.drop(london).to_dict() == expected.to_dict()
    assert counted[london] == expected.sum()
