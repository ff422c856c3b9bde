"""Candidate sites in and out of files: point GeoPackages and CSV.

Input: a point GeoPackage layer in EPSG:27700 or EPSG:4326 (read with the
standard library, see :mod:`gpkg`; points by :mod:`.wkb`), or a CSV with ``x``/``y``
(EPSG:27700) or ``longitude``/``latitude`` (also ``lon``/``lat``, ``lng``) columns. Every
other field is carried into the results; fields named ``x``, ``y``,
``longitude`` or ``latitude`` in a GeoPackage become ``x_input`` ...

Output: one row per site (:func:`wide`). The first (primary) distance's
figures keep the plain names of :func:`.analyser.definitions`; each further
distance (ring) repeats the per-distance columns with a suffix, e.g.
``devices_within_800m``, ``score_800m``, ``rank_800m``. Site-level columns
(the input fields, coordinates, ward, nearest device, usage period) appear
once. GeoPackages get EPSG:27700 points; CSV files keep ``x``/``y`` and
``longitude``/``latitude`` columns.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from ..errors import EvChargepointsError, ParseError
from ..outputs.tables import read_csv, write_csv
from ..store import gpkg_file as gpkg
from ..store.gpkg_file import point_wkbs
from ..store.usage_kind import stamp
from . import wkb
from .siting import analyser, sites

SITE_LEVEL = ("ward_code", "ward_name", "borough_name", "usage_period",
              "nearest_device_id", "nearest_device_m", "walk_m", "walk_network",
              "devices_within_walk",
              "residents_within_walk", "demand_scenario")
CATCHMENT_LAYER = "walking_catchments"
COORDINATES = ("x", "y", "longitude", "latitude")
_LON = ("longitude", "lon", "lng", "long")
_LAT = ("latitude", "lat")


# --- reading -------------------------------------------------------------------

def read_sites(path, layer: Optional[str] = None) -> pd.DataFrame:
    """A sites table (:func:`.sites.as_sites` form) from a point GeoPackage or a CSV."""
    path = Path(path)
    if not path.is_file():
        raise ParseError("the sites file does not exist", path.name)
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        return _read_gpkg_sites(path, layer)
    if suffix == ".csv":
        return _read_csv_sites(path)
    raise ParseError("sites must be a point GeoPackage (.gpkg) or a CSV file (.csv)",
                     path.name)


def _read_gpkg_sites(path: Path, layer: Optional[str]) -> pd.DataFrame:
    attributes, wkbs, crs = gpkg.read_layer(path, layer)
    try:
        x, y = wkb.points(wkbs)
    except ParseError as exc:
        raise ParseError(exc.message, path.name) from None
    attributes = attributes.rename(columns={c: f"{c}_input" for c in attributes.columns
                                            if c in COORDINATES})
    ids = None
    if "site_id" in attributes.columns:
        ids = attributes.pop("site_id").tolist()
    if crs is None:  # undefined: decide by the coordinates' range
        finite = np.isfinite(x) & np.isfinite(y)
        geographic = finite.any() and bool((np.abs(x[finite]) <= 180).all()
                                           and (np.abs(y[finite]) <= 90).all())
        crs = "EPSG:4326" if geographic else "EPSG:27700"
    if crs == "EPSG:27700":
        frame = sites.sites_from_points(x, y, ids, attributes)
    elif crs == "EPSG:4326":
        frame = sites.sites_from_lonlat(x, y, ids, attributes)
    else:
        raise ParseError(f"sites are in {crs}; give them in EPSG:27700 or EPSG:4326",
                         path.name)
    return _checked(frame, path)


def _read_csv_sites(path: Path) -> pd.DataFrame:
    try:
        frame = read_csv(path, dtype={"site_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ParseError(f"the CSV cannot be read ({str(exc).splitlines()[0]})",
                         path.name) from None
    lower = {c.lower(): c for c in frame.columns}
    if not ({"x", "y"} <= set(frame.columns)):
        lon = next((lower[c] for c in _LON if c in lower), None)
        lat = next((lower[c] for c in _LAT if c in lower), None)
        if lon is None or lat is None:
            raise ParseError("the CSV needs x/y (EPSG:27700) or longitude/latitude columns",
                             path.name)
        frame = frame.rename(columns={lon: "longitude", lat: "latitude"})
    return _checked(frame, path)


def _checked(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if not len(frame):
        raise ParseError("the file holds no sites", path.name)
    try:
        frame = sites.as_sites(frame)
    except ParseError as exc:
        raise ParseError(exc.message, path.name) from None
    located = np.isfinite(frame["x"]) & np.isfinite(frame["y"])
    if not located.any():
        raise ParseError("no site has usable coordinates", path.name)
    return frame


def parse_weights(text: str) -> dict[str, float]:
    """``new_coverage=0.6,demand=0.2`` -> {"new_coverage": 0.6, "demand": 0.2}."""
    weights = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in analyser.CRITERIA:
            raise EvChargepointsError(f"Weights: {part!r} is not CRITERION=WEIGHT with a "
                                      f"criterion among {', '.join(analyser.CRITERIA)}.")
        try:
            number = float(value)
        except ValueError:
            raise EvChargepointsError(f"Weights: {value.strip()!r} for {name} is not a "
                                      "number.") from None
        if not (number >= 0 and math.isfinite(number)):
            raise EvChargepointsError(f"Weights: the weight for {name} must be 0 or more.")
        weights[name] = number
    if not any(v > 0 for v in weights.values()):
        raise EvChargepointsError("Weights: give at least one positive weight.")
    return weights


# --- one row per site ------------------------------------------------------------

def ring_suffix(distance: float) -> str:
    """``_800m`` for 800 (``_62p5m`` for 62.5): the suffix of a ring's columns."""
    return "_" + f"{float(distance):g}".replace(".", "p").replace("-", "m") + "m"


def _split(columns) -> tuple[list, list]:
    """(site-level columns, per-distance columns) of a long results table."""
    columns = list(columns)
    first = columns.index("distance_m")
    site = columns[:first] + [c for c in columns[first:] if c in SITE_LEVEL]
    per_distance = [c for c in columns[first:] if c not in SITE_LEVEL]
    return site, per_distance


def wide(long: pd.DataFrame, distances) -> pd.DataFrame:
    """One row per site from :func:`.analyser.analyse_sites`' long table.

    The primary distance (the first) keeps plain column names; each further
    distance's per-distance columns get :func:`ring_suffix` (``distance_m``
    and ``catchment`` only for the primary one).
    """
    distances = [float(d) for d in np.atleast_1d(distances)]
    site_cols, per_distance = _split(long.columns)
    dist = long["distance_m"].to_numpy("float64")
    primary = long[dist == distances[0]].reset_index(drop=True)
    out = primary[site_cols + per_distance].copy()
    for d in distances[1:]:
        ring = long[dist == d].reset_index(drop=True)
        suffix = ring_suffix(d)
        for column in per_distance:
            if column in ("distance_m", "catchment"):
                continue
            out[column + suffix] = ring[column].to_numpy()
    return out


def wide_definitions(distances) -> dict[str, str]:
    """Definitions of :func:`wide`'s columns, ring columns included."""
    base = analyser.definitions()
    out = dict(base)
    for d in [float(v) for v in np.atleast_1d(distances)][1:]:
        suffix = ring_suffix(d)
        for name, text in base.items():
            if name in SITE_LEVEL or name in COORDINATES or name in (
                    "site_id", "distance_m", "catchment"):
                continue
            out[name + suffix] = f"At {d:g} m: {text}"
    return out


# --- writing -------------------------------------------------------------------

def write_sites(frame: pd.DataFrame, path, layer: str = "candidate_sites",
                description: str = "Candidate sites", synthetic: bool = False) -> Path:
    """Write a table with ``x``/``y`` (EPSG:27700) as a point GeoPackage or CSV.

    The file is written beside the target and then moved into place, so a
    failure leaves any earlier file as it was. ``synthetic``: the figures come
    from a store holding SYNTHETIC usage (the CSV's first line, the layer's
    description say so).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return write_csv(frame, path, synthetic=synthetic)
    description = stamp(description, synthetic)
    if suffix != ".gpkg":
        raise ParseError("the output must end in .gpkg or .csv", path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        gpkg.write_geopackage(tmp, layer, frame.reset_index(drop=True),
                              point_wkbs(frame["x"].to_numpy("float64"),
                                         frame["y"].to_numpy("float64")),
                              "POINT", description=description)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return path



def catchment_table(table: pd.DataFrame, network, walk_m: float):
    """(frame, WKB MultiPolygons) of the walking catchment of each site of a results
    table (``x``/``y`` EPSG:27700): ``site_id``, ``walk_m``, ``reachable_network_m``,
    ``catchment_area_m2`` and the walking counts when the table has them."""
    from .siting.walking import WalkingCatchment

    walking = WalkingCatchment(network, walk_m)
    x, y = table["x"].to_numpy("float64"), table["y"].to_numpy("float64")
    shapes = walking.polygons(x, y)
    frame = pd.DataFrame({"site_id": table["site_id"].to_numpy(object),
                          "walk_m": np.full(len(table), float(walk_m)),
                          "reachable_network_m": walking.reached_length(x, y),
                          "catchment_area_m2": [area for _, area in shapes]})
    for name in ("devices_within_walk", "residents_within_walk"):
        if name in table:
            frame[name] = table[name].to_numpy()
    frame["network"] = network.described
    return frame, [wkb_ for wkb_, _ in shapes]


def write_catchments(table: pd.DataFrame, network, walk_m: float, path,
                     synthetic: bool = False, attribution: str = "") -> Path:
    """Add the walking catchments (:func:`catchment_table`) as layer
    ``walking_catchments`` to the GeoPackage at ``path`` (made when missing).
    ``attribution``: the network's licence line, kept in the layer's description."""
    frame, shapes = catchment_table(table, network, walk_m)
    attribution = attribution or getattr(network, "attribution", "")
    description = f"Walking catchments, {float(walk_m):g} m on {network.name}"
    if attribution:
        description += f" ({attribution})"
    path = Path(path)
    gpkg.write_geopackage(path, CATCHMENT_LAYER, frame, shapes, "MULTIPOLYGON",
                          description=stamp(description, synthetic), append=path.exists())
    return path


def unwalked_sites(table: pd.DataFrame) -> list:
    """The ids of the located sites of a results table with no street of the network
    within the walk (their walking figures are missing; each row's note says why)."""
    if "devices_within_walk" not in table or not len(table):
        return []
    sites_ = table.drop_duplicates("site_id")
    located = np.isfinite(pd.to_numeric(sites_["x"], errors="coerce")) & \
        np.isfinite(pd.to_numeric(sites_["y"], errors="coerce"))
    return sites_.loc[located & sites_["devices_within_walk"].isna(), "site_id"].tolist()


def unwalked_message(table: pd.DataFrame) -> Optional[str]:
    """What the command line and Processing say about :func:`unwalked_sites`, else None."""
    unwalked = unwalked_sites(table)
    if not unwalked:
        return None
    names = ", ".join(str(s) for s in unwalked[:5]) + ("…" if len(unwalked) > 5 else "")
    return (f"{len(unwalked)} of {table['site_id'].nunique()} sites have no street of the "
            f"network within {float(table['walk_m'].iloc[0]):g} m ({names}): their walking "
            "figures are not measured. Is the network's extent smaller than the sites'?")
