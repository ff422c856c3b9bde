"""The core's pure-Python projection agrees with QGIS/PROJ on the real NCR devices."""

import gzip

import numpy as np
import pandas as pd
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProject,
)

from ev_chargepoints.core import crs
from ev_chargepoints.core.paths import LONDON_SNAPSHOT


def test_core_projection_matches_qgis_within_a_metre():
    with gzip.open(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz", "rt") as fh:
        frame = pd.read_csv(fh, usecols=["latitude", "longitude"], dtype=float).dropna()
    sample = frame.iloc[::20]
    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"),
                                       QgsCoordinateReferenceSystem("EPSG:27700"),
                                       QgsProject.instance())
    expected = np.array([[p.x(), p.y()] for p in (
        transform.transform(QgsPointXY(lon, lat))
        for lon, lat in zip(sample["longitude"], sample["latitude"]))])
    e, n = crs.wgs84_to_bng(sample["longitude"].to_numpy(), sample["latitude"].to_numpy())
    assert len(sample) > 400
    assert np.abs(e - expected[:, 0]).max() < 1.0
    assert np.abs(n - expected[:, 1]).max() < 1.0
