"""Walking catchments on a street network: :class:`WalkingCatchment`, a
:class:`~.catchment.Catchment` measured along the streets of a :class:`~.network.StreetNetwork`.

The rule, one for devices, residents and the drawn polygon: a place is within walking
distance ``L`` of a site when (the site's straight leg to its nearest network point) +
(the shortest walk along the network) + (the place's straight leg from the network) is
at most ``L``. A device's leg starts at its nearest network point; a place of residence
(a population grid cell's centre, a point of the drawn polygon) may leave the network
anywhere on a reached edge, by at most ``buffer_m`` (50 m: the depth of the homes
fronting a street, about half a London block), measured square to the edge. Every leg
and every path is at least the straight distance, so a walking catchment always lies
inside the straight-line circle of the same distance: its counts are never larger.

The catchment polygon is that region drawn on a 10 m lattice (``polygon_step_m``): the
union of the lattice squares whose centre the rule reaches, outlined exactly (no
smoothing): deterministic, and it shows where the river or the railway cuts the walk.
Residents are counted as the straight-line analysis counts them: the population grid
cells whose centre the rule reaches (:mod:`.population`).
"""

from __future__ import annotations

import math

import numpy as np

from ..geometry import PolygonSet, expand_runs, multipolygon_wkb
from .catchment import Catchment
from .network import StreetNetwork, project
from .population import PopulationGrid

DEFAULT_BUFFER_M = 50.0
POLYGON_STEP_M = 10.0
_BLOCK = 256  # sites per shortest-path block (memory: sites x nodes floats)


class WalkingCatchment(Catchment):
    """Reach along the streets of ``network`` within ``distance_m`` (see the module)."""

    def __init__(self, network: StreetNetwork, distance_m: float = 400.0,
                 buffer_m: float = DEFAULT_BUFFER_M):
        distance_m = float(distance_m)
        if not distance_m > 0 or not math.isfinite(distance_m):
            raise ValueError("the walk distance must be a positive number of metres")
        self.network = network
        self.distance_m = distance_m
        self.buffer_m = float(buffer_m)

    def __repr__(self) -> str:
        return f"WalkingCatchment({self.network!r}, {self.distance_m:g})"

    @property
    def description(self) -> str:
        return f"walking, {self.distance_m:g} m on the street network"

    # -- the Catchment interface ------------------------------------------------------

    def index(self, x, y):
        x = np.atleast_1d(np.asarray(x, dtype="float64"))
        y = np.atleast_1d(np.asarray(y, dtype="float64"))
        return self.network.snap(x, y, max_leg=self.distance_m)

    def device_pairs(self, index, sx, sy):
        return self._device_pairs(index, sx, sy, self.distance_m)

    def nearest(self, index, sx, sy):
        """The nearest device on foot among those within ``distance_m`` of the network."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        best = np.full(len(sx), -1, dtype=np.int64)
        dist = np.full(len(sx), np.inf)
        site, point, d = self._device_pairs(index, sx, sy, np.inf)
        if len(site):
            order = np.lexsort((point, d, site))
            first = order[np.r_[True, site[order][1:] != site[order][:-1]]]
            best[site[first]], dist[site[first]] = point[first], d[first]
        return best, dist

    def on_network(self, sx, sy) -> np.ndarray:
        """Whether each site has a street of the network within the walk: from any other
        site nothing is walked, and its walking figures are not measured (a site beyond
        the network's extent is not a site with nothing in reach)."""
        edge, _, _ = self.network.snap(sx, sy, max_leg=self.distance_m)
        return edge >= 0

    def cell_pairs(self, grid: PopulationGrid, sx, sy):
        return self.reached_points(sx, sy, grid.x0, grid.y0, grid.cell_m,
                                   grid.nrow, grid.ncol)

    # -- the work -----------------------------------------------------------------------

    def _blocks(self, sx, sy, limit):
        """Per block of sites: (first site, edge, along, leg, node distances)."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        sy = np.atleast_1d(np.asarray(sy, dtype="float64"))
        edge, along, leg = self.network.snap(sx, sy, max_leg=limit)
        for start in range(0, len(sx), _BLOCK):
            part = slice(start, start + _BLOCK)
            yield (start, edge[part], along[part], leg[part],
                   self.network.node_distances(edge[part], along[part], leg[part], limit))

    def _device_pairs(self, index, sx, sy, limit):
        d_edge, d_along, d_leg = index
        net = self.network
        usable = np.flatnonzero((d_edge >= 0) & (d_leg <= limit))
        out_site, out_point, out_d = [np.empty(0, np.int64)], [np.empty(0, np.int64)], \
            [np.empty(0)]
        e = d_edge[usable]
        for start, edge, along, leg, nodes in self._blocks(sx, sy, limit):
            if not len(usable):
                break
            walk = np.minimum(nodes[:, net.edge_u[e]] + d_along[usable],
                              nodes[:, net.edge_v[e]] + (net.edge_len[e] - d_along[usable]))
            same = edge[:, None] == e[None, :]
            direct = leg[:, None] + np.abs(along[:, None] - d_along[usable][None, :])
            walk = np.where(same, np.minimum(walk, direct), walk) + d_leg[usable]
            site, k = np.nonzero(walk <= limit)
            out_site.append(site + start)
            out_point.append(usable[k])
            out_d.append(walk[site, k])
        return (np.concatenate(out_site), np.concatenate(out_point),
                np.concatenate(out_d))

    def pieces(self, sx, sy):
        """The reached network of each site as straight pieces: ``(site, x0, y0, x1, y1,
        d0, d1)`` with the walking distance (legs included) at each end (inf: not reached
        from that end). The site's own edge is split at its network point."""
        net = self.network
        L = self.distance_m
        out = []
        ex0, ey0, ex1, ey1 = net.edges_xy
        for start, edge, along, leg, nodes in self._blocks(sx, sy, L):
            du, dv = nodes[:, net.edge_u], nodes[:, net.edge_v]
            reached = np.minimum(du, dv) <= L
            on = np.flatnonzero(edge >= 0)
            reached[on, edge[on]] = False
            site, e = np.nonzero(reached)
            out.append((site + start, ex0[e], ey0[e], ex1[e], ey1[e], du[site, e], dv[site, e]))
            ok = on[leg[on] <= L]
            if len(ok):
                e = edge[ok]
                t = along[ok] / np.where(net.edge_len[e] > 0, net.edge_len[e], 1.0)
                px, py = ex0[e] + t * (ex1[e] - ex0[e]), ey0[e] + t * (ey1[e] - ey0[e])
                for x1, y1, d1 in ((ex0[e], ey0[e], du[ok, e]), (ex1[e], ey1[e], dv[ok, e])):
                    out.append((ok + start, px, py, x1, y1, leg[ok], d1))
        if not out:
            return tuple(np.empty(0, np.int64 if i == 0 else float) for i in range(7))
        return tuple(np.concatenate([p[i] for p in out]) for i in range(7))

    def reached_points(self, sx, sy, x0, y0, step, nrow, ncol):
        """Every (site, flat index ``row * ncol + col``) of the lattice of square centres
        ``x0 + (col + 0.5) * step``, ``y0 + (row + 0.5) * step`` that the rule reaches,
        sorted by site then index."""
        site, px0, py0, px1, py1, d0, d1 = self.pieces(sx, sy)
        L, w = self.distance_m, self.buffer_m
        reach = np.minimum(w, L - np.minimum(d0, d1))
        lo_x, hi_x = np.minimum(px0, px1) - reach, np.maximum(px0, px1) + reach
        lo_y, hi_y = np.minimum(py0, py1) - reach, np.maximum(py0, py1) + reach
        c0 = np.clip(np.ceil((lo_x - x0) / step - 0.5), 0, ncol).astype(np.int64)
        c1 = np.clip(np.floor((hi_x - x0) / step - 0.5), -1, ncol - 1).astype(np.int64)
        r0 = np.clip(np.ceil((lo_y - y0) / step - 0.5), 0, nrow).astype(np.int64)
        r1 = np.clip(np.floor((hi_y - y0) / step - 0.5), -1, nrow - 1).astype(np.int64)
        piece, row = expand_runs(np.arange(len(site)), r0, r1 + 1)
        pair, col = expand_runs(np.arange(len(piece)), c0[piece], c1[piece] + 1)
        piece, row = piece[pair], row[pair]
        cx, cy = x0 + (col + 0.5) * step, y0 + (row + 0.5) * step
        s, h = project(cx, cy, px0[piece], py0[piece], px1[piece], py1[piece])
        length = np.hypot(px1[piece] - px0[piece], py1[piece] - py0[piece])
        walk = np.minimum(d0[piece] + s, d1[piece] + (length - s)) + h
        ok = (h <= w) & (walk <= L)
        key = np.unique(site[piece[ok]] * (nrow * ncol) + row[ok] * ncol + col[ok])
        return np.divmod(key, nrow * ncol) if len(key) else \
            (np.empty(0, np.int64), np.empty(0, np.int64))

    def reached_length(self, sx, sy) -> np.ndarray:
        """Length of the network each site reaches (m)."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        site, x0, y0, x1, y1, d0, d1 = self.pieces(sx, sy)
        length = np.hypot(x1 - x0, y1 - y0)
        L = self.distance_m
        part = np.minimum(length, np.maximum(L - d0, 0.0) + np.maximum(L - d1, 0.0))
        return np.bincount(site, weights=part, minlength=len(sx))

    def polygons(self, sx, sy, step: float = POLYGON_STEP_M):
        """Per site: (WKB MultiPolygon in EPSG:27700 or None, its area m²)."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        sy = np.atleast_1d(np.asarray(sy, dtype="float64"))
        net = self.network
        pad = self.distance_m + self.buffer_m + step
        x0 = math.floor((float(min(net.node_x.min(), np.nanmin(sx, initial=np.inf))) - pad)
                        / step) * step
        y0 = math.floor((float(min(net.node_y.min(), np.nanmin(sy, initial=np.inf))) - pad)
                        / step) * step
        ncol = int(math.ceil((max(net.node_x.max(), np.nanmax(sx, initial=-np.inf)) + pad
                              - x0) / step))
        nrow = int(math.ceil((max(net.node_y.max(), np.nanmax(sy, initial=-np.inf)) + pad
                              - y0) / step))
        site, flat = self.reached_points(sx, sy, x0, y0, step, nrow, ncol)
        row, col = np.divmod(flat, ncol)
        bounds = np.searchsorted(site, np.arange(len(sx) + 1))
        out = []
        for i in range(len(sx)):
            r, c = row[bounds[i]:bounds[i + 1]], col[bounds[i]:bounds[i + 1]]
            if not len(r):
                out.append((None, 0.0))
                continue
            mask = np.zeros((r.max() - r.min() + 1, c.max() - c.min() + 1), dtype=bool)
            mask[r - r.min(), c - c.min()] = True
            shape = outline(mask, x0 + c.min() * step, y0 + r.min() * step, step)
            out.append((multipolygon_wkb(shape, 0), float(len(r)) * step * step))
        return out


# --- raster outline -------------------------------------------------------------------

def outline(mask: np.ndarray, x0: float, y0: float, step: float) -> PolygonSet:
    """The filled squares of ``mask`` (row 0 southernmost, square (i, j) from
    ``x0 + j * step``, ``y0 + i * step``) as one multipolygon: exterior rings
    anticlockwise, holes clockwise, squares touching only at a corner kept apart."""
    m = np.pad(mask, 1)
    edges = []  # directed unit edges, filled side on the left: (from vertex, to vertex)
    ii, jj = np.nonzero(m[1:, :] & ~m[:-1, :])      # bottom sides, heading east
    edges += list(zip(zip(jj - 1, ii), zip(jj, ii)))
    ii, jj = np.nonzero(~m[1:, :] & m[:-1, :])      # top sides, heading west
    edges += list(zip(zip(jj, ii), zip(jj - 1, ii)))
    ii, jj = np.nonzero(m[:, 1:] & ~m[:, :-1])      # west sides, heading south
    edges += list(zip(zip(jj, ii), zip(jj, ii - 1)))
    ii, jj = np.nonzero(~m[:, 1:] & m[:, :-1])      # east sides, heading north
    edges += list(zip(zip(jj, ii - 1), zip(jj, ii)))
    leaving: dict = {}
    for a, b in edges:
        leaving.setdefault((int(a[0]), int(a[1])), []).append((int(b[0]), int(b[1])))
    rings = []
    while leaving:
        start = next(iter(leaving))
        ring, here, heading = [start], start, None
        while True:
            options = leaving[here]
            if len(options) == 1 or heading is None:
                nxt = options[0]
            else:  # a corner two squares share: turn left, keeping them apart
                nxt = max(options, key=lambda o: _left_turn(heading, here, o))
            options.remove(nxt)
            if not options:
                del leaving[here]
            heading = (nxt[0] - here[0], nxt[1] - here[1])
            here = nxt
            if here == start:
                break
            ring.append(here)
        rings += [_simplified(np.asarray(r, dtype=np.float64)) for r in _simple_loops(ring)]
    return _assemble(rings, x0, y0, step)


def _simple_loops(ring: list) -> list:
    """A closed walk that passes a vertex twice, split there into loops that do not (a
    ring touching itself is not a valid polygon ring; a hole touching its shell is)."""
    loops, path, seen = [], [], {}
    for vertex in ring:
        if vertex in seen:
            start = seen[vertex]
            loops.append(path[start:])
            for v in path[start + 1:]:
                del seen[v]
            path = path[:start + 1]
        else:
            seen[vertex] = len(path)
            path.append(vertex)
    loops.append(path)
    return [loop for loop in loops if len(loop) >= 4]


def _left_turn(heading, here, nxt) -> int:
    d = (nxt[0] - here[0], nxt[1] - here[1])
    cross = heading[0] * d[1] - heading[1] * d[0]
    return cross  # +1 left, 0 straight, -1 right


def _simplified(ring: np.ndarray) -> np.ndarray:
    """Drop the vertices in the middle of a straight run."""
    prev, nxt = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
    cross = (ring[:, 0] - prev[:, 0]) * (nxt[:, 1] - ring[:, 1]) \
        - (ring[:, 1] - prev[:, 1]) * (nxt[:, 0] - ring[:, 0])
    return ring[cross != 0]


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _inside(ring: np.ndarray, px: float, py: float) -> bool:
    x, y = ring[:, 0], ring[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    crosses = (y > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x + (py - y) * (x1 - x) / (y1 - y)
    return bool(np.count_nonzero(crosses & (px < at)) % 2)


def _assemble(rings, x0, y0, step) -> PolygonSet:
    areas = [_signed_area(r) for r in rings]
    outers = [k for k, a in enumerate(areas) if a > 0]
    outers.sort(key=lambda k: (-areas[k], tuple(rings[k][0])))
    holes = {k: [] for k in outers}
    for k, a in enumerate(areas):
        if a >= 0:
            continue
        r = rings[k]
        # a quarter square along the first side and to its left: inside a filled square,
        # never on a side of any ring (sides lie on whole numbers)
        dx, dy = np.sign(r[1] - r[0])
        px, py = r[0][0] + 0.25 * (dx - dy), r[0][1] + 0.25 * (dy + dx)
        owner = [o for o in outers if _inside(rings[o], px, py)]
        if owner:
            holes[min(owner, key=lambda o: areas[o])].append(k)
    xs, ys, ring_offsets, part_offsets = [], [], [0], [0]
    for o in outers:
        for k in [o] + holes[o]:
            r = np.vstack([rings[k], rings[k][:1]])
            xs.append(x0 + r[:, 0] * step)
            ys.append(y0 + r[:, 1] * step)
            ring_offsets.append(ring_offsets[-1] + len(r))
        part_offsets.append(len(ring_offsets) - 1)
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    return PolygonSet(x, y, np.asarray(ring_offsets, np.int64),
                      np.asarray(part_offsets, np.int64),
                      np.asarray([0, len(part_offsets) - 1], np.int64))
