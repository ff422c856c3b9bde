"""Areas (boroughs, wards) with population, and the device -> ward -> borough assignment.

Boundaries are read once into :class:`AreaSet` objects (codes, names, parent
codes, polygons in EPSG:27700, area, population). :func:`assign_devices`
places every device once per pair of boundary versions; summaries are then
group-bys over that table (``summary.py``).

Assignment rules (each device gets exactly one note):

- ``inside``: in a ward and in the borough polygon that ward belongs to.
- ``thames_gap``: in a ward but in no borough polygon. The GLA borough layer
  excludes the tidal Thames below Mean High Water while the ward layers include
  it, so piers and riverside points land here; they take the ward's borough.
- ``ward_snapped``: in a borough polygon but in none of that borough's wards
  (the two layers are digitised separately and can disagree by metres along
  borough borders); the device takes the nearest ward of that borough.
- ``outside``: in neither layer (outside London); codes and names are null.
- ``no_location``: no usable coordinates.

Points exactly on a boundary follow the rule of :mod:`geometry` (each goes to
exactly one polygon, the one to its east, or north on an east-west boundary)
and are counted in the :class:`AssignmentReport`.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from .. import errors
from ..crs import wgs84_to_bng
from ..paths import LONDON_SNAPSHOT
from ..store import gpkg_file as gpkg
from . import geometry
from .ward_population import (
    DEFAULT_SAMPLE_SPACING_M,
    POPULATION_YEAR,
    attach_ward_population,
    read_ward_profiles,
)

BOROUGHS_FILE = "london_boroughs.gpkg"
WARDS_FILES = {2018: "london_wards_2018.gpkg", 2011: "london_wards_2011_citymerged.gpkg"}
DEFAULT_TOLERANCE_M = 1e-6

NOTES = ("inside", "thames_gap", "ward_snapped", "outside", "no_location")

_TABLE_COLUMNS = ["area_code", "area_name", "parent_code", "parent_name", "area_m2",
                  "population", "population_method"]


@dataclass
class AreaSet:
    """One boundary set: a row per area in ``table`` and its polygons.

    ``table`` columns: ``area_code``, ``area_name``, ``parent_code``,
    ``parent_name`` (None where the set has no parent level), ``area_m2``
    (planimetric area in EPSG:27700), ``population`` (NaN if unknown) and
    ``population_method`` (how that figure was obtained). ``version`` names the
    boundary set; ``fingerprint`` changes whenever codes or vertices change, so
    stored assignments can be checked against it.
    """

    level: str
    version: str
    table: pd.DataFrame
    polygons: geometry.PolygonSet
    population_note: str = ""
    source: str = ""
    # source_code, target_code, share: how 2011 ward counts reach these areas (None: by code)
    ward_weights: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def codes(self) -> np.ndarray:
        return self.table["area_code"].to_numpy(object)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha1()
            digest.update("\x1f".join(map(str, self.codes)).encode("utf-8"))
            for array in (self.polygons.x, self.polygons.y, self.polygons.ring_offsets,
                          self.polygons.part_offsets, self.polygons.geom_offsets):
                digest.update(np.ascontiguousarray(array).tobytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    @property
    def boundary_version(self) -> str:
        return f"{self.version}@{self.fingerprint}"

    def locate(self, x, y) -> geometry.Containment:
        return geometry.locate_points(self.polygons, x, y, tolerance=DEFAULT_TOLERANCE_M)


# --- loading -----------------------------------------------------------------

_CODE_FIELDS = ("GSS_CODE", "CODE", "AREA_CODE")
_NAME_FIELDS = ("NAME", "AREA_NAME")
_PARENT_CODE_FIELDS = ("LAGSSCODE", "LB_GSS_CD", "PARENT_CODE")
_PARENT_NAME_FIELDS = ("DISTRICT", "BOROUGH", "PARENT_NAME")


# ONS geography prefixes, smallest first: a layer's own code is its smallest
# level present, its parent the next one up.
_ONS_RANK = {"OA": 0, "LSOA": 1, "MSOA": 2, "WD": 3, "WARD": 3, "LAD": 5, "LTLA": 5,
             "LA": 5, "LB": 5, "UTLA": 6, "CTY": 6, "CAUTH": 7, "RGN": 8, "CTRY": 9}


def detect_fields(columns) -> dict[str, str | None]:
    """Guess code, name and parent fields of a boundary layer.

    Known names first (``GSS_CODE``/``NAME``, ``code``/``name``, ``LAGSSCODE``/
    ``DISTRICT``, ``LB_GSS_CD``/``BOROUGH``), then ONS-style ``*CD``/``*NM``
    fields: the smallest geography present is the area (``WD18CD``), the next
    one up its parent (``LAD18CD``); names are the matching ``*NM`` fields.
    """
    upper = {str(c).upper(): str(c) for c in columns}

    def first(options):
        return next((upper[o] for o in options if o in upper), None)

    found = {"code": first(_CODE_FIELDS), "name": first(_NAME_FIELDS),
             "parent_code": first(_PARENT_CODE_FIELDS),
             "parent_name": first(_PARENT_NAME_FIELDS)}
    ranked = []
    for position, column in enumerate(columns):
        match = re.fullmatch(r"([A-Za-z]+?)(\d*)CD", str(column))
        if match:
            rank = _ONS_RANK.get(match.group(1).upper(), 4)
            ranked.append((rank, position, str(column)))
    ranked.sort()
    if found["code"] is None and ranked:
        found["code"] = ranked[0][2]
    own_rank = next((r for r, _, c in ranked if c == found["code"]), None)
    if found["parent_code"] is None and own_rank is not None:
        found["parent_code"] = next((c for r, _, c in ranked if r > own_rank), None)
    for key in ("name", "parent_name"):
        code_field = found["code" if key == "name" else "parent_code"]
        if found[key] is None and code_field and str(code_field).upper().endswith("CD"):
            found[key] = upper.get(str(code_field).upper()[:-2] + "NM")
    return found


def load_area_set(path, layer: str | None = None, level: str = "area",
                  code_field: str | None = None, name_field: str | None = None,
                  parent_code_field: str | None = None,
                  parent_name_field: str | None = None,
                  population=None, version: str | None = None) -> AreaSet:
    """Read any polygon layer as an :class:`AreaSet`.

    Fields not given are detected (:func:`detect_fields`). ``population`` is a
    mapping or Series from area code to residents, or the name of a numeric
    field of the layer; otherwise population is unknown (NaN). The layer must
    be in EPSG:27700 or WGS84 (reprojected here); anything else is refused.
    """
    path = Path(path)
    attributes, polygons, crs = geometry.read_polygon_layer(path, layer=layer)
    polygons = _to_bng(polygons, crs, path.name)
    detected = detect_fields(attributes.columns)
    fields = {
        "code": code_field or detected["code"],
        "name": name_field or detected["name"],
        "parent_code": parent_code_field or detected["parent_code"],
        "parent_name": parent_name_field or detected["parent_name"],
    }
    for value in fields.values():
        if value is not None and value not in attributes.columns:
            raise errors.ParseError(f"the layer has no field '{value}'", path.name)
    if fields["code"] is None:
        raise errors.ParseError(
            "no area code field found (looked for GSS_CODE, code or a field ending in "
            "CD); name it explicitly", path.name)

    def text(key):
        if fields[key] is None:
            return pd.Series([None] * len(attributes), dtype=object)
        values = attributes[fields[key]].astype(object)
        return values.where(values.notna(), None).map(
            lambda v: v if v is None else str(v).strip())

    table = pd.DataFrame({
        "area_code": text("code"),
        "area_name": text("name") if fields["name"] else text("code"),
        "parent_code": text("parent_code"),
        "parent_name": text("parent_name"),
        "area_m2": geometry.polygon_areas(polygons),
    })
    if table["area_code"].isna().any() or table["area_code"].duplicated().any():
        raise errors.ParseError(
            f"the code field '{fields['code']}' has empty or repeated values", path.name)
    note = "Population unknown for this boundary set."
    if isinstance(population, str):
        table["population"] = pd.to_numeric(attributes[population], errors="coerce")
        method = f"field {population}"
        note = f"Population from the layer's field '{population}'."
    elif population is not None:
        mapping = pd.Series(population)
        table["population"] = pd.to_numeric(table["area_code"].map(mapping),
                                             errors="coerce")
        method = "given"
        note = "Population as supplied with the boundaries."
    else:
        table["population"] = np.nan
        method = None
    table["population_method"] = [method if v == v else None for v in table["population"]]
    polygons.strip_index(DEFAULT_TOLERANCE_M)  # build the search index while loading
    return AreaSet(level=level, version=version or path.stem,
                   table=table[_TABLE_COLUMNS].copy(),
                   polygons=polygons, population_note=note, source=str(path))


# --- boundary files as store layers -------------------------------------------

@dataclass
class BoundaryLayer:
    """One polygon layer of a boundary file, ready to be kept in a store: its ``name``
    (:func:`layer_name` of the layer's own), ``attributes`` as read, ``polygons`` in
    EPSG:27700, and ``note`` (the code and name fields a summary will take)."""

    name: str
    attributes: pd.DataFrame
    polygons: geometry.PolygonSet
    note: str = ""


_GEOJSON_PROBE = 1 << 16


def is_boundary_file(path) -> bool:
    """True for a GeoPackage, Shapefile, GeoJSON file or a ZIP archive holding one,
    judged by content (names on the web say little)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(_GEOJSON_PROBE)
    except OSError:
        return False
    if head.startswith(b"SQLite format 3\x00"):
        try:
            return bool(gpkg.feature_layers(path))
        except errors.ParseError:
            return False
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return False
        return any(PurePosixPath(n).suffix.lower() in geometry.VECTOR_SUFFIXES
                   for n in names)
    if head[:4] == b"\x00\x00\x27\x0a":  # the Shapefile main file's code
        return True
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1] == b"{" and re.search(rb'"type"\s*:\s*"Feature(Collection)?"', text) \
        is not None


def layer_name(text: str) -> str:
    """A layer's name as a store keeps it: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:60] or "areas"


def read_boundary_layers(path) -> tuple[list[BoundaryLayer], list[str]]:
    """The polygon layers of a boundary file (:func:`is_boundary_file`) in EPSG:27700,
    and one reason per layer that is not boundaries (points, say). Raises
    :class:`errors.ParseError` when no layer is."""
    path = Path(path)
    layers, skipped = [], []
    for ref in geometry.vector_layers(path):
        try:
            attributes, polygons, crs = geometry.read_layer_ref(ref, name=ref.name)
            polygons = _to_bng(polygons, crs, ref.name)
        except errors.ParseError as exc:
            skipped.append(exc.message)
            continue
        found = detect_fields(attributes.columns)
        note = (f"code {found['code']}, name {found['name'] or found['code']}"
                if found["code"] else "no area code field recognised: name it when "
                "summarising")
        name, n = layer_name(ref.name), 1
        while name in {layer.name for layer in layers}:
            n += 1
            name = f"{layer_name(ref.name)}_{n}"
        layers.append(BoundaryLayer(name, attributes, polygons, note))
    if not layers:
        raise errors.ParseError("no polygon layer (" + "; ".join(skipped) + ")", path.name)
    return layers, skipped


def _to_bng(polygons, crs, name):
    text = str(crs or "").upper()
    if text in ("", "EPSG:27700") or text.endswith("27700"):
        return polygons
    if text in ("EPSG:4326", "OGC:CRS84") or text.endswith("4326") or "CRS84" in text:
        return polygons.transformed(wgs84_to_bng)
    raise errors.ParseError(
        f"boundaries in {crs} are not supported: save them in EPSG:27700 (British "
        "National Grid) or EPSG:4326 first", name)


def load_boroughs(path=None, profiles=None) -> AreaSet:
    """The 33 London boroughs (GLA, excluding the Thames below MHW) with population.

    Borough population = the sum of its wards in the GLA ward profiles (2015);
    the published borough rows agree within 150 people (rounding). The bundled
    set is read once and shared: treat it as read-only. Other files get a
    population only when ``profiles`` (:func:`read_ward_profiles`) is given.
    """
    if path is None and profiles is None:
        return _bundled_boroughs()
    path = Path(path) if path else LONDON_SNAPSHOT / BOROUGHS_FILE
    areas = load_area_set(path, level="borough", version="london_boroughs")
    if profiles is not None:
        wards = profiles[profiles["level"] == "ward"]
        by_borough = wards.groupby("borough_code")["population"].sum(min_count=1)
        table = areas.table
        table["population"] = table["area_code"].map(by_borough).astype("float64")
        table["population_method"] = [
            f"sum of ward populations, GLA ward profiles {POPULATION_YEAR}"
            if v == v else None for v in table["population"]]
        areas.population_note = (
            f"Residents {POPULATION_YEAR} (GLA ward profiles), summed from wards; the "
            "published borough totals agree within 150 people.")
    return areas


@lru_cache(maxsize=1)
def _bundled_boroughs() -> AreaSet:
    return load_boroughs(LONDON_SNAPSHOT / BOROUGHS_FILE, profiles=read_ward_profiles())


def load_wards(year: int = 2018, path=None, profiles=None,
               spacing_m: float = DEFAULT_SAMPLE_SPACING_M) -> AreaSet:
    """London wards of 2018 (633) or 2011 (625, City merged) with population.

    2011 wards take the GLA ward-profile population (2015) by code. 2018 wards
    whose code is unchanged since 2011 are the same ward (ONS issues a new code
    whenever a boundary changes), so they keep that population exactly; the
    re-warded ones get the population of the old wards apportioned by area of
    intersection, estimated on a regular grid
    (:func:`~.ward_population.apportion_population`).
    The bundled sets are built once and shared: treat them as read-only.
    """
    if year not in WARDS_FILES:
        raise ValueError(f"ward boundaries are bundled for {sorted(WARDS_FILES)}")
    bundled = path is None
    path = Path(path) if path else LONDON_SNAPSHOT / WARDS_FILES[year]
    version = f"london_wards_{year}"
    if bundled and profiles is None:
        return _bundled_wards(year, float(spacing_m))
    areas = load_area_set(path, level="ward", version=version)
    if profiles is not None:
        source = None if year == 2011 else load_wards(2011, profiles=profiles,
                                                      spacing_m=spacing_m)
        attach_ward_population(areas, year, profiles, source, spacing_m)
    return areas


@lru_cache(maxsize=4)
def _bundled_wards(year: int, spacing_m: float) -> AreaSet:
    areas = load_area_set(LONDON_SNAPSHOT / WARDS_FILES[year], level="ward",
                          version=f"london_wards_{year}")
    source = None if year == 2011 else _bundled_wards(2011, spacing_m)
    attach_ward_population(areas, year, read_ward_profiles(), source, spacing_m)
    return areas


# --- assignment ----------------------------------------------------------------

@dataclass
class AssignmentReport:
    """What happened to every device; counts add up to ``total``."""

    total: int = 0
    inside: int = 0
    thames_gap: int = 0
    ward_snapped: int = 0
    outside: int = 0
    no_location: int = 0
    on_ward_boundary: int = 0
    on_borough_boundary: int = 0
    in_several_wards: int = 0
    in_several_boroughs: int = 0
    wards_version: str = ""
    boroughs_version: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        out = [f"{self.total:,} devices: {self.inside:,} inside a ward and its borough"]
        if self.thames_gap:
            out.append(f"{self.thames_gap:,} in a ward on the Thames outside every borough "
                       "polygon (given the ward's borough)")
        if self.ward_snapped:
            out.append(f"{self.ward_snapped:,} in a borough but in none of its wards "
                       "(given the nearest ward of that borough)")
        out.append(f"{self.outside:,} outside London")
        if self.no_location:
            out.append(f"{self.no_location:,} without usable coordinates")
        boundary = self.on_ward_boundary + self.on_borough_boundary
        if boundary:
            out.append(f"{self.on_ward_boundary:,} exactly on a ward boundary and "
                       f"{self.on_borough_boundary:,} on a borough boundary, each counted "
                       "once (in the area to its east, or north on an east-west line)")
        if self.in_several_wards or self.in_several_boroughs:
            out.append(f"{self.in_several_wards + self.in_several_boroughs:,} in "
                       "overlapping polygons, counted in the first")
        return out


@dataclass
class Assignment:
    """Device -> ward -> borough, computed once per pair of boundary versions.

    ``table`` columns: device_id, ward_code, ward_name, borough_code,
    borough_name, x, y (EPSG:27700), assignment_note (see module doc),
    on_boundary (exactly on a ward or borough boundary). ``ward_index`` and
    ``borough_index`` give the row of each device's area in ``wards.table`` /
    ``boroughs.table`` (-1 for none).
    """

    table: pd.DataFrame
    report: AssignmentReport
    wards: AreaSet | None
    boroughs: AreaSet | None
    ward_index: np.ndarray
    borough_index: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def areas(self, level: str) -> AreaSet:
        found = self.wards if level == "ward" else self.boroughs \
            if level == "borough" else None
        if found is None:
            raise ValueError(f"no {level} boundaries in this assignment")
        return found

    def index(self, level: str) -> np.ndarray:
        return self.ward_index if level == "ward" else self.borough_index

    def matches(self, wards: AreaSet | None, boroughs: AreaSet | None) -> bool:
        """Whether this assignment was made with these boundary versions."""
        return (self.report.wards_version == (wards.boundary_version if wards else "")
                and self.report.boroughs_version
                == (boroughs.boundary_version if boroughs else ""))


def assign_devices(devices: pd.DataFrame, wards: AreaSet | None,
                   boroughs: AreaSet | None) -> Assignment:
    """Place every device in a ward and a borough (see the module doc for the rules).

    ``devices`` needs ``device_id``, ``longitude`` and ``latitude`` (WGS84);
    ``x``/``y`` columns in EPSG:27700 are used instead when present.
    """
    if wards is None and boroughs is None:
        raise ValueError("give ward or borough boundaries (or both)")
    n = len(devices)
    if {"x", "y"} <= set(devices.columns):
        x = pd.to_numeric(devices["x"], errors="coerce").to_numpy("float64")
        y = pd.to_numeric(devices["y"], errors="coerce").to_numpy("float64")
    else:
        lon = pd.to_numeric(devices["longitude"], errors="coerce").to_numpy("float64")
        lat = pd.to_numeric(devices["latitude"], errors="coerce").to_numpy("float64")
        x, y = wgs84_to_bng(lon, lat)
    located = np.isfinite(x) & np.isfinite(y)
    x = np.where(located, x, np.nan)
    y = np.where(located, y, np.nan)
    report = AssignmentReport(total=n,
                              wards_version=wards.boundary_version if wards else "",
                              boroughs_version=boroughs.boundary_version if boroughs else "")

    ward_idx = np.full(n, -1, dtype=np.int64)
    borough_idx = np.full(n, -1, dtype=np.int64)
    on_boundary = np.zeros(n, dtype=bool)
    if wards is not None:
        found = wards.locate(x, y)
        ward_idx = found.index
        on_boundary |= found.on_boundary
        report.on_ward_boundary = found.n_on_boundary
        report.in_several_wards = found.n_overlap
    if boroughs is not None:
        found = boroughs.locate(x, y)
        borough_idx = found.index
        on_boundary |= found.on_boundary
        report.on_borough_boundary = found.n_on_boundary
        report.in_several_boroughs = found.n_overlap

    inside, thames_gap, ward_snapped, outside, no_location = range(len(NOTES))
    note = np.full(n, outside, dtype=np.int8)
    note[~located] = no_location
    if wards is not None and boroughs is not None:
        # the borough of each ward, as a row of the borough table
        parent_of_ward = pd.Index(boroughs.codes).get_indexer(
            wards.table["parent_code"].to_numpy(object))
        ward_parent = np.where(ward_idx >= 0, parent_of_ward[np.maximum(ward_idx, 0)], -1)
        in_both = (ward_idx >= 0) & (borough_idx >= 0)
        agree = in_both & (ward_parent == borough_idx)
        note[agree] = inside
        gap = (ward_idx >= 0) & (borough_idx < 0)
        borough_idx[gap] = ward_parent[gap]
        note[gap] = thames_gap
        snap = (borough_idx >= 0) & ~agree & ~gap
        if snap.any():
            ward_idx[snap] = _nearest_ward(wards, parent_of_ward, borough_idx[snap],
                                           x[snap], y[snap])
            note[snap] = ward_snapped
    elif wards is not None:
        note[ward_idx >= 0] = inside
    else:
        note[borough_idx >= 0] = inside
    counts = np.bincount(note, minlength=len(NOTES))
    for code, name in enumerate(NOTES):
        setattr(report, name, int(counts[code]))

    table = pd.DataFrame({
        "device_id": devices["device_id"].to_numpy(object),
        "ward_code": _lookup(wards, "area_code", ward_idx),
        "ward_name": _lookup(wards, "area_name", ward_idx),
        "borough_code": _lookup(boroughs, "area_code", borough_idx),
        "borough_name": _lookup(boroughs, "area_name", borough_idx),
        "x": x, "y": y,
        "assignment_note": np.array(NOTES, dtype=object)[note],
        "on_boundary": on_boundary,
    })
    if boroughs is None and wards is not None:
        # without borough polygons a ward's borough is its parent
        table["borough_code"] = _lookup(wards, "parent_code", ward_idx)
        table["borough_name"] = _lookup(wards, "parent_name", ward_idx)
    return Assignment(table, report, wards, boroughs, ward_idx, borough_idx)


def _lookup(areas: AreaSet | None, column: str, index: np.ndarray) -> np.ndarray:
    out = np.full(len(index), None, dtype=object)
    if areas is None:
        return out
    ok = index >= 0
    out[ok] = areas.table[column].to_numpy(object)[index[ok]]
    return out


def _nearest_ward(wards: AreaSet, parent_of_ward: np.ndarray, borough: np.ndarray,
                  x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For each point, the ward of its borough whose boundary is nearest (-1 if none)."""
    edges = wards.polygons.edges()
    edge_parent = parent_of_ward[edges["geom"]]
    out = np.full(len(x), -1, dtype=np.int64)
    for i in range(len(x)):
        sel = np.flatnonzero(edge_parent == borough[i])
        if len(sel) == 0:
            continue
        d = geometry.segment_distances(x[i], y[i], edges["x0"][sel], edges["y0"][sel],
                                       edges["x1"][sel], edges["y1"][sel])
        out[i] = edges["geom"][sel[np.argmin(d)]]
    return out
