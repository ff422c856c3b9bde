"""A street network for walking catchments: :class:`StreetNetwork`, built once per line
layer and reused (the dock keeps it while it is open).

Built from any line layer (LineString/MultiLineString; OS Open Roads, OpenStreetMap ...)
in any CRS, projected to EPSG:27700. Every way is split into straight edges at every
vertex; vertices closer than ``snap_m`` (0.5 m) are merged into one node (they fall in the
same ``snap_m`` square: deterministic, and two vertices straddling a square's side stay
apart, which costs nothing but a missing 0.5 m link). Ways that merely cross without a
shared vertex (bridges, tunnels) are not joined, as in the source data. Shortest paths
are scipy's ``csgraph`` Dijkstra on an undirected sparse graph of edge lengths (m).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Iterable

import numpy as np

from ... import crs as crs_module
from ...errors import ParseError
from ...store import gpkg_file as gpkg
from .. import wkb
from ..geometry import expand_runs

DEFAULT_SNAP_M = 0.5
# OpenStreetMap's terms (ODbL): the credit goes wherever the data or what is drawn from it
# is shown
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OSM_LICENCE = "Open Database Licence (ODbL) 1.0"
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
_OSM_NAME = re.compile(r"(^|[^a-z])(osm|openstreetmap)([^a-z]|$)", re.IGNORECASE)


def network_attribution(name: str, field_names: Iterable[str] = (),
                        rights: Iterable[str] = ()) -> str:
    """The credit line a street network asks for: its own metadata rights when it has
    them, else "© OpenStreetMap contributors" for OpenStreetMap data (an ``osm_id``
    field, or "osm"/"OpenStreetMap" as a word of its name or file), else ""."""
    own = "; ".join(r for r in rights if r and r.strip())
    if own:
        return own
    names = {f.lower() for f in field_names}
    if "osm_id" in names or _OSM_NAME.search(name or ""):
        return OSM_ATTRIBUTION
    return ""


def _csgraph():
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra
    return csr_matrix, dijkstra


class StreetNetwork:
    """Nodes (``node_x``/``node_y``), straight edges (``edge_u``/``edge_v`` node indices,
    ``edge_len`` m) and their undirected sparse graph, in EPSG:27700."""

    def __init__(self, x, y, line_offsets, snap_m: float = DEFAULT_SNAP_M,
                 name: str = "", cell_m: float = 50.0, attribution: str = ""):
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        offsets = np.asarray(line_offsets, dtype=np.int64)
        self.name = name
        self.attribution = attribution  # the data's credit line (network_attribution)
        self.snap_m = float(snap_m)
        ok = np.isfinite(x) & np.isfinite(y)
        key = np.stack([np.floor(np.where(ok, x, 0) / snap_m),
                        np.floor(np.where(ok, y, 0) / snap_m)], axis=1).astype(np.int64)
        _, first, node = np.unique(key, axis=0, return_index=True, return_inverse=True)
        node = node.ravel()
        self.node_x, self.node_y = x[first], y[first]
        # consecutive vertices of one line make an edge
        starts = np.zeros(len(x), dtype=bool)
        starts[offsets[:-1][offsets[:-1] < len(x)]] = True
        a = np.flatnonzero(~starts[1:]) if len(x) else np.empty(0, np.int64)
        a, b = a, a + 1
        keep = ok[a] & ok[b] & (node[a] != node[b])
        u, v = node[a[keep]], node[b[keep]]
        u, v = np.minimum(u, v), np.maximum(u, v)
        length = np.hypot(self.node_x[v] - self.node_x[u], self.node_y[v] - self.node_y[u])
        # one edge per node pair: the shortest
        order = np.lexsort((length, v, u))
        u, v, length = u[order], v[order], length[order]
        single = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])] if len(u) else \
            np.empty(0, bool)
        self.edge_u, self.edge_v, self.edge_len = u[single], v[single], length[single]
        n = len(self.node_x)
        csr_matrix, _ = _csgraph()
        self.graph = csr_matrix((np.r_[self.edge_len, self.edge_len],
                                 (np.r_[self.edge_u, self.edge_v],
                                  np.r_[self.edge_v, self.edge_u])), shape=(n, n))
        self._build_index(float(cell_m))

    def __repr__(self) -> str:
        return f"StreetNetwork({self.name!r}, {self.n_nodes:,} nodes, {self.n_edges:,} edges)"

    @property
    def described(self) -> str:
        """The network's name with its credit line: "roads.gpkg (© ...)"."""
        return f"{self.name} ({self.attribution})" if self.attribution else self.name

    @property
    def n_nodes(self) -> int:
        return len(self.node_x)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def edges_xy(self):
        """(x0, y0, x1, y1) of every edge."""
        u, v = self.edge_u, self.edge_v
        return self.node_x[u], self.node_y[u], self.node_x[v], self.node_y[v]

    @property
    def total_length_m(self) -> float:
        return float(self.edge_len.sum())

    # -- snapping ---------------------------------------------------------------------

    def _build_index(self, cell_m: float) -> None:
        """Edges by grid cell (every cell an edge's bounding box touches)."""
        self._cell = cell_m
        x0, y0, x1, y1 = self.edges_xy
        if not self.n_edges:
            self._ox = self._oy = 0.0
            self._ncol = self._nrow = 1
            self._cell_start = np.zeros(2, np.int64)
            self._cell_edges = np.empty(0, np.int64)
            return
        self._ox = float(min(x0.min(), x1.min()))
        self._oy = float(min(y0.min(), y1.min()))
        c0 = np.floor((np.minimum(x0, x1) - self._ox) / cell_m).astype(np.int64)
        c1 = np.floor((np.maximum(x0, x1) - self._ox) / cell_m).astype(np.int64)
        r0 = np.floor((np.minimum(y0, y1) - self._oy) / cell_m).astype(np.int64)
        r1 = np.floor((np.maximum(y0, y1) - self._oy) / cell_m).astype(np.int64)
        self._ncol = int(c1.max()) + 1
        self._nrow = int(r1.max()) + 1
        edge, row = expand_runs(np.arange(self.n_edges), r0, r1 + 1)
        pair, col = expand_runs(np.arange(len(edge)), c0[edge], c1[edge] + 1)
        cells = row[pair] * self._ncol + col
        order = np.lexsort((edge[pair], cells))
        self._cell_edges = edge[pair][order]
        self._cell_start = np.searchsorted(cells[order], np.arange(self._nrow * self._ncol + 1))

    def snap(self, px, py, max_leg: float = np.inf):
        """The nearest network point of each point: ``(edge, along_m, leg_m)``: the edge,
        the distance from its ``edge_u`` end along it, and the straight off-network leg.
        Points farther than ``max_leg`` from the network, without coordinates, or on an
        empty network get edge -1 and an infinite leg."""
        px = np.atleast_1d(np.asarray(px, dtype="float64"))
        py = np.atleast_1d(np.asarray(py, dtype="float64"))
        n = len(px)
        edge = np.full(n, -1, dtype=np.int64)
        along = np.zeros(n)
        leg = np.full(n, np.inf)
        if not self.n_edges:
            return edge, along, leg
        c = self._cell
        with np.errstate(invalid="ignore"):
            near = (px >= self._ox - max_leg) & (py >= self._oy - max_leg) \
                & (px <= self._ox + self._ncol * c + max_leg) \
                & (py <= self._oy + self._nrow * c + max_leg)
        todo = np.flatnonzero(near & np.isfinite(px) & np.isfinite(py))
        # the (2k + 1)² cells around a point hold every edge within k cell widths of it
        k = 1
        while len(todo):
            if not math.isfinite(max_leg) and k > 1:
                self._nearest_anywhere(todo, px, py, edge, along, leg)
                break
            e, t, d = self._search(todo, px, py, k)
            sure = d <= min(k * c, max_leg)
            edge[todo[sure]], along[todo[sure]], leg[todo[sure]] = e[sure], t[sure], d[sure]
            if k * c >= max_leg:
                break
            todo = todo[~sure]
            k = max(2, math.ceil(max_leg / c)) if math.isfinite(max_leg) else 2
        return edge, along, leg

    def _search(self, todo, px, py, k: int):
        c = self._cell
        col = np.floor((px[todo] - self._ox) / c).astype(np.int64)
        row = np.floor((py[todo] - self._oy) / c).astype(np.int64)
        side = 2 * k + 1
        dr, dc = np.divmod(np.arange(side * side), side)
        q = np.repeat(np.arange(len(todo)), side * side)
        rr = np.tile(dr - k, len(todo)) + row[q]
        cc = np.tile(dc - k, len(todo)) + col[q]
        inside = (rr >= 0) & (rr < self._nrow) & (cc >= 0) & (cc < self._ncol)
        q, cell = q[inside], rr[inside] * self._ncol + cc[inside]
        owner, pos = expand_runs(q, self._cell_start[cell], self._cell_start[cell + 1])
        return self._closest(todo[owner], self._cell_edges[pos], px, py, len(todo), owner)

    def _nearest_anywhere(self, todo, px, py, edge, along, leg) -> None:
        """Every edge against each point (points far from the network, no limit)."""
        everything = np.arange(self.n_edges)
        for start in range(0, len(todo), 64):
            part = todo[start:start + 64]
            t, d = self.project(px[part][:, None], py[part][:, None], everything[None, :])
            best = np.argmin(d, axis=1)  # the lowest index on ties
            rows = np.arange(len(part))
            edge[part], along[part], leg[part] = best, t[rows, best], d[rows, best]

    def _closest(self, point, edge, px, py, n, owner):
        """Per owner (0..n-1): the closest of its candidate edges (lowest index on ties)."""
        t, d = self.project(px[point], py[point], edge)
        best_e = np.full(n, -1, dtype=np.int64)
        best_t = np.zeros(n)
        best_d = np.full(n, np.inf)
        if len(owner):
            order = np.lexsort((edge, d, owner))
            first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
            best_e[owner[first]] = edge[first]
            best_t[owner[first]] = t[first]
            best_d[owner[first]] = d[first]
        return best_e, best_t, best_d

    def project(self, px, py, edge):
        """(along_m from ``edge_u``, distance) of each point's projection on its edge."""
        u, v = self.edge_u[edge], self.edge_v[edge]
        return project(px, py, self.node_x[u], self.node_y[u], self.node_x[v],
                       self.node_y[v])

    # -- shortest paths ---------------------------------------------------------------

    def node_distances(self, edge, along, leg, limit_m: float) -> np.ndarray:
        """Walking distance (m) from each snapped point to every node: (points, nodes),
        ``inf`` beyond ``limit_m``. The leg counts: a node is at leg + the walk to the
        nearer end of the point's edge + the shortest path on from there."""
        n = len(edge)
        out = np.full((n, self.n_nodes), np.inf)
        ok = np.flatnonzero((edge >= 0) & (leg <= limit_m))
        if not len(ok):
            return out
        _, dijkstra = _csgraph()
        e = edge[ok]
        ends = np.unique(np.r_[self.edge_u[e], self.edge_v[e]])
        paths = dijkstra(self.graph, directed=False, indices=ends, limit=float(limit_m))
        row_of = np.searchsorted(ends, np.r_[self.edge_u[e], self.edge_v[e]])
        from_u = paths[row_of[:len(ok)]] + (leg[ok] + along[ok])[:, None]
        from_v = paths[row_of[len(ok):]] + (leg[ok] + self.edge_len[e] - along[ok])[:, None]
        out[ok] = np.minimum(from_u, from_v)
        out[out > limit_m] = np.inf
        return out


def project(px, py, x0, y0, x1, y1):
    """(distance along from (x0, y0), distance off) of each point's closest point on its
    segment (x0, y0)-(x1, y1)."""
    dx, dy = x1 - x0, y1 - y0
    length = np.hypot(dx, dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / (length * length), 0.0, 1.0)
    t = np.where(length > 0, t, 0.0)
    return t * length, np.hypot(x0 + t * dx - px, y0 + t * dy - py)


def read_network(path, layer: str | None = None, snap_m: float = DEFAULT_SNAP_M,
                 progress=None) -> StreetNetwork:
    """A :class:`StreetNetwork` from a line layer of a GeoPackage (``layer``: default
    the first), in any CRS PROJ knows (an undefined CRS is taken as EPSG:4326 when every
    coordinate looks like degrees, else EPSG:27700)."""
    path = Path(path)
    if not path.is_file():
        raise ParseError("the network file does not exist", path.name)
    _, wkbs, crs = gpkg.read_layer(path, layer, columns=[])
    fields = gpkg.layer_fields(path, layer)
    try:
        x, y, offsets = wkb.lines(wkbs)
    except ParseError as exc:
        raise ParseError(f"the network must be a line layer: {exc.message}",
                         path.name) from None
    if len(offsets) < 2:
        raise ParseError("the network layer has no lines", path.name)
    if crs is None:
        finite = np.isfinite(x) & np.isfinite(y)
        degrees = bool((np.abs(x[finite]) <= 180).all() and (np.abs(y[finite]) <= 90).all())
        crs = crs_module.WGS84 if degrees else crs_module.BNG
    x, y = crs_module.to_bng(crs, x, y)
    network = StreetNetwork(x, y, offsets, snap_m, name=path.name,
                            attribution=network_attribution(
                                f"{path.name} {layer or ''}", fields))
    if not network.n_edges:
        raise ParseError("the network layer has no usable edges", path.name)
    return network


def walk_metres(minutes: float, speed_kmh: float = 4.8) -> float:
    """Metres walked in ``minutes`` at ``speed_kmh`` (4.8 km/h: 80 m a minute)."""
    if not (minutes > 0 and math.isfinite(minutes)):
        raise ValueError("the walk must be a positive number of minutes")
    return float(minutes) * speed_kmh * 1000.0 / 60.0
