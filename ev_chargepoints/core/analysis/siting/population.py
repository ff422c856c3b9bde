"""Residents on a regular grid: :class:`PopulationGrid` spreads each ward's residents
evenly over its area, area-weighted where a ward boundary crosses a cell; a catchment
reaches a cell when it reaches the cell's centre (see the class for the errors)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ...progress import SILENT, Progress
from .. import geometry
from ..areas import DEFAULT_TOLERANCE_M, AreaSet, load_wards
from ..geometry import expand_runs

DEFAULT_CELL_M = 100.0
DEFAULT_SAMPLE_M = 20.0


@dataclass(eq=False)
class PopulationGrid:
    """Residents on a regular grid of square cells (EPSG:27700).

    ``residents`` is an (nrow, ncol) array; cell (i, j) spans
    ``x0 + j * cell_m`` to ``x0 + (j + 1) * cell_m`` east and likewise north
    from ``y0`` (row 0 is the southernmost). ``ward`` holds the row in
    ``areas.table`` of the area containing each cell's centre (-1 outside every
    area). Cells are addressed by their flat index ``i * ncol + j``.

    Method (:meth:`from_areas`): each area's residents are spread evenly over
    it. A cell wholly inside one area takes ``population × cell area ÷ area``;
    a cell a boundary crosses is sampled on a finer lattice (``sample_m``) and
    each area contributes in proportion to the samples that fall in it. Each
    area's share is normalised by its own sample count, so every area's
    population is conserved exactly (``total`` equals the areas' sum unless an
    area is smaller than one sample, reported as ``unplaced``).

    Errors. (1) Even spread within each ward: unknowable from ward totals and
    usually the largest (parks, rivers and estates are not separated). (2) A
    catchment counts a cell's residents when it reaches the cell centre; for a
    circle of radius r on a lattice of spacing c the counted area differs from
    πr² by the lattice count error: measured over random centres, for 100 m
    cells at r = 400 m a standard deviation of 2.5 % and at most 6.5 %; at
    r = 200 m 8 % (at most 20 %); at r = 800 m 1.1 % (at most 3.5 %). 50 m
    cells divide these by about 2.5 (at 400 m: 1.0 %, at most 3.5 %) for four
    times the memory and about 1.5 times the build time (1.5 s against 1.0 s
    for London on the development machine). (3) Boundary cells are sampled at
    ``sample_m`` (20 m by default): an area's sampled size is within 1.0 % of
    its exact area on the London wards.
    """

    cell_m: float
    x0: float
    y0: float
    residents: np.ndarray
    ward: np.ndarray
    areas: AreaSet | None = None
    note: str = ""
    unplaced: float = 0.0
    sample_m: float = DEFAULT_SAMPLE_M
    area_samples: np.ndarray | None = None
    cell_samples: tuple | None = None  # (cell, area, samples) of every cell an area reaches
    _flat: np.ndarray | None = field(default=None, repr=False, compare=False)
    _area_bounds: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def nrow(self) -> int:
        return self.residents.shape[0]

    @property
    def ncol(self) -> int:
        return self.residents.shape[1]

    @property
    def size(self) -> int:
        return self.residents.size

    @property
    def total(self) -> float:
        return float(self.residents.sum())

    @property
    def flat(self) -> np.ndarray:
        """Residents per cell as a flat array (cell index ``i * ncol + j``)."""
        if self._flat is None:
            self._flat = np.ascontiguousarray(self.residents).ravel()
        return self._flat

    def centres(self, cells=None):
        """(x, y) of the centres of the given flat cell indices (all cells if None)."""
        cells = np.arange(self.size) if cells is None else np.asarray(cells, dtype=np.int64)
        row, col = np.divmod(cells, self.ncol)
        return (self.x0 + (col + 0.5) * self.cell_m, self.y0 + (row + 0.5) * self.cell_m)

    def cell_at(self, x, y) -> np.ndarray:
        """Flat index of the cell containing each point, -1 outside the grid."""
        x = np.atleast_1d(np.asarray(x, dtype="float64"))
        y = np.atleast_1d(np.asarray(y, dtype="float64"))
        with np.errstate(invalid="ignore"):
            col = np.floor((x - self.x0) / self.cell_m)
            row = np.floor((y - self.y0) / self.cell_m)
        ok = (col >= 0) & (col < self.ncol) & (row >= 0) & (row < self.nrow)
        out = np.full(len(x), -1, dtype=np.int64)
        out[ok] = row[ok].astype(np.int64) * self.ncol + col[ok].astype(np.int64)
        return out

    @classmethod
    def from_areas(cls, areas: AreaSet, cell_m: float = DEFAULT_CELL_M,
                   sample_m: float = DEFAULT_SAMPLE_M,
                   progress: Progress | None = None) -> PopulationGrid:
        """Spread ``areas.table['population']`` over a grid (see the class doc).

        The grid is aligned on multiples of ``cell_m`` and covers the areas'
        bounding box. Areas with unknown population contribute nothing (and
        are named in ``note``).
        """
        progress = progress or SILENT
        cell_m = float(cell_m)
        if not cell_m > 0 or not sample_m > 0:
            raise ValueError("cell_m and sample_m must be positive")
        polygons = areas.polygons
        population = areas.table["population"].to_numpy("float64")
        unknown = ~np.isfinite(population)
        population = np.where(unknown, 0.0, population)
        bounds = polygons.bounds()
        bounds = bounds[~np.isnan(bounds[:, 0])]
        if len(bounds) == 0:
            raise ValueError("the areas have no polygons")
        col0 = math.floor(bounds[:, 0].min() / cell_m)
        row0 = math.floor(bounds[:, 1].min() / cell_m)
        ncol = math.ceil(bounds[:, 2].max() / cell_m) - col0
        nrow = math.ceil(bounds[:, 3].max() / cell_m) - row0
        x0, y0 = col0 * cell_m, row0 * cell_m
        n_cells = nrow * ncol

        progress.report(5, "Locating grid cells in the areas")
        cells = np.arange(n_cells, dtype=np.int64)
        row, col = np.divmod(cells, ncol)
        centre = geometry.locate_points(polygons, x0 + (col + 0.5) * cell_m,
                                        y0 + (row + 0.5) * cell_m).index
        progress.check_cancelled()

        # Cells a boundary crosses: every cell holding a point of some edge,
        # with points every cell_m / 8 (a boundary clipping a corner of a cell
        # between two such points leaves at most 1/128 of a cell unsampled).
        edges = polygons.edges()
        length = np.hypot(edges["x1"] - edges["x0"], edges["y1"] - edges["y0"])
        n_steps = np.ceil(length / (cell_m / 8)).astype(np.int64) + 1
        edge, step = expand_runs(np.arange(len(length)), np.zeros(len(length), np.int64),
                             n_steps)
        t = step / np.maximum(n_steps[edge] - 1, 1)
        ex = edges["x0"][edge] + t * (edges["x1"][edge] - edges["x0"][edge])
        ey = edges["y0"][edge] + t * (edges["y1"][edge] - edges["y0"][edge])
        ecol = np.clip(np.floor((ex - x0) / cell_m).astype(np.int64), 0, ncol - 1)
        erow = np.clip(np.floor((ey - y0) / cell_m).astype(np.int64), 0, nrow - 1)
        boundary = np.zeros(n_cells, dtype=bool)
        boundary[erow * ncol + ecol] = True
        del edge, step, t, ex, ey, ecol, erow

        progress.report(40, "Sampling cells on area boundaries")
        per_side = max(1, math.ceil(cell_m / sample_m))
        n_areas = len(areas)
        # (cell, area) sample counts: interior cells all in their centre's area
        interior = np.flatnonzero(~boundary & (centre >= 0))
        keys = [interior * n_areas + centre[interior]]
        weights = [np.full(len(interior), float(per_side * per_side))]
        offsets = (np.arange(per_side) + 0.5) / per_side * cell_m
        sub_x, sub_y = np.meshgrid(offsets, offsets)
        sub_x, sub_y = sub_x.ravel(), sub_y.ravel()
        crossed = np.flatnonzero(boundary)
        chunk = max(1, 1_000_000 // len(sub_x))
        for start in range(0, len(crossed), chunk):
            part = crossed[start:start + chunk]
            prow, pcol = np.divmod(part, ncol)
            sx = (x0 + pcol * cell_m)[:, None] + sub_x[None, :]
            sy = (y0 + prow * cell_m)[:, None] + sub_y[None, :]
            where = geometry.locate_points(polygons, sx.ravel(), sy.ravel()).index
            owner = np.repeat(part, len(sub_x))
            inside = where >= 0
            keys.append(owner[inside] * n_areas + where[inside])
            weights.append(np.ones(int(inside.sum())))
            progress.report(40 + 50 * min(1.0, (start + chunk) / max(len(crossed), 1)), "")
            progress.check_cancelled()
        key, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        count = np.bincount(inverse, weights=np.concatenate(weights))
        cell_of, area_of = np.divmod(key, n_areas)
        samples = np.bincount(area_of, weights=count, minlength=n_areas)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_sample = np.where(samples > 0, population / samples, 0.0)
        residents = np.bincount(cell_of, weights=count * per_sample[area_of],
                                minlength=n_cells)
        unplaced = float(population[samples == 0].sum())

        total = float(population.sum())
        note = (f"Residents spread evenly within each {areas.level} "
                f"({len(areas)} {areas.level}s, {total:,.0f} residents) on a "
                f"{cell_m:g} m grid; cells on a boundary split by area "
                f"({sample_m:g} m samples). A catchment counts a cell's residents "
                "when it reaches the cell's centre.")
        if areas.population_note:
            note += " " + areas.population_note
        if unknown.any():
            note += (f" {int(unknown.sum())} {areas.level}s have no population figure "
                     "and count as empty.")
        if unplaced:
            note += f" {unplaced:,.0f} residents of areas too small to sample are left out."
        progress.report(100, "Population grid ready")
        return cls(cell_m=cell_m, x0=float(x0), y0=float(y0),
                   residents=residents.reshape(nrow, ncol), ward=centre.reshape(nrow, ncol),
                   areas=areas, note=note, unplaced=unplaced, sample_m=float(sample_m),
                   area_samples=samples,
                   cell_samples=(cell_of.astype(np.int64), area_of.astype(np.int32), count))

    def spread(self, values) -> np.ndarray:
        """Per cell (flat index): one figure per area of ``areas`` (blank: 0) spread by
        the rule of the residents, evenly over each area with a boundary cell taking each
        area's share of its samples; ``spread(population)`` is :attr:`flat`. A grid built
        without samples spreads each figure over the cells whose centre is in the area."""
        values = np.nan_to_num(np.asarray(values, dtype="float64"), nan=0.0)
        if self.cell_samples is not None:
            cell, area, count = self.cell_samples
            samples = self.area_samples
        else:
            ward = self.ward.ravel()
            cell = np.flatnonzero(ward >= 0)
            area, count = ward[cell], np.ones(len(cell))
            samples = np.bincount(area, minlength=len(values)).astype("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            per_sample = np.where(samples > 0, values / samples, 0.0)
        return np.bincount(cell, weights=count * per_sample[area], minlength=self.size)

    def area_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row of ``areas.table`` of the area containing each point, -1 for none.

        A whole-layer query costs milliseconds whatever the number of points, so a
        few points are each tested only against the areas whose bounding box
        holds them (the same point-in-polygon rule, on a subset of the layer).
        """
        areas = self.areas
        if len(x) > 20:
            return areas.locate(x, y).index
        if self._area_bounds is None:
            self._area_bounds = areas.polygons.bounds()
        bounds = self._area_bounds
        out = np.full(len(x), -1, dtype=np.int64)
        for i in range(len(x)):
            near = np.flatnonzero((bounds[:, 0] <= x[i]) & (x[i] <= bounds[:, 2])
                                  & (bounds[:, 1] <= y[i]) & (y[i] <= bounds[:, 3]))
            if len(near):
                found = geometry.locate_points(areas.polygons.subset(near), x[i:i + 1],
                                               y[i:i + 1], tolerance=DEFAULT_TOLERANCE_M
                                               ).index[0]
                out[i] = near[found] if found >= 0 else -1
        return out

    def sampled_area_m2(self) -> np.ndarray:
        """Area of each of ``areas`` as the grid sampled it (m²), for error checks."""
        return self.area_samples * (self.cell_m / self._per_side) ** 2

    @property
    def _per_side(self) -> int:
        return max(1, math.ceil(self.cell_m / self.sample_m))


@lru_cache(maxsize=4)
def london_population_grid(year: int = 2018, cell_m: float = DEFAULT_CELL_M) -> PopulationGrid:
    """The population grid of the bundled London wards, built once per session
    (about a second); treat it as read-only."""
    return PopulationGrid.from_areas(load_wards(year), cell_m=cell_m)
