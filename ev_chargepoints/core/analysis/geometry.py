"""Polygon layers as numpy arrays, and fast point-in-polygon assignment.

No shapely, no GEOS: polygons are read from a GeoPackage (or with pyogrio) as WKB,
parsed by :mod:`.wkb` into flat coordinate arrays (the GeoArrow layout: vertices, ring
offsets, part offsets, geometry offsets), and points are located with a
vectorised crossing-number test.

Boundary rule. The test is the classic half-open crossing number (a ray cast
towards +x, an edge counted when ``y_low <= y < y_high`` and the crossing lies
strictly east of the point). For a layer whose neighbours share their boundary
vertices (a tessellation such as wards or boroughs) this puts every point that
lies exactly on a shared boundary in exactly one polygon: the one immediately
to its east, or to its north where the boundary runs exactly east-west. Edges
are put in a canonical direction before any arithmetic, so both neighbours
compute bit-identical crossings. Points within ``tolerance`` of any boundary
are flagged so callers can report them; where polygons overlap, the point goes
to the first polygon in layer order and the overlap is reported.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from .. import errors
from ..store import gpkg_file as gpkg
from . import wkb

__all__ = [
    "PolygonSet", "Containment", "LayerRef", "read_polygon_layer", "read_layer_ref",
    "vector_layers", "multipolygon_wkb", "parse_wkb_polygons",
    "locate_points", "points_within_radius", "count_within_radius", "segment_distances",
    "ring_areas", "polygon_areas", "circle_overlap_areas",
]


@dataclass
class PolygonSet:
    """M (multi)polygons as flat arrays.

    ``x``/``y`` hold every ring's vertices, each ring closed (last vertex equal
    to the first). Ring ``r`` is ``x[ring_offsets[r]:ring_offsets[r + 1]]``;
    part ``p`` (one polygon: exterior ring first, then its holes) is rings
    ``part_offsets[p]:part_offsets[p + 1]``; geometry ``g`` is parts
    ``geom_offsets[g]:geom_offsets[g + 1]``. A null or empty geometry has no
    parts and contains nothing.
    """

    x: np.ndarray
    y: np.ndarray
    ring_offsets: np.ndarray
    part_offsets: np.ndarray
    geom_offsets: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.geom_offsets) - 1

    @property
    def n_rings(self) -> int:
        return len(self.ring_offsets) - 1

    @property
    def n_parts(self) -> int:
        return len(self.part_offsets) - 1

    def ring_geometry(self) -> np.ndarray:
        """Index of the geometry each ring belongs to."""
        part_of_ring = np.repeat(np.arange(self.n_parts), np.diff(self.part_offsets))
        geom_of_part = np.repeat(np.arange(len(self)), np.diff(self.geom_offsets))
        return geom_of_part[part_of_ring]

    def ring_is_exterior(self) -> np.ndarray:
        exterior = np.zeros(self.n_rings, dtype=bool)
        firsts = self.part_offsets[:-1][np.diff(self.part_offsets) > 0]
        exterior[firsts] = True
        return exterior

    def bounds(self) -> np.ndarray:
        """(M, 4) array of xmin, ymin, xmax, ymax; NaN for empty geometries."""
        out = np.full((len(self), 4), np.nan)
        if self.n_rings == 0:
            return out
        vertex_geom = np.repeat(self.ring_geometry(), np.diff(self.ring_offsets))
        starts = np.r_[0, np.flatnonzero(np.diff(vertex_geom)) + 1]
        present = vertex_geom[starts]
        out[present, 0] = np.minimum.reduceat(self.x, starts)
        out[present, 1] = np.minimum.reduceat(self.y, starts)
        out[present, 2] = np.maximum.reduceat(self.x, starts)
        out[present, 3] = np.maximum.reduceat(self.y, starts)
        return out

    def subset(self, indices) -> PolygonSet:
        """A new set holding the given geometries, in the given order."""
        indices = np.asarray(indices, dtype=np.int64)
        xs, ys, rings, parts, geoms = [], [], [0], [0], [0]
        for g in indices:
            for p in range(self.geom_offsets[g], self.geom_offsets[g + 1]):
                for r in range(self.part_offsets[p], self.part_offsets[p + 1]):
                    a, b = self.ring_offsets[r], self.ring_offsets[r + 1]
                    xs.append(self.x[a:b])
                    ys.append(self.y[a:b])
                    rings.append(rings[-1] + (b - a))
                parts.append(len(rings) - 1)
            geoms.append(len(parts) - 1)
        return _make(xs, ys, rings, parts, geoms)

    def transformed(self, func) -> PolygonSet:
        """A copy with every vertex passed through ``func(x, y) -> (x, y)``."""
        x, y = func(self.x, self.y)
        return PolygonSet(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"),
                          self.ring_offsets, self.part_offsets, self.geom_offsets)

    def edges(self) -> dict:
        """Every non-degenerate edge, canonically directed (low end first).

        Keys: ``geom`` (owning geometry), ``x0, y0, x1, y1`` with
        ``(y0, x0) < (y1, x1)``, sorted by geometry. Cached.
        """
        if "edges" not in self._cache:
            self._cache["edges"] = _build_edges(self)
        return self._cache["edges"]

    def strip_index(self, tolerance: float) -> dict:
        """Per geometry and horizontal strip, the x extent of its edges there.

        A horizontal line meets a polygon only between crossings of its edges,
        so a point of the strip outside that extent cannot be inside. Cached
        per tolerance (extents are padded by it).
        """
        key = ("strips", float(tolerance))
        if key not in self._cache:
            self._cache[key] = _build_strips(self, float(tolerance))
        return self._cache[key]


def _make(xs, ys, rings, parts, geoms) -> PolygonSet:
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    return PolygonSet(x.astype("float64", copy=False), y.astype("float64", copy=False),
                      np.asarray(rings, dtype=np.int64), np.asarray(parts, dtype=np.int64),
                      np.asarray(geoms, dtype=np.int64))


def _build_edges(polys: PolygonSet) -> dict:
    n = len(polys.x)
    if n < 2:
        empty = np.empty(0)
        return {"geom": np.empty(0, dtype=np.int64), "x0": empty, "y0": empty,
                "x1": empty, "y1": empty, "dxdy": empty, "xmin": empty, "xmax": empty}
    # An edge joins vertex i to i + 1 unless i is the last vertex of its ring.
    valid = np.ones(n - 1, dtype=bool)
    ring_ends = polys.ring_offsets[1:-1] - 1
    valid[ring_ends[ring_ends < n - 1]] = False
    start = np.flatnonzero(valid)
    xa, ya = polys.x[start], polys.y[start]
    xb, yb = polys.x[start + 1], polys.y[start + 1]
    keep = (xa != xb) | (ya != yb)
    start, xa, ya, xb, yb = start[keep], xa[keep], ya[keep], xb[keep], yb[keep]
    vertex_ring = np.searchsorted(polys.ring_offsets, start, side="right") - 1
    geom = polys.ring_geometry()[vertex_ring]
    swap = (ya > yb) | ((ya == yb) & (xa > xb))
    order = np.lexsort((np.where(swap, yb, ya), geom))
    swap, xa, ya, xb, yb, geom = swap[order], xa[order], ya[order], xb[order], yb[order], \
        geom[order]
    x0 = np.where(swap, xb, xa)
    y0 = np.where(swap, yb, ya)
    x1 = np.where(swap, xa, xb)
    y1 = np.where(swap, ya, yb)
    with np.errstate(divide="ignore", invalid="ignore"):
        dxdy = np.where(y1 != y0, (x1 - x0) / (y1 - y0), 0.0)
    return {"geom": geom.astype(np.int64), "x0": x0, "y0": y0, "x1": x1, "y1": y1,
            "dxdy": dxdy, "xmin": np.minimum(x0, x1), "xmax": np.maximum(x0, x1)}


def _build_strips(polys: PolygonSet, tol: float) -> dict:
    e = polys.edges()
    bounds = polys.bounds()
    ok = ~np.isnan(bounds[:, 0])
    if not ok.any():
        return {"rows": 0}
    b = bounds[ok]
    x_origin = float(b[:, 0].min()) - tol - 1.0
    y_origin = float(b[:, 1].min()) - tol - 1.0
    height = float(np.median(b[:, 3] - b[:, 1])) / 8 or 1.0
    width = float(b[:, 2].max()) + tol + 1.0 - x_origin
    s0 = np.floor((e["y0"] - tol - y_origin) / height).astype(np.int64)
    s1 = np.floor((e["y1"] + tol - y_origin) / height).astype(np.int64)
    n_strips = int(s1.max()) + 1
    edge, strip = expand_runs(np.arange(len(s0)), s0, s1 + 1)
    key = e["geom"][edge] * n_strips + strip
    order = np.argsort(key, kind="stable")
    key, edge = key[order], edge[order]
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    return {
        "rows": len(starts),
        "geom": key[starts] // n_strips,
        "strip": key[starts] % n_strips,
        "xmin": np.minimum.reduceat(e["xmin"][edge], starts) - tol,
        "xmax": np.maximum.reduceat(e["xmax"][edge], starts) + tol,
        "x_origin": x_origin, "y_origin": y_origin, "height": height,
        "width": width, "n_strips": n_strips,
        "y_top": float(b[:, 3].max()) + tol + 1.0,
    }


# --- WKB ---------------------------------------------------------------------

def parse_wkb_polygons(wkbs) -> PolygonSet:
    """Parse a sequence of WKB Polygon/MultiPolygon values (None = empty) with the one
    WKB reader (:func:`.wkb.polygons`: ISO and EWKB, either byte order, Z/M dimensions
    dropped). Anything else raises :class:`errors.ParseError`.
    """
    return PolygonSet(*wkb.polygons(wkbs))


# --- reading layers ----------------------------------------------------------

VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json")


@dataclass(frozen=True)
class LayerRef:
    """One feature layer of a file: its ``name``, the ``dataset`` GDAL opens (a path, or
    ``/vsizip/...`` for a file inside a ZIP archive) and the ``layer`` in it."""

    name: str
    dataset: str
    layer: str | None = None


def vector_layers(path) -> list[LayerRef]:
    """Every feature layer of a GeoPackage, Shapefile, GeoJSON file or a ZIP archive
    holding such files (in any folder of it, as the GLA's boundary zips do)."""
    path = Path(path)
    if path.suffix.lower() == ".gpkg":
        return [LayerRef(name, str(path), name) for name in gpkg.feature_layers(path)]
    if not zipfile.is_zipfile(path):
        return [LayerRef(path.stem, str(path))]
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m.filename for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise errors.ParseError(f"the ZIP archive cannot be read ({exc})", path.name) from None
    refs = []
    for member in sorted(members):
        inner = PurePosixPath(member)
        if inner.suffix.lower() not in VECTOR_SUFFIXES or inner.name.startswith(".") \
                or "__MACOSX" in inner.parts:
            continue
        dataset = f"/vsizip/{path.resolve()}/{member}"
        if inner.suffix.lower() == ".gpkg":
            names = _pyogrio(path.name)[0].list_layers(dataset)[:, 0].tolist()
            refs += [LayerRef(str(name), dataset, str(name)) for name in names]
        else:
            refs.append(LayerRef(inner.stem, dataset))
    if not refs:
        raise errors.ParseError("the ZIP archive holds no GeoPackage, Shapefile or GeoJSON "
                                "file", path.name)
    return refs


def read_polygon_layer(path, layer=None, columns=None):
    """Read a polygon layer: ``(attributes DataFrame, PolygonSet, crs string)``.

    ``path`` may be a ZIP archive (see :func:`vector_layers`); ``layer`` then names one
    of its layers, and may be left out when it holds only one. ``crs`` is what GDAL
    reports (e.g. ``"EPSG:27700"``), or None.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg" and zipfile.is_zipfile(path):
        refs = vector_layers(path)
        chosen = [r for r in refs if layer is None or layer in (r.name, r.layer)]
        if len(chosen) != 1:
            names = ", ".join(r.name for r in refs)
            raise errors.ParseError(
                f"the archive holds {len(refs)} layers ({names}): import it into the store, "
                "which keeps each as an area layer, and name the one to use" if layer is None
                else f"no layer '{layer}' in the archive (layers: {names})", path.name)
        return read_layer_ref(chosen[0], columns, path.name)
    return read_layer_ref(LayerRef(path.stem, str(path), layer), columns, path.name)


def read_layer_ref(ref: LayerRef, columns=None, name: str | None = None):
    """:func:`read_polygon_layer` for one :class:`LayerRef`."""
    name = name or Path(ref.dataset).name
    if ref.dataset.lower().endswith(".gpkg") and not ref.dataset.startswith("/vsi"):
        attributes, geometry, crs = gpkg.read_layer(Path(ref.dataset), ref.layer, columns)
        meta = {"geometry_type": wkb.geometry_type(geometry), "crs": crs}
    else:
        attributes, geometry, meta = _read_with_pyogrio(ref.dataset, ref.layer, columns, name)
    if geometry is None:
        raise errors.ParseError("the layer has no geometry column", name)
    geometry_type = str(meta.get("geometry_type") or "")
    if geometry_type and "polygon" not in geometry_type.lower() \
            and geometry_type.lower() not in ("unknown", "geometry"):
        raise errors.ParseError(f"expected polygons (area boundaries), found "
                                f"{geometry_type}", name)
    polygons = parse_wkb_polygons(geometry)
    return attributes, polygons, meta.get("crs")


def _pyogrio(name: str):
    raw = gpkg.pyogrio_raw()
    if raw is None:
        raise errors.ParseError("reading this format needs the Python package pyogrio; "
                                "save the layer as a GeoPackage instead", name)
    import pyogrio

    return pyogrio, raw


def _read_with_pyogrio(dataset, layer, columns, name: str):
    """Other formats (Shapefile, GeoJSON ...) need GDAL through pyogrio."""
    import pandas as pd

    pyogrio, raw = _pyogrio(name)
    try:
        meta, _fids, geometry, field_data = raw.read(dataset, layer=layer, columns=columns)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise errors.ParseError(f"the layer cannot be read ({exc})", name) from exc
    attributes = pd.DataFrame(dict(zip(meta["fields"], field_data)))
    return attributes, geometry, meta


def multipolygon_wkb(polygons: PolygonSet, index: int) -> bytes | None:
    """Geometry ``index`` of ``polygons`` as little-endian WKB MultiPolygon (None
    when it has no parts), vertex for vertex."""
    parts = range(polygons.geom_offsets[index], polygons.geom_offsets[index + 1])
    if len(parts) == 0:
        return None
    out = [struct.pack("<BII", 1, 6, len(parts))]
    for p in parts:
        rings = range(polygons.part_offsets[p], polygons.part_offsets[p + 1])
        out.append(struct.pack("<BII", 1, 3, len(rings)))
        for r in rings:
            a, b = polygons.ring_offsets[r], polygons.ring_offsets[r + 1]
            out.append(struct.pack("<I", b - a))
            out.append(np.column_stack((polygons.x[a:b], polygons.y[a:b]))
                       .astype("<f8").tobytes())
    return b"".join(out)


# --- point in polygon --------------------------------------------------------

@dataclass
class Containment:
    """Where each point fell.

    ``index``: the polygon containing it, -1 if none. ``on_boundary``: the point
    is within the tolerance of some polygon's boundary (it is still assigned by
    the rule in the module docstring). ``hits``: how many polygons contain it
    (more than one only where polygons overlap; the first in layer order wins).
    """

    index: np.ndarray
    on_boundary: np.ndarray
    hits: np.ndarray

    @property
    def n_inside(self) -> int:
        return int((self.index >= 0).sum())

    @property
    def n_on_boundary(self) -> int:
        return int(self.on_boundary.sum())

    @property
    def n_overlap(self) -> int:
        return int((self.hits > 1).sum())


def locate_points(polygons: PolygonSet, x, y, tolerance: float = 1e-6) -> Containment:
    """Index of the polygon containing each point (-1 if none); see module doc.

    Vectorised, no loop per point, edge or polygon. (1) Points are bucketed in
    horizontal strips and sorted by (strip, x); a polygon's x extent within a
    strip (:meth:`PolygonSet.strip_index`) is then one contiguous run of that
    order, found by binary search: (polygon, point) candidates. (2) Candidates
    are re-ordered by (polygon, y); each edge takes the candidates of its
    polygon whose y lies within its span, again one run. The work is
    proportional to the number of (point, edge spanning its y) pairs.
    """
    px = np.asarray(x, dtype="float64").ravel()
    py = np.asarray(y, dtype="float64").ravel()
    n = len(px)
    index = np.full(n, -1, dtype=np.int64)
    on_boundary = np.zeros(n, dtype=bool)
    hits = np.zeros(n, dtype=np.int64)
    result = Containment(index, on_boundary, hits)
    points = np.flatnonzero(np.isfinite(px) & np.isfinite(py))
    tol = float(tolerance)
    strips = polygons.strip_index(tol)
    if len(points) == 0 or strips["rows"] == 0:
        return result

    # 1. (polygon, point) candidates: points sorted by (strip, x); a polygon's
    # x extent within one strip is then one contiguous run of that order
    x_origin, y_origin = strips["x_origin"], strips["y_origin"]
    width, n_strips = strips["width"], strips["n_strips"]
    strip = np.floor((py[points] - y_origin) / strips["height"])
    points = points[(strip >= 0) & (strip < n_strips)
                    & (px[points] > x_origin) & (px[points] < x_origin + width)]
    if len(points) == 0:
        return result
    qx, qy = px[points], py[points]
    strip_key = np.floor((qy - y_origin) / strips["height"]) * width + (qx - x_origin)
    by_strip = np.argsort(strip_key)
    strip_key = strip_key[by_strip]
    # the composite key rounds; widen the runs by a few ulps, tests below are exact
    slack = 8 * float(np.spacing(n_strips * width))
    row_base = strips["strip"] * width - x_origin
    lo = np.searchsorted(strip_key, row_base + strips["xmin"] - slack, side="left")
    hi = np.searchsorted(strip_key, row_base + strips["xmax"] + slack, side="right")
    row, pos = expand_runs(np.arange(strips["rows"]), lo, hi)
    if len(row) == 0:
        return result
    cand_geom = strips["geom"][row]
    cand_point = by_strip[pos]

    # 2. order candidates by (polygon, y): one float key per candidate. Rounding
    # in the key only widens the pairing below; the tests after it are exact.
    # The span must also hold every edge's padded y, or an edge's run would
    # reach into the next polygon's candidates.
    span = max(float(qy.max()), strips["y_top"]) - y_origin + 1.0
    cand_key = cand_geom * span + (qy[cand_point] - y_origin)
    ordered = np.argsort(cand_key)
    cand_key, cand_point, cand_geom = cand_key[ordered], cand_point[ordered], \
        cand_geom[ordered]
    cx, cy = qx[cand_point], qy[cand_point]
    pad = tol + 8 * float(np.spacing(max(abs(cand_key[-1]), span)))

    # 3. (candidate, edge) pairs: the edge's y span (padded) holds the point's y
    e = polygons.edges()
    base = e["geom"] * span - y_origin
    first = np.searchsorted(cand_key, base + (e["y0"] - pad), side="left")
    last = np.searchsorted(cand_key, base + (e["y1"] + pad), side="right")
    counts = last - first
    used = np.flatnonzero(counts > 0)
    if len(used) == 0:
        return result
    counts, first = counts[used], first[used]
    edge = np.repeat(used, counts)
    cand = np.repeat(first - (np.cumsum(counts) - counts), counts)
    cand += np.arange(len(cand), dtype=np.int64)
    qx, qy = cx[cand], cy[cand]
    y0 = e["y0"][edge]
    x0 = e["x0"][edge]
    x_cross = x0 + (qy - y0) * e["dxdy"][edge]
    crossing = (qy >= y0) & (qy < e["y1"][edge]) & (qx < x_cross)

    # points near an edge: cheap box test first, exact distance on the few left
    near = np.flatnonzero((qx >= e["xmin"][edge] - tol) & (qx <= e["xmax"][edge] + tol))
    edge_near = edge[near]
    dx = e["x1"][edge_near] - e["x0"][edge_near]
    dy = e["y1"][edge_near] - e["y0"][edge_near]
    distance = np.abs((qx[near] - x0[near]) * dy - (qy[near] - y0[near]) * dx) \
        / np.hypot(dx, dy)
    touching = cand[near[distance <= tol]]

    inside = (np.bincount(cand[crossing], minlength=len(cand_key)) & 1).astype(bool)
    global_point = points[cand_point]
    on_boundary[global_point[touching]] = True
    inside_points = global_point[inside]
    inside_geoms = cand_geom[inside]
    hits += np.bincount(inside_points, minlength=n)
    if (hits > 1).any():
        # candidates run in polygon order: the first occurrence is the lowest index
        inside_points, first_seen = np.unique(inside_points, return_index=True)
        inside_geoms = inside_geoms[first_seen]
    index[inside_points] = inside_geoms
    return result


def points_within_radius(px, py, cx, cy, radius: float):
    """Every (circle, point) pair with the point within ``radius`` of the centre.

    Returns two index arrays, sorted by circle. Points on the circle count.
    Points are bucketed in strips ``radius`` high and sorted by (strip, x), so
    each circle reads three runs of that order, found by binary search.
    """
    px = np.asarray(px, dtype="float64").ravel()
    py = np.asarray(py, dtype="float64").ravel()
    cx = np.atleast_1d(np.asarray(cx, dtype="float64")).ravel()
    cy = np.atleast_1d(np.asarray(cy, dtype="float64")).ravel()
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    points = np.flatnonzero(np.isfinite(px) & np.isfinite(py))
    circles = np.flatnonzero(np.isfinite(cx) & np.isfinite(cy))
    if len(points) == 0 or len(circles) == 0 or not radius > 0:
        return empty
    r = float(radius)
    x_origin = min(px[points].min(), cx[circles].min()) - r - 1.0
    y_origin = min(py[points].min(), cy[circles].min()) - r - 1.0
    width = max(px[points].max(), cx[circles].max()) + r + 1.0 - x_origin
    qx, qy = px[points], py[points]
    key = np.floor((qy - y_origin) / r) * width + (qx - x_origin)
    order = np.argsort(key)
    key = key[order]
    slack = 8 * float(np.spacing(key[-1] + width))
    centre_strip = np.floor((cy[circles] - y_origin) / r).astype(np.int64)
    circle = np.repeat(circles, 3)
    strip = (centre_strip[:, None] + np.arange(-1, 2)[None, :]).ravel()
    base = strip * width - x_origin
    lo = np.searchsorted(key, base + cx[circle] - r - slack, side="left")
    hi = np.searchsorted(key, base + cx[circle] + r + slack, side="right")
    circle, pos = expand_runs(circle, lo, hi)
    point = order[pos]
    close = (qx[point] - cx[circle]) ** 2 + (qy[point] - cy[circle]) ** 2 <= r * r
    return circle[close], points[point[close]]


def count_within_radius(px, py, cx, cy, radius: float, weights=None) -> np.ndarray:
    """Points (or the sum of their ``weights``) within ``radius`` of each centre."""
    circle, point = points_within_radius(px, py, cx, cy, radius)
    n = len(np.atleast_1d(cx))
    w = None if weights is None else np.asarray(weights, dtype="float64")[point]
    return np.bincount(circle, weights=w, minlength=n)


def segment_distances(px: float, py: float, x0, y0, x1, y1) -> np.ndarray:
    """Distance from one point to each segment (x0, y0)-(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(length2 > 0, ((px - x0) * dx + (py - y0) * dy) / length2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(x0 + t * dx - px, y0 + t * dy - py)


def expand_runs(owners, starts, stops):
    """For runs [start, stop) per owner: (owner, position) for every position."""
    counts = np.maximum(stops - starts, 0)
    total = int(counts.sum())
    owner = np.repeat(np.asarray(owners, dtype=np.int64), counts)
    run_start = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return owner, np.arange(total, dtype=np.int64) + run_start


# --- areas and sampling ------------------------------------------------------

def ring_areas(polygons: PolygonSet) -> np.ndarray:
    """Unsigned shoelace area of every ring (square map units)."""
    if polygons.n_rings == 0:
        return np.zeros(0)
    x, y = polygons.x, polygons.y
    # shift to a local origin: keeps the cross products small and exact-ish
    x = x - np.nanmean(x)
    y = y - np.nanmean(y)
    terms = x[:-1] * y[1:] - x[1:] * y[:-1]
    starts = polygons.ring_offsets[:-1]
    stops = polygons.ring_offsets[1:] - 1
    cumulative = np.r_[0.0, np.cumsum(terms)]
    return np.abs(cumulative[stops] - cumulative[starts]) / 2


def polygon_areas(polygons: PolygonSet) -> np.ndarray:
    """Area of every geometry: exterior rings minus holes (square map units)."""
    areas = ring_areas(polygons)
    signed = np.where(polygons.ring_is_exterior(), areas, -areas)
    return np.bincount(polygons.ring_geometry(), weights=signed, minlength=len(polygons))


def circle_overlap_areas(polygons: PolygonSet, cx, cy, radius: float,
                         samples_per_radius: int = 20):
    """Approximate area of each circle inside each polygon, by sampling.

    Each circle (centre ``cx, cy``) is sampled on a regular grid of spacing
    ``radius / samples_per_radius``; the grid points are located in the
    polygons. Returns an (n_circles, n_polygons) dense array in square map
    units. Each circle's samples add up to its exact area; where a boundary
    crosses the circle, the share on either side is off by up to about
    ``32 / samples_per_radius`` % of the circle's area (measured for a straight
    boundary parallel to the grid, the worst case: 1.6 % at the default 20,
    0.65 % on average).
    """
    cx = np.atleast_1d(np.asarray(cx, dtype="float64"))
    cy = np.atleast_1d(np.asarray(cy, dtype="float64"))
    step = radius / samples_per_radius
    offsets = (np.arange(-samples_per_radius, samples_per_radius) + 0.5) * step
    ox, oy = np.meshgrid(offsets, offsets)
    keep = ox ** 2 + oy ** 2 <= radius ** 2
    ox, oy = ox[keep], oy[keep]
    # scale so each circle's samples sum to its exact area
    cell = np.pi * radius ** 2 / len(ox)
    px = (cx[:, None] + ox[None, :]).ravel()
    py = (cy[:, None] + oy[None, :]).ravel()
    where = locate_points(polygons, px, py).index
    circle = np.repeat(np.arange(len(cx)), len(ox))
    out = np.zeros((len(cx), len(polygons)))
    inside = where >= 0
    np.add.at(out, (circle[inside], where[inside]), cell)
    return out
