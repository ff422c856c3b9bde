"""Candidate sites as tables (``site_id``, fields, ``x``/``y`` in EPSG:27700 and
``longitude``/``latitude``), device locations, and sums per site."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import errors
from ...crs import bng_to_wgs84, wgs84_to_bng


def sites_from_points(x, y, ids=None, fields=None) -> pd.DataFrame:
    """A sites table from EPSG:27700 coordinates.

    Columns: ``site_id`` (given ``ids`` as text, else ``site-1``, ``site-2``
    ...), any ``fields`` (a DataFrame or mapping of equal-length columns), then
    ``x``, ``y``, ``longitude``, ``latitude``.
    """
    x = np.atleast_1d(np.asarray(x, dtype="float64"))
    y = np.atleast_1d(np.asarray(y, dtype="float64"))
    if x.shape != y.shape:
        raise ValueError("x and y differ in length")
    lon, lat = bng_to_wgs84(x, y)
    return _site_table(x, y, np.atleast_1d(lon), np.atleast_1d(lat), ids, fields)


def sites_from_lonlat(lon, lat, ids=None, fields=None) -> pd.DataFrame:
    """A sites table from WGS84 longitude/latitude (degrees); see :func:`sites_from_points`."""
    lon = np.atleast_1d(np.asarray(lon, dtype="float64"))
    lat = np.atleast_1d(np.asarray(lat, dtype="float64"))
    if lon.shape != lat.shape:
        raise ValueError("longitude and latitude differ in length")
    x, y = wgs84_to_bng(lon, lat)
    return _site_table(np.atleast_1d(x), np.atleast_1d(y), lon, lat, ids, fields)


def _site_table(x, y, lon, lat, ids, fields) -> pd.DataFrame:
    n = len(x)
    if ids is None:
        ids = [f"site-{i + 1}" for i in range(n)]
    ids = [None if v is None else str(v) for v in ids]
    if len(ids) != n:
        raise ValueError("ids and coordinates differ in length")
    frame = pd.DataFrame({"site_id": pd.Series(ids, dtype=object)})
    if fields is not None:
        extra = pd.DataFrame(fields).reset_index(drop=True)
        if len(extra) != n:
            raise ValueError("fields and coordinates differ in length")
        for column in extra.columns:
            if column not in ("site_id", "x", "y", "longitude", "latitude"):
                frame[column] = extra[column].to_numpy()
    frame["x"], frame["y"] = x, y
    frame["longitude"], frame["latitude"] = lon, lat
    return frame


def as_sites(sites) -> pd.DataFrame:
    """Normalise a sites table: ``x``/``y`` (EPSG:27700) or ``longitude``/``latitude``.

    Keeps every input column; adds whichever coordinate pair is missing and a
    ``site_id`` when there is none. Ids must be unique.
    """
    if not isinstance(sites, pd.DataFrame):
        sites = pd.DataFrame(sites)
    frame = sites.reset_index(drop=True).copy()
    columns = set(frame.columns)
    if {"x", "y"} <= columns:
        x = pd.to_numeric(frame["x"], errors="coerce").to_numpy("float64")
        y = pd.to_numeric(frame["y"], errors="coerce").to_numpy("float64")
        lon, lat = bng_to_wgs84(x, y)
    elif {"longitude", "latitude"} <= columns:
        lon = pd.to_numeric(frame["longitude"], errors="coerce").to_numpy("float64")
        lat = pd.to_numeric(frame["latitude"], errors="coerce").to_numpy("float64")
        x, y = wgs84_to_bng(lon, lat)
    else:
        raise errors.ParseError("sites need x/y (EPSG:27700) or longitude/latitude columns",
                                "sites")
    frame["x"], frame["y"] = np.atleast_1d(x), np.atleast_1d(y)
    frame["longitude"], frame["latitude"] = np.atleast_1d(lon), np.atleast_1d(lat)
    if "site_id" not in columns:
        frame.insert(0, "site_id", [f"site-{i + 1}" for i in range(len(frame))])
    frame["site_id"] = [None if v is None or v != v else str(v) for v in frame["site_id"]]
    if frame["site_id"].isna().any() or frame["site_id"].duplicated().any():
        raise errors.ParseError("site ids must be present and unique", "sites")
    return frame


def device_xy(devices: pd.DataFrame):
    """EPSG:27700 x, y of devices: their ``x``/``y`` columns, else projected from WGS84."""
    if {"x", "y"} <= set(devices.columns):
        return (pd.to_numeric(devices["x"], errors="coerce").to_numpy("float64"),
                pd.to_numeric(devices["y"], errors="coerce").to_numpy("float64"))
    lon = pd.to_numeric(devices["longitude"], errors="coerce").to_numpy("float64")
    lat = pd.to_numeric(devices["latitude"], errors="coerce").to_numpy("float64")
    x, y = wgs84_to_bng(lon, lat)
    return np.atleast_1d(x), np.atleast_1d(y)


def site_sums(index, weights, n: int) -> np.ndarray:
    """Σ weights per index, always float (numpy gives int64 when there are none)."""
    return np.bincount(index, weights=weights, minlength=n).astype("float64", copy=False)


def located_devices(devices: pd.DataFrame, placed: pd.DataFrame) -> pd.DataFrame:
    """``devices`` with the EPSG:27700 ``x``/``y`` of their placement (an assignment
    table: ``device_id``, ``x``, ``y``)."""
    return devices.drop(columns=["x", "y"], errors="ignore").merge(
        placed[["device_id", "x", "y"]], on="device_id", how="left")
