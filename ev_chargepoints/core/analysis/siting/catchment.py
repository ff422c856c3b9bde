"""Catchments: what a site reaches within a distance, devices and population cells.

:class:`Catchment` is the interface; :class:`RadiusCatchment` (straight line, a circular
buffer) implements it here, :class:`~.walking.WalkingCatchment` (on foot along a street
network) in :mod:`.walking`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from ..geometry import expand_runs
from .population import PopulationGrid

_PAIR_LIMIT = 4_000_000  # candidate (site, point) pairs held in memory at once


class Catchment(ABC):
    """What a site reaches within ``distance_m``: devices and population cells.

    Implementations decide the distance measure (straight line here; a walking
    network later). Sites and points are EPSG:27700 coordinate arrays.
    """

    distance_m: float

    @property
    @abstractmethod
    def description(self) -> str:
        """Plain words for reports, e.g. "straight line, 400 m"."""

    @abstractmethod
    def index(self, x, y):
        """Prepare point locations (devices) for repeated queries."""

    @abstractmethod
    def device_pairs(self, index, sx, sy):
        """Every (site, point, distance_m) with the point within reach, sorted by site."""

    @abstractmethod
    def nearest(self, index, sx, sy):
        """(point, distance_m) of the nearest indexed point to each site, by this
        catchment's distance measure and at any distance; (-1, inf) if none."""

    @abstractmethod
    def cell_pairs(self, grid: PopulationGrid, sx, sy):
        """Every (site, flat cell index) with the cell within reach, sorted by site."""

    def reach_counts(self, grid: PopulationGrid, sx, sy) -> np.ndarray:
        """How many of the given sources reach each cell (flat, ``grid.size``)."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        sy = np.atleast_1d(np.asarray(sy, dtype="float64"))
        out = np.zeros(grid.size, dtype=np.int64)
        step = 20_000
        for start in range(0, len(sx), step):
            _, cells = self.cell_pairs(grid, sx[start:start + step], sy[start:start + step])
            out += np.bincount(cells, minlength=grid.size)
        return out


class RadiusCatchment(Catchment):
    """Straight-line (crow-fly) catchment: a circular buffer of ``distance_m``.

    A device is within reach when its distance to the site is at most
    ``distance_m`` (on the circle counts); a population cell when its centre is.
    """

    def __init__(self, distance_m: float = 400.0):
        distance_m = float(distance_m)
        if not distance_m > 0 or not math.isfinite(distance_m):
            raise ValueError("the catchment distance must be a positive number of metres")
        self.distance_m = distance_m

    def __repr__(self) -> str:
        return f"RadiusCatchment({self.distance_m:g})"

    @property
    def description(self) -> str:
        return f"straight line, {self.distance_m:g} m"

    def index(self, x, y) -> _StripIndex:
        return _StripIndex(x, y, strip_m=max(self.distance_m / 4, 25.0))

    def device_pairs(self, index: _StripIndex, sx, sy):
        return index.within(sx, sy, self.distance_m)

    def nearest(self, index: _StripIndex, sx, sy):
        return index.nearest(sx, sy, self.distance_m)

    def cell_pairs(self, grid: PopulationGrid, sx, sy):
        site, row, lo, hi = self._spans(grid, sx, sy)
        base = row * grid.ncol
        return expand_runs(site, base + lo, base + hi + 1)

    def reach_counts(self, grid: PopulationGrid, sx, sy) -> np.ndarray:
        # one +1/-1 pair per row of each disc, then a running sum along rows
        _, row, lo, hi = self._spans(grid, sx, sy)
        width = grid.ncol + 1
        size = grid.nrow * width
        diff = np.bincount(row * width + lo, minlength=size) \
            - np.bincount(row * width + hi + 1, minlength=size)
        counts = np.cumsum(diff.reshape(grid.nrow, width), axis=1)[:, :grid.ncol]
        return np.ascontiguousarray(counts).ravel()

    def _spans(self, grid: PopulationGrid, sx, sy):
        """Per site and grid row, the first and last column whose centre is reached."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        sy = np.atleast_1d(np.asarray(sy, dtype="float64"))
        r, c = self.distance_m, grid.cell_m
        ok = np.isfinite(sx) & np.isfinite(sy)
        fy = np.where(ok, (sy - grid.y0) / c - 0.5, -1e9)
        first = np.clip(np.ceil(fy - r / c), 0, grid.nrow).astype(np.int64)
        last = np.clip(np.floor(fy + r / c), -1, grid.nrow - 1).astype(np.int64)
        site, row = expand_runs(np.arange(len(sx)), first, last + 1)
        dy = grid.y0 + (row + 0.5) * c - sy[site]
        half = np.sqrt(np.maximum(r * r - dy * dy, 0.0))
        fx = (sx[site] - grid.x0) / c - 0.5
        lo = np.maximum(np.ceil(fx - half / c), 0).astype(np.int64)
        hi = np.minimum(np.floor(fx + half / c), grid.ncol - 1).astype(np.int64)
        keep = hi >= lo
        return site[keep], row[keep], lo[keep], hi[keep]


class _StripIndex:
    """Points sorted by (horizontal strip, x), kept between queries.

    The structure of :func:`geometry.points_within_radius`, built once so
    adding a site does not re-sort every device. A circle reads one run of the
    order per strip it crosses, narrowed to its chord in that strip.
    """

    def __init__(self, x, y, strip_m: float):
        x = np.asarray(x, dtype="float64").ravel()
        y = np.asarray(y, dtype="float64").ravel()
        valid = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        self.n = len(valid)
        self.h = float(strip_m)
        if self.n == 0:
            return
        vx, vy = x[valid], y[valid]
        self.x0 = float(vx.min()) - 1.0
        self.y0 = float(vy.min()) - 1.0
        self.width = float(vx.max()) + 1.0 - self.x0
        strip = np.floor((vy - self.y0) / self.h)
        self.n_strips = int(strip.max()) + 1
        key = strip * self.width + (vx - self.x0)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.px, self.py = vx[order], vy[order]
        self.ids = valid[order]
        self.slack = 8 * float(np.spacing(self.n_strips * self.width))
        self.extent = float(np.hypot(vx.max() - vx.min(), vy.max() - vy.min()))

    def _runs(self, sx, sy, r):
        h = self.h
        first = np.clip(np.floor((sy - r - self.y0) / h), 0, self.n_strips).astype(np.int64)
        last = np.clip(np.floor((sy + r - self.y0) / h), -1,
                       self.n_strips - 1).astype(np.int64)
        site, strip = expand_runs(np.arange(len(sx)), first, last + 1)
        bottom = self.y0 + strip * h
        dy = np.maximum(np.maximum(bottom - sy[site], sy[site] - (bottom + h)), 0.0)
        half = np.sqrt(np.maximum(r * r - dy * dy, 0.0))
        base = strip * self.width
        xa = np.clip(sx[site] - half - self.x0, 0.0, self.width)
        xb = np.clip(sx[site] + half - self.x0, 0.0, self.width)
        lo = np.searchsorted(self.key, base + xa - self.slack, side="left")
        hi = np.searchsorted(self.key, base + xb + self.slack, side="right")
        return site, lo, hi

    def within(self, sx, sy, r):
        """(site, point id, distance) for every point within ``r``, sorted by site."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        sy = np.atleast_1d(np.asarray(sy, dtype="float64"))
        empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
        ok = np.flatnonzero(np.isfinite(sx) & np.isfinite(sy))
        if self.n == 0 or len(ok) == 0:
            return empty
        site, lo, hi = self._runs(sx[ok], sy[ok], float(r))
        run_len = np.maximum(hi - lo, 0)
        # bound memory: split the runs into blocks of whole sites
        per_site = np.bincount(site, weights=run_len, minlength=len(ok))
        block = (np.cumsum(per_site) - per_site) // _PAIR_LIMIT
        run_block = block[site]
        out_site, out_point, out_d = [empty[0]], [empty[1]], [empty[2]]
        for b in np.unique(run_block):
            sel = run_block == b
            owner, pos = expand_runs(site[sel], lo[sel], hi[sel])
            d2 = (self.px[pos] - sx[ok][owner]) ** 2 + (self.py[pos] - sy[ok][owner]) ** 2
            close = d2 <= r * r
            out_site.append(ok[owner[close]])
            out_point.append(self.ids[pos[close]])
            out_d.append(np.sqrt(d2[close]))
        return (np.concatenate(out_site), np.concatenate(out_point),
                np.concatenate(out_d))

    def nearest(self, sx, sy, start_r):
        """Nearest point to each site: search within r, then 4r, 16r ... for the rest."""
        sx = np.atleast_1d(np.asarray(sx, dtype="float64"))
        sy = np.atleast_1d(np.asarray(sy, dtype="float64"))
        best = np.full(len(sx), -1, dtype=np.int64)
        dist = np.full(len(sx), np.inf)
        todo = np.flatnonzero(np.isfinite(sx) & np.isfinite(sy))
        if self.n == 0:
            return best, dist
        r = float(start_r)
        while len(todo):
            site, point, d = self.within(sx[todo], sy[todo], r)
            if len(site):
                order = np.lexsort((point, d, site))
                site, point, d = site[order], point[order], d[order]
                firsts = np.r_[True, site[1:] != site[:-1]]
                found = todo[site[firsts]]
                best[found] = point[firsts]
                dist[found] = d[firsts]
                todo = todo[best[todo] < 0]
            if r > 4 * self.extent + 1e7:
                break  # only sites absurdly far away remain
            r *= 4
        return best, dist
